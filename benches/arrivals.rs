//! Arrival schedule cost: computing intended start offsets, constant and Poisson, over
//! stages. The pacer computes one per call; it must be negligible next to a call.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use llm_drill::plan::{Arrival, ArrivalSchedule, Stage};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let stages = [
        Stage {
            duration: Duration::from_secs(10),
            rate: 2_000.0,
        },
        Stage {
            duration: Duration::from_secs(40),
            rate: 8_000.0,
        },
    ];
    let n = ArrivalSchedule::expected_count(&stages) as u64;
    let mut g = c.benchmark_group("arrivals");
    g.throughput(Throughput::Elements(n));
    for (name, arrival) in [
        ("constant_340k", Arrival::Constant),
        ("poisson_340k", Arrival::Poisson),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    ArrivalSchedule::new(&stages, arrival, 42)
                        .fold(Duration::ZERO, |a, d| a.max(d)),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
