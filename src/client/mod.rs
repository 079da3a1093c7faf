//! The client: turns a `CallSpec` into an HTTP request for its provider, sends it, and
//! classifies what comes back into an `Attempt` (timings, tokens, outcome).
//!
//! Request bodies are built by `prepare`, before the timed region; `send` only takes
//! timestamps while bytes move. A misbehaving endpoint — invalid JSON, a truncated
//! stream, a 50 MB body, a hang — ends as a classified outcome, never a stall or panic.

mod anthropic;
mod azure;
pub mod http;
mod openai;
pub mod outcome;
pub mod sse;

pub use outcome::Outcome;

use crate::plan::{CredentialRef, EndpointPlan};
use crate::scenario::model::Provider;
use crate::workload::CallSpec;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, HOST, USER_AGENT};
use std::fmt;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Largest non-streaming body read; anything larger is a protocol error.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Largest single SSE event.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Largest answer text kept for counting tokens when the endpoint reports no usage.
const MAX_TEXT_BYTES: usize = 4 << 20;

/// A secret, resolved from a credential reference at run start. Never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("endpoint `{endpoint}`: environment variable {name} (from credential_ref) is not set")]
    MissingEnv { endpoint: String, name: String },
    #[error("endpoint `{endpoint}`: cannot read the credential file {path}: {reason}")]
    CredentialFile {
        endpoint: String,
        path: String,
        reason: String,
    },
    #[error("endpoint `{endpoint}`: the credential is empty")]
    EmptyCredential { endpoint: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Resolves an endpoint's credential reference (env:NAME or file:PATH).
pub fn resolve_credential(e: &EndpointPlan) -> Result<Option<Secret>, ClientError> {
    let Some(r) = e.auth.credential() else {
        return Ok(None);
    };
    let value = match r {
        CredentialRef::Env(name) => std::env::var(name).map_err(|_| ClientError::MissingEnv {
            endpoint: e.id.clone(),
            name: name.clone(),
        })?,
        CredentialRef::File(p) => {
            std::fs::read_to_string(p).map_err(|err| ClientError::CredentialFile {
                endpoint: e.id.clone(),
                path: p.display().to_string(),
                reason: err.kind().to_string(),
            })?
        }
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(ClientError::EmptyCredential {
            endpoint: e.id.clone(),
        });
    }
    Ok(Some(Secret(value)))
}

/// A request ready to go: nothing left to compute once the clock starts. Cloning it for
/// a retry shares the body.
#[derive(Clone)]
pub struct Prepared {
    pub body: Bytes,
    pub stream: bool,
    /// Keep the answer's text (a later turn resends it).
    pub keep_text: bool,
}

/// Token usage as the endpoint reported it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of the prompt tokens, those read from the provider's cache (billed lower).
    pub cached_input_tokens: u64,
}

/// What one attempt did.
#[derive(Debug)]
pub struct Attempt {
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub sent: Instant,
    pub first_token: Option<Instant>,
    pub end: Instant,
    /// Gaps between content deltas, in microseconds.
    pub itl_us: Vec<u64>,
    pub usage: Option<Usage>,
    /// The answer's text, kept to count tokens when `usage` is missing.
    pub text: String,
    /// Content deltas received (a stream's chunk count).
    pub deltas: u64,
    /// Why it failed, short, for the error sample in the summary.
    pub error: Option<String>,
    /// How long the endpoint asked the client to wait (`retry-after-ms`, else
    /// `retry-after` as seconds or an HTTP date).
    pub retry_after: Option<Duration>,
    /// A 429 that says the quota is used up: waiting does not help, so it is not retried.
    pub quota_exhausted: bool,
    /// The fault was injected by llm-drill: nothing was sent.
    pub injected: bool,
}

/// One step of a provider's stream, decoded from one SSE event.
#[derive(Debug, PartialEq)]
pub enum StreamStep<'a> {
    /// Generated text (may be empty for role-only chunks, which are not tokens).
    Delta(std::borrow::Cow<'a, str>),
    /// The answer is complete (finish reason seen); more events may follow.
    Finished,
    Usage(Usage),
    /// The end-of-stream marker.
    Done,
    /// The endpoint reported an error inside the stream.
    Error(String),
    Ignore,
}

/// One implementation per provider wire format.
pub trait ProviderFormat: Send + Sync {
    /// The URL calls go to, from the endpoint's base URL.
    fn url(&self, endpoint: &EndpointPlan, base_url: &str) -> Result<url::Url, String>;
    /// The headers every request carries (content type, credentials).
    fn headers(&self, endpoint: &EndpointPlan, secret: Option<&Secret>) -> HeaderMap;
    /// The request body of one call.
    fn body(&self, endpoint: &EndpointPlan, call: &CallSpec) -> Bytes;
    /// Decodes a whole (non-streaming) response body into its usage, and its text when
    /// `keep_text` asks for it or the usage is missing (to count the tokens).
    fn parse_body(&self, body: &[u8], keep_text: bool) -> Result<(String, Option<Usage>), String>;
    /// Decodes one SSE event; may yield several steps (a delta and a usage at once).
    fn stream_event<'a>(
        &self,
        event: &str,
        data: &'a str,
        out: &mut Vec<StreamStep<'a>>,
    ) -> Result<(), String>;
}

/// `{base_url}/v1/{path}`, accepting a base URL that already ends in `/v1`.
fn v1_url(base_url: &str, path: &str) -> Result<url::Url, String> {
    let base = base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    let raw = format!("{base}/v1/{path}");
    url::Url::parse(&raw).map_err(|e| format!("invalid URL {raw}: {e}"))
}

/// Inserts a credential header, marked sensitive so that no debug output shows it.
fn insert_secret(headers: &mut HeaderMap, name: hyper::header::HeaderName, value: &str) {
    if let Ok(mut v) = HeaderValue::from_str(value) {
        v.set_sensitive(true);
        headers.insert(name, v);
    }
}

/// A request body as JSON, its buffer sized once from the call's texts.
fn json_body(req: &impl serde::Serialize, call: &CallSpec) -> Bytes {
    let texts: usize = call.messages.iter().map(|m| m.content.len() + 40).sum();
    let mut body = Vec::with_capacity(texts + texts / 16 + 200);
    serde_json::to_writer(&mut body, req).expect("serializing plain structs cannot fail");
    body.into()
}

/// "invalid JSON from the endpoint (why): <its first 80 characters>".
fn invalid_json(e: &serde_json::Error, data: &str) -> String {
    let head: String = data.chars().take(80).collect();
    format!("invalid JSON from the endpoint ({e}): {head}")
}

pub fn provider(p: Provider) -> &'static dyn ProviderFormat {
    match p {
        Provider::Openai => &openai::OpenAi,
        Provider::AzureOpenai => &azure::AzureOpenAi,
        Provider::Anthropic => &anthropic::Anthropic,
    }
}

/// An endpoint the run can send to: where, how, and with which secret. Everything that
/// is the same for every call (path, headers, connections) is built once, here.
pub struct Route {
    pub endpoint: EndpointPlan,
    pub base_url: String,
    /// The request target in origin form (`/v1/chat/completions?...`).
    path: hyper::Uri,
    headers: HeaderMap,
    pool: http::Pool,
    format: &'static dyn ProviderFormat,
    /// Kept only to strip it from error messages (an endpoint may echo the key back).
    secret: Option<Secret>,
    /// Faults injected before requests leave (real endpoints only: the mock acts its
    /// own out).
    faults: Option<Injector>,
}

/// The client side of a fault schedule: decides each attempt's fault by its number and
/// its time into the run, and fails it without sending anything.
struct Injector {
    schedule: mock_server::faults::FaultSchedule,
    next: std::sync::atomic::AtomicU64,
    origin: std::sync::OnceLock<Instant>,
}

impl Route {
    pub fn new(
        endpoint: EndpointPlan,
        base_url: String,
        secret: Option<Secret>,
    ) -> Result<Route, ClientError> {
        let format = provider(endpoint.provider);
        let bad = |e: String| ClientError::Build(format!("endpoint `{}`: {e}", endpoint.id));
        let url = format.url(&endpoint, &base_url).map_err(bad)?;
        let origin = http::Origin::of(&url).map_err(bad)?;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let path = target
            .parse::<hyper::Uri>()
            .map_err(|e| bad(e.to_string()))?;
        let mut headers = format.headers(&endpoint, secret.as_ref());
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
            (crate::plan::Target::Url(_), false) => Some(Injector {
                schedule: endpoint.faults.clone(),
                next: std::sync::atomic::AtomicU64::new(0),
                origin: std::sync::OnceLock::new(),
            }),
            _ => None,
        };
        Ok(Route {
            endpoint,
            base_url,
            path,
            headers,
            pool: http::Pool::new(origin),
            faults,
            format,
            secret,
        })
    }

    /// Times injected faults from the run's start.
    pub fn start_faults(&self, start: Instant) {
        if let Some(f) = &self.faults {
            let _ = f.origin.set(start);
        }
    }

    /// `message` with the endpoint's secret, if it appears, replaced by `[redacted]`.
    pub fn redact(&self, message: String) -> String {
        match &self.secret {
            Some(s) if !s.expose().is_empty() && message.contains(s.expose()) => {
                message.replace(s.expose(), "[redacted]")
            }
            _ => message,
        }
    }

    pub fn prepare(&self, call: &CallSpec) -> Prepared {
        Prepared {
            body: self.format.body(&self.endpoint, call),
            stream: call.stream,
            keep_text: call.keep_answer,
        }
    }

    fn request(&self, body: &Bytes) -> hyper::Request<Full<Bytes>> {
        let mut r = hyper::Request::new(Full::new(body.clone()));
        *r.method_mut() = hyper::Method::POST;
        *r.uri_mut() = self.path.clone();
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// Sends attempts. The engine sees only this trait: the HTTP client implements it, and
/// tests implement it with a fake endpoint that runs under tokio's paused clock. The
/// engine is generic over it, so an attempt's future is not boxed: at tens of thousands
/// of calls a second, a heap copy of every attempt's state shows in the profile.
pub trait Transport: Send + Sync + 'static {
    fn send(
        &self,
        route: &Route,
        req: Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Attempt> + Send;
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Transport for Client {
    fn send(
        &self,
        route: &Route,
        req: Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Attempt> + Send {
        Client::send(self, route, req, timeout)
    }
}

impl Attempt {
    /// An attempt that has not happened yet, stamped `now`; the transport fills it in.
    pub fn begin(now: Instant) -> Attempt {
        Attempt {
            outcome: Outcome::Ok,
            status: None,
            sent: now,
            first_token: None,
            end: now,
            itl_us: Vec::new(),
            usage: None,
            text: String::new(),
            deltas: 0,
            error: None,
            retry_after: None,
            quota_exhausted: false,
            injected: false,
        }
    }

    /// An attempt cut short, or refused, with this outcome and reason.
    pub fn failed(now: Instant, outcome: Outcome, why: impl Into<String>) -> Attempt {
        Attempt {
            outcome,
            error: Some(why.into()),
            ..Attempt::begin(now)
        }
    }
}

/// The HTTP transport. Connections live in each `Route`'s pool.
#[derive(Clone, Default)]
pub struct Client;

impl Client {
    /// Sends one attempt and classifies it; never returns an error.
    pub async fn send(&self, route: &Route, req: Prepared, timeout: Duration) -> Attempt {
        if let Some(f) = &route.faults {
            let now = Instant::now();
            let at = now.saturating_duration_since(*f.origin.get_or_init(|| now));
            let index = f.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let d = f.schedule.decide(at, index);
            if let Some(a) = inject(&d, now, timeout).await {
                return a;
            }
            let delay = d.add_ttft + d.add_end;
            if !delay.is_zero() {
                // Added latency: the request leaves late, and the wait is in its latency.
                tokio::time::sleep(delay).await;
            }
        }
        let mut a = Attempt::begin(Instant::now());
        let mut answered = None;
        let result =
            tokio::time::timeout(timeout, exchange(route, req, &mut a, &mut answered)).await;
        a.end = answered.unwrap_or_else(Instant::now);
        match result {
            Ok(Ok(())) => {}
            Ok(Err((outcome, msg))) => {
                a.outcome = outcome;
                a.error = Some(route.redact(msg));
            }
            // The answer was complete; only the clean-up after it (reading the end of a
            // stream's body) ran into the timeout.
            Err(_) if answered.is_some() => {}
            Err(_) => {
                a.outcome = Outcome::Timeout;
                a.error = Some(format!("no complete answer within {timeout:?}"));
            }
        }
        a
    }
}

/// An injected failure: what the endpoint would have done, without sending anything.
async fn inject(
    d: &mock_server::faults::Decision,
    now: Instant,
    timeout: Duration,
) -> Option<Attempt> {
    use mock_server::faults::Failure;
    let Some(fail) = d.fail.as_ref() else {
        // A cut stream cannot be cut before it exists: the attempt fails as one would,
        // without sending (and so without tokens).
        return d.cut_after.map(|_| {
            let mut a = Attempt::failed(
                now,
                Outcome::StreamCut,
                "injected stream cut (nothing was sent)",
            );
            a.injected = true;
            a
        });
    };
    let mut a = match fail {
        Failure::Refuse => Attempt::failed(
            now,
            Outcome::Connect,
            "injected outage: connection refused (nothing was sent)",
        ),
        Failure::Hang => {
            tokio::time::sleep(timeout).await;
            let mut a = Attempt::failed(
                now,
                Outcome::Timeout,
                format!("injected outage: no answer within {timeout:?} (nothing was sent)"),
            );
            a.end = Instant::now();
            a
        }
        Failure::Status {
            status,
            retry_after,
            deprecated,
        } => {
            let what = match (status, deprecated) {
                (_, true) => "model_not_found (deprecated)",
                (429, _) => "rate limited",
                _ => "server error",
            };
            let mut a = Attempt::failed(
                now,
                Outcome::from_status(*status),
                format!("injected HTTP {status}: {what} (nothing was sent)"),
            );
            a.status = Some(*status);
            a.retry_after = *retry_after;
            a
        }
    };
    a.injected = true;
    Some(a)
}

/// Sends the request on a pooled connection (or a new one) and reads the answer.
/// `answered` is stamped the moment the answer is complete, before any clean-up.
async fn exchange(
    route: &Route,
    req: Prepared,
    a: &mut Attempt,
    answered: &mut Option<Instant>,
) -> Result<(), (Outcome, String)> {
    let (mut sender, mut reused) = match route.pool.take_idle() {
        Some(s) => (s, true),
        None => (
            route
                .pool
                .connect()
                .await
                .map_err(|e| (Outcome::Connect, e.0))?,
            false,
        ),
    };
    let resp = loop {
        let sent = match sender.ready().await {
            Ok(()) => sender.send_request(route.request(&req.body)).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(r) => break r,
            // A kept-alive connection the server had already closed: the request never
            // left, so send it on a fresh connection (once).
            Err(e) if reused && (e.is_canceled() || e.is_closed()) => {
                sender = route
                    .pool
                    .connect()
                    .await
                    .map_err(|e| (Outcome::Connect, e.0))?;
                reused = false;
            }
            Err(e) => {
                return Err((
                    Outcome::Connect,
                    format!("no response: {}", http::error_chain(&e)),
                ))
            }
        }
    };
    let status = resp.status().as_u16();
    a.status = Some(status);
    let too_large = resp
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    if !(200..300).contains(&status) {
        a.retry_after = retry_after(resp.headers());
    }
    let mut body = resp.into_body();
    if !(200..300).contains(&status) {
        let outcome = Outcome::from_status(status);

        let bytes = match read_capped(&mut body, 64 << 10).await {
            Ok(b) => {
                route.pool.give_back(sender);
                b
            }
            Err(ReadError::TooLarge(_, partial)) | Err(ReadError::Broken(_, partial)) => partial,
        };
        // One line, whatever the endpoint sent (an HTML error page, say).
        let text = String::from_utf8_lossy(&bytes);
        let snippet: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        // OpenAI's and Azure's "you have used your quota" 429: not a rate limit.
        a.quota_exhausted = status == 429 && snippet.contains("insufficient_quota");
        return Err((outcome, format!("HTTP {status}: {snippet}")));
    }
    if too_large {
        return Err((
            Outcome::Protocol,
            format!("the response body is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    if req.stream {
        read_stream(route.format, &mut body, a).await?;
        *answered = Some(Instant::now());
        // Read what follows `[DONE]` (the end of the chunked body) so the connection can
        // serve the next call; a server that keeps it open loses the connection.
        if tokio::time::timeout(Duration::from_millis(100), read_capped(&mut body, 64 << 10))
            .await
            .is_ok_and(|r| r.is_ok())
        {
            route.pool.give_back(sender);
        }
        Ok(())
    } else {
        let bytes = read_capped(&mut body, MAX_BODY_BYTES)
            .await
            .map_err(|e| (e.outcome(), e.to_string()))?;
        *answered = Some(Instant::now());
        route.pool.give_back(sender);
        // No time to first token here: a whole body has no first token to time.
        let (text, usage) = route
            .format
            .parse_body(&bytes, req.keep_text)
            .map_err(|m| (Outcome::Protocol, m))?;
        a.usage = usage;
        a.text = text;
        Ok(())
    }
}

async fn read_stream(
    format: &dyn ProviderFormat,
    body: &mut Incoming,
    a: &mut Attempt,
) -> Result<(), (Outcome, String)> {
    let mut parser = sse::SseParser::new(MAX_EVENT_BYTES);
    let mut last_token: Option<Instant> = None;
    let mut finished = false;
    let mut done = false;
    let mut failure: Option<(Outcome, String)> = None;
    loop {
        let chunk = match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(c) => c,
                Err(_) => continue,
            },
            None => break,
            Some(Err(e)) => {
                return Err((
                    Outcome::StreamCut,
                    format!(
                        "the stream broke after {} deltas: {}",
                        a.deltas,
                        http::error_chain(&e)
                    ),
                ));
            }
        };
        let now = Instant::now();
        let fed = parser.feed(&chunk, |event, data| {
            let mut steps = Vec::with_capacity(2);
            if let Err(m) = format.stream_event(event, data, &mut steps) {
                failure = Some((Outcome::Protocol, m));
                return sse::Flow::Stop;
            }
            for step in steps.drain(..) {
                match step {
                    StreamStep::Delta(t) if !t.is_empty() => {
                        match last_token {
                            None => a.first_token = Some(now),
                            Some(prev) => a.itl_us.push((now - prev).as_micros() as u64),
                        }
                        last_token = Some(now);
                        a.deltas += 1;
                        if a.text.len() + t.len() <= MAX_TEXT_BYTES {
                            a.text.push_str(&t);
                        }
                    }
                    StreamStep::Delta(_) | StreamStep::Ignore => {}
                    StreamStep::Finished => finished = true,
                    // Anthropic reports the prompt at the start and the answer's
                    // running count at the end: keep the largest of each.
                    StreamStep::Usage(u) => {
                        let before = a.usage.unwrap_or_default();
                        a.usage = Some(Usage {
                            input_tokens: before.input_tokens.max(u.input_tokens),
                            output_tokens: before.output_tokens.max(u.output_tokens),
                            cached_input_tokens: before
                                .cached_input_tokens
                                .max(u.cached_input_tokens),
                        });
                    }
                    StreamStep::Done => {
                        done = true;
                        return sse::Flow::Stop;
                    }
                    StreamStep::Error(m) => {
                        failure = Some((
                            Outcome::StreamCut,
                            format!("the endpoint reported an error mid-stream: {m}"),
                        ));
                        return sse::Flow::Stop;
                    }
                }
            }
            sse::Flow::Continue
        });
        if let Err(e) = fed {
            return Err((Outcome::Protocol, e.to_string()));
        }
        if let Some(f) = failure {
            return Err(f);
        }
        if done {
            return Ok(());
        }
    }
    if finished {
        // Some servers close after the finish reason without `[DONE]`: the answer is whole.
        return Ok(());
    }
    Err((
        Outcome::StreamCut,
        format!(
            "the stream ended after {} deltas without a finish reason or [DONE]",
            a.deltas
        ),
    ))
}

/// `retry-after-ms` (Azure, OpenAI), else `retry-after` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let v = text("retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Why a body could not be read whole; carries what was read.
#[derive(Debug)]
enum ReadError {
    TooLarge(usize, Vec<u8>),
    Broken(String, Vec<u8>),
}

impl ReadError {
    fn outcome(&self) -> Outcome {
        match self {
            ReadError::TooLarge(..) => Outcome::Protocol,
            ReadError::Broken(..) => Outcome::StreamCut,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TooLarge(n, _) => write!(f, "the response body is larger than {n} bytes"),
            ReadError::Broken(m, _) => write!(f, "the response body broke off: {m}"),
        }
    }
}

/// Reads the body to its end, refusing to hold more than `cap` bytes.
async fn read_capped(body: &mut Incoming, cap: usize) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Broken(http::error_chain(&e), Vec::new()))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > cap {
                return Err(ReadError::TooLarge(cap, out));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}
