//! Recorder cost: folding one finished call into the histograms (the per-call hot path),
//! and merging two scopes.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use llm_drill::outcome::Outcome;
use llm_drill::recorder::{CallSample, Metrics, Recorder, Tried};
use std::hint::black_box;
use std::time::Duration;
use tokio::time::Instant;

fn sample(i: u64, base: Instant) -> CallSample {
    let intended = base + Duration::from_micros(i * 97 % 1_000_000);
    let started = intended + Duration::from_micros(i % 300);
    let outcome = if i % 50 == 0 {
        Outcome::Http429
    } else {
        Outcome::Ok
    };
    CallSample {
        feature: (i % 2) as usize,
        turn: 1,
        round: 1,
        endpoint: 0,
        outcome,
        intended,
        started,
        first_token: Some(started + Duration::from_millis(300 + i % 200)),
        first_visible: None,
        end: started + Duration::from_millis(900 + i % 700),
        itl_us: (0..64).map(|k| 15_000 + (i * 31 + k) % 5_000).collect(),
        input_tokens: 1_200,
        output_tokens: 65,
        reasoning_tokens: 0,
        tokens_estimated: false,
        planned_input_tokens: 1_200,
        attempts: 1,
        error: None,
        tried: vec![Tried {
            endpoint: 0,
            outcome,
            injected: false,
            opened_breaker: false,
            served_region: Some("westeurope"),
            http_version: Some(llm_drill::client::Spoken::Http2),
            server_timing: None,
            cost_usd: 0.0,
            sent: started,
            end: started + Duration::from_millis(900 + i % 700),
        }],
        fallbacks: 0,
        first_endpoint: 0,
        pair: None,
        cost: Default::default(),
        residency_violation: false,
        residency_observed: false,
        finish: Some(llm_drill::outcome::FinishReason::Stop),
    }
}

fn bench(c: &mut Criterion) {
    let base = Instant::now();
    let mut g = c.benchmark_group("recorder");
    g.bench_function("record_call_with_64_itl", |b| {
        let mut rec = Recorder::new(base, 1, 2);
        let mut i = 0u64;
        b.iter_batched(
            || {
                i += 1;
                sample(i, base)
            },
            |s| rec.record(black_box(&s)),
            BatchSize::SmallInput,
        );
    });
    g.bench_function("merge_scopes", |b| {
        let mut a = Metrics::default();
        let mut other = Metrics::default();
        for i in 0..10_000 {
            other.record(&sample(i, base));
        }
        b.iter(|| a.merge(black_box(&other)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
