//! What a call reads from every answer's headers: the server timings (`server_timing_ms`)
//! of an answer that reports none (nginx's five headers) and of one from an OpenAI-like
//! gateway that reports some, among the headers such an answer carries.

use criterion::{criterion_group, criterion_main, Criterion};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use llm_drill::client::timing::ServerTimings;
use std::hint::black_box;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    h
}

fn bench(c: &mut Criterion) {
    let nginx = headers(&[
        ("server", "nginx/1.26.3"),
        ("date", "Wed, 02 Dec 2026 06:40:00 GMT"),
        ("content-type", "application/json"),
        ("content-length", "281"),
        ("connection", "keep-alive"),
    ]);
    let gateway = headers(&[
        ("date", "Wed, 02 Dec 2026 06:40:00 GMT"),
        ("content-type", "application/json"),
        ("content-length", "912"),
        ("openai-processing-ms", "412"),
        ("openai-version", "2020-10-01"),
        ("x-request-id", "req_0123456789abcdef"),
        ("x-ratelimit-remaining-requests", "9999"),
        ("x-ratelimit-remaining-tokens", "1999000"),
        ("x-envoy-upstream-service-time", "415"),
        ("server-timing", "upstream;dur=418.5, cache;dur=0.2"),
        ("cf-ray", "8f00000000000000-AMS"),
        ("server", "cloudflare"),
    ]);
    let mut g = c.benchmark_group("response_headers");
    g.bench_function("server_timings_none_of_5", |b| {
        b.iter(|| black_box(ServerTimings::of(black_box(&nginx))))
    });
    g.bench_function("server_timings_3_of_12", |b| {
        b.iter(|| black_box(ServerTimings::of(black_box(&gateway))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
