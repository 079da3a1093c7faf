//! One endpoint's registration, checked: where it is (a URL or the embedded mock), its
//! provider and credentials, capabilities, timeout, price, retry policy and fallback.
//! Fallback references are resolved here too, refusing unknown ids and cycles.

use super::auth::{auth, credential_ref, mock_keys, Auth, CredentialRef, MockKey};
use super::check::{number, Checker};
use super::mock::mock_config;
use super::prices::{Price, PriceTable};
use super::provider::{self, Provider, ProviderOptions, TokenLimit};
use super::retry::{breaker_plan, retry_plan, BreakerPlan, RetryPlan};
use super::tls::{tls_plan, TlsPlan};
use crate::scenario::model::{self, AuthType};
use crate::scenario::{Scenario, ScenarioError};
use mock_server::faults::FaultSchedule;
use mock_server::tokens::Encoding;
use mock_server::MockConfig;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub enum Target {
    /// The embedded mock server, started for the run with this behaviour.
    Mock(Box<MockConfig>),
    /// A real endpoint's base URL, without a trailing slash.
    Url(String),
}

/// A capability a feature can need and an endpoint can declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Tools,
    Vision,
    Streaming,
}

impl Capability {
    /// Each capability with the scenario's word for it.
    const ALL: [(Capability, model::Capability, &'static str); 3] = [
        (Capability::Tools, model::Capability::Tools, "tools"),
        (Capability::Vision, model::Capability::Vision, "vision"),
        (
            Capability::Streaming,
            model::Capability::Streaming,
            "streaming",
        ),
    ];

    pub fn key(self) -> &'static str {
        Capability::ALL
            .iter()
            .find(|(c, ..)| *c == self)
            .map_or("", |(.., key)| key)
    }

    pub(crate) fn from_model(m: model::Capability) -> Capability {
        Capability::ALL
            .iter()
            .find(|(_, x, _)| *x == m)
            .map_or(Capability::Tools, |(c, ..)| *c)
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

/// What happens to a call when its endpoint fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FallbackPolicy {
    /// Send it to the fallback endpoint.
    #[default]
    Fallback,
    /// Fail the call and escalate; never leave this endpoint.
    FailClosed,
}

/// Which HTTP an endpoint is spoken to in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// h2 where TLS negotiates it (ALPN), HTTP/1.1 otherwise: what curl and the SDKs do.
    #[default]
    Auto,
    Http1,
    /// h2 always: over plain http, h2c with prior knowledge.
    Http2,
}

impl HttpVersion {
    pub fn key(self) -> &'static str {
        match self {
            HttpVersion::Auto => "auto",
            HttpVersion::Http1 => "http1",
            HttpVersion::Http2 => "http2",
        }
    }
}

#[derive(Clone, Debug)]
pub struct EndpointPlan {
    pub id: String,
    pub display_name: String,
    pub provider: Provider,
    /// The provider's own keys (Azure: deployment, api_version).
    pub options: ProviderOptions,
    pub target: Target,
    pub auth: Auth,
    pub model_name: String,
    pub timeout: Duration,
    /// The field that caps an answer's length in its requests.
    pub token_limit: TokenLimit,
    pub tls: TlsPlan,
    /// The proxy its traffic goes through (the embedded mock is always reached
    /// directly), and the proxy's `user:password` by reference.
    pub proxy: super::proxy::ProxySetting,
    pub proxy_credential: Option<CredentialRef>,
    pub http_version: HttpVersion,
    /// The keys an embedded mock accepts, by reference, each in its window of the run.
    pub mock_keys: Vec<MockKey>,
    pub encoding: Encoding,
    pub max_context_tokens: Option<u32>,
    pub region: Option<String>,
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
    /// USD per token, inline or from `price_ref`; `None` when unpriced.
    pub price: Option<Price>,
    pub price_ref: Option<String>,
    /// Probe it before the run and plan prompts by its own count (`calibrate: true`).
    pub calibrate: bool,
    /// Its count as the probes found it, once calibrated.
    pub calibration: Option<Fit>,
}

/// An endpoint's prompt-token count as calibration fitted it: `ratio` × the text's tokens
/// in the plan's tokenizer, plus `per_call`, plus `per_message` for each message.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fit {
    pub ratio: f64,
    pub per_call: f64,
    pub per_message: f64,
}

/// An endpoint's calibration: the probes sent before the run, what they used, and the
/// fit of its count.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    pub fit: Fit,
    pub probes: u32,
    /// What the probes used, as the endpoint reported it, and what that costs.
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// The largest gap between a probe's reported count and the fit, in tokens.
    pub max_residual_tokens: f64,
}

impl Fit {
    /// The endpoint's count of `text_tokens` tokens of text in `messages` messages.
    pub fn predict(&self, text_tokens: f64, messages: f64) -> f64 {
        self.ratio * text_tokens + self.per_call + self.per_message * messages
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

    /// The endpoint a failing call goes to next, if its policy sends it anywhere.
    pub fn next_on_failure(&self) -> Option<usize> {
        match self.fallback_policy {
            FallbackPolicy::Fallback => self.fallback,
            FallbackPolicy::FailClosed => None,
        }
    }
}

pub(crate) fn endpoint(
    c: &Checker,
    seed: u64,
    id: &str,
    e: &model::Endpoint,
    global_retry: Option<&model::Retry>,
    prices: &PriceTable,
) -> Result<EndpointPlan, ScenarioError> {
    let at = |k: &str| format!("endpoints.{id}.{k}");
    c.identifier(&format!("endpoints.{id}"), id, "-_", "an endpoint id")?;
    let (info, options) = provider::resolve(c, &at, e)?;
    let price = price(c, &at, e, prices)?;
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
    let target = target(c, &at, seed, id, e, encoding)?;
    let auth = auth(c, &at, e, info)?;
    let tls = tls_plan(c, &at, e.tls.as_ref())?;
    let mock_keys = mock_keys(c, &at, e)?;
    let proxy = super::proxy::setting(c, &at, e.proxy.as_deref())?;
    let proxy_credential = match &e.proxy_credential_ref {
        Some(r) => Some(credential_ref(c, &at("proxy_credential_ref"), r)?),
        None => None,
    };
    let token_limit = match e.token_limit_param {
        None if info.max_completion_tokens => TokenLimit::for_model(&e.model_name),
        None | Some(model::TokenLimitParam::MaxTokens) => TokenLimit::MaxTokens,
        Some(model::TokenLimitParam::MaxCompletionTokens) if info.max_completion_tokens => {
            TokenLimit::MaxCompletionTokens
        }
        Some(_) => {
            return Err(c.err(
                &at("token_limit_param"),
                format!("{} takes `max_tokens` only", info.an_endpoint()),
            ))
        }
    };
    if e.oauth2.is_some() && e.auth_type != AuthType::Oauth2 {
        return Err(c.err(&at("oauth2"), "applies with auth_type: oauth2 only"));
    }
    let timeout = e.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if timeout.is_zero() || timeout > Duration::from_secs(3600) {
        return Err(c.err(&at("timeout"), "must be more than 0 and at most 1h"));
    }
    if e.max_context_tokens == Some(0) {
        return Err(c.err(&at("max_context_tokens"), "must be more than 0"));
    }
    // Bedrock signs for, and serves in, one AWS region: it must be said.
    if info.provider == Provider::Bedrock && e.region.as_deref().is_none_or(|r| r.trim().is_empty())
    {
        return Err(c.err(
            at("").trim_end_matches('.'),
            "a bedrock endpoint needs `region`: the AWS region its requests are signed for and served in (eu-central-1, us-east-1...)",
        ));
    }
    Ok(EndpointPlan {
        id: id.to_string(),
        display_name: e.display_name.clone().unwrap_or_else(|| id.to_string()),
        provider: info.provider,
        options,
        target,
        auth,
        model_name: e.model_name.clone(),
        timeout,
        token_limit,
        tls,
        proxy,
        proxy_credential,
        http_version: match e.http_version {
            None | Some(model::HttpVersionSpec::Auto) => HttpVersion::Auto,
            Some(model::HttpVersionSpec::Http1) => HttpVersion::Http1,
            Some(model::HttpVersionSpec::Http2) => HttpVersion::Http2,
        },
        mock_keys,
        encoding,
        max_context_tokens: e.max_context_tokens,
        region: e.region.clone(),
        capabilities: Capabilities {
            tools: e.supports_tools.unwrap_or(false),
            vision: e.supports_vision.unwrap_or(false),
            streaming: e.supports_streaming.unwrap_or(true),
        },
        fallback: None,
        fallback_policy: match e.fallback_policy.unwrap_or_default() {
            model::FallbackPolicy::Fallback => FallbackPolicy::Fallback,
            model::FallbackPolicy::FailClosed => FallbackPolicy::FailClosed,
        },
        allow_insecure_http: e.allow_insecure_http.unwrap_or(false),
        retry: retry_plan(c, &at("retry"), global_retry, e.retry.as_ref())?,
        faults: FaultSchedule {
            faults: Vec::new(),
            seed: seed ^ 0xFA17,
        },
        price,
        price_ref: e.price_ref.clone(),
        calibrate: e.calibrate.unwrap_or(false),
        calibration: None,
        breaker: breaker_plan(c, &at("circuit_breaker"), e.circuit_breaker)?,
    })
}

/// The endpoint's price: inline (checked), or looked up by `price_ref`.
fn price(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    e: &model::Endpoint,
    prices: &PriceTable,
) -> Result<Option<Price>, ScenarioError> {
    match (&e.price, &e.price_ref) {
        (Some(_), Some(_)) => {
            Err(c.err(&at("price_ref"), "give either price or price_ref, not both"))
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
            Ok(Some(Price::from_per_mtok(
                p.input_per_mtok,
                p.output_per_mtok,
                p.cached_input_per_mtok,
            )))
        }
        (None, Some(key)) => prices
            .get(key)
            .map(Some)
            .map_err(|m| c.err(&at("price_ref"), m)),
        (None, None) => Ok(None),
    }
}

fn target(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    seed: u64,
    id: &str,
    e: &model::Endpoint,
    encoding: Encoding,
) -> Result<Target, ScenarioError> {
    if e.base_url == "mock" {
        let mut cfg = mock_config(c, seed, id, e.mock.as_ref())?;
        cfg.encoding = Some(cfg.encoding.unwrap_or(encoding));
        if let (true, Some(region)) = (cfg.served_regions.is_empty(), &e.region) {
            cfg.served_regions.push((region.clone(), 1.0));
        }
        // A service account's tokens come from the mock itself, which then accepts only
        // the tokens it issued (for an hour, unless `mock.oauth2` says otherwise).
        if e.auth_type == AuthType::ServiceAccount && cfg.oauth2_token_lifetime.is_none() {
            cfg.oauth2_token_lifetime = Some(Duration::from_secs(3600));
        }
        return Ok(Target::Mock(Box::new(cfg)));
    }
    let expected = |why: String| {
        c.err(
            &at("base_url"),
            format!(
                "expected `mock` or an http(s) URL{why}, found `{}`",
                e.base_url
            ),
        )
    };
    let url = url::Url::parse(&e.base_url).map_err(|err| expected(format!(" ({err})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(expected(" with a host".into()));
    }
    if e.mock.is_some() {
        return Err(c.err(
            &at("mock"),
            "only applies to an endpoint whose base_url is `mock`",
        ));
    }
    Ok(Target::Url(e.base_url.trim_end_matches('/').to_string()))
}

/// Resolves every `fallback_endpoint_ref` to its endpoint and refuses unknown ids and
/// cycles (a call would bounce between endpoints forever).
pub(crate) fn fallbacks(
    c: &Checker,
    sc: &Scenario,
    endpoints: &mut [EndpointPlan],
) -> Result<(), ScenarioError> {
    let ids: Vec<String> = endpoints.iter().map(|e| e.id.clone()).collect();
    for (i, (id, e)) in sc.endpoints.iter().enumerate() {
        let Some(target) = &e.fallback_endpoint_ref else {
            if e.fallback_policy == Some(model::FallbackPolicy::Fallback) {
                return Err(c.err(
                    &format!("endpoints.{id}.fallback_policy"),
                    "is `fallback` but no fallback_endpoint_ref says where to",
                ));
            }
            continue;
        };
        let path = format!("endpoints.{id}.fallback_endpoint_ref");
        endpoints[i].fallback =
            Some(c.index_of(&path, "endpoint", target, ids.iter().map(String::as_str))?);
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
