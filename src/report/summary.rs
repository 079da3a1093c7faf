//! Building the `Summary` from the recorder, once: every section, the thresholds, and
//! whether the run passed — decided here and nowhere else. Reports read the Summary;
//! none goes back to the recorder.

pub use super::schema::*;

use super::compare::Comparison;
use crate::client::Spoken;
use crate::outcome::{FinishReason, Outcome};
use crate::plan::{LoadPlan, Plan, Target};
use crate::recorder::{Metrics, Recorder, TurnMetrics};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// `total` per `n`, to three decimals; 0 when there is nothing to divide by.
fn per(total: u64, n: u64) -> f64 {
    match n {
        0 => 0.0,
        n => round3(total as f64 / n as f64),
    }
}

/// A histogram's percentiles, or `None` when it recorded nothing.
fn measured(h: &Histogram<u64>) -> Option<Percentiles> {
    (!h.is_empty()).then(|| Percentiles::of(h))
}

impl Percentiles {
    /// A histogram of counts (tokens) read as if its values were microseconds: back to
    /// the counts themselves.
    fn counts(self) -> Percentiles {
        let n = |v: f64| (v * 1000.0).round();
        Percentiles {
            count: self.count,
            mean: round3(self.mean * 1000.0),
            p50: n(self.p50),
            p90: n(self.p90),
            p95: n(self.p95),
            p99: n(self.p99),
            p999: n(self.p999),
            max: n(self.max),
        }
    }

    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        Percentiles {
            count: h.len(),
            mean: round3(h.mean() / 1000.0),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

fn drill_summary(plan: &Plan, rec: &Recorder) -> DrillSummary {
    let secs = |d: std::time::Duration| round3(d.as_secs_f64());
    let t = &rec.total;
    DrillSummary {
        windows: rec
            .drill
            .windows
            .iter()
            .map(|(w, st)| WindowSummary {
                endpoint: plan.endpoints[w.endpoint].id.clone(),
                kind: w.kind.to_string(),
                from_s: secs(w.from),
                until_s: w.until.map(secs),
                time_to_detect_s: st.first_failure.map(|f| secs(f.saturating_sub(w.from))),
                time_to_first_fallback_s: st.first_fallback.map(|f| secs(f.saturating_sub(w.from))),
                time_to_breaker_open_s: st.breaker_opened.map(|f| secs(f.saturating_sub(w.from))),
                time_to_recover_s: match (st.recovered, w.until) {
                    (Some(r), Some(u)) => Some(secs(r.saturating_sub(u))),
                    _ => None,
                },
                calls: st.calls.clone(),
            })
            .collect(),
        attempts_per_call: per(t.attempts, t.calls),
        fallback_latency_ms: Percentiles::of(&rec.fallback_latency),
        direct_latency_ms: Percentiles::of(&rec.direct_latency),
        timeline: plan
            .endpoints
            .iter()
            .zip(&rec.drill.timeline)
            .map(|(e, rows)| {
                let rows = rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.iter().any(|n| *n > 0))
                    .map(|(second, r)| TimelineRow {
                        second: second as u64,
                        attempts: Outcome::ALL
                            .iter()
                            .filter(|o| r[o.index()] > 0)
                            .map(|o| (o.key().to_string(), r[o.index()]))
                            .collect(),
                    })
                    .collect();
                (e.id.clone(), rows)
            })
            .collect(),
    }
}

fn by_outcome(m: &Metrics) -> BTreeMap<String, u64> {
    Outcome::ALL
        .iter()
        .map(|o| (o.key().to_string(), m.count(*o)))
        .collect()
}

fn turn_summary(turn: u32, t: &TurnMetrics) -> TurnSummary {
    let ok = t.outcomes[Outcome::Ok.index()];
    let mean = |n: u64| per(n, ok);
    TurnSummary {
        turn,
        calls: t.calls,
        ok,
        failed: Outcome::ALL
            .iter()
            .filter(|o| **o != Outcome::Ok && t.outcomes[o.index()] > 0)
            .map(|o| (o.key().to_string(), t.outcomes[o.index()]))
            .collect(),
        cost_usd: t.cost_usd,
        mean_input_tokens: mean(t.input_tokens),
        mean_output_tokens: mean(t.output_tokens),
        latency_ms: Percentiles::of(&t.latency),
        ttft_ms: Percentiles::of(&t.ttft),
        rounds: t
            .rounds
            .iter()
            .enumerate()
            .map(|(i, r)| RoundSummary {
                round: i as u32 + 1,
                calls: r.calls,
                ok: r.ok,
                mean_input_tokens: per(r.input_tokens, r.ok),
            })
            .collect(),
    }
}

fn describe_load(plan: &Plan) -> String {
    match &plan.load {
        LoadPlan::Open {
            stages,
            arrival,
            max_in_flight,
        } => {
            let rates: Vec<String> = stages
                .iter()
                .map(|s| format!("{}/s for {:?}", s.rate, s.duration))
                .collect();
            format!(
                "open, {arrival:?}, {}, max_in_flight {max_in_flight}",
                rates.join(" then ")
            )
            .to_lowercase()
        }
        LoadPlan::Closed { concurrency } => {
            format!("closed, {concurrency} users for {:?}", plan.duration)
        }
        LoadPlan::Replay {
            replay,
            max_in_flight,
        } => format!(
            "replay of {} at {}× ({} calls over {:?}), max_in_flight {max_in_flight}",
            replay.trace.display(),
            replay.speed,
            replay.calls.calls,
            plan.duration
        ),
    }
}

/// `n` a second over `secs` of measured run time (0 for a run that measured none).
fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        round3(n as f64 / secs)
    } else {
        0.0
    }
}

fn achieved_rps(plan: &Plan, rec: &Recorder) -> f64 {
    let calls = rec.total.calls as f64;
    let span = match plan.load {
        LoadPlan::Open { .. } | LoadPlan::Replay { .. } => {
            let last_start = rec.last_start.saturating_duration_since(rec.start);
            last_start.max(plan.duration).as_secs_f64()
        }
        LoadPlan::Closed { .. } => rec
            .last_end
            .saturating_duration_since(rec.start)
            .as_secs_f64(),
    };
    if span > 0.0 {
        calls / span
    } else {
        0.0
    }
}

/// What the run knew beyond the recorder.
#[derive(Default)]
pub struct RunFacts {
    pub started_at: String,
    pub scheduled_calls: u64,
    pub sessions: u64,
    pub interrupted: bool,
    /// Base URLs the endpoints were actually reached at (the embedded mock's port).
    pub base_urls: Vec<String>,
    /// The spend guard stopped the run.
    pub guard_stopped: bool,
    /// Each embedded mock's `/stats` after the run, by endpoint id.
    pub mock_server: BTreeMap<String, mock_server::StatsSnapshot>,
    /// A baseline to compare with, and the name it is shown by.
    pub baseline: Option<(Summary, String)>,
    /// OAuth endpoints' token requests, by endpoint id.
    pub token_stats: BTreeMap<String, crate::client::TokenStats>,
    /// The pilot's baseline run, and the name it is shown by.
    pub pilot_baseline: Option<(Summary, String)>,
    /// A replay's turns held for their history: how many, mean and longest (ms).
    pub held: (u64, f64, f64),
    /// The pacer: arrivals released, released late with room to send, the latest (ms).
    pub pacing: (u64, u64, f64),
    /// The machine's CPU llm-drill used while driving, over all its cores.
    pub cpu_share: Option<f64>,
    /// A shard's (or a merged result's) `shard` section.
    pub shard: Option<ShardSummary>,
    /// Calibrated endpoints' probes and fits, by endpoint id.
    pub calibrations: BTreeMap<String, crate::plan::Calibration>,
}

/// Prompt tokens reported over planned, to four places; `None` when none were planned.
fn ratio(reported: u64, planned: u64) -> Option<f64> {
    (planned > 0).then(|| (reported as f64 / planned as f64 * 10_000.0).round() / 10_000.0)
}

fn finish_reasons(m: &Metrics) -> BTreeMap<String, u64> {
    FinishReason::ALL
        .iter()
        .filter(|f| m.finish[**f as usize] > 0)
        .map(|f| (f.key().to_string(), m.finish[*f as usize]))
        .collect()
}

impl Summary {
    pub fn build(plan: &Plan, rec: &Recorder, facts: &RunFacts) -> Summary {
        let t = &rec.total;
        let duration_s = rec
            .last_end
            .saturating_duration_since(rec.start)
            .as_secs_f64();
        let duration_s = round3(duration_s);
        let totals = Totals {
            calls: t.calls,
            attempts: t.attempts,
            ok: t.ok(),
            failed: t.calls - t.ok(),
            by_outcome: by_outcome(t),
            retries: t.retries,
            fallbacks: t.fallbacks,
            residency_violations: t.residency_violations,
            residency_violations_by_kind: [
                ("declared", t.residency_violations - t.residency_observed),
                ("observed", t.residency_observed),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
            target_rps: plan
                .target_rps()
                .map(|r| r * plan.copies_per_arrival())
                .filter(|_| !plan.features.iter().any(|f| f.session.multi_turn()))
                .map(round3),
            target_sessions_per_s: plan
                .target_rps()
                .map(|r| round3(r * plan.copies_per_arrival())),
            achieved_sessions_per_s: round3(
                facts.sessions as f64 / plan.duration.as_secs_f64().min(duration_s).max(1e-9),
            ),
            achieved_rps: round3(achieved_rps(plan, rec)),
            throughput_rps: per_second(t.calls, duration_s),
            goodput_rps: plan.goodput.map(|_| per_second(t.good, duration_s)),
            goodput_calls: plan.goodput.map(|_| t.good),
            scheduled_calls: facts.scheduled_calls,
            sessions: facts.sessions,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            reasoning_tokens: t.reasoning_tokens,
            estimated_token_calls: t.estimated_token_calls,
            planned_input_tokens: t.planned_input_tokens,
            input_token_ratio: ratio(t.reported_input_tokens, t.planned_input_tokens),
        };
        let endpoints = plan
            .endpoints
            .iter()
            .zip(&rec.endpoints)
            .zip(&facts.base_urls)
            .map(|((e, m), url)| {
                let base_url = match &e.target {
                    Target::Mock(_) => format!("mock ({url})"),
                    Target::Url(u) => u.clone(),
                };
                let s = EndpointSummary {
                    display_name: e.display_name.clone(),
                    model_name: e.model_name.clone(),
                    base_url,
                    region: e.region.clone(),
                    attempts: m.attempts,
                    ok: m.ok(),
                    by_outcome: by_outcome(m),
                    latency_ms: Percentiles::of(&m.latency),
                    service_time_ms: Percentiles::of(&m.service_time),
                    ttft_ms: Percentiles::of(&m.ttft),
                    itl_ms: Percentiles::of(&m.itl),
                    calls: m.calls,
                    residency_violations: m.residency_violations,
                    injected: m.injected,
                    auth: facts.token_stats.get(&e.id).map(|t| AuthSummary {
                        token_requests: t.requests,
                        token_failures: t.failures,
                        token_mean_ms: t.mean_ms.map(round3),
                    }),
                    served_regions: m
                        .served_regions
                        .iter()
                        .map(|(r, n)| (r.to_string(), *n))
                        .collect(),
                    http_versions: Spoken::ALL
                        .iter()
                        .filter(|v| m.http_versions[v.index()] > 0)
                        .map(|v| (v.key().to_string(), m.http_versions[v.index()]))
                        .collect(),
                    server_timing_ms: m
                        .server_timing
                        .iter()
                        .map(|(i, h)| {
                            (
                                crate::client::timing::NAMES[*i].to_string(),
                                Percentiles::of(h),
                            )
                        })
                        .collect(),
                    cost_usd: m.cost_usd,
                    attempts_per_call: per(m.attempts, m.calls_tried),
                    rate_429: super::gates::share(m.count(Outcome::Http429), m.attempts),
                    input_tokens: m.input_tokens,
                    output_tokens: m.output_tokens,
                    input_token_ratio: ratio(m.reported_input_tokens, m.planned_input_tokens),
                    calibration: facts.calibrations.get(&e.id).map(|c| {
                        let r = |v: f64| (v * 10_000.0).round() / 10_000.0;
                        super::schema::CalibrationSummary {
                            probes: c.probes,
                            probe_input_tokens: c.input_tokens,
                            probe_output_tokens: c.output_tokens,
                            probe_cost_usd: c.cost_usd,
                            ratio: r(c.fit.ratio),
                            per_call: r(c.fit.per_call),
                            per_message: r(c.fit.per_message),
                            max_residual_tokens: c.max_residual_tokens,
                        }
                    }),
                };
                (e.id.clone(), s)
            })
            .collect();
        let features = plan
            .features
            .iter()
            .zip(&rec.features)
            .zip(&rec.turns)
            .map(|((f, m), turns)| {
                let per_call = |n: u64| per(n, m.calls);
                let s = FeatureSummary {
                    endpoint: plan.endpoints[f.endpoint].id.clone(),
                    calls: m.calls,
                    ok: m.ok(),
                    by_outcome: by_outcome(m),
                    latency_ms: Percentiles::of(&m.latency),
                    ttft_ms: Percentiles::of(&m.ttft),
                    ttfvt_ms: measured(&m.ttfvt),
                    reasoning_tokens: measured(&m.reasoning).map(|p| p.counts()),
                    reasoning_share: (m.reasoning_tokens > 0)
                        .then(|| round3(m.reasoning_tokens as f64 / m.output_tokens as f64)),
                    mean_input_tokens: per_call(m.input_tokens),
                    mean_output_tokens: per_call(m.output_tokens),
                    sessions: turns.first().map_or(0, |t| t.user_turns()),
                    goodput_rps: plan.goodput.map(|_| per_second(m.good, duration_s)),
                    calls_per_user_turn: {
                        let user_turns: u64 = turns.iter().map(|t| t.user_turns()).sum();
                        per(m.calls, user_turns)
                    },
                    cost_usd: m.cost_usd,
                    fallbacks: m.fallbacks,
                    residency_violations: m.residency_violations,
                    finish_reasons: finish_reasons(m),
                    turns: turns
                        .iter()
                        .enumerate()
                        .map(|(i, t)| turn_summary(i as u32 + 1, t))
                        .collect(),
                };
                (f.name.clone(), s)
            })
            .collect();
        let errors = t
            .errors
            .iter()
            .map(|(o, m, n)| ErrorExample {
                outcome: o.key().to_string(),
                message: m.clone(),
                count: *n,
            })
            .collect();
        let mut summary = Summary {
            schema_version: SCHEMA_VERSION,
            scenario: plan.name.clone(),
            llm_drill_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: facts.started_at.clone(),
            seed: plan.seed,
            load: describe_load(plan),
            interrupted: facts.interrupted,
            duration_s,
            totals,
            latency_ms: Percentiles::of(&t.latency),
            service_time_ms: Percentiles::of(&t.service_time),
            error_latency_ms: Percentiles::of(&t.error_latency),
            ttft_ms: Percentiles::of(&t.ttft),
            ttfvt_ms: measured(&t.ttfvt),
            itl_ms: Percentiles::of(&t.itl),
            schedule_lag_ms: Percentiles::of(&t.schedule_lag),
            endpoints,
            features,
            errors,
            timeseries: rec.series.seconds.clone(),
            drill: drill_summary(plan, rec),
            cost: crate::cost::CostSummary {
                guard_stopped: facts.guard_stopped,
                ..crate::cost::summarize(plan, rec, facts.sessions, duration_s)
            },
            thresholds: Vec::new(),
            regression_policy: plan.regression.clone(),
            capacity: None,
            pilot: None,
            replay: None,
            side_by_side: None,
            generator_saturated: false,
            generator: Default::default(),
            latency_distribution: if t.latency.is_empty() {
                Vec::new()
            } else {
                [
                    0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0,
                ]
                .iter()
                .map(|p| {
                    [
                        *p,
                        round3(t.latency.value_at_quantile(p / 100.0) as f64 / 1000.0),
                    ]
                })
                .collect()
            },
            baseline: None,
            passed: false,
            mock_server: facts.mock_server.clone(),
            shard: facts.shard.clone(),
        };
        summary.generator = super::generator::judge(facts.pacing, facts.cpu_share);
        summary.generator_saturated = summary.generator.saturated;
        // Before the thresholds: they can be set on its differences.
        summary.side_by_side = rec
            .side
            .as_ref()
            .and_then(|side| super::side::summary(plan, side, &summary.endpoints));
        summary.thresholds = plan
            .thresholds
            .iter()
            .filter(|t| !t.metric.capacity_only())
            .map(|t| super::gates::evaluate(t, &summary))
            .collect();
        summary.baseline = facts
            .baseline
            .as_ref()
            .map(|(base, name)| super::compare::compare(base, &summary, name));
        summary.replay = super::replay::summary(plan, &summary, facts.held);

        summary.pilot = plan
            .pilot
            .as_ref()
            .map(|p| super::pilot::verdict(p, &summary, facts.pilot_baseline.as_ref()));
        // A run passes when it finished, every threshold held and nothing regressed.
        summary.passed = !facts.interrupted
            && summary.thresholds.iter().all(|t| t.ok)
            && summary.pilot.as_ref().is_none_or(|p| p.verdict == "go")
            && !summary
                .baseline
                .as_ref()
                .is_some_and(|c: &Comparison| c.regressed);
        summary
    }
}
