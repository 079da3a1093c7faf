//! The recorder: one owner receives a `CallSample` per finished call over a channel and
//! folds it into HdrHistograms and counters, overall, per endpoint and per feature, plus
//! a per-second time series. Nothing is locked on the hot path and no sample is kept:
//! memory does not grow with the number of calls.

pub mod drill;
pub mod hlog;
pub mod live;
mod series;
pub mod side;
pub mod state;
mod turns;

pub use series::{SecondStats, Series};
pub use turns::{RoundMetrics, TurnMetrics, TURN_ROWS};

use crate::client::{Attempt, Spoken};
use crate::outcome::{FinishReason, Outcome};
use crate::plan::GoodputPlan;
use crate::workload::CallSpec;
use hdrhistogram::Histogram;
use mock_server::tokens::Encoding;
use std::time::Duration;
use tokio::time::Instant;

/// Highest value a histogram tracks: one hour in microseconds. Larger values are
/// recorded as the maximum (and can only come from a run that was stuck for an hour).
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;
const SIGFIG: u8 = 3;
/// How many distinct error messages to keep per outcome, as examples for the summary.
const ERROR_EXAMPLES: usize = 3;

/// What one call did, as the engine reports it.
#[derive(Debug)]
pub struct CallSample {
    pub feature: usize,
    pub endpoint: usize,
    /// The turn of its conversation, from 1.
    pub turn: u32,
    /// Its round within the turn, from 1 (agentic features call the model several
    /// times a turn).
    pub round: u32,
    pub outcome: Outcome,
    /// When the schedule meant the call to start.
    pub intended: Instant,
    /// When its request actually left (for refused calls, when it was refused).
    pub started: Instant,
    /// The first generated token, reasoning included.
    pub first_token: Option<Instant>,
    /// The first token of the answer itself, when reasoning was streamed before it.
    pub first_visible: Option<Instant>,
    pub end: Instant,
    pub itl_us: Vec<u64>,
    pub input_tokens: u64,
    /// Every generated token billed as output, reasoning included.
    pub output_tokens: u64,
    /// Of the output tokens, the reasoning (as itemized by the endpoint, else counted
    /// from the reasoning it showed).
    pub reasoning_tokens: u64,
    /// Tokens were counted by llm-drill because the endpoint reported no usage.
    pub tokens_estimated: bool,
    /// The prompt tokens llm-drill planned, for calls whose endpoint reported usage (0
    /// otherwise): set against `input_tokens` it shows how the endpoint's tokenizer
    /// differs from the plan's.
    pub planned_input_tokens: u64,
    pub attempts: u32,
    pub error: Option<String>,
    /// Every attempt, in order: which endpoint, and how it ended. Empty for a call
    /// refused before sending. `endpoint` is the last one's (the endpoint that served
    /// the call, or failed it last).
    pub tried: Vec<Tried>,
    /// Times the call moved on to a fallback endpoint.
    pub fallbacks: u32,
    /// The endpoint its feature routes it to first.
    pub first_endpoint: usize,
    pub cost: CallCost,
    /// Served by an endpoint outside its feature's residency list: by its declared
    /// region, or (`residency_observed`) by the region it said served the call.
    pub residency_violation: bool,
    pub residency_observed: bool,
    /// Why its answer ended, as the endpoint said.
    pub finish: Option<FinishReason>,
    /// Side by side: which copy this was, and what pairs it with the others.
    pub pair: Option<crate::workload::Pair>,
}

impl CallSample {
    /// The sample of a call that ended with attempt `a` (its last), and the answer's
    /// text. The engine fills in what the other attempts did.
    pub fn new(
        call: &CallSpec,
        intended: Instant,
        a: Attempt,
        encoding: Encoding,
    ) -> (CallSample, String) {
        // Reasoning: as itemized, else counted from what was shown of it.
        let shown = match a.reasoning() {
            "" => 0,
            r => encoding.count(r) as u64,
        };
        let reasoning_tokens = a.usage.and_then(|u| u.reasoning_tokens).unwrap_or(shown);
        // Output tokens: as reported, else counted from the text (flagged as estimated).
        let (input_tokens, output_tokens, estimated) = match a.usage {
            Some(u) => (u.input_tokens, u.output_tokens, false),
            None if a.outcome == Outcome::Ok || !a.text.is_empty() => (
                call.input_tokens as u64,
                encoding.count(&a.text) as u64 + shown,
                true,
            ),
            None => (0, 0, false),
        };
        let sample = CallSample {
            feature: call.feature,
            endpoint: call.endpoint,
            turn: call.turn,
            round: call.round,
            outcome: a.outcome,
            intended,
            started: a.sent,
            first_token: a.first_token,
            first_visible: a.first_visible(),
            end: a.end,
            itl_us: a.itl_us,
            input_tokens,
            output_tokens,
            reasoning_tokens: reasoning_tokens.min(output_tokens),
            tokens_estimated: estimated,
            // Only where the endpoint reported usage can its count be compared with the
            // plan.
            planned_input_tokens: if a.usage.is_some() {
                call.input_tokens as u64
            } else {
                0
            },
            attempts: 1,
            error: a.error,
            tried: Vec::new(),
            fallbacks: 0,
            first_endpoint: call.endpoint,
            cost: CallCost::default(),
            residency_violation: false,
            residency_observed: false,
            finish: a.finish,
            pair: call.pair,
        };
        (sample, a.text)
    }
}

/// One attempt of a call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tried {
    pub endpoint: usize,
    pub outcome: Outcome,
    /// A fault llm-drill injected: nothing was sent.
    pub injected: bool,
    pub sent: Instant,
    pub end: Instant,
    /// This failure opened the endpoint's circuit breaker.
    pub opened_breaker: bool,
    /// What the attempt cost (0 unless it generated tokens: successes and cut streams).
    pub cost_usd: f64,
    /// The region the endpoint said served it (canonical, or `unrecognized`).
    pub served_region: Option<&'static str>,
    /// The HTTP its answer came in, when one came.
    pub http_version: Option<Spoken>,
    /// What the endpoint reported of its own timing.
    pub server_timing: Option<crate::client::timing::ServerTimings>,
}

/// What a call cost, and the figures the cost multiplier is made of (USD).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CallCost {
    pub usd: f64,
    /// Attempts that generated tokens.
    pub billed_attempts: u32,
    /// The billed attempts' prompt and answer tokens, priced at the call's first endpoint.
    pub primary_input_usd: f64,
    pub primary_output_usd: f64,
    /// Of those answer tokens, the visible ones (reasoning left out), at the same price.
    pub primary_visible_output_usd: f64,
    /// A typical first turn of the call's feature, priced at its first endpoint.
    pub modeled_input_usd: f64,
    pub modeled_output_usd: f64,
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_US, SIGFIG).expect("static bounds are valid")
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_TRACKABLE_US)
}

pub fn record_us(h: &mut Histogram<u64>, v: u64) {
    // Cannot fail: the value is clamped into the histogram's range.
    let _ = h.record(v.clamp(1, MAX_TRACKABLE_US));
}

/// Adds `n` to `region`'s count: a handful of regions, so a short list.
fn count_region(counts: &mut Vec<(&'static str, u64)>, region: &'static str, n: u64) {
    match counts.iter_mut().find(|(r, _)| *r == region) {
        Some((_, c)) => *c += n,
        None => counts.push((region, n)),
    }
}

/// Histograms and counters for one scope (all calls, one endpoint, one feature).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Call latency of successful calls, from the intended start (includes schedule lag).
    #[serde(with = "state::hist")]
    pub latency: Histogram<u64>,
    /// Latency of failed calls, from the intended start.
    #[serde(with = "state::hist")]
    pub error_latency: Histogram<u64>,
    /// From the actual send to the answer, successful calls.
    #[serde(with = "state::hist")]
    pub service_time: Histogram<u64>,
    #[serde(with = "state::hist")]
    pub ttft: Histogram<u64>,
    /// To the first visible token, of successful calls that streamed reasoning first.
    #[serde(with = "state::hist")]
    pub ttfvt: Histogram<u64>,
    #[serde(with = "state::hist")]
    pub itl: Histogram<u64>,
    #[serde(with = "state::hist")]
    pub schedule_lag: Histogram<u64>,
    /// Reasoning tokens per successful call of a reasoning model (counts, not times).
    #[serde(with = "state::hist")]
    pub reasoning: Histogram<u64>,
    pub outcomes: [u64; Outcome::ALL.len()],
    pub calls: u64,
    pub attempts: u64,
    /// Attempts after the first on the same endpoint.
    pub retries: u64,
    /// Moves to a fallback endpoint.
    pub fallbacks: u64,
    pub residency_violations: u64,
    /// Of those, the ones seen only in the region the endpoint said served the call.
    pub residency_observed: u64,
    /// Attempts by the region the endpoint said served them.
    #[serde(with = "state::regions")]
    pub served_regions: Vec<(&'static str, u64)>,
    /// Answered attempts by the HTTP they came in (`Spoken::index`).
    pub http_versions: [u64; Spoken::ALL.len()],
    /// The endpoint's reported timings (milliseconds, as microseconds), by
    /// `client::timing::NAMES` index, made when the first one arrives.
    #[serde(with = "state::keyed_hists")]
    pub server_timing: Vec<(usize, Histogram<u64>)>,
    /// Attempts failed by an injected fault (nothing sent).
    pub injected: u64,
    /// Calls that made at least one attempt here.
    pub calls_tried: u64,
    /// USD: calls' costs in a call scope, attempts' costs in an endpoint's.
    pub cost_usd: f64,
    /// Cost of each call, in micro-dollars (call scopes).
    #[serde(with = "state::hist")]
    pub call_cost: Histogram<u64>,
    pub billed_attempts: u64,
    pub primary_input_usd: f64,
    pub primary_output_usd: f64,
    pub primary_visible_output_usd: f64,
    pub modeled_input_usd: f64,
    pub modeled_output_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub estimated_token_calls: u64,
    /// Over calls that reported usage: prompt tokens planned, and as the endpoint counted.
    pub planned_input_tokens: u64,
    pub reported_input_tokens: u64,
    pub errors: Vec<(Outcome, String, u64)>,
    /// Calls by why their answer ended (`FinishReason::index`), where the endpoint said.
    pub finish: [u64; FinishReason::ALL.len()],
    /// Calls that met every goodput limit (counted only when the plan sets them).
    pub good: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            latency: new_histogram(),
            error_latency: new_histogram(),
            service_time: new_histogram(),
            ttft: new_histogram(),
            ttfvt: new_histogram(),
            itl: new_histogram(),
            schedule_lag: new_histogram(),
            reasoning: new_histogram(),
            outcomes: [0; Outcome::ALL.len()],
            calls: 0,
            attempts: 0,
            retries: 0,
            fallbacks: 0,
            residency_violations: 0,
            residency_observed: 0,
            served_regions: Vec::new(),
            http_versions: [0; Spoken::ALL.len()],
            server_timing: Vec::new(),
            injected: 0,
            calls_tried: 0,
            cost_usd: 0.0,
            call_cost: Histogram::new_with_bounds(1, 100_000_000_000, SIGFIG)
                .expect("static bounds are valid"),
            billed_attempts: 0,
            primary_input_usd: 0.0,
            primary_output_usd: 0.0,
            primary_visible_output_usd: 0.0,
            modeled_input_usd: 0.0,
            modeled_output_usd: 0.0,
            input_tokens: 0,
            output_tokens: 0,
            reasoning_tokens: 0,
            estimated_token_calls: 0,
            planned_input_tokens: 0,
            reported_input_tokens: 0,
            errors: Vec::new(),
            finish: [0; FinishReason::ALL.len()],
            good: 0,
        }
    }
}

impl Metrics {
    /// Records a call in a call scope (a feature, the run): its outcome and attempts.
    pub fn record(&mut self, s: &CallSample) {
        self.attempts += s.attempts as u64;
        self.outcomes[s.outcome.index()] += 1;
        self.retries += (s.attempts as u64).saturating_sub(1 + s.fallbacks as u64);
        self.fallbacks += s.fallbacks as u64;
        self.residency_violations += s.residency_violation as u64;
        self.residency_observed += s.residency_observed as u64;
        let c = &s.cost;
        self.cost_usd += c.usd;
        // Micro-dollars, at least 1 so that free calls still count.
        let _ = self
            .call_cost
            .record(((c.usd * 1e6).round() as u64).clamp(1, 100_000_000_000));
        self.billed_attempts += c.billed_attempts as u64;
        self.primary_input_usd += c.primary_input_usd;
        self.primary_output_usd += c.primary_output_usd;
        self.primary_visible_output_usd += c.primary_visible_output_usd;
        self.modeled_input_usd += c.modeled_input_usd;
        self.modeled_output_usd += c.modeled_output_usd;
        self.record_served(s);
    }

    /// Records one attempt in an endpoint's scope: endpoints count attempts and their
    /// outcomes, whatever became of the call.
    pub fn record_attempt(&mut self, t: &Tried) {
        if let Some(r) = t.served_region {
            count_region(&mut self.served_regions, r, 1);
        }
        if let Some(v) = t.http_version {
            self.http_versions[v.index()] += 1;
        }
        for (i, ms) in t.server_timing.iter().flat_map(|s| s.present()) {
            let h = match self.server_timing.iter().position(|(k, _)| *k == i) {
                Some(at) => &mut self.server_timing[at].1,
                None => {
                    self.server_timing.push((i, new_histogram()));
                    &mut self.server_timing.last_mut().expect("just pushed").1
                }
            };
            let _ = h.record(((ms * 1000.0).round() as u64).max(1));
        }
        self.attempts += 1;
        self.outcomes[t.outcome.index()] += 1;
        self.injected += t.injected as u64;
        self.cost_usd += t.cost_usd;
    }

    /// Records what a call's last endpoint gave it: latency, tokens, errors. In an
    /// endpoint's scope, `record_attempt` counts the outcomes.
    pub fn record_served(&mut self, s: &CallSample) {
        self.calls += 1;
        self.input_tokens += s.input_tokens;
        self.output_tokens += s.output_tokens;
        self.reasoning_tokens += s.reasoning_tokens;
        self.estimated_token_calls += s.tokens_estimated as u64;
        if s.planned_input_tokens > 0 {
            self.planned_input_tokens += s.planned_input_tokens;
            self.reported_input_tokens += s.input_tokens;
        }
        record_us(
            &mut self.schedule_lag,
            us(s.started.saturating_duration_since(s.intended)),
        );
        if s.outcome == Outcome::Ok {
            record_us(
                &mut self.latency,
                us(s.end.saturating_duration_since(s.intended)),
            );
            record_us(
                &mut self.service_time,
                us(s.end.saturating_duration_since(s.started)),
            );
            if let Some(ft) = s.first_token {
                record_us(&mut self.ttft, us(ft.saturating_duration_since(s.intended)));
            }
            if let Some(fv) = s.first_visible {
                record_us(
                    &mut self.ttfvt,
                    us(fv.saturating_duration_since(s.intended)),
                );
            }
            if s.reasoning_tokens > 0 {
                record_us(&mut self.reasoning, s.reasoning_tokens);
            }
            for gap in &s.itl_us {
                record_us(&mut self.itl, *gap);
            }
        } else if !s.outcome.refused_before_send() {
            record_us(
                &mut self.error_latency,
                us(s.end.saturating_duration_since(s.intended)),
            );
        }
        if let Some(f) = s.finish {
            self.finish[f as usize] += 1;
        }
        if let Some(msg) = &s.error {
            if let Some(e) = self
                .errors
                .iter_mut()
                .find(|(o, m, _)| *o == s.outcome && m == msg)
            {
                e.2 += 1;
            } else if self.errors.iter().filter(|(o, ..)| *o == s.outcome).count() < ERROR_EXAMPLES
            {
                self.errors.push((s.outcome, msg.clone(), 1));
            }
        }
    }

    pub fn ok(&self) -> u64 {
        self.outcomes[Outcome::Ok.index()]
    }

    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes[o.index()]
    }

    /// Adds another scope's figures into this one (used to merge per-worker recorders).
    pub fn merge(&mut self, other: &Metrics) {
        for (a, b) in [
            (&mut self.latency, &other.latency),
            (&mut self.error_latency, &other.error_latency),
            (&mut self.service_time, &other.service_time),
            (&mut self.ttft, &other.ttft),
            (&mut self.ttfvt, &other.ttfvt),
            (&mut self.itl, &other.itl),
            (&mut self.schedule_lag, &other.schedule_lag),
            (&mut self.reasoning, &other.reasoning),
        ] {
            // Same bounds on both sides, so adding cannot fail.
            let _ = a.add(b);
        }
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
            *a += b;
        }
        for (a, b) in self.finish.iter_mut().zip(other.finish) {
            *a += b;
        }
        self.calls += other.calls;
        self.good += other.good;
        self.attempts += other.attempts;
        self.retries += other.retries;
        self.fallbacks += other.fallbacks;
        self.residency_violations += other.residency_violations;
        self.residency_observed += other.residency_observed;
        for (i, h) in &other.server_timing {
            match self.server_timing.iter_mut().find(|(k, _)| k == i) {
                // Same bounds on both sides, so adding cannot fail.
                Some((_, mine)) => {
                    let _ = mine.add(h);
                }
                None => self.server_timing.push((*i, h.clone())),
            }
        }
        for (r, n) in &other.served_regions {
            count_region(&mut self.served_regions, r, *n);
        }
        for (mine, theirs) in self.http_versions.iter_mut().zip(other.http_versions) {
            *mine += theirs;
        }
        self.injected += other.injected;
        self.calls_tried += other.calls_tried;
        self.cost_usd += other.cost_usd;
        let _ = self.call_cost.add(&other.call_cost);
        self.billed_attempts += other.billed_attempts;
        self.primary_input_usd += other.primary_input_usd;
        self.primary_output_usd += other.primary_output_usd;
        self.primary_visible_output_usd += other.primary_visible_output_usd;
        self.modeled_input_usd += other.modeled_input_usd;
        self.modeled_output_usd += other.modeled_output_usd;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.estimated_token_calls += other.estimated_token_calls;
        self.planned_input_tokens += other.planned_input_tokens;
        self.reported_input_tokens += other.reported_input_tokens;
        for e in &other.errors {
            match self
                .errors
                .iter_mut()
                .find(|(o, m, _)| *o == e.0 && *m == e.1)
            {
                Some(mine) => mine.2 += e.2,
                None => self.errors.push(e.clone()),
            }
        }
    }
}

/// Whether a call met every goodput limit: it succeeded, within the latency limit, and,
/// where it streamed, within the TTFT limit and with its mean gap between tokens within
/// the ITL limit.
pub fn meets(g: &GoodputPlan, s: &CallSample) -> bool {
    let within = |limit: Option<Duration>, took: Duration| limit.is_none_or(|l| took <= l);
    let mean_gap = match s.itl_us.len() {
        0 => Duration::ZERO,
        n => Duration::from_micros(s.itl_us.iter().sum::<u64>() / n as u64),
    };
    s.outcome == Outcome::Ok
        && within(g.latency, s.end.saturating_duration_since(s.intended))
        && s.first_token
            .is_none_or(|ft| within(g.ttft, ft.saturating_duration_since(s.intended)))
        && within(g.itl, mean_gap)
}

/// Everything recorded in a run.
pub struct Recorder {
    pub start: Instant,
    /// All calls: every call has exactly one feature, so this is the features' scopes
    /// merged, once, by `finish` (recording it per call would add to the work).
    pub total: Metrics,
    pub endpoints: Vec<Metrics>,
    pub features: Vec<Metrics>,
    /// Per feature, per turn number (from 1; rows are added as turns are seen).
    pub turns: Vec<Vec<TurnMetrics>>,
    pub series: Series,
    /// Fault windows and the per-endpoint timeline.
    pub drill: drill::Drill,
    /// HdrHistogram interval logs, tagged by endpoint (set up by the run).
    pub intervals: Option<hlog::IntervalLogs>,
    /// Latency of successful calls that needed a fallback, and of those that did not.
    pub fallback_latency: Histogram<u64>,
    pub direct_latency: Histogram<u64>,
    /// End of the last call seen.
    pub last_end: Instant,
    /// Actual start of the last call to start.
    pub last_start: Instant,
    /// The per-call limits of goodput (set up by the run), when the plan has them.
    pub goodput: Option<GoodputPlan>,
    /// Side by side: each endpoint's copies and their paired differences (set up by
    /// the run).
    pub side: Option<side::SideBySide>,
}

impl Recorder {
    pub fn new(start: Instant, endpoints: usize, features: usize) -> Recorder {
        Recorder {
            start,
            total: Metrics::default(),
            endpoints: vec![Metrics::default(); endpoints],
            features: vec![Metrics::default(); features],
            turns: vec![Vec::new(); features],
            series: Series::default(),
            drill: drill::Drill::new(Vec::new(), endpoints),
            intervals: None,
            fallback_latency: new_histogram(),
            direct_latency: new_histogram(),
            last_end: start,
            last_start: start,
            goodput: None,
            side: None,
        }
    }

    pub fn record(&mut self, s: &CallSample) {
        if let (Some(side), Some(pair)) = (self.side.as_mut(), s.pair) {
            side.record(pair, s);
        }
        for (i, t) in s.tried.iter().enumerate() {
            if let Some(m) = self.endpoints.get_mut(t.endpoint) {
                m.record_attempt(t);
                // Attempts are grouped by endpoint, in chain order.
                if i == 0 || s.tried[i - 1].endpoint != t.endpoint {
                    m.calls_tried += 1;
                }
            }
        }
        if let Some(m) = self.endpoints.get_mut(s.endpoint) {
            m.record_served(s);
            m.residency_violations += s.residency_violation as u64;
            m.residency_observed += s.residency_observed as u64;
        }
        let good = self.goodput.is_some_and(|g| meets(&g, s)) as u64;
        if let Some(m) = self.endpoints.get_mut(s.endpoint) {
            m.good += good;
        }
        if let Some(m) = self.features.get_mut(s.feature) {
            m.record(s);
            m.good += good;
        }
        if let Some(rows) = self.turns.get_mut(s.feature) {
            let row = (s.turn.max(1) as usize).min(TURN_ROWS) - 1;
            if rows.len() <= row {
                rows.resize_with(row + 1, TurnMetrics::default);
            }
            rows[row].record(s);
        }
        self.series.record(self.start, s);
        self.drill.record(self.start, s);
        if let Some(logs) = &mut self.intervals {
            logs.record(self.start, s);
        }
        if s.outcome == Outcome::Ok {
            let h = if s.fallbacks > 0 {
                &mut self.fallback_latency
            } else {
                &mut self.direct_latency
            };
            record_us(h, us(s.end.saturating_duration_since(s.intended)));
        }
        self.last_end = self.last_end.max(s.end);
        self.last_start = self.last_start.max(s.started);
    }

    /// Closes the time series and derives the totals; call once, when the run is over.
    pub fn finish(&mut self) {
        self.series.finish();
        if let Some(logs) = &mut self.intervals {
            logs.flush();
        }
        let mut total = Metrics::default();
        for m in &self.features {
            total.merge(m);
        }
        self.total = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_keeps_each_seconds_schedule_lag() {
        let mut series = Series::default();
        let mut s = sample(0, 0, Outcome::Ok, &[(0, Outcome::Ok)]);
        let t0 = s.intended;
        for (lag, end) in [(1, 200), (10, 900), (3, 1500)] {
            s.started = t0 + Duration::from_millis(lag);
            s.end = t0 + Duration::from_millis(end);
            series.record(t0, &s);
        }
        series.finish();
        let rows: Vec<_> = series
            .seconds
            .iter()
            .map(|r| {
                let ms = |v: f64| v.round() as u64;
                (
                    r.second,
                    ms(r.schedule_lag_p99_ms),
                    ms(r.schedule_lag_max_ms),
                )
            })
            .collect();
        assert_eq!(rows, [(0, 10, 10), (1, 3, 3)]);
    }

    /// A call of feature `f` that ended `outcome` on `endpoint` after `tried`.
    pub(super) fn sample(
        f: usize,
        endpoint: usize,
        outcome: Outcome,
        tried: &[(usize, Outcome)],
    ) -> CallSample {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        CallSample {
            feature: f,
            endpoint,
            turn: 1,
            round: 1,
            outcome,
            intended: t0,
            started: ms(10),
            first_token: (outcome == Outcome::Ok).then(|| ms(60)),
            first_visible: None,
            end: ms(110),
            itl_us: vec![1_000, 2_000],
            input_tokens: 100,
            output_tokens: 10,
            reasoning_tokens: 0,
            tokens_estimated: false,
            planned_input_tokens: 100,
            attempts: tried.len() as u32,
            error: (outcome != Outcome::Ok).then(|| "HTTP 503".to_string()),
            tried: tried
                .iter()
                .map(|(e, o)| Tried {
                    endpoint: *e,
                    outcome: *o,
                    injected: false,
                    sent: ms(10),
                    end: ms(110),
                    opened_breaker: false,
                    served_region: None,
                    http_version: None,
                    server_timing: None,
                    cost_usd: if *o == Outcome::Ok { 0.01 } else { 0.0 },
                })
                .collect(),
            fallbacks: tried.windows(2).filter(|w| w[0].0 != w[1].0).count() as u32,
            first_endpoint: 0,
            pair: None,
            cost: CallCost {
                usd: 0.01,
                billed_attempts: 1,
                ..CallCost::default()
            },
            residency_violation: endpoint == 1 && outcome == Outcome::Ok,
            residency_observed: false,
            finish: (outcome == Outcome::Ok).then_some(FinishReason::Stop),
        }
    }

    #[test]
    fn calls_count_by_feature_and_attempts_by_endpoint() {
        let mut r = Recorder::new(Instant::now(), 2, 2);
        use Outcome::*;
        // Served directly; retried once on 0; failed over from 0 to 1; failed everywhere.
        r.record(&sample(0, 0, Ok, &[(0, Ok)]));
        r.record(&sample(0, 0, Ok, &[(0, Http5xx), (0, Ok)]));
        r.record(&sample(1, 1, Ok, &[(0, Connect), (1, Ok)]));
        r.record(&sample(1, 1, Http5xx, &[(0, Http5xx), (1, Http5xx)]));
        r.finish();
        let t = &r.total;
        assert_eq!((t.calls, t.attempts, t.ok()), (4, 7, 3));
        assert_eq!((t.retries, t.fallbacks), (1, 2));
        assert_eq!(t.count(Http5xx), 1, "calls count their last outcome");
        assert_eq!(t.residency_violations, 1);
        assert_eq!(t.latency.len(), 3, "only successful calls' latency");
        assert_eq!(t.error_latency.len(), 1);
        assert_eq!(t.ttft.len(), 3);
        assert_eq!(t.itl.len(), 6);
        assert_eq!(t.finish[FinishReason::Stop as usize], 3);
        assert_eq!((r.features[0].calls, r.features[1].calls), (2, 2));
        // Endpoints count every attempt made on them, whatever became of the call.
        let (e0, e1) = (&r.endpoints[0], &r.endpoints[1]);
        assert_eq!(
            (e0.attempts, e0.count(Http5xx), e0.count(Connect)),
            (5, 2, 1)
        );
        assert_eq!((e1.attempts, e1.ok(), e1.count(Http5xx)), (2, 1, 1));
        assert_eq!((e0.calls_tried, e1.calls_tried), (4, 2));
        assert_eq!(e1.residency_violations, 1);
        assert!((e0.cost_usd - 0.02).abs() < 1e-12);
        // The latency from the intended start includes the 10 ms schedule lag.
        assert_eq!(t.latency.max() / 1000, 110);
        assert_eq!(t.schedule_lag.max() / 1000, 10);
        assert_eq!(r.fallback_latency.len() + r.direct_latency.len(), 3);
    }

    #[test]
    fn goodput_counts_the_calls_within_every_limit() {
        // The sample: latency 110 ms, TTFT 60 ms, gaps of 1 and 2 ms (mean 1.5 ms).
        let ok = || sample(0, 0, Outcome::Ok, &[(0, Outcome::Ok)]);
        let ms = Duration::from_millis;
        let limits = |latency: u64, ttft: u64, itl_us: u64| GoodputPlan {
            latency: Some(ms(latency)),
            ttft: Some(ms(ttft)),
            itl: Some(Duration::from_micros(itl_us)),
        };
        assert!(
            meets(&limits(110, 60, 1_500), &ok()),
            "limits are inclusive"
        );
        assert!(!meets(&limits(109, 60, 1_500), &ok()), "too slow overall");
        assert!(
            !meets(&limits(110, 59, 1_500), &ok()),
            "first token too late"
        );
        assert!(
            !meets(&limits(110, 60, 1_499), &ok()),
            "tokens too far apart"
        );
        // A limit left out does not apply; a failed call is never good.
        let latency_only = GoodputPlan {
            latency: Some(ms(200)),
            ..GoodputPlan::default()
        };
        assert!(meets(&latency_only, &ok()));
        let failed = sample(0, 0, Outcome::Http5xx, &[(0, Outcome::Http5xx)]);
        assert!(!meets(&latency_only, &failed));
        // A whole (non-streamed) answer has no first token and no gaps to judge.
        let mut whole = ok();
        (whole.first_token, whole.itl_us) = (None, Vec::new());
        assert!(meets(&limits(110, 1, 1), &whole));
        // Counted per feature and endpoint, and in the total.
        let mut r = Recorder::new(Instant::now(), 1, 2);
        r.goodput = Some(limits(110, 60, 1_500));
        r.record(&ok());
        r.record(&failed);
        let mut slow = ok();
        slow.end += ms(1);
        r.record(&slow);
        let mut other = ok();
        other.feature = 1;
        r.record(&other);
        r.finish();
        assert_eq!((r.total.good, r.total.calls), (2, 4));
        assert_eq!((r.features[0].good, r.features[1].good), (1, 1));
        assert_eq!(r.endpoints[0].good, 2);
    }

    #[test]
    fn merging_scopes_adds_their_figures_and_error_examples_are_bounded() {
        let mut a = Metrics::default();
        let mut b = Metrics::default();
        for i in 0..10 {
            let mut s = sample(0, 0, Outcome::Http5xx, &[(0, Outcome::Http5xx)]);
            s.error = Some(format!("HTTP 503 number {i}"));
            if i % 2 == 0 {
                a.record(&s)
            } else {
                b.record(&s)
            }
        }
        assert_eq!(a.errors.len(), ERROR_EXAMPLES, "three examples per outcome");
        a.merge(&b);
        assert_eq!(a.calls, 10);
        assert_eq!(a.count(Outcome::Http5xx), 10);
        assert_eq!(a.error_latency.len(), 10);
        assert!(a.errors.len() <= 2 * ERROR_EXAMPLES);
    }
}
