//! The serde mirror of the scenario YAML (SPEC.md, "Scenario file"). Every struct denies
//! unknown keys, so a typo is an error and never silently ignored.
//!
//! Shapes only: no defaults that need judgement and no cross-field checks live here;
//! `plan::Plan::from_scenario` applies them once.

use super::value::{Dist, DurationStr, Percent};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    pub duration: Option<DurationStr>,
    pub graceful_stop: Option<DurationStr>,
    pub endpoints: BTreeMap<String, Endpoint>,
    pub features: BTreeMap<String, Feature>,
    pub load: Load,
    pub faults: Option<Vec<FaultSpec>>,
    pub retry: Option<Retry>,
    pub cost: Option<CostSpec>,
    /// CI gates: `latency.p99 < 8s`, `endpoint:primary rate_429 < 1%`, ...
    pub thresholds: Option<Vec<String>>,
    /// How much worse than a baseline a metric may get before it is a regression.
    pub regression: Option<RegressionSpec>,
    /// Per-call limits a call must meet to count towards goodput.
    pub goodput: Option<GoodputSpec>,
    /// How `llm-drill capacity` searches the load this scenario sustains.
    pub capacity: Option<CapacitySpec>,
    /// The assumptions the pilot was approved on: every run ends with a go / no-go.
    pub pilot: Option<PilotSpec>,
    /// The same traffic to two or more endpoints in one run, compared call by call.
    pub side_by_side: Option<SideBySideSpec>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SideBySideSpec {
    /// Endpoint ids, the baseline first: features name the first.
    pub endpoints: Vec<String>,
    pub mode: Option<SideBySideMode>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SideBySideMode {
    /// Every call to each endpoint, paired.
    Mirror,
    /// Consecutive calls to each endpoint in turn.
    Alternate,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct PilotSpec {
    /// A run to set the figures against (its summary.json or results folder).
    pub baseline: Option<String>,
    /// Metric name (`cost_per_call`, `latency.p95`, `rate_429`, ...) → the value
    /// assumed; `residency` → the regions every call must be served in.
    pub assumptions: BTreeMap<String, AssumedValue>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum AssumedValue {
    Number(f64),
    Text(String),
    Regions(Vec<String>),
}

/// The capacity search: from `start`, times `growth` until a step breaks the SLO (or
/// reaches `max`), then halving the gap to `resolution`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// In the load's unit: calls (or sessions) a second, or users in closed mode.
    pub start: Option<f64>,
    pub max: Option<f64>,
    pub step_duration: Option<DurationStr>,
    pub warmup: Option<DurationStr>,
    pub resolution: Option<Percent>,
    pub growth: Option<f64>,
    /// Peak hour over the average, to turn `cost.daily_calls` into a peak rate.
    pub peak_factor: Option<f64>,
    /// Production's peak in calls a second (`12/s`), over `daily_calls × peak_factor`.
    pub production_peak: Option<String>,
    /// A step whose schedule lag p99 passes this had llm-drill for its bottleneck.
    pub max_schedule_lag: Option<DurationStr>,
}

/// DistServe's goodput: a call counts when its own latency, TTFT and ITL are within
/// these limits (any left out does not apply).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct GoodputSpec {
    pub latency: Option<DurationStr>,
    pub ttft: Option<DurationStr>,
    /// The call's mean gap between tokens (its time per output token).
    pub itl: Option<DurationStr>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    #[default]
    None,
    ApiKey,
    Bearer,
    /// OAuth 2.0 client credentials (Entra ID for Azure OpenAI): a bearer token fetched
    /// from `oauth2.token_url` and refreshed before it expires.
    Oauth2,
    /// AWS Signature Version 4 (Bedrock): each request signed with an access key pair.
    AwsSigv4,
    /// A Google service account's JSON key (Vertex AI): exchanged for OAuth tokens by a
    /// signed JWT, refreshed before they expire.
    ServiceAccount,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Spec {
    pub token_url: String,
    pub client_id: String,
    /// By reference: `env:NAME` or `file:PATH`.
    pub client_secret_ref: String,
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub display_name: Option<String>,
    /// A provider's key (`openai`, `azure_openai`, `anthropic`, `bedrock`, `vertex`,
    /// `gemini`), checked by the plan.
    pub provider: String,
    pub base_url: String,
    #[serde(default)]
    pub auth_type: AuthType,
    pub credential_ref: Option<String>,
    /// With `auth_type: oauth2`.
    pub oauth2: Option<OAuth2Spec>,
    pub model_name: String,
    pub max_context_tokens: Option<u32>,
    pub supports_tools: Option<bool>,
    pub supports_vision: Option<bool>,
    pub region: Option<String>,
    pub timeout: Option<DurationStr>,
    /// Trust and client certificates for TLS.
    pub tls: Option<TlsSpec>,
    /// `http://host:port` (over the environment's `HTTPS_PROXY` and the like), or
    /// `none` to bypass any proxy.
    pub proxy: Option<String>,
    /// `user:password` for the proxy, by reference (`env:NAME` or `file:PATH`).
    pub proxy_credential_ref: Option<String>,
    /// `auto` (h2 where TLS negotiates it, else HTTP/1.1), `http1` or `http2` (over
    /// plain http: h2c with prior knowledge).
    pub http_version: Option<HttpVersionSpec>,
    /// The request field that caps the answer: `max_tokens`, or `max_completion_tokens`
    /// (OpenAI's and Azure's reasoning models refuse `max_tokens`). By default from the
    /// model name.
    pub token_limit_param: Option<TokenLimitParam>,
    /// `cl100k_base` or `o200k_base`; by default chosen from `model_name`.
    pub tokenizer: Option<String>,
    pub mock: Option<MockBehaviour>,
    /// Azure OpenAI: the deployment name and the API version of the URL.
    pub deployment: Option<String>,
    pub api_version: Option<String>,
    /// Vertex AI: the Google Cloud project and the location (`europe-west4`, `global`)
    /// of the URL.
    pub project: Option<String>,
    pub location: Option<String>,
    /// Streaming is assumed unless the endpoint says it cannot.
    pub supports_streaming: Option<bool>,
    pub fallback_endpoint_ref: Option<String>,
    pub fallback_policy: Option<FallbackPolicy>,
    /// Send the credential over plain http to a host that is not this machine.
    pub allow_insecure_http: Option<bool>,
    /// Overrides the scenario's `retry` for this endpoint, key by key.
    pub retry: Option<Retry>,
    pub circuit_breaker: Option<CircuitBreaker>,
    pub price: Option<PriceSpec>,
    /// A model key in the price table (LiteLLM's format), e.g. `gpt-4o-mini`.
    pub price_ref: Option<String>,
    /// Probe the endpoint before the run and plan prompts by its own token count.
    pub calibrate: Option<bool>,
}

/// USD per million tokens.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    pub cached_input_per_mtok: Option<f64>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// What the plan assumed a call costs, in USD.
    pub modeled_cost_per_call: Option<f64>,
    /// Production calls per day, to project spend to.
    pub daily_calls: Option<f64>,
    pub alerts: Option<AlertsSpec>,
    /// The run stops before it could spend more (real endpoints cost money).
    pub max_spend_usd: Option<f64>,
    pub max_calls: Option<u64>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AlertsSpec {
    pub per_day_usd: Option<f64>,
    pub per_feature_usd: Option<BTreeMap<String, f64>>,
    /// A minute whose call count departs from the mean of the minutes before it by more
    /// than this many standard deviations.
    pub call_volume_sigma: Option<f64>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RegressionSpec {
    /// Relative tolerance for every metric (default 10%).
    pub tolerance: Option<Percent>,
    /// Per metric (`latency.p99`, `error_rate`, `cost.per_call`, ...): its own tolerance
    /// and absolute floor, in the metric's unit (ms, fraction, USD).
    pub per_metric: Option<BTreeMap<String, MetricTolerance>>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct MetricTolerance {
    pub tolerance: Option<Percent>,
    pub floor: Option<f64>,
}

/// Stop sending to an endpoint that keeps failing, for a while.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Failed attempts within `window` that open the breaker.
    pub failures: u32,
    pub window: DurationStr,
    /// How long it stays open before a probe.
    pub cooldown: DurationStr,
}

/// How failed attempts are retried on the same endpoint.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts per endpoint, the first included (1 = no retry).
    pub max_attempts: Option<u32>,
    pub backoff: Option<Backoff>,
    /// Wait what the endpoint's `retry-after-ms` / `retry-after` asks (capped by `max`).
    pub honor_retry_after: Option<bool>,
    /// Outcomes that are retried (default: http_429, http_5xx, timeout, connect).
    pub retry_on: Option<Vec<RetryOn>>,
}

/// Exponential backoff with full jitter: attempt n waits a random time up to
/// `min(max, base * 2^(n-1))`.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    pub base: DurationStr,
    pub max: DurationStr,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    #[serde(rename = "http_429")]
    Http429,
    #[serde(rename = "http_5xx")]
    Http5xx,
    Timeout,
    Connect,
    StreamCut,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
}

/// Declares the fault kinds: each a variant that takes the keys every fault has
/// (`endpoint`, `from`, `until`, `probability`) and exactly its own, so a key of another
/// kind is an unknown key, named with the keys this kind takes.
macro_rules! fault_kinds {
    ($( $(#[$doc:meta])* $kind:ident { $( $(#[$fdoc:meta])* $key:ident : $ty:ty ),* $(,)? } ),* $(,)?) => {
        /// One fault on one endpoint, in a time window and/or with a probability.
        #[derive(Debug, Deserialize, Clone)]
        #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
        pub enum FaultSpec {
            $( $(#[$doc])* $kind {
                endpoint: String,
                from: Option<DurationStr>,
                until: Option<DurationStr>,
                probability: Option<f64>,
                $( $(#[$fdoc])* $key: $ty, )*
            }, )*
        }

        impl FaultSpec {
            /// The keys every fault has.
            pub fn when(&self) -> FaultWhen<'_> {
                match self {
                    $( FaultSpec::$kind { endpoint, from, until, probability, .. } => FaultWhen {
                        endpoint,
                        from: *from,
                        until: *until,
                        probability: *probability,
                    }, )*
                }
            }
        }
    };
}

fault_kinds! {
    /// 429s asking the client to wait `retry_after`.
    RateLimit { retry_after: Option<DurationStr> },
    /// A 5xx (`status`, 500-599).
    ServerError { status: Option<u16> },
    /// `mode`: `refuse` (default), `hang` or `503`.
    Outage { mode: Option<OutageModeSpec> },
    /// `add` to the time to first token (`to: ttft`, the default) or to the end.
    Latency { add: Option<DurationStr>, to: Option<DelaySpec> },
    /// The stream stops after `after_tokens` (default: half the answer).
    StreamCut { after_tokens: Option<u32> },
    /// The model is gone: `status` 404 (default) or 410, `model_not_found`.
    Deprecated { status: Option<u16> },
}

/// Where and when a fault acts, whatever its kind.
pub struct FaultWhen<'a> {
    pub endpoint: &'a str,
    pub from: Option<DurationStr>,
    pub until: Option<DurationStr>,
    pub probability: Option<f64>,
}

/// `refuse`, `hang`, or `503` (written as a number or a string).
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OutageModeSpec {
    Code(u16),
    Name(String),
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DelaySpec {
    Ttft,
    End,
}

/// What happens to a call when its endpoint fails.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FallbackPolicy {
    /// Send it to `fallback_endpoint_ref`.
    #[default]
    Fallback,
    /// Fail the call and escalate; never leave this endpoint.
    FailClosed,
}

/// A capability a feature can need and an endpoint can declare.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Tools,
    Vision,
    Streaming,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockBehaviour {
    pub ttft: Option<Dist<DurationStr>>,
    pub tokens_per_second: Option<f64>,
    /// Relative standard deviation of each inter-token gap (0.1 = 10%).
    pub jitter: Option<f64>,
    /// Prompt tokens read per second before the first token: long prompts start later.
    pub prefill_tokens_per_second: Option<f64>,
    /// A token bucket: requests and tokens (prompt + max_tokens) per minute.
    pub rate_limit: Option<RateLimitSpec>,
    /// The chance that an answer reaching `max_tokens` ends on its own (`stop`) rather
    /// than being cut there (`length`); 1 by default.
    pub stop_probability: Option<f64>,
    pub model_family: Option<ModelFamily>,
    pub reasoning: Option<MockReasoningSpec>,
    /// The chance it calls an offered tool, when the request does not say how many
    /// rounds remain (llm-drill says; other clients do not).
    pub tool_call_probability: Option<f64>,
    /// Regions it says answered (Azure's `x-ms-region`), with their shares; by default
    /// the endpoint's `region`.
    pub served_regions: Option<BTreeMap<String, f64>>,
    /// The keys it accepts, each in a window of the run (a rotation to rehearse).
    pub auth: Option<MockAuthSpec>,
    /// A client-credentials token endpoint (`POST /oauth2/token`) whose tokens it then
    /// requires, each valid for `token_lifetime`.
    pub oauth2: Option<MockOAuth2Spec>,
    /// Continuous batching: slots, a queue, and a decode throughput they share.
    pub capacity: Option<MockCapacitySpec>,
    /// The listen backlog (65,535 by default; the kernel caps it at somaxconn).
    pub backlog: Option<u32>,
    /// The encoding it counts prompts with (`cl100k_base`, `o200k_base`); by default the
    /// endpoint's. Another one stands in for a model that counts differently.
    pub tokenizer: Option<String>,
    /// Tokens a chat template adds to each message, counted as prompt (0 by default).
    pub template_tokens_per_message: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockCapacitySpec {
    pub slots: usize,
    #[serde(default)]
    pub queue: usize,
    pub prefill_tokens_per_second: Option<f64>,
    pub decode_tokens_per_second: f64,
    /// `"429"` (the default), `"503"` or `queue`.
    pub on_full: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockOAuth2Spec {
    pub token_lifetime: DurationStr,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockAuthSpec {
    pub keys: Vec<MockKeySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockKeySpec {
    /// `env:NAME` or `file:PATH`, never the key itself.
    pub key_ref: String,
    pub from: Option<DurationStr>,
    pub until: Option<DurationStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    pub weight: Option<f64>,
    pub endpoint: String,
    pub stream: Option<bool>,
    /// Required but in a replay, whose prompts are its log's.
    pub prompt: Option<Prompt>,
    pub output_tokens: Option<Dist<u32>>,
    pub session: Option<Session>,
    /// Tokens (prompt and answer, all turns) one conversation may use; the turn that
    /// would pass it is refused.
    pub token_budget: Option<u64>,
    /// Regions allowed to serve this feature.
    pub residency: Option<Vec<String>>,
    /// Capabilities its endpoint (and every fallback) must declare.
    pub needs: Option<Vec<Capability>>,
    /// How hard a reasoning model thinks: `effort` (OpenAI, Azure) or `budget_tokens`
    /// (Anthropic's extended thinking).
    pub reasoning: Option<ReasoningSpec>,
    /// An agentic playbook: each user turn loops through tool calls.
    pub tools: Option<ToolsSpec>,
}

/// Tool-calling rounds per user turn: the request offers tool definitions; while the
/// model calls a tool and rounds remain, a tool result is appended and the model is
/// called again.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsSpec {
    /// Model calls per user turn, the final answer's included.
    pub rounds: Dist<u32>,
    /// Size of each tool result appended.
    pub result_tokens: Dist<u32>,
    /// Size of the tool definitions every request carries.
    pub definitions_tokens: Option<u32>,
}

/// TLS to one endpoint: whose certificates to trust, and a client certificate to show.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// PEM roots added to the trusted ones (an internal CA).
    pub ca_file: Option<String>,
    /// `mozilla`, `system` or `both` (the default).
    pub roots: Option<TlsRoots>,
    /// PEM certificate (chain) presented to an endpoint that asks for one (mTLS).
    pub client_cert: Option<String>,
    /// Its private key, by reference (`file:PATH` or `env:NAME`).
    pub client_key_ref: Option<String>,
    /// The name to verify the certificate against (and send as SNI), for an endpoint
    /// reached by IP or through another name.
    pub server_name: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HttpVersionSpec {
    Auto,
    Http1,
    Http2,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TlsRoots {
    Mozilla,
    System,
    Both,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenLimitParam {
    MaxTokens,
    MaxCompletionTokens,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct ReasoningSpec {
    pub effort: Option<Effort>,
    pub budget_tokens: Option<u32>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Effort {
    Minimal,
    Low,
    Medium,
    High,
}

/// The mock's kind of model: `chat`, or `reasoning` (refuses `max_tokens` as OpenAI's
/// reasoning models do).
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModelFamily {
    Chat,
    Reasoning,
}

/// How the mock reasons before it answers.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MockReasoningSpec {
    /// Reasoning tokens per answer.
    pub tokens: Dist<u32>,
    /// How the reasoning shows in a stream: not at all (`hidden`, OpenAI's o-series),
    /// as `reasoning_content` deltas (vLLM, DeepSeek) or as Anthropic `thinking` blocks.
    pub visible: Option<ReasoningVisibility>,
    /// Reasoning tokens per second (by default the answer's own speed).
    pub tokens_per_second: Option<f64>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningVisibility {
    Hidden,
    ReasoningContent,
    AnthropicThinking,
}

/// A conversation: several turns, each resending the history.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub turns: Option<Dist<u32>>,
    /// Between one turn's answer and the next turn's request.
    pub think_time: Option<Dist<DurationStr>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub system_tokens: Option<Dist<u32>>,
    pub user_tokens: Dist<u32>,
    pub context_tokens: Option<ContextTokens>,
    /// Growth over the run of the system prompt and the context (a prompt template or a
    /// retrieval index that grows).
    pub drift: Option<Drift>,
}

/// Retrieved context: `1500`, or `{start, growth_per_turn, growth_factor}`.
#[derive(Debug)]
pub struct ContextTokens {
    /// Tokens in a session's first turn.
    pub start: Dist<u32>,
    /// Tokens added at each later turn.
    pub growth_per_turn: Option<Dist<u32>>,
    /// Factor the context is multiplied by at each later turn (before the absolute
    /// growth is added).
    pub growth_factor: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextGrowth {
    start: Dist<u32>,
    growth_per_turn: Option<Dist<u32>>,
    growth_factor: Option<f64>,
}

impl<'de> Deserialize<'de> for ContextTokens {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ContextTokens;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a token count, or {start, growth_per_turn, growth_factor}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ContextTokens, E> {
                let v = u32::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))?;
                Ok(ContextTokens {
                    start: Dist::Fixed(v),
                    growth_per_turn: None,
                    growth_factor: None,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ContextTokens, E> {
                Err(E::custom(format!(
                    "expected a token count of at least 0, found {v}"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ContextTokens, A::Error> {
                let g = ContextGrowth::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ContextTokens {
                    start: g.start,
                    growth_per_turn: g.growth_per_turn,
                    growth_factor: g.growth_factor,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    /// How much the prompt grows each minute of the run, of its size at the start.
    pub per_minute: Percent,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    Open,
    Closed,
    /// One call per row of a per-call log, at the row's time.
    Replay,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalKind {
    Constant,
    Poisson,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub mode: Option<LoadMode>,
    pub arrival: Option<ArrivalKind>,
    pub rate: Option<f64>,
    pub stages: Option<Vec<Stage>>,
    pub max_in_flight: Option<u64>,
    pub concurrency: Option<u64>,
    /// Replay: the log, its format (as `usage import` reads it), its column map and
    /// feature key, and how much faster than it happened.
    pub trace: Option<String>,
    pub format: Option<String>,
    pub map: Option<std::collections::BTreeMap<String, String>>,
    pub feature_key: Option<String>,
    pub speed: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub duration: DurationStr,
    pub rate: f64,
}
