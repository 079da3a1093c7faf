//! A recorder's whole state as data, so that the recorders of a run's shards add up to
//! the recorder one process would have had: every histogram (HdrHistogram V2 with
//! deflate, base64 in JSON, as the `.hlog` files carry them), every counter and sum,
//! each second of the series with its histograms, the drill's windows and timeline, and
//! side by side's copies and pairs. Times are offsets from the run's start, which
//! `--start-at` makes the same instant for every shard.

use super::drill::WindowStats;
use super::series::KeptSecond;
use super::side::{CopyStats, Paired};
use super::turns::TurnMetrics;
use super::{Metrics, Recorder};
use crate::outcome::Outcome;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Everything a recorder measured.
#[derive(Clone, Serialize, Deserialize)]
pub struct RecorderState {
    pub endpoints: Vec<Metrics>,
    pub features: Vec<Metrics>,
    pub turns: Vec<Vec<TurnMetrics>>,
    pub seconds: Vec<KeptSecond>,
    pub windows: Vec<WindowStats>,
    pub timeline: Vec<Vec<[u32; Outcome::ALL.len()]>>,
    #[serde(with = "hist")]
    pub fallback_latency: Histogram<u64>,
    #[serde(with = "hist")]
    pub direct_latency: Histogram<u64>,
    pub side: Option<(Vec<CopyStats>, Vec<Paired>)>,
    /// The end of the last call, and the start of the last to start, from the run's
    /// start (µs).
    pub last_end_us: u64,
    pub last_start_us: u64,
}

impl Recorder {
    /// Its state, once `finish` has run. The series' seconds are there only when the
    /// recorder kept them (`Series::keep`).
    pub fn state(&self) -> RecorderState {
        let since = |t: tokio::time::Instant| t.saturating_duration_since(self.start);
        RecorderState {
            endpoints: self.endpoints.clone(),
            features: self.features.clone(),
            turns: self.turns.clone(),
            seconds: self.series.kept.clone(),
            windows: self.drill.windows.iter().map(|(_, s)| s.clone()).collect(),
            timeline: self.drill.timeline.clone(),
            fallback_latency: self.fallback_latency.clone(),
            direct_latency: self.direct_latency.clone(),
            side: self
                .side
                .as_ref()
                .map(|s| (s.copies.clone(), s.paired.clone())),
            last_end_us: since(self.last_end).as_micros() as u64,
            last_start_us: since(self.last_start).as_micros() as u64,
        }
    }

    /// Adds a shard's state into this recorder, which was set up for the whole run
    /// (endpoints, features, drill windows and side by side from its plan). Call
    /// `finish_merge` after the last one.
    pub fn absorb(&mut self, s: RecorderState) -> Result<(), String> {
        let shape = |what: &str, mine: usize, theirs: usize| {
            (mine == theirs)
                .then_some(())
                .ok_or_else(|| format!("it has {theirs} {what} where the scenario has {mine}"))
        };
        shape("endpoints", self.endpoints.len(), s.endpoints.len())?;
        shape("features", self.features.len(), s.features.len())?;
        shape("fault windows", self.drill.windows.len(), s.windows.len())?;
        for (mine, theirs) in self.endpoints.iter_mut().zip(&s.endpoints) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.features.iter_mut().zip(&s.features) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.turns.iter_mut().zip(s.turns) {
            if mine.len() < theirs.len() {
                mine.resize_with(theirs.len(), TurnMetrics::default);
            }
            for (m, t) in mine.iter_mut().zip(&theirs) {
                m.merge(t);
            }
        }
        self.series.kept.extend(s.seconds);
        for ((_, mine), theirs) in self.drill.windows.iter_mut().zip(&s.windows) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.drill.timeline.iter_mut().zip(&s.timeline) {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), [0; Outcome::ALL.len()]);
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                for (a, b) in m.iter_mut().zip(t) {
                    *a += b;
                }
            }
        }
        add(&mut self.fallback_latency, &s.fallback_latency);
        add(&mut self.direct_latency, &s.direct_latency);
        match (self.side.as_mut(), s.side) {
            (Some(side), Some((copies, paired))) => side.absorb(&copies, &paired)?,
            (None, None) => {}
            _ => return Err("its side_by_side does not match the scenario's".into()),
        }
        let at = |us: u64| self.start + Duration::from_micros(us);
        self.last_end = self.last_end.max(at(s.last_end_us));
        self.last_start = self.last_start.max(at(s.last_start_us));
        Ok(())
    }

    /// After the last `absorb`: the series from the shards' seconds, and the totals.
    pub fn finish_merge(&mut self) {
        self.series.seconds = super::series::merge_seconds(&self.series.kept);
        let mut total = Metrics::default();
        for m in &self.features {
            total.merge(m);
        }
        self.total = total;
    }
}

/// Adds `b` into `a`; both have the recorder's bounds, so it cannot fail (a histogram
/// read from a file with other bounds is refused when it is read).
pub(super) fn add(a: &mut Histogram<u64>, b: &Histogram<u64>) {
    let _ = a.add(b);
}

/// A histogram as V2 + deflate bytes.
pub fn encode(h: &Histogram<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to memory cannot fail.
    let _ = V2DeflateSerializer::new().serialize(h, &mut out);
    out
}

pub fn decode(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("a histogram does not decode: {e:?}"))?;
    if h.high() > super::MAX_TRACKABLE_US.max(100_000_000_000) {
        return Err("a histogram has bounds no llm-drill recorder uses".into());
    }
    Ok(h)
}

/// Bytes as base64 text.
pub mod bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// A histogram as base64 of its V2 + deflate bytes.
pub mod hist {
    use hdrhistogram::Histogram;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        super::bytes::serialize(&super::encode(h), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let b = super::bytes::deserialize(d)?;
        super::decode(&b).map_err(serde::de::Error::custom)
    }
}

/// Numbered histograms (an endpoint's server timings).
pub mod keyed_hists {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Keyed(usize, #[serde(with = "super::hist")] Histogram<u64>);

    pub fn serialize<S: Serializer>(
        v: &[(usize, Histogram<u64>)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v: Vec<Keyed> = v.iter().map(|(k, h)| Keyed(*k, h.clone())).collect();
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(usize, Histogram<u64>)>, D::Error> {
        Ok(Vec::<Keyed>::deserialize(d)?
            .into_iter()
            .map(|Keyed(k, h)| (k, h))
            .collect())
    }
}

/// Counts by region name. The names are the recorder's `&'static str`s: read back,
/// each distinct name is kept once for the life of the process (a merge's handful).
pub mod regions {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Mutex;

    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

    fn intern(name: String) -> &'static str {
        if let Some(r) = crate::plan::regions::canonical(&name) {
            return r;
        }
        let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = names.iter().find(|n| **n == name) {
            return n;
        }
        let n: &'static str = Box::leak(name.into_boxed_str());
        names.push(n);
        n
    }

    pub fn serialize<S: Serializer>(v: &[(&'static str, u64)], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(&'static str, u64)>, D::Error> {
        Ok(Vec::<(String, u64)>::deserialize(d)?
            .into_iter()
            .map(|(r, n)| (intern(r), n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::drill::{Drill, Window};
    use super::super::tests::sample;
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A recorder of 2 endpoints and 2 features with a fault window.
    fn recorder(start: tokio::time::Instant) -> Recorder {
        let mut r = Recorder::new(start, 2, 2);
        r.drill = Drill::new(
            vec![Window {
                endpoint: 0,
                kind: "server_error",
                from: Duration::from_secs(2),
                until: Some(Duration::from_secs(4)),
            }],
            2,
        );
        r
    }

    fn percentiles(h: &Histogram<u64>) -> Vec<u64> {
        // Every percentile, and the tail's.
        let mut v: Vec<u64> = (0..=100)
            .map(|p| p as f64 / 100.0)
            .chain([0.999, 0.9999])
            .map(|q| h.value_at_quantile(q))
            .collect();
        v.extend([h.len(), h.max(), h.min()]);
        v
    }

    fn same_metrics(a: &Metrics, b: &Metrics, what: &str) {
        for (x, y) in [
            (&a.latency, &b.latency),
            (&a.error_latency, &b.error_latency),
            (&a.service_time, &b.service_time),
            (&a.ttft, &b.ttft),
            (&a.itl, &b.itl),
            (&a.schedule_lag, &b.schedule_lag),
            (&a.call_cost, &b.call_cost),
        ] {
            assert_eq!(percentiles(x), percentiles(y), "{what}");
        }
        assert_eq!(
            (a.calls, a.attempts, a.outcomes, a.retries, a.fallbacks),
            (b.calls, b.attempts, b.outcomes, b.retries, b.fallbacks),
            "{what}"
        );
        assert_eq!(
            (
                a.input_tokens,
                a.output_tokens,
                a.calls_tried,
                a.billed_attempts
            ),
            (
                b.input_tokens,
                b.output_tokens,
                b.calls_tried,
                b.billed_attempts
            ),
            "{what}"
        );
        assert!(
            (a.cost_usd - b.cost_usd).abs() <= 1e-9 * a.cost_usd.abs().max(1.0),
            "{what}"
        );
    }

    /// The merged histograms are exact: 5,000 calls recorded by one recorder, and the
    /// same calls dealt round robin to 3 recorders whose states go through JSON and
    /// are added up, give the same histograms (count, every percentile and the tail's, min
    /// and max), counters, per-second series, turns and drill window.
    #[test]
    fn shards_states_add_up_to_the_whole_exactly() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let base = sample(
            0,
            0,
            crate::outcome::Outcome::Ok,
            &[(0, crate::outcome::Outcome::Ok)],
        );
        let t0 = base.intended;
        let mut whole = recorder(t0);
        let mut shards: Vec<Recorder> = (0..3).map(|_| recorder(t0)).collect();
        for s in &mut shards {
            s.series.keep = true;
        }
        use crate::outcome::Outcome;
        let mut calls = Vec::new();
        for i in 0..5_000u64 {
            let outcome = match rng.random_range(0..10) {
                0 => Outcome::Http5xx,
                1 => Outcome::Http429,
                _ => Outcome::Ok,
            };
            let fell_back = outcome == Outcome::Ok && rng.random_bool(0.1);
            let tried: Vec<(usize, Outcome)> = if fell_back {
                vec![(0, Outcome::Http5xx), (1, Outcome::Ok)]
            } else {
                vec![(0, outcome)]
            };
            let mut s = sample(
                rng.random_range(0..2),
                if fell_back { 1 } else { 0 },
                outcome,
                &tried,
            );
            let intended = t0 + Duration::from_micros(i * 1_200);
            let lag = Duration::from_micros(rng.random_range(0..5_000));
            let took = Duration::from_micros(rng.random_range(1_000..900_000));
            s.intended = intended;
            s.started = intended + lag;
            s.end = s.started + took;
            s.first_token = (outcome == Outcome::Ok).then(|| s.started + took / 3);
            s.itl_us = (0..rng.random_range(0..20))
                .map(|_| rng.random_range(1..80_000))
                .collect();
            s.turn = rng.random_range(1..5);
            s.round = rng.random_range(1..3);
            s.cost.usd = rng.random_range(0.0..0.01);
            for (n, t) in s.tried.iter_mut().enumerate() {
                t.sent = s.started + took * n as u32 / 2;
                t.end = s.started + took * (n as u32 + 1) / 2;
            }
            calls.push(s);
        }
        // As a run's recorder gets them: in the order they finish (the series counts a
        // straggler in the second open when it comes).
        calls.sort_by_key(|s| s.end);
        for (i, s) in calls.iter().enumerate() {
            whole.record(s);
            shards[i % 3].record(s);
        }
        whole.finish();
        let mut merged = recorder(t0);
        for s in &mut shards {
            s.finish();
            let json = serde_json::to_string(&s.state()).unwrap();
            let back: RecorderState = serde_json::from_str(&json).unwrap();
            merged.absorb(back).unwrap();
        }
        merged.finish_merge();

        same_metrics(&whole.total, &merged.total, "total");
        for i in 0..2 {
            same_metrics(&whole.endpoints[i], &merged.endpoints[i], "endpoint");
            same_metrics(&whole.features[i], &merged.features[i], "feature");
        }
        assert_eq!(whole.series.seconds.len(), merged.series.seconds.len());
        for (a, b) in whole.series.seconds.iter().zip(&merged.series.seconds) {
            assert_eq!(
                (a.second, a.calls, a.ok, a.errors, a.output_tokens),
                (b.second, b.calls, b.ok, b.errors, b.output_tokens)
            );
            assert_eq!(
                (a.latency_p50_ms, a.latency_p95_ms, a.latency_p99_ms),
                (b.latency_p50_ms, b.latency_p95_ms, b.latency_p99_ms),
                "second {}",
                a.second
            );
            assert_eq!(
                (a.schedule_lag_p99_ms, a.schedule_lag_max_ms),
                (b.schedule_lag_p99_ms, b.schedule_lag_max_ms)
            );
        }
        for (a, b) in whole
            .turns
            .iter()
            .flatten()
            .zip(merged.turns.iter().flatten())
        {
            assert_eq!(
                (a.calls, a.outcomes, &a.rounds),
                (b.calls, b.outcomes, &b.rounds)
            );
            assert_eq!(percentiles(&a.latency), percentiles(&b.latency));
        }
        let (w, m) = (&whole.drill.windows[0].1, &merged.drill.windows[0].1);
        assert_eq!(
            (w.first_failure, w.first_fallback, w.recovered, &w.calls),
            (m.first_failure, m.first_fallback, m.recovered, &m.calls)
        );
        assert!(w.calls.calls > 0 && w.first_failure.is_some() && w.recovered.is_some());
        assert_eq!(whole.drill.timeline, merged.drill.timeline);
        assert_eq!(
            percentiles(&whole.direct_latency),
            percentiles(&merged.direct_latency)
        );
        assert_eq!(
            percentiles(&whole.fallback_latency),
            percentiles(&merged.fallback_latency)
        );
        assert_eq!(
            (whole.last_end, whole.last_start),
            (merged.last_end, merged.last_start)
        );
    }
}
