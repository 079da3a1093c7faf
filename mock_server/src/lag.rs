//! How late the mock emits against its own latency model: for every first token, every
//! later token and every whole answer, the time it went out minus the time the model
//! gave it. A mock that cannot keep its model (too many streams for its core) shapes
//! the figures measured against it; this is how it says so (`/stats` `emit_lag_ms`).
//!
//! Recorded from every worker thread at up to hundreds of thousands of tokens a second,
//! so the histogram is sharded: a thread takes the shard of its own index, and the
//! shards merge when `/stats` asks.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

const SHARDS: usize = 16;

pub(crate) struct LagRecorder {
    shards: [Mutex<Histogram<u64>>; SHARDS],
}

/// The lag's distribution, in milliseconds (microsecond resolution, 3 significant
/// digits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    /// Emissions measured: first tokens, later tokens and whole answers.
    pub count: u64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to an hour, 3 significant digits; values beyond are clamped.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

impl Default for LagRecorder {
    fn default() -> LagRecorder {
        LagRecorder {
            shards: std::array::from_fn(|_| Mutex::new(histogram())),
        }
    }
}

thread_local! {
    static SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Relaxed) % SHARDS
    };
}

impl std::fmt::Debug for LagRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LagRecorder({:?})", self.summary())
    }
}

impl LagRecorder {
    pub(crate) fn record(&self, lag: Duration) {
        let us = (lag.as_micros() as u64).clamp(1, 3_600_000_000);
        let shard = SHARD.with(|s| *s);
        if let Ok(mut h) = self.shards[shard].lock() {
            h.saturating_record(us);
        }
    }

    pub(crate) fn summary(&self) -> LagSummary {
        let mut all = histogram();
        for s in &self.shards {
            if let Ok(h) = s.lock() {
                let _ = all.add(&*h);
            }
        }
        if all.is_empty() {
            return LagSummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LagSummary {
            count: all.len(),
            p50: ms(all.value_at_quantile(0.5)),
            p99: ms(all.value_at_quantile(0.99)),
            max: ms(all.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_record_into_one_distribution() {
        let lag = std::sync::Arc::new(LagRecorder::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let lag = lag.clone();
                std::thread::spawn(move || {
                    for i in 0..250u64 {
                        lag.record(Duration::from_micros(t * 250 + i + 1));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        let s = lag.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50 - 0.5).abs() < 0.002, "{s:?}");
        assert!((s.p99 - 0.99).abs() < 0.002, "{s:?}");
        assert_eq!(s.max, 1.0);
    }
}
