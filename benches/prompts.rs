//! Prompt generation cost, which runs before each call's intended start and must never
//! hold the schedule back: one 32k-token text (target: under 5 ms), and whole calls of
//! 2k-token prompts, request body included (target: 5,000 a second on one core, i.e.
//! under 200 µs each), plus a sixth turn that resends five exchanges of history. For
//! scale, the same 32k tokens counted by tiktoken.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use llm_drill::client::Route;
use llm_drill::plan::Plan;
use llm_drill::scenario;
use llm_drill::workload::{Answer, PromptText, Workload};
use mock_server::tokens::Encoding;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Duration;

fn plan(feature: &str) -> Plan {
    let yaml = format!(
        "name: b\nseed: 1\nduration: 1s\nendpoints:\n  e: {{ provider: openai, base_url: 'http://127.0.0.1:9', model_name: gpt-4o }}\nfeatures:\n  f:\n    endpoint: e\n{feature}load: {{ rate: 1 }}\n"
    );
    let (sc, src) = scenario::parse("bench.yaml", yaml.into_bytes(), &[]).expect("valid");
    Plan::from_scenario(&sc, &src).expect("valid plan")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("prompt_text");
    for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
        let text = PromptText::get(enc);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        g.throughput(Throughput::Elements(32_000));
        g.bench_function(format!("32k_tokens_{enc}"), |b| {
            b.iter(|| black_box(text.text(32_000, &mut rng)))
        });
        // The peer: counting the same text with tiktoken, which any generator that
        // checks its cut by encoding pays (and the mock pays per request).
        let sample = text.text(32_000, &mut rng);
        g.bench_function(format!("tiktoken_count_32k_{enc}"), |b| {
            b.iter(|| black_box(enc.count(&sample)))
        });
        // The mock's own count: its sentence cache warm (a prompt of corpus sentences,
        // as llm-drill sends), and cold (every sentence new: the encoder alone).
        g.bench_function(format!("mock_count_32k_cached_{enc}"), |b| {
            b.iter(|| black_box(mock_server::count::count(enc, &sample)))
        });
        g.bench_function(format!("mock_count_32k_uncached_{enc}"), |b| {
            b.iter(|| black_box(mock_server::count::count_uncached(enc, &sample)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("call");
    g.throughput(Throughput::Elements(1));
    // A 2k-token prompt: 400 system (a distribution, so not the shared template), 1500
    // context, 100 user; every call a new session, so nothing is reused.
    let p = plan("    prompt: { system_tokens: { min: 350, max: 450 }, context_tokens: 1500, user_tokens: { min: 50, max: 150 } }\n    output_tokens: 200\n");
    let w = Workload::new(&p);
    let route = Route::new(p.endpoints[0].clone(), "http://127.0.0.1:9".into(), None).unwrap();
    let mut key = 0u64;
    g.bench_function("2k_tokens_with_body", |b| {
        b.iter(|| {
            key += 1;
            let mut s = w.session(key, Duration::ZERO);
            let call = w.next_call(&mut s);
            black_box(route.prepare(&call))
        })
    });
    // Turn 6 of a conversation: system, context grown to 5.5k, five exchanges resent.
    let p = plan("    session: { turns: 6 }\n    prompt: { system_tokens: 400, context_tokens: { start: 1500, growth_per_turn: 800 }, user_tokens: 100 }\n    output_tokens: 250\n");
    let w = Workload::new(&p);
    let route = Route::new(p.endpoints[0].clone(), "http://127.0.0.1:9".into(), None).unwrap();
    let answer = " the service is running".repeat(60);
    let mut sessions: Vec<_> = (0..64)
        .map(|k| {
            let mut s = w.session(k, Duration::ZERO);
            for _ in 0..5 {
                let call = w.next_call(&mut s);
                let a = Answer {
                    ok: true,
                    text: Some(answer.clone()),
                    input_tokens: call.input_tokens as u64,
                    output_tokens: 240,
                    tool_call: None,
                };
                w.answered(&mut s, a);
            }
            s
        })
        .collect();
    let mut i = 0;
    g.bench_function("turn_6_of_6_with_history", |b| {
        b.iter(|| {
            i = (i + 1) % sessions.len();
            let s = &mut sessions[i];
            let call = w.next_call(s);
            // Back to turn 6 for the next round: the same work every iteration.
            s.started -= 1;
            black_box(route.prepare(&call))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
