//! Rendering report.html for a 24 h run: a summary with a row for every second (the
//! latency chart) and two endpoints' per-second timelines. The budget: under
//! 2 s (and, checked in tests/drill/report.rs, under 1 MB).

use criterion::{criterion_group, criterion_main, Criterion};
use llm_drill::recorder::SecondStats;
use llm_drill::report::summary::TimelineRow;
use llm_drill::report::Summary;
use std::hint::black_box;

fn day() -> Summary {
    let mut s = Summary {
        scenario: "day".into(),
        duration_s: 86_400.0,
        ..Summary::default()
    };
    s.timeseries = (0..86_400u64)
        .map(|second| {
            let v = (second % 997) as f64;
            SecondStats {
                second,
                latency_p50_ms: 100.0 + v,
                latency_p95_ms: 200.0 + v,
                latency_p99_ms: 300.0 + v,
                ..Default::default()
            }
        })
        .collect();
    for id in ["primary", "fallback"] {
        let rows = (0..86_400u64)
            .map(|second| TimelineRow {
                second,
                attempts: [("ok".to_string(), 10u32), ("http_429".to_string(), 1u32)]
                    .into_iter()
                    .collect(),
            })
            .collect();
        s.drill.timeline.insert(id.into(), rows);
    }
    s
}

fn render(c: &mut Criterion) {
    let s = day();
    let bytes = llm_drill::report::html::render(&s).len();
    println!("report.html of a 24 h run: {bytes} bytes");
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function("html_24h", |b| {
        b.iter(|| black_box(llm_drill::report::html::render(black_box(&s))))
    });
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
