//! One endpoint's registration, checked: where it is (a URL or the embedded mock), its
//! provider and credentials, capabilities, timeout, price, retry policy and fallback.
//! Fallback references are resolved here too, refusing unknown ids and cycles.

use super::check::{number, Checker};
use super::mock::mock_config;
use super::prices::{Price, PriceTable};
use super::provider::{self, AuthKind, Provider, ProviderOptions, TokenLimit};
use super::retry::{breaker_plan, retry_plan, BreakerPlan, RetryPlan};
use crate::scenario::model::{self, AuthType};
use crate::scenario::{Scenario, ScenarioError};
use mock_server::faults::FaultSchedule;
use mock_server::tokens::Encoding;
use mock_server::MockConfig;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub enum Target {
    /// The embedded mock server, started for the run with this behaviour.
    Mock(Box<MockConfig>),
    /// A real endpoint's base URL, without a trailing slash.
    Url(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum CredentialRef {
    Env(String),
    File(PathBuf),
    /// A command whose output is the secret (or JSON with a token and its expiry, as
    /// `az account get-access-token -o json` prints).
    Exec(String),
}

impl std::fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialRef::Env(name) => write!(f, "env:{name}"),
            CredentialRef::File(p) => write!(f, "file:{}", p.display()),
            CredentialRef::Exec(cmd) => write!(f, "exec:{cmd}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    None,
    /// A credential, sent the way `kind` says.
    With(AuthKind, CredentialRef),
    /// A bearer token from an OAuth 2.0 client-credentials grant.
    OAuth2(OAuth2Plan),
}

/// The client-credentials grant: where tokens come from, and as whom.
#[derive(Clone, Debug, PartialEq)]
pub struct OAuth2Plan {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: CredentialRef,
    pub scope: Option<String>,
}

impl Auth {
    /// The reference to the secret the run reads at its start (an OAuth client's
    /// secret, not a token).
    pub fn credential(&self) -> Option<&CredentialRef> {
        match self {
            Auth::None => None,
            Auth::With(_, r) => Some(r),
            Auth::OAuth2(o) => Some(&o.client_secret),
        }
    }

    /// How a request carries its credential: a static one (`With`) in the provider's
    /// header; an OAuth token as a bearer, set once fetched.
    pub fn kind(&self) -> Option<AuthKind> {
        match self {
            Auth::None => None,
            Auth::With(k, _) => Some(*k),
            Auth::OAuth2(_) => Some(AuthKind::Bearer),
        }
    }

    pub fn oauth2(&self) -> Option<&OAuth2Plan> {
        match self {
            Auth::OAuth2(o) => Some(o),
            _ => None,
        }
    }
}

/// Whose certificates an endpoint's TLS trusts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Roots {
    /// Mozilla's roots, shipped with llm-drill.
    Mozilla,
    /// The platform's trust store: where corporate CAs and TLS-inspecting proxies live.
    System,
    #[default]
    Both,
}

/// TLS to one endpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsPlan {
    pub roots: Roots,
    /// PEM roots added to them.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) and its key, for endpoints that require one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<CredentialRef>,
    /// The name verified (and sent as SNI) instead of the URL's host.
    pub server_name: Option<String>,
}

impl TlsPlan {
    /// Whether it is anything but the default (Mozilla's and the platform's roots).
    pub fn is_default(&self) -> bool {
        *self == TlsPlan::default()
    }
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

/// A key the embedded mock accepts, from `from` until `until`.
#[derive(Clone, Debug, PartialEq)]
pub struct MockKey {
    pub key: CredentialRef,
    pub from: Duration,
    pub until: Option<Duration>,
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
    let auth =
        match (e.auth_type, &e.credential_ref) {
            (AuthType::Oauth2, _) => oauth2(c, &at, e, info)?,
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
            (given, Some(r)) => {
                let kind = match given {
                    AuthType::Bearer => AuthKind::Bearer,
                    _ => AuthKind::ApiKey,
                };
                if !info.auth.contains(&kind) {
                    let takes: Vec<String> = info
                        .auth
                        .iter()
                        .map(|k| match (k, info.api_key_header) {
                            (AuthKind::ApiKey, Some(h)) => format!("`api_key` (sent as {h})"),
                            _ => format!("`{}`", k.key()),
                        })
                        .collect();
                    return Err(c.err(
                        &at("auth_type"),
                        format!("an {} endpoint takes {}", info.key, takes.join(" or ")),
                    ));
                }
                Auth::With(kind, credential_ref(c, &at("credential_ref"), r)?)
            }
        };
    let tls = tls_plan(c, &at, e.tls.as_ref())?;
    let mut mock_keys = Vec::new();
    for (i, k) in e
        .mock
        .as_ref()
        .and_then(|m| m.auth.as_ref())
        .map_or(&[][..], |a| a.keys.as_slice())
        .iter()
        .enumerate()
    {
        let at_key = |k: &str| at(&format!("mock.auth.keys.{i}.{k}"));
        let from = k.from.map_or(Duration::ZERO, |d| d.0);
        let until = k.until.map(|d| d.0);
        if until.is_some_and(|u| u <= from) {
            return Err(c.err(&at_key("until"), "must be later than `from`"));
        }
        mock_keys.push(MockKey {
            key: credential_ref(c, &at_key("key_ref"), &k.key_ref)?,
            from,
            until,
        });
    }
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
                format!("an {} endpoint takes `max_tokens` only", info.key),
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
        breaker: breaker_plan(c, &at("circuit_breaker"), e.circuit_breaker)?,
    })
}

fn tls_plan(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    spec: Option<&model::TlsSpec>,
) -> Result<TlsPlan, ScenarioError> {
    let Some(t) = spec else {
        return Ok(TlsPlan::default());
    };
    let path = |p: &Option<String>, key: &str| match p.as_deref().map(str::trim) {
        Some("") => Err(c.err(&at(&format!("tls.{key}")), "must name a file")),
        other => Ok(other.map(PathBuf::from)),
    };
    let client_key = match &t.client_key_ref {
        Some(r) => Some(credential_ref(c, &at("tls.client_key_ref"), r)?),
        None => None,
    };
    if t.client_cert.is_some() != client_key.is_some() {
        return Err(c.err(
            &at("tls"),
            "a client certificate needs both client_cert and client_key_ref",
        ));
    }
    if let Some(name) = &t.server_name {
        if rustls_name(name).is_none() {
            return Err(c.err(
                &at("tls.server_name"),
                format!("`{name}` is not a DNS name or an IP address"),
            ));
        }
    }
    Ok(TlsPlan {
        roots: match t.roots.unwrap_or(model::TlsRoots::Both) {
            model::TlsRoots::Mozilla => Roots::Mozilla,
            model::TlsRoots::System => Roots::System,
            model::TlsRoots::Both => Roots::Both,
        },
        ca_file: path(&t.ca_file, "ca_file")?,
        client_cert: path(&t.client_cert, "client_cert")?,
        client_key,
        server_name: t.server_name.clone(),
    })
}

/// Whether `name` can name a TLS server: a DNS name or an IP address.
fn rustls_name(name: &str) -> Option<()> {
    let ok = name.parse::<std::net::IpAddr>().is_ok()
        || (!name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            }));
    ok.then_some(())
}

/// `auth_type: oauth2` and its `oauth2:` block.
fn oauth2(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    e: &model::Endpoint,
    info: &provider::ProviderInfo,
) -> Result<Auth, ScenarioError> {
    if e.credential_ref.is_some() {
        return Err(c.err(
            &at("credential_ref"),
            "does not apply with auth_type: oauth2 (the token comes from oauth2.token_url)",
        ));
    }
    let o = e.oauth2.as_ref().ok_or_else(|| {
        c.err(
            &at("auth_type"),
            "oauth2 needs an `oauth2: { token_url, client_id, client_secret_ref, scope }` block",
        )
    })?;
    let url = url::Url::parse(&o.token_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    if url.is_none() {
        return Err(c.err(
            &at("oauth2.token_url"),
            format!("expected an http(s) URL, found `{}`", o.token_url),
        ));
    }
    if o.client_id.trim().is_empty() {
        return Err(c.err(&at("oauth2.client_id"), "must not be empty"));
    }
    if !info.auth.contains(&AuthKind::Bearer) {
        return Err(c.err(
            &at("auth_type"),
            format!("an {} endpoint does not take bearer tokens", info.key),
        ));
    }
    Ok(Auth::OAuth2(OAuth2Plan {
        token_url: o.token_url.clone(),
        client_id: o.client_id.clone(),
        client_secret: credential_ref(c, &at("oauth2.client_secret_ref"), &o.client_secret_ref)?,
        scope: o.scope.clone(),
    }))
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
        cfg.encoding = Some(encoding);
        if let (true, Some(region)) = (cfg.served_regions.is_empty(), &e.region) {
            cfg.served_regions.push((region.clone(), 1.0));
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
    } else if let Some(cmd) = r.strip_prefix("exec:") {
        if !cmd.trim().is_empty() {
            return Ok(CredentialRef::Exec(cmd.trim().to_string()));
        }
    }
    // Never echo the value: it may be the secret itself, pasted inline.
    Err(c.err(
        path,
        "expected env:NAME, file:PATH or exec:COMMAND (a reference, never the secret itself)",
    ))
}
