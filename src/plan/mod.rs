//! `Plan::from_scenario`: every check and default applied once, into typed, immutable
//! data the engine runs without re-checking anything.
//!
//! Errors are `ScenarioError`s located at the offending key. Nothing here does I/O or
//! reads the environment: credentials are resolved when the run starts.

pub mod arrivals;
pub mod preflight;
pub mod regions;
mod sampler;
pub mod thresholds;

pub use crate::scenario::model::FallbackPolicy;
pub use arrivals::{Arrival, ArrivalSchedule, Stage};
pub use sampler::Sampler;

use crate::scenario::model::{self, ArrivalKind, AuthType, Capability, LoadMode, Provider};
use crate::scenario::{Dist, Scenario, ScenarioError, Source};
use mock_server::faults::{Delay, Fault, FaultKind, FaultSchedule, OutageMode};
use mock_server::tokens::Encoding;
use mock_server::{MockConfig, Spread};
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4096;
pub const DEFAULT_OUTPUT_TOKENS: f64 = 256.0;
/// The Azure OpenAI API version used when a scenario gives none (GA, with streamed usage).
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";
const MAX_RATE: f64 = 100_000.0;
const MAX_CONCURRENCY: u64 = 100_000;
const MAX_IN_FLIGHT: u64 = 1_000_000;
const MAX_RUN: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_TOKENS_PER_FIELD: f64 = 10_000_000.0;
const MAX_TURNS: f64 = 10_000.0;

#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub seed: u64,
    pub endpoints: Vec<EndpointPlan>,
    pub features: Vec<FeaturePlan>,
    pub load: LoadPlan,
    /// New calls start only within this window.
    pub duration: Duration,
    /// After the window, how long running calls may take to finish before they are cut.
    pub graceful_stop: Duration,
    pub cost: CostPlan,
    pub thresholds: Vec<thresholds::Threshold>,
    pub regression: crate::report::compare::Policy,
}

/// The `cost:` section: what to compare with, project to and guard against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostPlan {
    pub modeled_cost_per_call: Option<f64>,
    pub daily_calls: Option<f64>,
    pub per_day_usd: Option<f64>,
    /// Feature index and its daily limit.
    pub per_feature_usd: Vec<(usize, f64)>,
    pub call_volume_sigma: Option<f64>,
    pub max_spend_usd: Option<f64>,
    pub max_calls: Option<u64>,
}

#[derive(Clone, Debug)]
pub enum Target {
    /// The embedded mock server, started for the run with this behaviour.
    Mock(MockConfig),
    /// A real endpoint's base URL, without a trailing slash.
    Url(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum CredentialRef {
    Env(String),
    File(PathBuf),
}

impl std::fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialRef::Env(name) => write!(f, "env:{name}"),
            CredentialRef::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    None,
    /// `Authorization: Bearer` (OpenAI; Azure with an Entra ID token).
    Bearer(CredentialRef),
    /// The provider's key header: `api-key` (Azure), `x-api-key` (Anthropic).
    ApiKey(CredentialRef),
}

impl Auth {
    pub fn credential(&self) -> Option<&CredentialRef> {
        match self {
            Auth::None => None,
            Auth::Bearer(r) | Auth::ApiKey(r) => Some(r),
        }
    }
}

/// What an endpoint declares it can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub tools: bool,
    pub vision: bool,
    pub streaming: bool,
}

impl Capabilities {
    pub fn has(&self, c: Capability) -> bool {
        match c {
            Capability::Tools => self.tools,
            Capability::Vision => self.vision,
            Capability::Streaming => self.streaming,
        }
    }
}

#[derive(Clone, Debug)]
pub struct EndpointPlan {
    pub id: String,
    pub display_name: String,
    pub provider: Provider,
    pub target: Target,
    pub auth: Auth,
    pub model_name: String,
    pub timeout: Duration,
    pub encoding: Encoding,
    pub max_context_tokens: Option<u32>,
    pub region: Option<String>,
    /// Azure OpenAI only.
    pub deployment: Option<String>,
    pub api_version: Option<String>,
    pub capabilities: Capabilities,
    /// Index of `fallback_endpoint_ref`.
    pub fallback: Option<usize>,
    pub fallback_policy: FallbackPolicy,
    pub allow_insecure_http: bool,
    pub retry: RetryPlan,
    /// Faults on this endpoint: acted out by the mock for `base_url: mock`, injected by
    /// the client (nothing sent) for a real endpoint.
    pub faults: FaultSchedule,
    pub breaker: Option<BreakerPlan>,
    /// USD per token; `None` until `price_ref` is resolved, or when unpriced.
    pub price: Option<crate::cost::Price>,
    pub price_ref: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BreakerPlan {
    pub failures: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

/// How an endpoint's failed attempts are retried.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPlan {
    /// Attempts on this endpoint, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
    pub honor_retry_after: bool,
    pub retry_on: Vec<crate::client::Outcome>,
}

impl RetryPlan {
    pub fn none() -> RetryPlan {
        RetryPlan {
            max_attempts: 1,
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            honor_retry_after: true,
            retry_on: Vec::new(),
        }
    }

    /// How long to wait after failed attempt `n` (from 1): what the endpoint asked for
    /// when honoured (capped by `max`), else full jitter up to `min(max, base * 2^(n-1))`.
    /// `unit` is a uniform draw in [0, 1).
    pub fn wait(&self, n: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        if let (true, Some(asked)) = (self.honor_retry_after, retry_after) {
            return asked.min(self.max);
        }
        let ceiling = self
            .base
            .saturating_mul(
                1u32.checked_shl(n.saturating_sub(1).min(30))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

impl EndpointPlan {
    /// This endpoint, then the endpoints a failing call would go to, in order: the
    /// `fallback_endpoint_ref` chain while the policy is `fallback`.
    pub fn chain<'a>(&'a self, all: &'a [EndpointPlan]) -> Vec<&'a EndpointPlan> {
        let mut out = vec![self];
        let mut cur = self;
        while let (FallbackPolicy::Fallback, Some(next)) = (cur.fallback_policy, cur.fallback) {
            let next = &all[next];
            // The plan refuses cycles; this only guards against looping forever.
            if out.iter().any(|e| e.id == next.id) {
                break;
            }
            out.push(next);
            cur = next;
        }
        out
    }
}

#[derive(Clone, Debug)]
pub struct FeaturePlan {
    pub name: String,
    pub weight: f64,
    pub endpoint: usize,
    pub stream: bool,
    pub system_tokens: Sampler,
    pub user_tokens: Sampler,
    pub output_tokens: Sampler,
    pub context: Option<ContextPlan>,
    /// Growth of the system prompt and the context per minute of the run, as a
    /// fraction of their size at the start (0.05 = 5%).
    pub drift_per_minute: f64,
    pub session: SessionPlan,
    pub token_budget: Option<u64>,
    /// Capabilities its endpoint and every fallback must declare (checked by preflight).
    pub needs: Vec<Capability>,
    /// Regions allowed to serve it (checked by preflight).
    pub residency: Option<Vec<String>>,
}

impl FeaturePlan {
    /// The prompt and answer tokens of a typical first turn — the call a sampled test
    /// would price — by the chat recipe's framing (about 4 tokens a message, 3 to prime
    /// the reply).
    pub fn typical_first_turn(&self) -> (f64, f64) {
        let framed = |n: f64| if n > 0.0 { n + 4.0 } else { 0.0 };
        let context = self.context.as_ref().map_or(0.0, |c| c.start.typical());
        let input = framed(self.system_tokens.typical())
            + framed(context)
            + framed(self.user_tokens.typical())
            + 3.0;
        (input, self.output_tokens.typical())
    }
}

/// How many turns a conversation has and how long its user thinks between them.
#[derive(Clone, Debug)]
pub struct SessionPlan {
    pub turns: Sampler,
    /// Seconds.
    pub think_time: Sampler,
}

impl SessionPlan {
    /// One call, no history: what a feature without `session` does.
    pub fn single() -> SessionPlan {
        SessionPlan {
            turns: Sampler::Fixed(1.0),
            think_time: Sampler::Fixed(0.0),
        }
    }

    /// Whether a conversation can have more than one turn.
    pub fn multi_turn(&self) -> bool {
        self.turns.largest() > 1.0
    }
}

/// Retrieved context: its size in a session's first turn, and how it grows per turn
/// (`next = previous * growth_factor + growth_per_turn`).
#[derive(Clone, Debug)]
pub struct ContextPlan {
    pub start: Sampler,
    pub growth_per_turn: Sampler,
    pub growth_factor: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LoadPlan {
    Open {
        stages: Vec<Stage>,
        arrival: Arrival,
        max_in_flight: usize,
    },
    Closed {
        concurrency: usize,
    },
}

impl LoadPlan {
    /// Calls per second the schedule asks for on average (open mode only).
    pub fn target_rps(&self, duration: Duration) -> Option<f64> {
        match self {
            LoadPlan::Open { stages, .. } => {
                Some(ArrivalSchedule::expected_count(stages) / duration.as_secs_f64().max(1e-9))
            }
            LoadPlan::Closed { .. } => None,
        }
    }
}

struct Checker<'a> {
    source: &'a Source,
}

impl Checker<'_> {
    fn err(&self, path: &str, msg: impl Into<String>) -> ScenarioError {
        self.source.error(path, msg)
    }
    fn sampler(&self, dist: &Dist<f64>, path: &str, max: f64) -> Result<Sampler, ScenarioError> {
        let s = Sampler::new(dist, 0.0).map_err(|m| self.err(path, m))?;
        let biggest = match s {
            Sampler::Fixed(v) => v,
            Sampler::Normal { mean, max: hi, .. } => mean.min(hi),
            Sampler::Uniform { max: hi, .. } => hi,
        };
        if biggest > max {
            return Err(self.err(
                path,
                format!("{} is too large (at most {max})", number(biggest)),
            ));
        }
        Ok(s)
    }
}

impl Plan {
    pub fn from_scenario(sc: &Scenario, source: &Source) -> Result<Plan, ScenarioError> {
        let c = Checker { source };
        if sc.name.is_empty()
            || !sc
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            return Err(c.err("name", "must be non-empty and use only letters, digits, `-`, `_` and `.` (it names the results folder)"));
        }
        if sc.endpoints.is_empty() {
            return Err(c.err("endpoints", "at least one endpoint is needed"));
        }
        if sc.features.is_empty() {
            return Err(c.err("features", "at least one feature is needed"));
        }
        let mut endpoints = sc
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, (id, e))| {
                endpoint(&c, sc.seed.wrapping_add(i as u64), id, e, sc.retry.as_ref())
            })
            .collect::<Result<Vec<_>, _>>()?;
        fallbacks(&c, sc, &mut endpoints)?;
        faults(&c, sc, &mut endpoints)?;
        let features = sc
            .features
            .iter()
            .map(|(name, f)| feature(&c, &endpoints, name, f))
            .collect::<Result<Vec<_>, _>>()?;
        let (load, duration) = load(&c, sc)?;
        let graceful_stop = sc.graceful_stop.map_or(DEFAULT_GRACEFUL_STOP, |d| d.0);
        if graceful_stop > MAX_RUN {
            return Err(c.err("graceful_stop", "is longer than 7 days"));
        }
        let cost = cost_plan(&c, sc, &features)?;
        let ids: Vec<&str> = endpoints.iter().map(|e| e.id.as_str()).collect();
        let names: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
        let thresholds = sc
            .thresholds
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, expr)| {
                thresholds::parse(expr, &ids, &names)
                    .map_err(|m| c.err(&format!("thresholds.{i}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let regression = match &sc.regression {
            None => crate::report::compare::Policy::default(),
            Some(r) => {
                let mut per_metric = std::collections::BTreeMap::new();
                for (name, t) in r.per_metric.iter().flatten() {
                    let at = format!("regression.per_metric.{name}");
                    if !crate::report::compare::METRICS.contains(&name.as_str()) {
                        return Err(c.err(
                            &at,
                            format!(
                                "is not a compared metric (compared: {})",
                                crate::report::compare::METRICS.join(", ")
                            ),
                        ));
                    }
                    if t.floor.is_some_and(|f| !f.is_finite() || f < 0.0) {
                        return Err(c.err(&format!("{at}.floor"), "must be 0 or more"));
                    }
                    per_metric.insert(name.clone(), (t.tolerance.map(|p| p.0), t.floor));
                }
                crate::report::compare::Policy {
                    tolerance: r.tolerance.map(|p| p.0),
                    per_metric,
                }
            }
        };
        Ok(Plan {
            cost,
            thresholds,
            regression,
            name: sc.name.clone(),
            seed: sc.seed,
            endpoints,
            features,
            load,
            duration,
            graceful_stop,
        })
    }
}

/// The scenario's `retry`, with the endpoint's own `retry` keys over it.
fn retry_plan(
    c: &Checker,
    path: &str,
    global: Option<&model::Retry>,
    own: Option<&model::Retry>,
) -> Result<RetryPlan, ScenarioError> {
    use crate::client::Outcome;
    let pick = |f: &dyn Fn(&model::Retry) -> bool| own.filter(|r| f(r)).or(global.filter(|r| f(r)));
    // Errors point at whichever block gave the value.
    let at = |from_own: bool, k: &str| {
        if from_own {
            format!("{path}.{k}")
        } else {
            format!("retry.{k}")
        }
    };
    let mut plan = RetryPlan::none();
    if global.is_none() && own.is_none() {
        return Ok(plan);
    }
    plan.retry_on = vec![
        Outcome::Http429,
        Outcome::Http5xx,
        Outcome::Timeout,
        Outcome::Connect,
    ];
    if let Some(r) = pick(&|r| r.max_attempts.is_some()) {
        let n = r.max_attempts.unwrap_or(1);
        let from_own = own.is_some_and(|o| o.max_attempts.is_some());
        if !(1..=20).contains(&n) {
            return Err(c.err(
                &at(from_own, "max_attempts"),
                format!("must be from 1 to 20, found {n}"),
            ));
        }
        plan.max_attempts = n;
    } else {
        plan.max_attempts = 3;
    }
    if let Some(r) = pick(&|r| r.backoff.is_some()) {
        let b = r.backoff.expect("picked for its backoff");
        let from_own = own.is_some_and(|o| o.backoff.is_some());
        if b.base.0.is_zero() || b.base.0 > b.max.0 || b.max.0 > Duration::from_secs(600) {
            return Err(c.err(&at(from_own, "backoff"), "needs 0 < base <= max <= 10m"));
        }
        plan.base = b.base.0;
        plan.max = b.max.0;
    }
    if let Some(r) = pick(&|r| r.honor_retry_after.is_some()) {
        plan.honor_retry_after = r.honor_retry_after.unwrap_or(true);
    }
    if let Some(r) = pick(&|r| r.retry_on.is_some()) {
        plan.retry_on = r
            .retry_on
            .iter()
            .flatten()
            .map(|o| match o {
                model::RetryOn::Http429 => Outcome::Http429,
                model::RetryOn::Http5xx => Outcome::Http5xx,
                model::RetryOn::Timeout => Outcome::Timeout,
                model::RetryOn::Connect => Outcome::Connect,
                model::RetryOn::StreamCut => Outcome::StreamCut,
            })
            .collect();
    }
    Ok(plan)
}

fn endpoint(
    c: &Checker,
    seed: u64,
    id: &str,
    e: &model::Endpoint,
    global_retry: Option<&model::Retry>,
) -> Result<EndpointPlan, ScenarioError> {
    let at = |k: &str| format!("endpoints.{id}.{k}");
    if id.is_empty()
        || !id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_".contains(ch))
    {
        return Err(c.err(
            &format!("endpoints.{id}"),
            "an endpoint id uses only letters, digits, `-` and `_`",
        ));
    }
    let price = match (&e.price, &e.price_ref) {
        (Some(_), Some(_)) => {
            return Err(c.err(&at("price_ref"), "give either price or price_ref, not both"))
        }
        (Some(p), None) => {
            for (v, k) in [
                (Some(p.input_per_mtok), "input_per_mtok"),
                (Some(p.output_per_mtok), "output_per_mtok"),
                (p.cached_input_per_mtok, "cached_input_per_mtok"),
            ] {
                if let Some(v) = v {
                    if !v.is_finite() || !(0.0..=10_000.0).contains(&v) {
                        return Err(c.err(
                            &at(&format!("price.{k}")),
                            format!(
                                "must be from 0 to 10000 USD per million tokens, found {}",
                                number(v)
                            ),
                        ));
                    }
                }
            }
            Some(crate::cost::Price::from_per_mtok(
                p.input_per_mtok,
                p.output_per_mtok,
                p.cached_input_per_mtok,
            ))
        }
        _ => None,
    };
    let (deployment, api_version) = match e.provider {
        Provider::AzureOpenai => {
            let deployment = e.deployment.clone().filter(|d| !d.trim().is_empty()).ok_or_else(|| {
                c.err(
                    &format!("endpoints.{id}"),
                    "an azure_openai endpoint needs `deployment` (the deployment name in the Azure portal)",
                )
            })?;
            if !deployment
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            {
                return Err(c.err(
                    &at("deployment"),
                    "uses only letters, digits, `-`, `_` and `.`",
                ));
            }
            let api_version = e
                .api_version
                .clone()
                .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_string());
            if !api_version
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            {
                return Err(c.err(&at("api_version"), format!("expected a version such as {DEFAULT_AZURE_API_VERSION}, found `{api_version}`")));
            }
            (Some(deployment), Some(api_version))
        }
        _ => {
            for (present, key) in [
                (e.deployment.is_some(), "deployment"),
                (e.api_version.is_some(), "api_version"),
            ] {
                if present {
                    return Err(c.err(&at(key), "applies to provider azure_openai only"));
                }
            }
            (None, None)
        }
    };
    if e.model_name.trim().is_empty() {
        return Err(c.err(&at("model_name"), "must not be empty"));
    }
    let encoding = match &e.tokenizer {
        None => Encoding::for_model(&e.model_name),
        Some(t) => Encoding::from_name(t).ok_or_else(|| {
            c.err(
                &at("tokenizer"),
                format!("expected cl100k_base or o200k_base, found `{t}`"),
            )
        })?,
    };
    let target = if e.base_url == "mock" {
        let mut cfg = mock_config(c, seed, id, e.mock.as_ref())?;
        cfg.encoding = Some(encoding);
        Target::Mock(cfg)
    } else {
        let url = url::Url::parse(&e.base_url).map_err(|err| {
            c.err(
                &at("base_url"),
                format!(
                    "expected `mock` or an http(s) URL, found `{}` ({err})",
                    e.base_url
                ),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(c.err(
                &at("base_url"),
                format!(
                    "expected `mock` or an http(s) URL with a host, found `{}`",
                    e.base_url
                ),
            ));
        }
        if e.mock.is_some() {
            return Err(c.err(
                &at("mock"),
                "only applies to an endpoint whose base_url is `mock`",
            ));
        }
        Target::Url(e.base_url.trim_end_matches('/').to_string())
    };
    let auth =
        match (e.auth_type, &e.credential_ref) {
            (AuthType::None, None) => Auth::None,
            (AuthType::None, Some(_)) => return Err(c.err(
                &at("credential_ref"),
                "is set but auth_type is `none`: set auth_type (bearer or api_key), or remove it",
            )),
            (_, None) => {
                return Err(c.err(
                    &at("auth_type"),
                    "needs a credential_ref such as env:OPENAI_API_KEY or file:/run/secrets/key",
                ))
            }
            (AuthType::Bearer, Some(r)) => match e.provider {
                Provider::Anthropic => {
                    return Err(c.err(
                        &at("auth_type"),
                        "an anthropic endpoint takes `api_key` (sent as x-api-key)",
                    ))
                }
                _ => Auth::Bearer(credential_ref(c, &at("credential_ref"), r)?),
            },
            (AuthType::ApiKey, Some(r)) => match e.provider {
                Provider::Openai => return Err(c.err(
                    &at("auth_type"),
                    "an openai endpoint uses `bearer`; `api_key` is Azure's and Anthropic's header",
                )),
                _ => Auth::ApiKey(credential_ref(c, &at("credential_ref"), r)?),
            },
        };
    let timeout = e.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if timeout.is_zero() || timeout > Duration::from_secs(3600) {
        return Err(c.err(&at("timeout"), "must be more than 0 and at most 1h"));
    }
    if e.max_context_tokens == Some(0) {
        return Err(c.err(&at("max_context_tokens"), "must be more than 0"));
    }
    Ok(EndpointPlan {
        id: id.to_string(),
        display_name: e.display_name.clone().unwrap_or_else(|| id.to_string()),
        provider: e.provider,
        target,
        auth,
        model_name: e.model_name.clone(),
        timeout,
        encoding,
        max_context_tokens: e.max_context_tokens,
        region: e.region.clone(),
        deployment,
        api_version,
        capabilities: Capabilities {
            tools: e.supports_tools.unwrap_or(false),
            vision: e.supports_vision.unwrap_or(false),
            streaming: e.supports_streaming.unwrap_or(true),
        },
        fallback: None,
        fallback_policy: e.fallback_policy.unwrap_or_default(),
        allow_insecure_http: e.allow_insecure_http.unwrap_or(false),
        retry: retry_plan(c, &at("retry"), global_retry, e.retry.as_ref())?,
        faults: FaultSchedule {
            faults: Vec::new(),
            seed: seed ^ 0xFA17,
        },
        price,
        price_ref: e.price_ref.clone(),
        breaker: match e.circuit_breaker {
            None => None,
            Some(b) => {
                if b.failures == 0 || b.window.0.is_zero() || b.cooldown.0.is_zero() {
                    return Err(c.err(
                        &at("circuit_breaker"),
                        "needs failures >= 1 and a window and cooldown longer than 0",
                    ));
                }
                Some(BreakerPlan {
                    failures: b.failures,
                    window: b.window.0,
                    cooldown: b.cooldown.0,
                })
            }
        },
    })
}

fn cost_plan(
    c: &Checker,
    sc: &Scenario,
    features: &[FeaturePlan],
) -> Result<CostPlan, ScenarioError> {
    let Some(spec) = &sc.cost else {
        return Ok(CostPlan::default());
    };
    let positive = |v: Option<f64>, path: &str| -> Result<Option<f64>, ScenarioError> {
        match v {
            Some(x) if !x.is_finite() || x <= 0.0 => Err(c.err(
                path,
                format!("must be a positive number, found {}", number(x)),
            )),
            v => Ok(v),
        }
    };
    let alerts = spec.alerts.as_ref();
    let mut per_feature_usd = Vec::new();
    for (name, limit) in alerts
        .and_then(|a| a.per_feature_usd.as_ref())
        .into_iter()
        .flatten()
    {
        let path = format!("cost.alerts.per_feature_usd.{name}");
        let i = features
            .iter()
            .position(|f| &f.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
                c.err(
                    &path,
                    format!("`{name}` names no feature (defined: {})", names.join(", ")),
                )
            })?;
        per_feature_usd.push((i, positive(Some(*limit), &path)?.unwrap_or(0.0)));
    }
    if spec.max_calls == Some(0) {
        return Err(c.err("cost.max_calls", "must be more than 0"));
    }
    Ok(CostPlan {
        modeled_cost_per_call: positive(spec.modeled_cost_per_call, "cost.modeled_cost_per_call")?,
        daily_calls: positive(spec.daily_calls, "cost.daily_calls")?,
        per_day_usd: positive(
            alerts.and_then(|a| a.per_day_usd),
            "cost.alerts.per_day_usd",
        )?,
        per_feature_usd,
        call_volume_sigma: positive(
            alerts.and_then(|a| a.call_volume_sigma),
            "cost.alerts.call_volume_sigma",
        )?,
        max_spend_usd: positive(spec.max_spend_usd, "cost.max_spend_usd")?,
        max_calls: spec.max_calls,
    })
}

/// Attaches each fault to its endpoint, checking what each kind takes. A mock endpoint's
/// faults go to its mock too, which acts them out.
fn faults(c: &Checker, sc: &Scenario, endpoints: &mut [EndpointPlan]) -> Result<(), ScenarioError> {
    use model::FaultKindName as K;
    for (i, f) in sc.faults.iter().flatten().enumerate() {
        let at = |k: &str| format!("faults.{i}.{k}");
        let ep = endpoints
            .iter()
            .position(|e| e.id == f.endpoint)
            .ok_or_else(|| {
                let ids: Vec<&str> = endpoints.iter().map(|e| e.id.as_str()).collect();
                c.err(
                    &at("endpoint"),
                    format!(
                        "`{}` names no endpoint (defined: {})",
                        f.endpoint,
                        ids.join(", ")
                    ),
                )
            })?;
        let allowed: &[&str] = match f.kind {
            K::RateLimit => &["retry_after"],
            K::ServerError => &["status"],
            K::Outage => &["mode"],
            K::Latency => &["add", "to"],
            K::StreamCut => &["after_tokens"],
            K::Deprecated => &["status"],
        };
        for (present, key) in [
            (f.retry_after.is_some(), "retry_after"),
            (f.status.is_some(), "status"),
            (f.mode.is_some(), "mode"),
            (f.add.is_some(), "add"),
            (f.to.is_some(), "to"),
            (f.after_tokens.is_some(), "after_tokens"),
        ] {
            if present && !allowed.contains(&key) {
                return Err(c.err(
                    &at(key),
                    format!(
                        "does not apply to a fault of this kind (it takes: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let from = f.from.map_or(Duration::ZERO, |d| d.0);
        let until = f.until.map(|d| d.0);
        if until.is_some_and(|u| u <= from) {
            return Err(c.err(&at("until"), "must be later than `from`"));
        }
        let probability = f.probability.unwrap_or(1.0);
        if !probability.is_finite() || probability <= 0.0 || probability > 1.0 {
            return Err(c.err(
                &at("probability"),
                format!(
                    "must be more than 0 and at most 1, found {}",
                    number(probability)
                ),
            ));
        }
        let kind = match f.kind {
            K::RateLimit => FaultKind::RateLimit {
                retry_after: f.retry_after.map_or(Duration::from_secs(1), |d| d.0),
            },
            K::ServerError => {
                let status = f.status.unwrap_or(503);
                if !(500..=599).contains(&status) {
                    return Err(c.err(
                        &at("status"),
                        format!("must be a 5xx status, found {status}"),
                    ));
                }
                FaultKind::ServerError { status }
            }
            K::Outage => {
                let mode = match &f.mode {
                    None => OutageMode::Refuse,
                    Some(model::OutageModeSpec::Code(503)) => OutageMode::Unavailable,
                    Some(model::OutageModeSpec::Name(n)) if n == "503" => OutageMode::Unavailable,
                    Some(model::OutageModeSpec::Name(n)) if n == "refuse" => OutageMode::Refuse,
                    Some(model::OutageModeSpec::Name(n)) if n == "hang" => OutageMode::Hang,
                    Some(other) => {
                        let found = match other {
                            model::OutageModeSpec::Code(code) => code.to_string(),
                            model::OutageModeSpec::Name(n) => n.clone(),
                        };
                        return Err(c.err(
                            &at("mode"),
                            format!("expected refuse, hang or 503, found `{found}`"),
                        ));
                    }
                };
                FaultKind::Outage { mode }
            }
            K::Latency => FaultKind::Latency {
                add: f.add.map(|d| d.0).ok_or_else(|| {
                    c.err(
                        &format!("faults.{i}"),
                        "a latency fault needs `add`, e.g. add: 1500ms",
                    )
                })?,
                to: match f.to {
                    Some(model::DelaySpec::End) => Delay::End,
                    _ => Delay::Ttft,
                },
            },
            K::StreamCut => FaultKind::StreamCut {
                after_tokens: f.after_tokens,
            },
            K::Deprecated => {
                let status = f.status.unwrap_or(404);
                if status != 404 && status != 410 {
                    return Err(c.err(&at("status"), "must be 404 or 410"));
                }
                FaultKind::Deprecated { status }
            }
        };
        endpoints[ep].faults.faults.push(Fault {
            kind,
            from,
            until,
            probability,
        });
    }
    for e in endpoints.iter_mut() {
        if let Target::Mock(cfg) = &mut e.target {
            cfg.faults = e.faults.clone();
        }
    }
    Ok(())
}

/// Resolves every `fallback_endpoint_ref` to its endpoint and refuses unknown ids and
/// cycles (a call would bounce between endpoints forever).
fn fallbacks(
    c: &Checker,
    sc: &Scenario,
    endpoints: &mut [EndpointPlan],
) -> Result<(), ScenarioError> {
    let ids: Vec<String> = endpoints.iter().map(|e| e.id.clone()).collect();
    for (i, (id, e)) in sc.endpoints.iter().enumerate() {
        let Some(target) = &e.fallback_endpoint_ref else {
            if e.fallback_policy == Some(FallbackPolicy::Fallback) {
                return Err(c.err(
                    &format!("endpoints.{id}.fallback_policy"),
                    "is `fallback` but no fallback_endpoint_ref says where to",
                ));
            }
            continue;
        };
        let j = ids.iter().position(|x| x == target).ok_or_else(|| {
            let hint = crate::scenario::did_you_mean(target, ids.iter().map(String::as_str))
                .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
            c.err(
                &format!("endpoints.{id}.fallback_endpoint_ref"),
                format!(
                    "`{target}` names no endpoint (defined: {}){hint}",
                    ids.join(", ")
                ),
            )
        })?;
        endpoints[i].fallback = Some(j);
    }
    for (i, id) in ids.iter().enumerate() {
        let mut path = vec![i];
        let mut cur = i;
        while let Some(next) = endpoints[cur].fallback {
            if let Some(at) = path.iter().position(|p| *p == next) {
                let names: Vec<&str> = path[at..]
                    .iter()
                    .chain([&next])
                    .map(|k| ids[*k].as_str())
                    .collect();
                return Err(c.err(
                    &format!("endpoints.{id}.fallback_endpoint_ref"),
                    format!("makes a fallback cycle: {}", names.join(" → ")),
                ));
            }
            path.push(next);
            cur = next;
        }
    }
    Ok(())
}

fn credential_ref(c: &Checker, path: &str, r: &str) -> Result<CredentialRef, ScenarioError> {
    if let Some(name) = r.strip_prefix("env:") {
        if !name.is_empty()
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            return Ok(CredentialRef::Env(name.to_string()));
        }
    } else if let Some(p) = r.strip_prefix("file:") {
        if !p.is_empty() {
            return Ok(CredentialRef::File(PathBuf::from(p)));
        }
    }
    // Never echo the value: it may be the secret itself, pasted inline.
    Err(c.err(
        path,
        "expected env:NAME or file:PATH (a reference, never the secret itself)",
    ))
}

fn mock_config(
    c: &Checker,
    seed: u64,
    id: &str,
    m: Option<&model::MockBehaviour>,
) -> Result<MockConfig, ScenarioError> {
    let mut cfg = MockConfig {
        seed,
        ..MockConfig::default()
    };
    let Some(m) = m else { return Ok(cfg) };
    let at = |k: &str| format!("endpoints.{id}.mock.{k}");
    if let Some(ttft) = &m.ttft {
        let s = Sampler::new(&ttft.map(|d| d.0.as_secs_f64()), 0.0)
            .map_err(|e| c.err(&at("ttft"), e))?;
        let secs = Duration::from_secs_f64;
        cfg.latency.ttft = match s {
            Sampler::Fixed(v) => Spread::fixed(secs(v)),
            Sampler::Normal {
                mean,
                stddev,
                min,
                max,
            } => Spread::Normal {
                mean: secs(mean),
                stddev: secs(stddev),
                min: secs(min),
                max: if max.is_finite() {
                    secs(max)
                } else {
                    Duration::MAX
                },
            },
            Sampler::Uniform { min, max } => Spread::Uniform {
                min: secs(min),
                max: secs(max),
            },
        };
    }
    if let Some(tps) = m.tokens_per_second {
        if !tps.is_finite() || tps <= 0.0 || tps > 1_000_000.0 {
            return Err(c.err(
                &at("tokens_per_second"),
                "must be more than 0 and at most 1000000",
            ));
        }
        cfg.latency.tokens_per_second = tps;
    }
    if let Some(j) = m.jitter {
        if !(0.0..=1.0).contains(&j) {
            return Err(c.err(
                &at("jitter"),
                "must be between 0 and 1 (a fraction of each gap)",
            ));
        }
        cfg.latency.jitter = j;
    }
    if let Some(p) = m.prefill_tokens_per_second {
        if !p.is_finite() || p <= 0.0 || p > 100_000_000.0 {
            return Err(c.err(
                &at("prefill_tokens_per_second"),
                "must be more than 0 and at most 100000000",
            ));
        }
        cfg.latency.prefill_tokens_per_second = p;
    }
    if let Some(rl) = m.rate_limit {
        for (v, k) in [(rl.rpm, "rpm"), (rl.tpm, "tpm")] {
            if v == Some(0) {
                return Err(c.err(&at(&format!("rate_limit.{k}")), "must be more than 0"));
            }
        }
        if rl.rpm.is_none() && rl.tpm.is_none() {
            return Err(c.err(&at("rate_limit"), "needs rpm, tpm or both"));
        }
        cfg.rate_limit = Some(mock_server::RateLimit {
            rpm: rl.rpm,
            tpm: rl.tpm,
        });
    }
    Ok(cfg)
}

fn feature(
    c: &Checker,
    endpoints: &[EndpointPlan],
    name: &str,
    f: &model::Feature,
) -> Result<FeaturePlan, ScenarioError> {
    let at = |k: &str| format!("features.{name}.{k}");
    let endpoint = endpoints
        .iter()
        .position(|e| e.id == f.endpoint)
        .ok_or_else(|| {
            let known: Vec<&str> = endpoints.iter().map(|e| e.id.as_str()).collect();
            c.err(
                &at("endpoint"),
                format!(
                    "`{}` names no endpoint (defined: {})",
                    f.endpoint,
                    known.join(", ")
                ),
            )
        })?;
    let weight = f.weight.unwrap_or(1.0);
    if !weight.is_finite() || weight <= 0.0 || weight > 1e9 {
        return Err(c.err(
            &at("weight"),
            format!("must be a positive number, found {}", number(weight)),
        ));
    }
    let tokens = |d: &Dist<u32>| d.map(|v| *v as f64);
    let system_tokens = match &f.prompt.system_tokens {
        Some(d) => c.sampler(
            &tokens(d),
            &at("prompt.system_tokens"),
            MAX_TOKENS_PER_FIELD,
        )?,
        None => Sampler::Fixed(0.0),
    };
    let user_tokens = c.sampler(
        &tokens(&f.prompt.user_tokens),
        &at("prompt.user_tokens"),
        MAX_TOKENS_PER_FIELD,
    )?;
    if user_tokens.typical() < 1.0 {
        return Err(c.err(
            &at("prompt.user_tokens"),
            "a call needs a user message of at least 1 token",
        ));
    }
    let output_tokens = match &f.output_tokens {
        Some(d) => c.sampler(&tokens(d), &at("output_tokens"), MAX_TOKENS_PER_FIELD)?,
        None => Sampler::Fixed(DEFAULT_OUTPUT_TOKENS),
    };
    if output_tokens.typical() < 1.0 {
        return Err(c.err(&at("output_tokens"), "must be at least 1"));
    }
    let context = match &f.prompt.context_tokens {
        None => None,
        Some(ct) => {
            let start = c.sampler(
                &tokens(&ct.start),
                &at("prompt.context_tokens.start"),
                MAX_TOKENS_PER_FIELD,
            )?;
            let growth_per_turn = match &ct.growth_per_turn {
                Some(d) => c.sampler(
                    &tokens(d),
                    &at("prompt.context_tokens.growth_per_turn"),
                    MAX_TOKENS_PER_FIELD,
                )?,
                None => Sampler::Fixed(0.0),
            };
            let growth_factor = ct.growth_factor.unwrap_or(1.0);
            if !growth_factor.is_finite() || !(0.0..=100.0).contains(&growth_factor) {
                return Err(c.err(
                    &at("prompt.context_tokens.growth_factor"),
                    format!(
                        "must be a factor from 0 to 100 (1.5 = half again each turn), found {}",
                        number(growth_factor)
                    ),
                ));
            }
            Some(ContextPlan {
                start,
                growth_per_turn,
                growth_factor,
            })
        }
    };
    let drift_per_minute = match &f.prompt.drift {
        None => 0.0,
        Some(d) => {
            if !(0.0..=10.0).contains(&d.per_minute.0) {
                return Err(c.err(
                    &at("prompt.drift.per_minute"),
                    "must be from 0% to 1000% (the prompt grows by this share of its starting size each minute)",
                ));
            }
            d.per_minute.0
        }
    };
    let session = match &f.session {
        None => SessionPlan::single(),
        Some(s) => {
            let turns = match &s.turns {
                Some(d) => c.sampler(&tokens(d), &at("session.turns"), MAX_TURNS)?,
                None => Sampler::Fixed(1.0),
            };
            if turns.typical() < 1.0 {
                return Err(c.err(&at("session.turns"), "a session needs at least 1 turn"));
            }
            let think_time = match &s.think_time {
                Some(d) => {
                    let secs = d.map(|v| v.0.as_secs_f64());
                    let sampler = Sampler::new(&secs, 0.0)
                        .map_err(|e| c.err(&at("session.think_time"), e))?;
                    if sampler.largest().min(sampler.typical() * 10.0) > MAX_RUN.as_secs_f64() {
                        return Err(c.err(&at("session.think_time"), "is longer than 7 days"));
                    }
                    sampler
                }
                None => Sampler::Fixed(0.0),
            };
            SessionPlan { turns, think_time }
        }
    };
    if f.token_budget == Some(0) {
        return Err(c.err(&at("token_budget"), "must be more than 0"));
    }
    let ep = &endpoints[endpoint];
    if let Some(max) = ep.max_context_tokens {
        let context_start = context.as_ref().map_or(0.0, |c| c.start.typical());
        let typical = system_tokens.typical()
            + context_start
            + user_tokens.typical()
            + output_tokens.typical();
        if typical > max as f64 {
            return Err(c.err(
                &at("prompt"),
                format!(
                    "a typical first turn needs {typical:.0} tokens (system + context + user + output) but endpoint `{}` declares max_context_tokens: {max}",
                    ep.id
                ),
            ));
        }
    }
    Ok(FeaturePlan {
        name: name.to_string(),
        weight,
        endpoint,
        stream: f.stream.unwrap_or(true),
        system_tokens,
        user_tokens,
        output_tokens,
        context,
        drift_per_minute,
        session,
        token_budget: f.token_budget,
        needs: f.needs.clone().unwrap_or_default(),
        residency: f.residency.clone(),
    })
}

fn load(c: &Checker, sc: &Scenario) -> Result<(LoadPlan, Duration), ScenarioError> {
    let l = &sc.load;
    let mode = l.mode.unwrap_or(LoadMode::Open);
    let duration = match sc.duration {
        Some(d) if d.0.is_zero() => return Err(c.err("duration", "must be more than 0")),
        Some(d) if d.0 > MAX_RUN => return Err(c.err("duration", "is longer than 7 days")),
        d => d.map(|d| d.0),
    };
    match mode {
        LoadMode::Closed => {
            for (present, key) in [
                (l.rate.is_some(), "rate"),
                (l.stages.is_some(), "stages"),
                (l.arrival.is_some(), "arrival"),
                (l.max_in_flight.is_some(), "max_in_flight"),
            ] {
                if present {
                    return Err(c.err(
                        &format!("load.{key}"),
                        "applies to open mode only; closed mode takes `concurrency`",
                    ));
                }
            }
            let n = l.concurrency.ok_or_else(|| {
                c.err(
                    "load",
                    "closed mode needs `concurrency` (the number of simultaneous users)",
                )
            })?;
            if n == 0 || n > MAX_CONCURRENCY {
                return Err(c.err(
                    "load.concurrency",
                    format!("must be from 1 to {MAX_CONCURRENCY}, found {n}"),
                ));
            }
            let duration = duration
                .ok_or_else(|| c.err("duration", "closed mode needs a top-level `duration`"))?;
            Ok((
                LoadPlan::Closed {
                    concurrency: n as usize,
                },
                duration,
            ))
        }
        LoadMode::Open => {
            if l.concurrency.is_some() {
                return Err(c.err(
                    "load.concurrency",
                    "applies to closed mode only; open mode takes `rate` or `stages`",
                ));
            }
            let stages = match (&l.rate, &l.stages, duration) {
                (Some(_), Some(_), _) => {
                    return Err(c.err(
                        "load.rate",
                        "give either `rate` (with a top-level duration) or `stages`, not both",
                    ))
                }
                (None, None, _) => {
                    return Err(c.err(
                        "load",
                        "open mode needs `rate` (with a top-level duration) or `stages`",
                    ))
                }
                (Some(_), None, None) => {
                    return Err(c.err("duration", "`load.rate` needs a top-level `duration`"))
                }
                (Some(rate), None, Some(d)) => vec![stage(c, "load.rate", *rate, d)?],
                (None, Some(stages), _) => {
                    if stages.is_empty() {
                        return Err(c.err("load.stages", "needs at least one stage"));
                    }
                    stages
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            if s.duration.0.is_zero() {
                                return Err(c.err(
                                    &format!("load.stages.{i}.duration"),
                                    "must be more than 0",
                                ));
                            }
                            stage(c, &format!("load.stages.{i}.rate"), s.rate, s.duration.0)
                        })
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            let total: Duration = stages.iter().map(|s| s.duration).sum();
            if total > MAX_RUN {
                return Err(c.err("load.stages", "add up to more than 7 days"));
            }
            if let (Some(d), Some(_)) = (duration, &l.stages) {
                if d != total {
                    return Err(c.err("duration", format!("is {d:?} but load.stages add up to {total:?}; give one or make them agree")));
                }
            }
            let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT as u64);
            if max_in_flight == 0 || max_in_flight > MAX_IN_FLIGHT {
                return Err(c.err(
                    "load.max_in_flight",
                    format!("must be from 1 to {MAX_IN_FLIGHT}, found {max_in_flight}"),
                ));
            }
            let arrival = match l.arrival.unwrap_or(ArrivalKind::Constant) {
                ArrivalKind::Constant => Arrival::Constant,
                ArrivalKind::Poisson => Arrival::Poisson,
            };
            Ok((
                LoadPlan::Open {
                    stages,
                    arrival,
                    max_in_flight: max_in_flight as usize,
                },
                total,
            ))
        }
    }
}

fn stage(c: &Checker, path: &str, rate: f64, duration: Duration) -> Result<Stage, ScenarioError> {
    if !rate.is_finite() || rate <= 0.0 {
        return Err(c.err(
            path,
            format!(
                "must be a positive number of calls per second, found {}",
                number(rate)
            ),
        ));
    }
    if rate > MAX_RATE {
        return Err(c.err(path, format!("{} calls per second is more than the {MAX_RATE} llm-drill can drive from one machine", number(rate))));
    }
    Ok(Stage { duration, rate })
}

/// A number for an error message: huge ones in scientific notation, so a typo such as
/// `1e300` does not print three hundred digits.
fn number(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod retry_tests {
    use super::RetryPlan;
    use std::time::Duration;

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_ceiling() {
        let r = RetryPlan {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
            honor_retry_after: true,
            retry_on: vec![],
        };
        assert_eq!(r.wait(1, None, 0.999_999), Duration::from_nanos(99_999_900));
        assert_eq!(r.wait(2, None, 0.5), Duration::from_millis(100));
        assert_eq!(r.wait(3, None, 1.0), Duration::from_millis(400));
        assert_eq!(
            r.wait(4, None, 1.0),
            Duration::from_millis(500),
            "capped by max"
        );
        assert_eq!(r.wait(60, None, 1.0), Duration::from_millis(500));
        assert_eq!(r.wait(1, None, 0.0), Duration::ZERO);
        // What the endpoint asks for wins, capped by max; unless not honoured.
        let asked = Some(Duration::from_millis(300));
        assert_eq!(r.wait(1, asked, 0.0), Duration::from_millis(300));
        assert_eq!(
            r.wait(1, Some(Duration::from_secs(9)), 0.0),
            Duration::from_millis(500)
        );
        let ignore = RetryPlan {
            honor_retry_after: false,
            ..r
        };
        assert_eq!(ignore.wait(1, asked, 0.0), Duration::ZERO);
    }
}
