//! Side by side: each compared endpoint's copies of the same calls, and in `mirror`
//! their paired differences — for every call answered by both, B's latency, TTFT and
//! mean ITL less A's — folded into histograms as the copies come in. A pair waits only
//! while one of its copies is in flight, so memory follows the calls in flight.

use super::{new_histogram, CallSample};
use crate::outcome::Outcome;
use crate::workload::Pair;
use hdrhistogram::Histogram;
use std::collections::HashMap;

/// What one copy of a call did, kept until its pair is complete.
#[derive(Clone, Copy, Debug)]
struct Copy {
    ok: bool,
    latency_us: u64,
    ttft_us: Option<u64>,
    itl_us: Option<u64>,
}

/// A signed distribution in two histograms: B slower (and equal) and B faster.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Signed {
    #[serde(with = "super::state::hist")]
    pub slower: Histogram<u64>,
    #[serde(with = "super::state::hist")]
    pub faster: Histogram<u64>,
}

impl Default for Signed {
    fn default() -> Self {
        Signed {
            slower: new_histogram(),
            faster: new_histogram(),
        }
    }
}

impl Signed {
    fn record(&mut self, b: u64, a: u64) {
        let _ = if b >= a {
            self.slower.record(b - a)
        } else {
            self.faster.record(a - b)
        };
    }

    pub fn len(&self) -> u64 {
        self.slower.len() + self.faster.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `q` quantile of B − A, in microseconds (negative: B was faster).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let faster = self.faster.len();
        Some(if rank <= faster {
            // The faster side, largest gain first: rank 1 is the most negative.
            let q_in = 1.0 - (rank - 1) as f64 / faster as f64;
            -(self.faster.value_at_quantile(q_in) as f64)
        } else {
            let q_in = (rank - faster) as f64 / self.slower.len() as f64;
            self.slower.value_at_quantile(q_in) as f64
        })
    }

    /// Differences above zero (B strictly slower), as a share of all.
    pub fn slower_share(&self) -> Option<f64> {
        let n = self.len();
        let zero = self.slower.count_between(0, 0);
        (n > 0).then(|| (self.slower.len() - zero) as f64 / n as f64)
    }
}

/// One endpoint's copies.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CopyStats {
    pub calls: u64,
    pub ok: u64,
    pub http_429: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    #[serde(with = "super::state::hist")]
    pub latency: Histogram<u64>,
    #[serde(with = "super::state::hist")]
    pub ttft: Histogram<u64>,
    #[serde(with = "super::state::hist")]
    pub itl: Histogram<u64>,
}

impl Default for CopyStats {
    fn default() -> Self {
        CopyStats {
            calls: 0,
            ok: 0,
            http_429: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            latency: new_histogram(),
            ttft: new_histogram(),
            itl: new_histogram(),
        }
    }
}

/// Paired differences of one endpoint against the first.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Paired {
    pub latency: Signed,
    pub ttft: Signed,
    pub itl: Signed,
}

#[derive(Clone, Debug)]
pub struct SideBySide {
    pub mirror: bool,
    /// By copy (the endpoints' order in `side_by_side.endpoints`).
    pub copies: Vec<CopyStats>,
    /// By copy after the first (index `copy - 1`).
    pub paired: Vec<Paired>,
    pending: HashMap<(u64, u32, u32), Vec<Option<Copy>>>,
}

impl SideBySide {
    pub fn new(endpoints: usize, mirror: bool) -> SideBySide {
        SideBySide {
            mirror,
            copies: vec![CopyStats::default(); endpoints],
            paired: vec![Paired::default(); endpoints.saturating_sub(1)],
            pending: HashMap::new(),
        }
    }

    /// Adds another recorder's copies and pairs (a shard's: the copies of a call are
    /// all made by the shard that drew its arrival, so no pair spans two shards).
    pub fn absorb(&mut self, copies: &[CopyStats], paired: &[Paired]) -> Result<(), String> {
        if copies.len() != self.copies.len() || paired.len() != self.paired.len() {
            return Err("its side_by_side compares other endpoints than the scenario's".into());
        }
        for (m, t) in self.copies.iter_mut().zip(copies) {
            m.calls += t.calls;
            m.ok += t.ok;
            m.http_429 += t.http_429;
            m.input_tokens += t.input_tokens;
            m.output_tokens += t.output_tokens;
            m.cost_usd += t.cost_usd;
            super::state::add(&mut m.latency, &t.latency);
            super::state::add(&mut m.ttft, &t.ttft);
            super::state::add(&mut m.itl, &t.itl);
        }
        for (m, t) in self.paired.iter_mut().zip(paired) {
            for (a, b) in [
                (&mut m.latency, &t.latency),
                (&mut m.ttft, &t.ttft),
                (&mut m.itl, &t.itl),
            ] {
                super::state::add(&mut a.slower, &b.slower);
                super::state::add(&mut a.faster, &b.faster);
            }
        }
        Ok(())
    }

    pub fn record(&mut self, pair: Pair, s: &CallSample) {
        let c = pair.copy as usize;
        let Some(stats) = self.copies.get_mut(c) else {
            return;
        };
        let ok = s.outcome == Outcome::Ok;
        let latency_us = s.end.saturating_duration_since(s.intended).as_micros() as u64;
        let ttft_us = s
            .first_token
            .map(|t| t.saturating_duration_since(s.intended).as_micros() as u64);
        let itl_us =
            (!s.itl_us.is_empty()).then(|| s.itl_us.iter().sum::<u64>() / s.itl_us.len() as u64);
        stats.calls += 1;
        stats.ok += ok as u64;
        stats.http_429 += (s.outcome == Outcome::Http429) as u64;
        stats.input_tokens += s.input_tokens;
        stats.output_tokens += s.output_tokens;
        stats.cost_usd += s.cost.usd;
        if ok {
            let _ = stats.latency.record(latency_us.max(1));
            if let Some(t) = ttft_us {
                let _ = stats.ttft.record(t.max(1));
            }
            for g in &s.itl_us {
                let _ = stats.itl.record((*g).max(1));
            }
        }
        if !self.mirror {
            return;
        }
        let n = self.copies.len();
        let key = (pair.key, pair.turn, pair.round);
        let entry = self.pending.entry(key).or_insert_with(|| vec![None; n]);
        entry[c] = Some(Copy {
            ok,
            latency_us,
            ttft_us,
            itl_us,
        });
        if entry.iter().any(Option::is_none) {
            return;
        }
        let copies = self.pending.remove(&key).unwrap_or_default();
        let Some(Some(a)) = copies.first().copied() else {
            return;
        };
        for (i, b) in copies.iter().enumerate().skip(1) {
            let Some(b) = b else { continue };
            // Compared only where both answered: a failure has no latency to compare.
            if !(a.ok && b.ok) {
                continue;
            }
            let p = &mut self.paired[i - 1];
            p.latency.record(b.latency_us, a.latency_us);
            if let (Some(x), Some(y)) = (b.ttft_us, a.ttft_us) {
                p.ttft.record(x, y);
            }
            if let (Some(x), Some(y)) = (b.itl_us, a.itl_us) {
                p.itl.record(x, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_quantiles_read_across_both_sides() {
        let mut s = Signed::default();
        // Differences -3, -1, 0, 2, 4, 6, 8, 10, 12, 14 (ms, as microseconds).
        for d in [-3i64, -1, 0, 2, 4, 6, 8, 10, 12, 14] {
            let a = 100_000u64;
            s.record((a as i64 + d * 1000) as u64, a);
        }
        let q = |p: f64| (s.quantile(p).unwrap() / 1000.0).round();
        assert_eq!(
            (q(0.1), q(0.2), q(0.3), q(0.5), q(1.0)),
            (-3.0, -1.0, 0.0, 4.0, 14.0)
        );
        assert_eq!(s.slower_share(), Some(0.7));
    }
}
