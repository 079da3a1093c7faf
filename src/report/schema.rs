//! The `Summary`'s shape: every figure of a run, as `summary.json` holds it (SPEC.md
//! "Results contract": stable keys). Summaries written by earlier versions still load:
//! every section defaults missing keys. How a summary is built is `summary.rs`'s.

use crate::recorder::drill::WindowCalls;
use crate::recorder::SecondStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u32 = 1;

/// Percentiles of one histogram, in milliseconds.
/// A histogram that recorded nothing has `count: 0` and every statistic `null` in JSON:
/// unmeasured, never zero.
#[derive(Clone, Debug, Default, PartialEq)]
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

impl Percentiles {
    /// Whether anything was recorded.
    pub fn measured(&self) -> bool {
        self.count > 0
    }
}

/// The JSON form: statistics as numbers when measured, `null` when not.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct PercentilesJson {
    count: u64,
    mean: Option<f64>,
    p50: Option<f64>,
    p90: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    max: Option<f64>,
}

impl Serialize for Percentiles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = |x: f64| self.measured().then_some(x);
        PercentilesJson {
            count: self.count,
            mean: v(self.mean),
            p50: v(self.p50),
            p90: v(self.p90),
            p95: v(self.p95),
            p99: v(self.p99),
            p999: v(self.p999),
            max: v(self.max),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Percentiles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = Option::<PercentilesJson>::deserialize(d)?.unwrap_or_default();
        let v = |x: Option<f64>| x.unwrap_or(0.0);
        Ok(Percentiles {
            count: j.count,
            mean: v(j.mean),
            p50: v(j.p50),
            p90: v(j.p90),
            p95: v(j.p95),
            p99: v(j.p99),
            p999: v(j.p999),
            max: v(j.max),
        })
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
    /// The violations by what showed them: the endpoint's declared region, or the
    /// region it said served the call (`x-ms-region`) while its declared one is inside.
    pub residency_violations_by_kind: BTreeMap<String, u64>,
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
    /// Of those, the calls per second that met every `goodput` limit (DistServe's
    /// goodput); absent when the scenario sets no limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_rps: Option<f64>,
    /// The calls that met them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_calls: Option<u64>,
    /// Calls started: every turn of every session.
    pub scheduled_calls: u64,
    /// Conversations started (a single-turn feature's call is a session of one turn).
    pub sessions: u64,
    pub input_tokens: u64,
    /// Every token billed as output, reasoning included.
    pub output_tokens: u64,
    /// Of the output tokens, those reasoning models spent reasoning.
    pub reasoning_tokens: u64,
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
    /// Share of attempts answered 429, from 0 to 1; `null` when none was made.
    pub rate_429: Option<f64>,
    /// Calls whose last attempt was here (served, or failed last here).
    pub calls: u64,
    /// Calls served here outside their feature's residency.
    pub residency_violations: u64,
    /// Attempts failed by a fault llm-drill injected (real endpoints: nothing was sent).
    pub injected: u64,
    /// Attempts by the region the endpoint said served them (Azure's `x-ms-region`),
    /// canonical names; empty when it says nothing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub served_regions: BTreeMap<String, u64>,
    /// Answered attempts by the HTTP they came in (`http1`, `http2`); empty when none
    /// was answered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub http_versions: BTreeMap<String, u64>,
    /// What the endpoint (or a gateway before it) reported of its own timing, by header
    /// (`openai-processing-ms`, `x-litellm-overhead-duration-ms`,
    /// `x-envoy-upstream-service-time`, `server-timing`, `req-cost-time`), over the
    /// attempts that sent it; absent when none did.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub server_timing_ms: BTreeMap<String, Percentiles>,
    /// An OAuth endpoint's token requests (not calls): count, failures, mean time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSummary>,
    /// Retry amplification: attempts here per call that tried this endpoint.
    pub attempts_per_call: f64,
    /// What its billed attempts cost.
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Prompt tokens it reported over those planned, for the calls served here that
    /// reported usage; `null` when none did.
    #[serde(default)]
    pub input_token_ratio: Option<f64>,
    /// The probes sent before the run (`calibrate: true`) and the fit of its count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationSummary>,
}

/// An endpoint's calibration: its probes (not calls: apart from every other figure) and
/// the fit of its prompt-token count, `ratio` × the plan's tokens of text + `per_call` +
/// `per_message` × messages, which the run's prompts were planned by.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CalibrationSummary {
    pub probes: u32,
    pub probe_input_tokens: u64,
    pub probe_output_tokens: u64,
    pub probe_cost_usd: f64,
    pub ratio: f64,
    pub per_call: f64,
    pub per_message: f64,
    /// The largest gap between a probe's count and the fit, in tokens.
    pub max_residual_tokens: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSummary {
    pub token_requests: u64,
    pub token_failures: u64,
    pub token_mean_ms: Option<f64>,
}

impl EndpointSummary {
    /// Attempts answered 429.
    pub fn count_429(&self) -> u64 {
        self.by_outcome.get("http_429").copied().unwrap_or(0)
    }
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
    /// To the first visible token, when the model streamed reasoning before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfvt_ms: Option<Percentiles>,
    pub mean_input_tokens: f64,
    pub mean_output_tokens: f64,
    /// Reasoning tokens per successful call that reasoned (`p50`, `p95`, ...: counts),
    /// absent for a model that does not reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<Percentiles>,
    /// Reasoning over all output tokens, absent when nothing reasoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_share: Option<f64>,
    /// Conversations of this feature started.
    pub sessions: u64,
    /// Model calls per user turn: above 1 when an agentic feature's turns loop through
    /// tool calls.
    pub calls_per_user_turn: f64,
    /// Its calls per second that met every `goodput` limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_rps: Option<f64>,
    pub cost_usd: f64,
    /// Calls that moved to a fallback endpoint, and calls served outside `residency`.
    pub fallbacks: u64,
    pub residency_violations: u64,
    /// Calls by why their answer ended, as the endpoint said (`stop`, `length`,
    /// `tool_calls`, `content_filter`, `other`); calls with no answer are not counted.
    pub finish_reasons: BTreeMap<String, u64>,
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
    /// Agentic features: each round of the turn, its calls and the prompt they sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<RoundSummary>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoundSummary {
    /// From 1: the user's request; later rounds follow tool calls.
    pub round: u32,
    pub calls: u64,
    pub ok: u64,
    /// Over the round's successful calls.
    pub mean_input_tokens: f64,
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

/// Every field defaults: a summary an older llm-drill wrote, without the sections that
/// came later, still reads (`llm-drill report`, `compare`, `pilot.baseline`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    /// Successful streaming calls, from intended start to the first generated token
    /// (reasoning included).
    pub ttft_ms: Percentiles,
    /// Successful streaming calls that streamed reasoning first, from intended start to
    /// the first token of the answer itself; absent when no model streamed reasoning
    /// (then it is the TTFT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfvt_ms: Option<Percentiles>,
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
    /// The pilot's go / no-go against its assumptions, when the scenario states them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pilot: Option<PilotSummary>,
    /// llm-drill itself could not keep its schedule: its figures then measure it as
    /// much as the endpoint (`generator` says why).
    pub generator_saturated: bool,
    pub generator: GeneratorSummary,
    /// The same traffic to several endpoints: each against the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_by_side: Option<SideBySideSummary>,
    /// A replay's calls against the log's own figures, per feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplaySummary>,
    /// A capacity search's steps and what they found (`llm-drill capacity` only); the
    /// rest of the summary is then the sustainable step's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacitySummary>,
    /// The scenario's `regression:` tolerances, applied when this run is a candidate.
    #[serde(default)]
    pub regression_policy: crate::plan::Policy,
    /// The comparison with `--baseline`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::compare::Comparison>,
    pub thresholds: Vec<ThresholdResult>,
    pub passed: bool,
    /// Ground truth from the embedded mock server of each `base_url: mock` endpoint, as
    /// its `/stats` reported it after the run — to check llm-drill's figures against —
    /// and from a standalone llm-drill mock that answered an endpoint (recognized by its
    /// `x-llm-drill-mock` header; its figures cover its whole life).
    #[serde(default)]
    pub mock_server: BTreeMap<String, mock_server::StatsSnapshot>,
    /// A shard's part of a split run (`--shard`), or the shards a merged result holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardSummary>,
}

/// Which part of a split run this is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShardSummary {
    /// This shard's number, from 0; absent from a merged result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub count: u32,
    /// `--start-at`, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// How much later than `--start-at` the shard's schedule began (ms): counted in
    /// its schedule lag. Of a merged result, the latest shard's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_late_ms: Option<f64>,
    /// This shard's part of `cost.max_spend_usd` and `cost.max_calls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_spend_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_calls: Option<u64>,
    /// A merged result: the shards' results folders, by shard number.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

/// What `llm-drill capacity` found: each step, and the loads that matter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CapacitySummary {
    /// The load's unit: `calls/s`, `sessions/s` or `users`.
    pub unit: String,
    /// The search as configured: start, max, growth, resolution, step and warm-up.
    pub search: CapacitySearch,
    pub steps: Vec<CapacityStep>,
    /// The highest step that met every threshold.
    pub max_sustainable: Option<Sustainable>,
    /// The lowest step whose 429 rate passed the bound (the SLO's own, else 1%).
    pub rate_limit_onset: Option<Onset>,
    /// The last step before latency p95 turned upward (see `rule`).
    pub knee: Option<Knee>,
    /// The sustainable load set against production's peak.
    pub headroom: Option<Headroom>,
    /// The search was stopped before it finished: the steps are those done.
    pub interrupted: bool,
    /// One sentence: what the endpoint sustains, and how that compares.
    pub verdict: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CapacitySearch {
    pub start: f64,
    pub max: f64,
    pub growth: f64,
    pub resolution: f64,
    pub step_duration_s: f64,
    pub warmup_s: f64,
    pub max_schedule_lag_ms: f64,
}

/// One step: the load offered, what was measured after its warm-up, and the verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CapacityStep {
    pub step: u32,
    /// llm-drill itself could not offer this step's load: it says nothing of the
    /// endpoint, and the search stops there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generator_saturated: bool,
    /// In the search's unit.
    pub offered: f64,
    /// Calls a second asked for and started (open mode), and finished.
    pub target_rps: Option<f64>,
    pub achieved_rps: f64,
    pub throughput_rps: f64,
    pub goodput_rps: Option<f64>,
    pub calls: u64,
    pub attempts: u64,
    /// Of the warm-up, recorded apart.
    pub warmup_calls: u64,
    pub warmup_attempts: u64,
    /// Attempts answered 429, measured and in the warm-up.
    pub attempts_429: u64,
    pub warmup_attempts_429: u64,
    pub latency_ms: Percentiles,
    pub ttft_ms: Percentiles,
    pub itl_ms: Percentiles,
    pub schedule_lag_p99_ms: Option<f64>,
    pub error_rate: Option<f64>,
    pub rate_429: Option<f64>,
    pub cost_per_call_usd: f64,
    pub input_tokens_per_minute: f64,
    pub output_tokens_per_minute: f64,
    /// Thresholds that failed, as written.
    pub failed_thresholds: Vec<String>,
    /// Why the step failed beyond its thresholds: the load not offered, llm-drill
    /// itself behind.
    pub limits: Vec<String>,
    pub passed: bool,
    /// The step's own results folder, relative to the search's.
    pub dir: String,
    /// Wall clock, milliseconds since 1970: to find the step in a server's log.
    pub started_unix_ms: u64,
    pub ended_unix_ms: u64,
    /// The embedded mock's requests during the step (warm-up included), by endpoint.
    pub mock_requests: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sustainable {
    pub offered: f64,
    pub step: u32,
    pub calls_per_second: f64,
    pub input_tokens_per_minute: f64,
    pub output_tokens_per_minute: f64,
    /// No step broke the SLO: the endpoint sustains at least this (`capacity.max`).
    pub at_least: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Onset {
    pub offered: f64,
    pub step: u32,
    pub rate_429: f64,
    /// The 429 rate that counts as the onset.
    pub bound: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Knee {
    pub offered: f64,
    pub step: u32,
    pub latency_p95_ms: f64,
    pub rule: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Headroom {
    pub production_peak_rps: f64,
    /// Where the peak comes from.
    pub from: String,
    /// Sustainable calls a second over the peak; absent when nothing was sustainable.
    pub ratio: Option<f64>,
    pub sentence: String,
}

/// The pilot's verdict: each assumption against what was measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PilotSummary {
    /// `go` when every assumption held, else `no-go`.
    pub verdict: String,
    pub assumptions: Vec<PilotRow>,
    /// The assumptions a feature reports, per feature.
    pub features: BTreeMap<String, Vec<PilotRow>>,
    /// For each failed assumption: what caused it (a cost factor, an endpoint).
    pub causes: Vec<String>,
    /// The run the baseline figures come from.
    pub baseline: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PilotRow {
    /// As the scenario names it: `cost_per_call`, `latency.p95`, `residency`.
    pub assumption: String,
    /// As written: `$0.04`, `3s`, `[westeurope, northeurope]`.
    pub assumed: String,
    /// In the metric's unit (ms, fraction, USD, calls/s); for residency, the calls
    /// served outside.
    pub limit: f64,
    pub measured: Option<f64>,
    pub baseline: Option<f64>,
    pub ok: bool,
    /// How far the measured figure is from the assumed one, as a share of it:
    /// positive when worse.
    pub by: Option<f64>,
}

/// A replay (`load.mode: replay`): the log replayed, and per feature its figures then
/// (as the log has them) and now (as the replay measured them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplaySummary {
    pub trace: String,
    pub format: String,
    pub speed: f64,
    /// Rows replayed, their conversations and their prompt tokens summed.
    pub rows: u64,
    pub conversations: u64,
    pub prompt_tokens: u64,
    /// Rows whose prompt was smaller than the smallest request, sent at that size.
    pub raised: u64,
    /// Rows beyond `duration`, left out.
    pub beyond: u64,
    /// Later turns due before the answer they resend had arrived: they started when it
    /// came, this much after the log's time over speed (not schedule lag: the
    /// generator was on time; the conversation could not be).
    pub held_turns: u64,
    pub held_mean_ms: f64,
    pub held_max_ms: f64,
    pub features: BTreeMap<String, ReplayScope>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplayScope {
    pub then: ReplayFigures,
    pub now: ReplayFigures,
}

/// One side of the comparison; a figure the log (or the run) does not have is `null`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplayFigures {
    pub calls: u64,
    pub mean_prompt_tokens: f64,
    pub mean_completion_tokens: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub error_rate: Option<f64>,
    pub cost_per_call_usd: Option<f64>,
}

/// Side by side: each endpoint after the first, against the first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SideBySideSummary {
    /// `mirror` or `alternate`.
    pub mode: String,
    pub endpoints: Vec<String>,
    /// By endpoint id (each after the first).
    pub pairs: BTreeMap<String, PairSummary>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PairSummary {
    /// The endpoint it is compared with: the first listed.
    pub against: String,
    /// Calls each endpoint got, and (mirror) the pairs both answered.
    pub calls: u64,
    pub against_calls: u64,
    pub paired_calls: u64,
    /// B − A in milliseconds: in `mirror` the percentiles of the per-call differences,
    /// in `alternate` the differences of the percentiles.
    pub latency_ms: Diff,
    pub ttft_ms: Diff,
    pub itl_ms: Diff,
    /// Mirror: the share of paired calls on which B was slower.
    pub slower_share: Option<f64>,
    /// Latency's difference at percentiles from p1 to p99: `[percentile, ms]` (mirror:
    /// of the per-call differences; alternate: of the percentiles), for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency_distribution: Vec<[f64; 2]>,
    /// B over A, per call: output tokens, prompt tokens as each endpoint billed them,
    /// cost.
    pub output_tokens_ratio: Option<f64>,
    pub prompt_tokens_ratio: Option<f64>,
    pub cost_ratio: Option<f64>,
    /// B − A, in percentage points.
    pub error_rate_pp: Option<f64>,
    pub rate_429_pp: Option<f64>,
    /// What the endpoint itself reported of its timing (p50, ms), where it did.
    pub reported_p50_ms: BTreeMap<String, f64>,
    /// The pair in one sentence.
    pub sentence: String,
}

/// A difference at p50, p95 and p99 (ms); absent where nothing was measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Diff {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// How the generator kept up: the pacer's own lateness and the CPU it used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratorSummary {
    pub saturated: bool,
    /// Arrivals the pacer released, and those it released more than 5 ms late while the
    /// driver had room for them; the latest, in ms.
    pub released: u64,
    pub late: u64,
    pub late_max_ms: f64,
    /// CPU used over the run's wall time and all cores (Linux), from 0 to 1.
    pub cpu_share: Option<f64>,
    pub reasons: Vec<String>,
}
