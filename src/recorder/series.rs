//! The per-second time series: calls finished, errors, tokens, latency percentiles and
//! schedule lag for each second of the run, by completion time. One interval histogram is rotated each
//! second (as HdrHistogram interval logs do), so memory grows with run seconds, not calls.

use super::{new_histogram, record_us, CallSample};
use crate::outcome::Outcome;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondStats {
    /// Seconds since the run started (this row covers [second, second + 1)).
    pub second: u64,
    pub calls: u64,
    pub ok: u64,
    pub errors: u64,
    pub output_tokens: u64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    /// How late the calls that finished this second started against their schedule.
    #[serde(default)]
    pub schedule_lag_p99_ms: f64,
    #[serde(default)]
    pub schedule_lag_max_ms: f64,
}

pub struct Series {
    pub seconds: Vec<SecondStats>,
    current: Option<SecondStats>,
    interval: Histogram<u64>,
    lag: Histogram<u64>,
    /// Keep each closed second's histograms (a shard's run, for `merge`).
    pub keep: bool,
    pub kept: Vec<KeptSecond>,
}

/// A closed second with its histograms (V2 + deflate): what `merge` adds up across
/// shards to get the second's percentiles exactly. A few hundred bytes a second.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeptSecond {
    pub stats: SecondStats,
    #[serde(with = "super::state::bytes")]
    pub latency: Vec<u8>,
    #[serde(with = "super::state::bytes")]
    pub lag: Vec<u8>,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            seconds: Vec::new(),
            current: None,
            interval: new_histogram(),
            lag: new_histogram(),
            keep: false,
            kept: Vec::new(),
        }
    }
}

/// A second's percentiles, from its histograms.
fn fill(c: &mut SecondStats, interval: &Histogram<u64>, lag: &Histogram<u64>) {
    if !interval.is_empty() {
        let ms = |q| interval.value_at_quantile(q) as f64 / 1000.0;
        c.latency_p50_ms = ms(0.5);
        c.latency_p95_ms = ms(0.95);
        c.latency_p99_ms = ms(0.99);
    }
    if !lag.is_empty() {
        c.schedule_lag_p99_ms = lag.value_at_quantile(0.99) as f64 / 1000.0;
        c.schedule_lag_max_ms = lag.max() as f64 / 1000.0;
    }
}

/// The series of several recorders' kept seconds (shards of one run): each second's
/// counts added and its percentiles taken from the added histograms. A second whose
/// histograms do not decode keeps its counts, without percentiles.
pub fn merge_seconds(kept: &[KeptSecond]) -> Vec<SecondStats> {
    let mut by_second: std::collections::BTreeMap<
        u64,
        (SecondStats, Histogram<u64>, Histogram<u64>),
    > = std::collections::BTreeMap::new();
    for k in kept {
        let (c, interval, lag) = by_second.entry(k.stats.second).or_insert_with(|| {
            (
                SecondStats {
                    second: k.stats.second,
                    ..Default::default()
                },
                new_histogram(),
                new_histogram(),
            )
        });
        c.calls += k.stats.calls;
        c.ok += k.stats.ok;
        c.errors += k.stats.errors;
        c.output_tokens += k.stats.output_tokens;
        if let Ok(h) = super::state::decode(&k.latency) {
            super::state::add(interval, &h);
        }
        if let Ok(h) = super::state::decode(&k.lag) {
            super::state::add(lag, &h);
        }
    }
    by_second
        .into_values()
        .map(|(mut c, interval, lag)| {
            fill(&mut c, &interval, &lag);
            c
        })
        .collect()
}

impl Series {
    pub fn record(&mut self, start: Instant, s: &CallSample) {
        let second = s.end.saturating_duration_since(start).as_secs();
        // Samples arrive nearly in completion order; a straggler from an earlier second
        // is counted in the current one rather than reopening a closed row.
        if self.current.as_ref().is_some_and(|c| second > c.second) {
            self.close();
        }
        let cur = self.current.get_or_insert_with(|| SecondStats {
            second,
            ..Default::default()
        });
        cur.calls += 1;
        cur.output_tokens += s.output_tokens;
        record_us(
            &mut self.lag,
            s.started.saturating_duration_since(s.intended).as_micros() as u64,
        );
        if s.outcome == Outcome::Ok {
            cur.ok += 1;
            record_us(
                &mut self.interval,
                s.end.saturating_duration_since(s.intended).as_micros() as u64,
            );
        } else {
            cur.errors += 1;
        }
    }

    fn close(&mut self) {
        if let Some(mut c) = self.current.take() {
            fill(&mut c, &self.interval, &self.lag);
            if self.keep {
                self.kept.push(KeptSecond {
                    stats: c.clone(),
                    latency: super::state::encode(&self.interval),
                    lag: super::state::encode(&self.lag),
                });
            }
            self.interval.reset();
            self.lag.reset();
            self.seconds.push(c);
        }
    }

    /// Closes the open second; call once, when the run is over.
    pub fn finish(&mut self) {
        self.close();
    }
}
