//! The `Summary`: one value holding every figure of a run, built once from the recorder,
//! serialized as `summary.json` (SPEC.md "Results contract": stable keys) and rendered by
//! every other report. Reports read the Summary; none goes back to the recorder.

use crate::client::Outcome;
use crate::plan::{LoadPlan, Plan, Target};
use crate::recorder::drill::WindowCalls;
use crate::recorder::{Metrics, Recorder, SecondStats, TurnMetrics};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u32 = 1;

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl Percentiles {
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

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    /// Calls that ended (ok or not), refused ones included.
    pub calls: u64,
    pub attempts: u64,
    pub ok: u64,
    pub failed: u64,
    pub by_outcome: BTreeMap<String, u64>,
    pub retries: u64,
    pub fallbacks: u64,
    pub residency_violations: u64,
    /// Calls per second the schedule asked for (open mode; absent in closed mode, and
    /// when conversations have several turns: then answer and think times decide when
    /// later turns come, and the schedule fixes only `target_sessions_per_s`).
    pub target_rps: Option<f64>,
    /// Sessions per second the schedule asked for (open mode).
    pub target_sessions_per_s: Option<f64>,
    /// Sessions started per second of the load window (closed mode: of the run).
    pub achieved_sessions_per_s: f64,
    /// Calls started per second while the load ran: calls over the load window, or over
    /// the time to the last actual start if the harness or `max_in_flight` fell behind.
    /// Closed mode: calls per second of measured run time.
    pub achieved_rps: f64,
    /// Calls finished per second of measured run time, the tail of slow answers included
    /// (what vLLM's benchmark calls request throughput).
    pub throughput_rps: f64,
    /// Calls started: every turn of every session.
    pub scheduled_calls: u64,
    /// Conversations started (a single-turn feature's call is a session of one turn).
    pub sessions: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Calls whose tokens llm-drill counted itself because the endpoint reported no usage.
    pub estimated_token_calls: u64,
    /// Prompt tokens llm-drill planned for the calls whose endpoint reported usage.
    pub planned_input_tokens: u64,
    /// Those calls' prompt tokens as the endpoint counted them, over the plan: 1 when
    /// its tokenizer is the plan's; absent when no call reported usage.
    pub input_token_ratio: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSummary {
    pub display_name: String,
    pub model_name: String,
    pub base_url: String,
    pub region: Option<String>,
    pub attempts: u64,
    pub ok: u64,
    pub by_outcome: BTreeMap<String, u64>,
    pub latency_ms: Percentiles,
    pub service_time_ms: Percentiles,
    pub ttft_ms: Percentiles,
    pub itl_ms: Percentiles,
    /// Share of attempts answered 429, from 0 to 1.
    pub rate_429: f64,
    /// Calls whose last attempt was here (served, or failed last here).
    pub calls: u64,
    /// Calls served here outside their feature's residency.
    pub residency_violations: u64,
    /// Attempts failed by a fault llm-drill injected (real endpoints: nothing was sent).
    pub injected: u64,
    /// Retry amplification: attempts here per call that tried this endpoint.
    pub attempts_per_call: f64,
    /// What its billed attempts cost.
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureSummary {
    pub endpoint: String,
    pub calls: u64,
    pub ok: u64,
    pub by_outcome: BTreeMap<String, u64>,
    pub latency_ms: Percentiles,
    pub ttft_ms: Percentiles,
    pub mean_input_tokens: f64,
    pub mean_output_tokens: f64,
    /// Conversations of this feature started.
    pub sessions: u64,
    pub cost_usd: f64,
    /// Calls that moved to a fallback endpoint, and calls served outside `residency`.
    pub fallbacks: u64,
    pub residency_violations: u64,
    /// By turn number: how prompts and latency grow as conversations go on.
    pub turns: Vec<TurnSummary>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TurnSummary {
    /// From 1. The last row also holds every later turn when conversations run past
    /// its number.
    pub turn: u32,
    pub calls: u64,
    pub ok: u64,
    /// Outcomes other than ok, when there were any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed: BTreeMap<String, u64>,
    pub cost_usd: f64,
    /// Over the turn's successful calls.
    pub mean_input_tokens: f64,
    pub mean_output_tokens: f64,
    pub latency_ms: Percentiles,
    pub ttft_ms: Percentiles,
}

/// The fallback drill: each fault window, and how the run got through it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DrillSummary {
    pub windows: Vec<WindowSummary>,
    /// Attempts per call over the run (1 = nothing was retried or failed over).
    pub attempts_per_call: f64,
    /// Successful calls that needed a fallback, and those that did not.
    pub fallback_latency_ms: Percentiles,
    pub direct_latency_ms: Percentiles,
    /// Per endpoint, per second (by attempt end): attempts by outcome.
    pub timeline: BTreeMap<String, Vec<TimelineRow>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WindowSummary {
    pub endpoint: String,
    pub kind: String,
    pub from_s: f64,
    /// Absent: to the end of the run.
    pub until_s: Option<f64>,
    /// From the window's start to the first failed attempt on the endpoint.
    pub time_to_detect_s: Option<f64>,
    /// From the window's start to the first attempt sent to a fallback.
    pub time_to_first_fallback_s: Option<f64>,
    /// From the window's start to its circuit breaker opening.
    pub time_to_breaker_open_s: Option<f64>,
    /// From the window's end to the first attempt the endpoint answered again.
    pub time_to_recover_s: Option<f64>,
    /// Calls meant to start within the window, and what became of them.
    #[serde(flatten)]
    pub calls: WindowCalls,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    pub second: u64,
    pub attempts: BTreeMap<String, u32>,
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
        attempts_per_call: if t.calls > 0 {
            round3(t.attempts as f64 / t.calls as f64)
        } else {
            0.0
        },
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorExample {
    pub outcome: String,
    pub message: String,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    pub value: Option<f64>,
    pub ok: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub scenario: String,
    pub llm_drill_version: String,
    /// UTC, RFC 3339.
    pub started_at: String,
    pub seed: u64,
    /// `open` or `closed`, with its shape, e.g. "open, constant, 10/s".
    pub load: String,
    /// The run was stopped by the user before its schedule ended; figures are partial.
    pub interrupted: bool,
    /// Measured run time, from the first intended start to the last call's end.
    pub duration_s: f64,
    pub totals: Totals,
    /// Successful calls, from intended start to the final answer (schedule lag included).
    pub latency_ms: Percentiles,
    /// Successful calls, from the request leaving to the final answer.
    pub service_time_ms: Percentiles,
    /// Failed calls that were sent, from intended start to the failure.
    pub error_latency_ms: Percentiles,
    /// Successful streaming calls, from intended start to the first content token.
    pub ttft_ms: Percentiles,
    /// Gaps between content tokens of successful streams.
    pub itl_ms: Percentiles,
    /// Every call: how late it started against its intended start.
    pub schedule_lag_ms: Percentiles,
    pub endpoints: BTreeMap<String, EndpointSummary>,
    pub features: BTreeMap<String, FeatureSummary>,
    pub errors: Vec<ErrorExample>,
    pub timeseries: Vec<SecondStats>,
    /// Fault windows, retries and fallback (see `DrillSummary`).
    #[serde(default)]
    pub drill: DrillSummary,
    #[serde(default)]
    pub cost: crate::cost::CostSummary,
    /// Latency at percentiles from 0 to 99.99 (and max): `[percentile, ms]`, for the
    /// HdrHistogram-style percentile plot.
    #[serde(default)]
    pub latency_distribution: Vec<[f64; 2]>,
    /// The scenario's `regression:` tolerances, applied when this run is a candidate.
    #[serde(default)]
    pub regression_policy: super::compare::Policy,
    /// The comparison with `--baseline`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::compare::Comparison>,
    pub thresholds: Vec<ThresholdResult>,
    pub passed: bool,
    /// Ground truth from the embedded mock server of each `base_url: mock` endpoint, as
    /// its `/stats` reported it after the run — to check llm-drill's figures against.
    #[serde(default)]
    pub mock_server: BTreeMap<String, mock_server::StatsSnapshot>,
}

fn by_outcome(m: &Metrics) -> BTreeMap<String, u64> {
    Outcome::ALL
        .iter()
        .map(|o| (o.key().to_string(), m.count(*o)))
        .collect()
}

fn turn_summary(turn: u32, t: &TurnMetrics) -> TurnSummary {
    let ok = t.outcomes[Outcome::Ok.index()];
    let mean = |n: u64| {
        if ok > 0 {
            round3(n as f64 / ok as f64)
        } else {
            0.0
        }
    };
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
    }
}

fn achieved_rps(plan: &Plan, rec: &Recorder) -> f64 {
    let calls = rec.total.calls as f64;
    let span = match plan.load {
        LoadPlan::Open { .. } => {
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
pub struct RunFacts {
    pub started_at: String,
    pub scheduled_calls: u64,
    pub sessions: u64,
    pub interrupted: bool,
    /// Base URLs the endpoints were actually reached at (the embedded mock's port).
    pub base_urls: Vec<String>,
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
            target_rps: plan
                .load
                .target_rps(plan.duration)
                .filter(|_| !plan.features.iter().any(|f| f.session.multi_turn()))
                .map(round3),
            target_sessions_per_s: plan.load.target_rps(plan.duration).map(round3),
            achieved_sessions_per_s: round3(
                facts.sessions as f64 / plan.duration.as_secs_f64().min(duration_s).max(1e-9),
            ),
            achieved_rps: round3(achieved_rps(plan, rec)),
            throughput_rps: if duration_s > 0.0 {
                round3(t.calls as f64 / duration_s)
            } else {
                0.0
            },
            scheduled_calls: facts.scheduled_calls,
            sessions: facts.sessions,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            estimated_token_calls: t.estimated_token_calls,
            planned_input_tokens: t.planned_input_tokens,
            input_token_ratio: (t.planned_input_tokens > 0).then(|| {
                (t.reported_input_tokens as f64 / t.planned_input_tokens as f64 * 10_000.0).round()
                    / 10_000.0
            }),
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
                    cost_usd: m.cost_usd,
                    attempts_per_call: if m.calls_tried > 0 {
                        round3(m.attempts as f64 / m.calls_tried as f64)
                    } else {
                        0.0
                    },
                    rate_429: if m.attempts > 0 {
                        m.count(Outcome::Http429) as f64 / m.attempts as f64
                    } else {
                        0.0
                    },
                    input_tokens: m.input_tokens,
                    output_tokens: m.output_tokens,
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
                let per_call = |n: u64| {
                    if m.calls > 0 {
                        round3(n as f64 / m.calls as f64)
                    } else {
                        0.0
                    }
                };
                let s = FeatureSummary {
                    endpoint: plan.endpoints[f.endpoint].id.clone(),
                    calls: m.calls,
                    ok: m.ok(),
                    by_outcome: by_outcome(m),
                    latency_ms: Percentiles::of(&m.latency),
                    ttft_ms: Percentiles::of(&m.ttft),
                    mean_input_tokens: per_call(m.input_tokens),
                    mean_output_tokens: per_call(m.output_tokens),
                    sessions: turns.first().map_or(0, |t| t.calls),
                    cost_usd: m.cost_usd,
                    fallbacks: m.fallbacks,
                    residency_violations: m.residency_violations,
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
            itl_ms: Percentiles::of(&t.itl),
            schedule_lag_ms: Percentiles::of(&t.schedule_lag),
            endpoints,
            features,
            errors,
            timeseries: rec.series.seconds.clone(),
            drill: drill_summary(plan, rec),
            cost: crate::cost::summarize(plan, rec, facts.sessions, duration_s),
            thresholds: Vec::new(),
            regression_policy: plan.regression.clone(),
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
            mock_server: BTreeMap::new(),
        };
        summary.thresholds = plan
            .thresholds
            .iter()
            .map(|t| super::gates::evaluate(t, &summary))
            .collect();
        // A run passes when it finished and every threshold held.
        summary.passed = !facts.interrupted && summary.thresholds.iter().all(|t| t.ok);
        summary
    }
}
