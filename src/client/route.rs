//! An endpoint the run can send to: where, how, and with which credential. Everything
//! that is the same for every call (path, headers, connections, the format) is built
//! once, here; a provider that signs each request signs it in `prepare`, outside the
//! timed region.

use super::attempt::Prepared;
use super::credentials::{ClientError, Credential, Secret};
use super::http;
use super::inject::Injector;
use super::provider::{format, ProviderFormat};
use crate::plan::{CredentialRef, EndpointPlan, Target};
use crate::workload::CallSpec;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderName;
use hyper::header::{HeaderMap, HeaderValue, HOST, USER_AGENT};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;
use tokio_rustls::rustls;

/// A credential fetched again before it expires.
enum Refresh {
    OAuth(Box<super::oauth::TokenSource>),
    Exec(String),
}

/// Where a request goes.
struct Address {
    /// The request target in origin form (`/v1/chat/completions?...`), or absolute form
    /// through a plain-http proxy.
    path: hyper::Uri,
    /// The request target in absolute form, for h2 (`:scheme`, `:authority`, `:path`).
    absolute: hyper::Uri,
    url: url::Url,
}

impl Address {
    fn new(url: url::Url, bad: &dyn Fn(String) -> ClientError) -> Result<Address, ClientError> {
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        Ok(Address {
            path: target
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| bad(e.to_string()))?,
            absolute: url
                .as_str()
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| bad(e.to_string()))?,
            url,
        })
    }
}

pub struct Route {
    pub endpoint: EndpointPlan,
    pub base_url: String,
    /// Where whole answers are asked for, and streams (`[whole, stream]`): the same
    /// place but for a provider with a path for each.
    addresses: [Address; 2],
    /// The region requests are signed for, when they are signed (SigV4).
    signing_region: Option<String>,
    /// Every request's headers, the credential's included unless requests are signed or
    /// the credential can change during the run.
    headers: HeaderMap,
    /// The credential's header when the credential can change (a `file:` key rotated on
    /// disk): read per request.
    live: Option<Arc<RwLock<(HeaderName, HeaderValue)>>>,
    /// Where a credential that expires comes from: an OAuth grant, or a command.
    tokens: Option<Refresh>,
    pub(super) pool: http::Pool,
    pub(super) format: &'static dyn ProviderFormat,
    /// Kept to sign requests and to strip it from error messages (an endpoint may echo
    /// the key back).
    credential: Option<Credential>,
    /// Faults injected before requests leave (real endpoints only: the mock acts its
    /// own out).
    pub(super) faults: Option<Injector>,
    /// The embedded mock: told how many tool rounds a turn has left, which a real
    /// model decides itself.
    mock: bool,
    /// A response said it came from an llm-drill mock running on its own (its
    /// `x-llm-drill-mock` header): its `/stats` is read after the run.
    standalone_mock: AtomicBool,
}

/// What a standalone llm-drill mock puts on every answer (a name made once, not parsed
/// for every answer's lookup).
const MOCK_HEADER: HeaderName = HeaderName::from_static(mock_server::MOCK_HEADER);

/// Tells the embedded mock whether to call the offered tool.
const TOOL_ROUNDS_LEFT: &str = "x-llm-drill-tool-rounds-left";

impl Route {
    pub fn new(
        endpoint: EndpointPlan,
        base_url: String,
        secret: Option<Secret>,
    ) -> Result<Route, ClientError> {
        let format = format(endpoint.provider);
        let bad = |e: String| ClientError::Build(format!("endpoint `{}`: {e}", endpoint.id));
        let url = format.url(&endpoint, &base_url, false).map_err(bad)?;
        let stream_url = format.url(&endpoint, &base_url, true).map_err(bad)?;
        let origin = http::Origin::of(&url).map_err(bad)?;
        let signs = endpoint.auth.kind() == Some(crate::plan::AuthKind::AwsSigV4);
        // A bedrock endpoint declares its region (the plan refuses one without).
        let signing_region = match signs {
            true => Some(endpoint.region.clone().ok_or_else(|| {
                bad("set `region`: the AWS region requests are signed for".into())
            })?),
            false => None,
        };
        let mut headers = format.headers(&endpoint);
        let mut live = None;
        let mut tokens = None;
        let service_account = endpoint.auth.kind() == Some(crate::plan::AuthKind::ServiceAccount);
        let source = match (endpoint.auth.oauth2(), &secret, service_account) {
            (Some(o), Some(client_secret), _) => Some(
                super::oauth::TokenSource::new(o, client_secret.clone(), &endpoint.tls)
                    .map_err(bad)?,
            ),
            // The embedded mock issues the tokens itself, at its own address.
            (None, Some(key), true) => {
                let mock_token_url = matches!(endpoint.target, Target::Mock(_))
                    .then(|| format!("{}/oauth2/token", base_url.trim_end_matches('/')));
                Some(
                    super::oauth::TokenSource::service_account(key, mock_token_url, &endpoint.tls)
                        .map_err(|e| bad(format!("credential_ref: {e}")))?,
                )
            }
            _ => None,
        };
        if let Some(source) = source {
            // The token comes once the run starts (`refresh_token`); until then none.
            tokens = Some(Refresh::OAuth(Box::new(source)));
            live = Some(Arc::new(RwLock::new((
                hyper::header::AUTHORIZATION,
                HeaderValue::from_static("Bearer pending"),
            ))));
        } else if let (Some(CredentialRef::Exec(cmd)), Some(kind)) =
            (endpoint.auth.credential(), endpoint.auth.kind())
        {
            // The command runs once the run starts (`refresh_token`), and again before
            // what it printed expires; keys that sign requests are never sent.
            tokens = Some(Refresh::Exec(cmd.clone()));
            if !signs {
                let (name, value) = format
                    .credential_header(&endpoint, kind, &Secret::new("pending"))
                    .ok_or_else(|| bad("the credential cannot be sent in a header".into()))?;
                live = Some(Arc::new(RwLock::new((name, value))));
            }
        } else if let (Some(kind), Some(s), false) = (endpoint.auth.kind(), &secret, signs) {
            if let Some((name, value)) = format.credential_header(&endpoint, kind, s) {
                match endpoint.auth.credential() {
                    Some(CredentialRef::File(_)) => {
                        live = Some(Arc::new(RwLock::new((name, value))));
                    }
                    _ => {
                        headers.insert(name, value);
                    }
                }
            }
        }
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        headers.insert(
            HOST,
            HeaderValue::from_str(&host).map_err(|e| bad(e.to_string()))?,
        );
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("llm-drill/", env!("CARGO_PKG_VERSION"))),
        );
        let faults = match (&endpoint.target, endpoint.faults.is_empty()) {
            (Target::Url(_), false) => Some(Injector::new(endpoint.faults.clone())),
            _ => None,
        };
        let tls = match origin.https {
            false => None,
            true => {
                let key = match &endpoint.tls.client_key {
                    Some(r) => Some(super::credentials::resolve(r, &endpoint.id)?),
                    None => None,
                };
                let config =
                    super::tls::client_config(&endpoint.tls, key.as_ref(), endpoint.http_version)
                        .map_err(bad)?;
                let host = endpoint
                    .tls
                    .server_name
                    .clone()
                    .unwrap_or_else(|| origin.host.clone());
                let name = rustls::pki_types::ServerName::try_from(host)
                    .map_err(|e| bad(format!("invalid TLS server name: {e}")))?;
                Some((config, name))
            }
        };
        // The embedded mock is reached directly; a real endpoint as its proxy setting and
        // the environment say.
        let proxy = match &endpoint.target {
            Target::Mock(_) => None,
            Target::Url(_) => {
                match crate::plan::proxy::decide(&endpoint.proxy, &url, &|n| std::env::var(n).ok())
                {
                    crate::plan::proxy::Route::Direct(_) => None,
                    crate::plan::proxy::Route::Via { proxy, .. } => {
                        let userinfo = match &endpoint.proxy_credential {
                            Some(r) => Some(
                                super::credentials::resolve(r, &endpoint.id)?
                                    .expose()
                                    .to_string(),
                            ),
                            None => proxy.userinfo.clone(),
                        };
                        let authorization = match userinfo {
                            Some(u) => {
                                use base64::Engine;
                                let b64 = base64::engine::general_purpose::STANDARD.encode(u);
                                let mut v = HeaderValue::from_str(&format!("Basic {b64}"))
                                    .map_err(|e| bad(e.to_string()))?;
                                v.set_sensitive(true);
                                Some(v)
                            }
                            None => None,
                        };
                        Some(http::Proxy {
                            host: proxy.host,
                            port: proxy.port,
                            authorization,
                        })
                    }
                }
            }
        };
        // Plain http through a proxy: requests in absolute form, with the proxy's
        // credential; https goes through a CONNECT tunnel instead.
        let tunnelled = origin.https || endpoint.http_version == crate::plan::HttpVersion::Http2;
        let mut addresses = [Address::new(url, &bad)?, Address::new(stream_url, &bad)?];
        let mut headers = headers;
        if let (Some(p), false) = (&proxy, tunnelled) {
            if let Some(auth) = &p.authorization {
                headers.insert(hyper::header::PROXY_AUTHORIZATION, auth.clone());
            }
            for a in &mut addresses {
                a.path = a.absolute.clone();
            }
        }
        let version = endpoint.http_version;
        Ok(Route {
            mock: matches!(endpoint.target, Target::Mock(_)),
            standalone_mock: AtomicBool::new(false),
            endpoint,
            base_url,
            addresses,
            signing_region,
            headers,
            pool: http::Pool::new(origin, tls, proxy, version),
            faults,
            format,
            credential: secret
                .or_else(|| matches!(tokens, Some(Refresh::Exec(_))).then(|| Secret::new("")))
                .map(Credential::new),
            live,
            tokens,
        })
    }

    /// Times injected faults from the run's start.
    pub fn start_faults(&self, start: Instant) {
        if let Some(f) = &self.faults {
            f.start(start);
        }
    }

    /// `message` with the endpoint's secrets, if one appears, replaced by `[redacted]`.
    pub fn redact(&self, message: String) -> String {
        match &self.credential {
            Some(c) => c.redact(message),
            None => message,
        }
    }

    /// Whether its credential is fetched when the run starts (OAuth, `exec:`).
    pub fn fetches_credential(&self) -> bool {
        self.tokens.is_some()
    }

    /// Its token requests so far, for an OAuth endpoint.
    pub fn token_stats(&self) -> Option<super::oauth::TokenStats> {
        match &self.tokens {
            Some(Refresh::OAuth(t)) => Some(t.stats()),
            _ => None,
        }
    }

    /// Fetches a new credential (an OAuth token, a command's output) and sends it from
    /// now on; returns how long it lives, when that is known. Concurrent callers
    /// (several 401s at once) wait for one refresh.
    pub async fn refresh_token(&self) -> Result<Option<Duration>, String> {
        let (Some(tokens), Some(credential)) = (&self.tokens, &self.credential) else {
            return Err("its credential does not expire".into());
        };
        let (token, lifetime) = match tokens {
            Refresh::OAuth(t) => {
                let before = credential.current();
                let _one = t.lock().await;
                if credential.current() != before {
                    // Another call refreshed it while this one waited.
                    return Ok(Some(Duration::from_secs(60)));
                }
                let (token, lifetime) = t.fetch().await?;
                (token, Some(lifetime))
            }
            Refresh::Exec(cmd) => {
                let cmd = cmd.clone();
                tokio::task::spawn_blocking(move || super::credentials::run_command(&cmd))
                    .await
                    .map_err(|e| e.to_string())??
            }
        };
        let kind = self
            .endpoint
            .auth
            .kind()
            .unwrap_or(crate::plan::AuthKind::Bearer);
        if let Some(live) = &self.live {
            let header = self
                .format
                .credential_header(&self.endpoint, kind, &token)
                .ok_or("the credential cannot be sent in a header")?;
            *live.write().unwrap_or_else(|p| p.into_inner()) = header;
        }
        credential.replace(token);
        Ok(lifetime)
    }

    /// A task that re-reads a `file:` credential when the file changes, so a key
    /// rotated on disk takes effect without a restart; it ends with the route. `None`
    /// for credentials that cannot change.
    pub fn watch_credential(
        &self,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let (Some(CredentialRef::File(path)), Some(kind), Some(live), Some(credential)) = (
            self.endpoint.auth.credential(),
            self.endpoint.auth.kind(),
            self.live.clone(),
            self.credential.clone(),
        ) else {
            return None;
        };
        let (path, format, endpoint) = (path.clone(), self.format, self.endpoint.clone());
        let stamp = |p: &std::path::Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().ok(), m.len()))
        };
        Some(async move {
            let mut seen = stamp(&path);
            // Ends when the route is gone (the watcher holds the only other reference).
            while Arc::strong_count(&live) > 1 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let now = stamp(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let secret = Secret::new(text.trim());
                if secret.expose().is_empty() || secret == credential.current() {
                    continue;
                }
                if let Some(header) = format.credential_header(&endpoint, kind, &secret) {
                    *live.write().unwrap_or_else(|p| p.into_inner()) = header;
                    credential.replace(secret);
                }
            }
        })
    }

    /// The call's request, ready to send: its body, and its signature when the provider
    /// signs each request.
    pub fn prepare(&self, call: &CallSpec) -> Prepared {
        let body = self.format.body(&self.endpoint, call);
        let signed = match (&self.credential, &self.signing_region) {
            // Its own headers, signed as each attempt leaves (`sign_now`).
            (Some(_), Some(_)) => Some(Box::new(self.headers.clone())),
            _ if self.mock && call.tools.is_some() => {
                let mut headers = self.headers.clone();
                headers.insert(TOOL_ROUNDS_LEFT, HeaderValue::from(call.rounds_left));
                Some(Box::new(headers))
            }
            _ => None,
        };
        Prepared {
            body,
            stream: call.stream,
            keep_text: call.keep_answer,
            headers: signed,
        }
    }

    /// Signs `req` now, where requests are signed (SigV4), with the credential as it is
    /// now: each attempt as it leaves, so that a retry after a wait, or a call prepared
    /// before a refresh, carries its own time and keys. Outside the timed region. Keys
    /// that cannot be read leave it unsigned: the endpoint's 403 then says so, as a
    /// classified outcome.
    pub fn sign_now(&self, req: &mut Prepared) {
        if let (Some(c), Some(region), Some(headers)) =
            (&self.credential, &self.signing_region, req.headers.as_mut())
        {
            let _ = self.sign(headers, req.stream, &req.body, &c.current(), region);
        }
    }

    /// Signs a request with SigV4: `x-amz-date`, `x-amz-security-token` for temporary
    /// keys, and `authorization`, over its body, path, host and content type.
    fn sign(
        &self,
        headers: &mut HeaderMap,
        stream: bool,
        body: &[u8],
        secret: &Secret,
        region: &str,
    ) -> Result<(), String> {
        let keys = mock_server::sigv4::AwsKeys::parse(secret.expose())?;
        let url = &self.addresses[usize::from(stream)].url;
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let content_type = headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("application/json")
            .to_string();
        let service = self.format.signing_service().unwrap_or("bedrock");
        let signed = mock_server::sigv4::sign(
            &mock_server::sigv4::Request {
                method: "POST",
                host: &host,
                path: url.path(),
                query: url.query(),
                headers: &[("content-type", &content_type)],
                body,
            },
            &keys,
            region,
            service,
            std::time::SystemTime::now(),
        );
        let value = |v: &str| HeaderValue::from_str(v).map_err(|e| e.to_string());
        headers.insert("x-amz-date", value(&signed.amz_date)?);
        if let Some(t) = &keys.session_token {
            let mut v = value(t)?;
            v.set_sensitive(true);
            headers.insert("x-amz-security-token", v);
        }
        let mut auth = value(&signed.authorization)?;
        auth.set_sensitive(true);
        headers.insert(hyper::header::AUTHORIZATION, auth);
        Ok(())
    }

    /// The request on the wire; over h2 its target is in absolute form, which carries
    /// the host (`:authority`) in place of a `Host` header.
    /// Notes a response from a standalone llm-drill mock (once: a header lookup per
    /// response until then).
    pub(super) fn note_mock(&self, headers: &HeaderMap) {
        if !self.mock && !self.standalone_mock.load(Relaxed) && headers.contains_key(MOCK_HEADER) {
            self.standalone_mock.store(true, Relaxed);
        }
    }

    /// Whether an llm-drill mock running on its own answered this endpoint.
    pub fn answered_by_standalone_mock(&self) -> bool {
        self.standalone_mock.load(Relaxed)
    }

    /// That mock's `GET /stats`, at the endpoint's origin and over its connection settings
    /// (TLS, proxy), without its credential.
    pub async fn mock_stats(&self) -> Result<mock_server::StatsSnapshot, String> {
        let (mut sender, _) = self.pool.open().await.map_err(|e| e.message)?;
        sender.ready().await.map_err(|e| http::error_chain(&e))?;
        let mut parts = self.addresses[0].absolute.clone().into_parts();
        parts.path_and_query = Some(hyper::http::uri::PathAndQuery::from_static("/stats"));
        let absolute = hyper::Uri::from_parts(parts).map_err(|e| e.to_string())?;
        let mut r = hyper::Request::new(Full::new(Bytes::new()));
        if sender.is_h2() {
            *r.uri_mut() = absolute;
        } else {
            *r.uri_mut() = hyper::Uri::from_static("/stats");
            if let Some(host) = self.headers.get(HOST) {
                r.headers_mut().insert(HOST, host.clone());
            }
        }
        let resp = sender.send(r).await.map_err(|e| http::error_chain(&e))?;
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(http_body_util::Limited::new(
            resp.into_body(),
            1 << 20,
        ))
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("not the mock's /stats: {e}"))
    }

    pub(super) fn request(&self, req: &Prepared, h2: bool) -> hyper::Request<Full<Bytes>> {
        let mut r = hyper::Request::new(Full::new(req.body.clone()));
        *r.method_mut() = hyper::Method::POST;
        *r.headers_mut() = match &req.headers {
            Some(h) => (**h).clone(),
            None => self.headers.clone(),
        };
        let address = &self.addresses[usize::from(req.stream)];
        if h2 {
            *r.uri_mut() = address.absolute.clone();
            r.headers_mut().remove(HOST);
        } else {
            *r.uri_mut() = address.path.clone();
        }
        if let Some(live) = &self.live {
            let (name, value) = live.read().unwrap_or_else(|p| p.into_inner()).clone();
            r.headers_mut().insert(name, value);
        }
        r
    }
}
