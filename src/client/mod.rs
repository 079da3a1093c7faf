//! The client: turns a `CallSpec` into an HTTP request for its provider, sends it, and
//! classifies what comes back into an `Attempt` (timings, tokens, outcome).
//!
//! Request bodies are built by `prepare`, before the timed region; `send` only takes
//! timestamps while bytes move. A misbehaving endpoint — invalid JSON, a truncated
//! stream, a 50 MB body, a hang — ends as a classified outcome, never a stall or panic.

mod openai;
pub mod outcome;
pub mod sse;

pub use outcome::Outcome;

use crate::plan::{Auth, CredentialRef, EndpointPlan, Target};
use crate::scenario::model::Provider;
use crate::workload::CallSpec;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use std::fmt;
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
    let r = match &e.auth {
        Auth::None => return Ok(None),
        Auth::Bearer(r) => r,
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

/// A request ready to go: nothing left to compute once the clock starts.
pub struct Prepared {
    pub url: reqwest::Url,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub stream: bool,
}

/// Token usage as the endpoint reported it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
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
    fn prepare(
        &self,
        endpoint: &EndpointPlan,
        base_url: &str,
        secret: Option<&Secret>,
        call: &CallSpec,
    ) -> Prepared;
    /// Decodes a whole (non-streaming) response body into its text and usage.
    fn parse_body(&self, body: &[u8]) -> Result<(String, Option<Usage>), String>;
    /// Decodes one SSE event; may yield several steps (a delta and a usage at once).
    fn stream_event<'a>(
        &self,
        event: &str,
        data: &'a str,
        out: &mut Vec<StreamStep<'a>>,
    ) -> Result<(), String>;
}

pub fn provider(p: Provider) -> &'static dyn ProviderFormat {
    match p {
        // The plan refuses other providers until their formats land.
        Provider::Openai | Provider::AzureOpenai | Provider::Anthropic => &openai::OpenAi,
    }
}

/// An endpoint the run can send to: where, how, and with which secret.
pub struct Route {
    pub endpoint: EndpointPlan,
    pub base_url: String,
    pub secret: Option<Secret>,
    format: &'static dyn ProviderFormat,
}

impl Route {
    pub fn new(endpoint: EndpointPlan, base_url: String, secret: Option<Secret>) -> Route {
        let format = provider(endpoint.provider);
        Route {
            endpoint,
            base_url,
            secret,
            format,
        }
    }

    pub fn prepare(&self, call: &CallSpec) -> Prepared {
        self.format
            .prepare(&self.endpoint, &self.base_url, self.secret.as_ref(), call)
    }

    /// The URL the route sends to (for messages; never contains a secret).
    pub fn describe(&self) -> String {
        match &self.endpoint.target {
            Target::Mock(_) => format!("{} (embedded mock)", self.base_url),
            Target::Url(u) => u.clone(),
        }
    }
}

/// Sends attempts. The engine sees only this trait: the HTTP client implements it, and
/// tests implement it with a fake endpoint that runs under tokio's paused clock.
pub trait Transport: Send + Sync {
    fn send<'a>(
        &'a self,
        route: &'a Route,
        req: Prepared,
        timeout: Duration,
    ) -> BoxFuture<'a, Attempt>;
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

impl Transport for Client {
    fn send<'a>(
        &'a self,
        route: &'a Route,
        req: Prepared,
        timeout: Duration,
    ) -> BoxFuture<'a, Attempt> {
        Box::pin(Client::send(self, route, req, timeout))
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

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    pub fn new() -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("llm-drill/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Client { http })
    }

    /// Sends one attempt and classifies it; never returns an error.
    pub async fn send(&self, route: &Route, req: Prepared, timeout: Duration) -> Attempt {
        let mut a = Attempt::begin(Instant::now());
        let result = tokio::time::timeout(timeout, self.exchange(route.format, req, &mut a)).await;
        a.end = Instant::now();
        match result {
            Ok(Ok(())) => {}
            Ok(Err((outcome, msg))) => {
                a.outcome = outcome;
                a.error = Some(msg);
            }
            Err(_) => {
                a.outcome = Outcome::Timeout;
                a.error = Some(format!("no complete answer within {timeout:?}"));
            }
        }
        a
    }

    async fn exchange(
        &self,
        format: &dyn ProviderFormat,
        req: Prepared,
        a: &mut Attempt,
    ) -> Result<(), (Outcome, String)> {
        let stream = req.stream;
        let resp = self
            .http
            .post(req.url)
            .headers(req.headers)
            .body(req.body)
            .send()
            .await
            .map_err(|e| (classify_send_error(&e), error_chain(&e)))?;
        let status = resp.status().as_u16();
        a.status = Some(status);
        if !(200..300).contains(&status) {
            let outcome = Outcome::from_status(status);
            let body = read_capped(resp, 64 << 10).await.unwrap_or_default();
            // One line, whatever the endpoint sent (an HTML error page, say).
            let text = String::from_utf8_lossy(&body);
            let snippet: String = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect();
            return Err((outcome, format!("HTTP {status}: {snippet}")));
        }
        if stream {
            read_stream(format, resp, a).await
        } else {
            let body = read_capped(resp, MAX_BODY_BYTES)
                .await
                .map_err(|e| (e.outcome(), e.to_string()))?;
            // No time to first token here: a whole body has no first token to time.
            let (text, usage) = format
                .parse_body(&body)
                .map_err(|m| (Outcome::Protocol, m))?;
            a.usage = usage;
            a.text = text;
            Ok(())
        }
    }
}

async fn read_stream(
    format: &dyn ProviderFormat,
    mut resp: reqwest::Response,
    a: &mut Attempt,
) -> Result<(), (Outcome, String)> {
    let mut parser = sse::SseParser::new(MAX_EVENT_BYTES);
    let mut last_token: Option<Instant> = None;
    let mut finished = false;
    let mut done = false;
    let mut failure: Option<(Outcome, String)> = None;
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                return Err((
                    Outcome::StreamCut,
                    format!(
                        "the stream broke after {} deltas: {}",
                        a.deltas,
                        error_chain(&e)
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
                    StreamStep::Usage(u) => a.usage = Some(u),
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

#[derive(Debug)]
enum ReadError {
    TooLarge(usize),
    Broken(String),
}

impl ReadError {
    fn outcome(&self) -> Outcome {
        match self {
            ReadError::TooLarge(_) => Outcome::Protocol,
            ReadError::Broken(_) => Outcome::StreamCut,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TooLarge(n) => write!(f, "the response body is larger than {n} bytes"),
            ReadError::Broken(m) => write!(f, "the response body broke off: {m}"),
        }
    }
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n as usize > cap) {
        return Err(ReadError::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ReadError::Broken(error_chain(&e)))?
    {
        if body.len() + chunk.len() > cap {
            return Err(ReadError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify_send_error(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else if e.is_connect() || e.is_request() {
        Outcome::Connect
    } else {
        Outcome::Protocol
    }
}

/// The error with its causes, e.g. "error sending request: connection refused".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
