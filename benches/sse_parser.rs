//! SSE parsing throughput: a realistic OpenAI stream (role chunk, 256 content chunks,
//! finish, usage, [DONE]) fed in network-sized pieces, with and without JSON decoding.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use llm_drill::client::sse::{Flow, SseParser};
use std::hint::black_box;

fn stream() -> Vec<u8> {
    let mut s = String::new();
    let head =
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","#;
    s.push_str(&format!("data: {head}\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n"));
    for i in 0..256 {
        s.push_str(&format!("data: {head}\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" word{i}\"}},\"finish_reason\":null}}]}}\n\n"));
    }
    s.push_str(&format!(
        "data: {head}\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n"
    ));
    s.push_str(&format!("data: {head}\"choices\":[],\"usage\":{{\"prompt_tokens\":10,\"completion_tokens\":256}}}}\n\n"));
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let bytes = stream();
    let mut g = c.benchmark_group("sse_parser");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("events_in_1k_pieces", |b| {
        b.iter(|| {
            let mut p = SseParser::new(1 << 20);
            let mut n = 0;
            for piece in bytes.chunks(1024) {
                p.feed(piece, |_, d| {
                    n += d.len();
                    Flow::Continue
                })
                .unwrap();
            }
            black_box(n)
        })
    });
    g.bench_function("events_and_json_in_1k_pieces", |b| {
        b.iter(|| {
            let mut p = SseParser::new(1 << 20);
            let mut tokens = 0;
            for piece in bytes.chunks(1024) {
                p.feed(piece, |_, d| {
                    if d != "[DONE]" {
                        let v: serde_json::Value = serde_json::from_str(d).unwrap();
                        tokens += v["choices"].as_array().map_or(0, |c| c.len());
                    }
                    Flow::Continue
                })
                .unwrap();
            }
            black_box(tokens)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
