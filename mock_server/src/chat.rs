//! What every wire format of the mock shares: read the request into an `Ask`, count its
//! prompt with the tokenizer, draw the answer's timings from the seeded latency model,
//! then answer whole or as a stream, paced token by token. Each provider's module
//! (`openai`, `anthropic`) only says how requests, answers, stream events and errors look
//! on its wire.
//!
//! Every figure served is added to `Stats` as it leaves.

use crate::count;
use crate::faults::{self, Decision};
use crate::stats::Stats;
use crate::stream::{stream, StreamPlan};
use crate::tokens::{Encoding, ANSWER_WORDS};
use crate::Shared;
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::{sleep_until, Instant};

/// A chat request, whatever its wire format.
pub(crate) struct Ask {
    pub model: String,
    /// (role, text) in prompt order; a system prompt sent apart comes first as "system".
    pub messages: Vec<(String, String)>,
    pub stream: bool,
    pub include_usage: bool,
    pub max_tokens: Option<u32>,
    /// The cap came as `max_tokens` on OpenAI's wire, which its reasoning models refuse.
    pub legacy_max_tokens: bool,
    /// How much reasoning the request asks for: OpenAI's `reasoning_effort` as a factor
    /// of the configured tokens, and Anthropic's thinking budget as their cap.
    pub effort: Option<f64>,
    pub thinking_budget: Option<u32>,
    /// The description of the tools offered, when any were (counted as prompt).
    pub tools: Option<String>,
    /// How many tool rounds the client's turn has left (llm-drill says so in the
    /// `x-llm-drill-tool-rounds-left` header; without it the mock draws).
    pub tool_rounds_left: Option<u32>,
}

/// The header llm-drill tells the mock with how many tool rounds its turn has left.
pub(crate) const TOOL_ROUNDS_LEFT: &str = "x-llm-drill-tool-rounds-left";

/// The tool call the mock makes: its arguments in the pieces it streams them in, each a
/// whole number of tokens.
fn tool_call_pieces(words: usize) -> Vec<&'static str> {
    let mut pieces = vec!["{\"query\":\""];
    pieces.extend((0..words).map(|i| ANSWER_WORDS[i % ANSWER_WORDS.len()]));
    pieces.push("\"}");
    pieces
}

/// The share of the configured reasoning (which is `medium`'s) that an effort asks for.
pub(crate) fn effort_factor(effort: &str) -> Option<f64> {
    match effort {
        "minimal" => Some(0.25),
        "low" => Some(0.5),
        "medium" => Some(1.0),
        "high" => Some(2.0),
        _ => None,
    }
}

/// Kinds of error a wire format can answer with, each in its provider's own body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The request itself is wrong (400).
    Invalid,
    /// No such path or deployment (404).
    NotFound,
    /// A parameter this model does not take (400), named.
    Unsupported(&'static str),
    /// No valid key (401).
    Unauthorized,
}

/// What a refusal is about.
pub(crate) struct Refusal<'a> {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub model: &'a str,
}

/// The headers a 429 carries on OpenAI's and Azure's wire: the wait, in seconds and in
/// milliseconds, and nothing left.
pub(crate) fn rate_limit_headers(r: &Refusal) -> Vec<(&'static str, String)> {
    match r.retry_after {
        Some(wait) if r.status == 429 => vec![
            (
                "retry-after",
                wait.as_secs_f64().ceil().max(1.0).to_string(),
            ),
            ("retry-after-ms", wait.as_millis().to_string()),
            ("x-ratelimit-remaining-requests", "0".into()),
            ("x-ratelimit-remaining-tokens", "0".into()),
        ],
        _ => vec![],
    }
}

fn refuse(stats: &Stats, wire: &dyn Wire, r: &Refusal) -> Response {
    let (body, mut headers) = wire.refusal(r);
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    headers.extend(wire.error_headers(status));
    with_headers(json_error(stats, status, body), headers)
}

fn with_headers(mut resp: Response, headers: Vec<(&'static str, String)>) -> Response {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut()
                .insert(header::HeaderName::from_static(name), v);
        }
    }
    resp
}

/// Everything the answer says about itself.
#[derive(Default)]
pub(crate) struct Meta {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// The answer was cut by `max_tokens`.
    pub truncated: bool,
    /// Reasoning tokens before the answer (billed as completion tokens).
    pub reasoning_tokens: usize,
    /// The reasoning is shown in this wire's own form (a stream's reasoning deltas, a
    /// whole answer's reasoning block).
    pub thinking_shown: bool,
    /// The answer is a call of the offered tool (its arguments are the pieces).
    pub tool_call: bool,
    /// When the request arrived (Bedrock reports its latency in the answer).
    pub received: Option<Instant>,
    /// A tool call's arguments, whole (Gemini sends them in one piece).
    pub tool_arguments: String,
}

/// A chat request as it arrived.
pub(crate) struct Arrived<'a> {
    pub parts: &'a axum::http::request::Parts,
    pub body: Bytes,
    /// The model, where the wire names it in the path (Bedrock's `/model/{id}/...`).
    pub model: Option<String>,
}

impl Arrived<'_> {
    pub(crate) fn new(parts: &axum::http::request::Parts, body: Bytes) -> Arrived<'_> {
        Arrived {
            parts,
            body,
            model: None,
        }
    }
}

/// One provider's wire format.
pub(crate) trait Wire: Send + Sync + 'static {
    fn parse(&self, body: &[u8]) -> Result<Ask, String>;
    /// The answer to a request its credential does not let in: 401 and the provider's
    /// own body, unless the wire says otherwise (Bedrock's 403s).
    fn denied(
        &self,
        _why: &crate::auth::Denied,
    ) -> (StatusCode, serde_json::Value, Vec<(&'static str, String)>) {
        (
            StatusCode::UNAUTHORIZED,
            self.error_body(StatusCode::UNAUTHORIZED, Failure::Unauthorized, ""),
            Vec::new(),
        )
    }
    /// Headers every error of this status carries (Bedrock's `x-amzn-ErrorType`).
    fn error_headers(&self, _status: StatusCode) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// The SigV4 service its requests are signed for, when they are (Bedrock's).
    fn signing_service(&self) -> Option<&'static str> {
        None
    }
    /// The content type of its streams.
    fn stream_content_type(&self) -> &'static str {
        "text/event-stream"
    }
    /// Whether every token event is the same bytes but for its text, so that it can be
    /// made from a template; not where frames carry lengths and checksums.
    fn templated(&self) -> bool {
        true
    }
    /// The provider's error body for a request it cannot serve.
    fn error_body(&self, status: StatusCode, failure: Failure, message: &str) -> serde_json::Value;
    /// A refusal in the provider's own body: 429 (asking to wait `retry_after`), a 5xx,
    /// or, for a model that is gone, 404/410 `model_not_found`; and its headers.
    fn refusal(&self, refusal: &Refusal) -> (serde_json::Value, Vec<(&'static str, String)>);
    /// The whole answer as one JSON body.
    fn whole(&self, meta: &Meta, content: &str) -> serde_json::Value;
    /// Events sent at once, before the first token.
    fn stream_start(&self, meta: &Meta) -> Vec<Bytes>;
    fn stream_token(&self, meta: &Meta, text: &str) -> Bytes;
    /// Events after the last token, ending the stream.
    fn stream_end(&self, meta: &Meta, include_usage: bool) -> Vec<Bytes>;
    /// Whether this wire shows reasoning in this form.
    fn shows(&self, _visible: crate::ReasoningVisibility) -> bool {
        false
    }
    /// One reasoning token, shown.
    fn stream_thought(&self, _meta: &Meta, _text: &str) -> Bytes {
        Bytes::new()
    }
    /// Events between the last reasoning token shown and the first answer token.
    fn stream_thought_end(&self, _meta: &Meta) -> Vec<Bytes> {
        Vec::new()
    }
    /// The key a request carries, in this provider's header.
    fn key<'a>(&self, headers: &'a axum::http::HeaderMap) -> Option<&'a str> {
        crate::auth::bearer(headers)
    }
    /// The header that says which region served an answer (Azure's `x-ms-region`).
    fn region_header(&self) -> Option<&'static str> {
        None
    }
    /// The header that carries the server's own processing time, in milliseconds
    /// (OpenAI's and Azure OpenAI's `openai-processing-ms`).
    fn processing_header(&self) -> Option<&'static str> {
        None
    }
}

/// The region that serves request `index`, by the configured shares (its index in
/// `mock.served_regions`); drawn apart from the answer's own draws.
fn served_region(cfg: &crate::MockConfig, index: u64) -> Option<usize> {
    let total: f64 = cfg.served_regions.iter().map(|(_, w)| w).sum();
    if cfg.served_regions.is_empty() || total <= 0.0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ index.wrapping_mul(0x4E61_6D65));
    let mut pick = rand::Rng::random::<f64>(&mut rng) * total;
    for (i, (_, w)) in cfg.served_regions.iter().enumerate() {
        if pick < *w {
            return Some(i);
        }
        pick -= w;
    }
    Some(cfg.served_regions.len() - 1)
}

/// Says on `resp` how long the mock took from the request's arrival to this answer's
/// headers (the whole answer, when it is not streamed), where the wire has a header
/// for it, and records the value it sent.
fn mark_processing(resp: &mut Response, wire: &dyn Wire, shared: &Shared, received: Instant) {
    let Some(name) = wire.processing_header() else {
        return;
    };
    let ms = received.elapsed().as_secs_f64() * 1000.0;
    let value = format!("{ms:.3}");
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut()
            .insert(header::HeaderName::from_static(name), v);
        shared.stats.processing(value.parse().unwrap_or(ms));
    }
}

/// Says on `resp` which region served it, where the wire has a header for it.
fn mark_region(resp: &mut Response, wire: &dyn Wire, shared: &Shared, region: Option<usize>) {
    if let (Some(name), Some(i)) = (wire.region_header(), region) {
        if let Ok(v) = HeaderValue::from_str(&shared.config.served_regions[i].0) {
            resp.headers_mut()
                .insert(header::HeaderName::from_static(name), v);
            shared.stats.served_from(i);
        }
    }
}

/// Decrements the in-flight gauge however the request ends (answered, streamed, or dropped).
pub(crate) struct InFlight(pub(crate) Arc<Shared>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.stats.request_done();
    }
}

pub(crate) async fn answer(
    shared: Arc<Shared>,
    wire: &'static dyn Wire,
    req: Arrived<'_>,
) -> Response {
    let arrival = Instant::now();
    let received = arrival;
    let index = shared.stats.request_received();
    let (body, headers) = (&req.body, &req.parts.headers);
    shared.stats.request_body(body);
    let guard = InFlight(shared.clone());
    if let Err(why) = crate::auth::authorized(&shared, wire, &req) {
        let (status, body, headers) = wire.denied(&why);
        return with_headers(json_error(&shared.stats, status, body), headers);
    }
    let ask = match wire.parse(body) {
        Ok(a) => a,
        Err(e) => {
            let msg = format!("could not parse the JSON body of your request: {e}");
            return error(
                &shared.stats,
                wire,
                StatusCode::BAD_REQUEST,
                Failure::Invalid,
                &msg,
            );
        }
    };
    let mut ask = ask;
    if let Some(model) = req.model {
        ask.model = model;
    }
    ask.tool_rounds_left = headers
        .get(TOOL_ROUNDS_LEFT)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let cfg = &shared.config;
    if cfg.model_family == crate::ModelFamily::Reasoning && ask.legacy_max_tokens {
        return error(
            &shared.stats,
            wire,
            StatusCode::BAD_REQUEST,
            Failure::Unsupported("max_tokens"),
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        );
    }
    let encoding = cfg
        .encoding
        .unwrap_or_else(|| Encoding::for_model(&ask.model));
    let prompt_tokens = count::chat_prompt_tokens(
        encoding,
        ask.messages
            .iter()
            .map(|(role, text)| (role.as_str(), text.as_str())),
    ) + ask.messages.len() * cfg.template_tokens_per_message as usize
        + ask
            .tools
            .as_deref()
            .map_or(0, |t| count::count(encoding, t));
    let requested = ask.max_tokens.unwrap_or(cfg.default_output_tokens);
    let decision = if cfg.faults.is_empty() {
        Decision::default()
    } else {
        cfg.faults.decide(shared.clock.elapsed(), index)
    };
    for kind in &decision.hits {
        shared.stats.fault(kind);
    }
    let refusal = |status, retry_after| Refusal {
        status,
        retry_after,
        model: &ask.model,
    };
    match &decision.fail {
        // Answer nothing, until the client gives up.
        Some(faults::Failure::Hang) => std::future::pending::<()>().await,
        // The gate closes connections during a refuse outage; a request that got
        // through as it began is turned away as unavailable.
        Some(faults::Failure::Refuse) => {
            return refuse(&shared.stats, wire, &refusal(503, None));
        }
        Some(faults::Failure::Status {
            status,
            retry_after,
            ..
        }) => {
            return refuse(&shared.stats, wire, &refusal(*status, *retry_after));
        }
        None => {}
    }
    if let Some(limiter) = &shared.limiter {
        if let Err(wait) = limiter.admit(prompt_tokens as u64 + requested as u64) {
            shared.stats.fault("rate_limiter");
            return refuse(&shared.stats, wire, &refusal(429, Some(wait)));
        }
    }
    // A slot, or a wait for one; the answer's times then count from the prefill's end.
    let mut arrival = arrival;
    let mut paced = None;
    if let Some(cap) = &shared.capacity {
        let Some(seat) = cap.admit().await else {
            shared.stats.fault("capacity");
            let r = match cap.on_full() {
                crate::OnFull::Unavailable => refusal(503, None),
                _ => refusal(429, Some(Duration::from_secs(1))),
            };
            return refuse(&shared.stats, wire, &r);
        };
        arrival = Instant::now() + cap.prefill(prompt_tokens);
        paced = Some(crate::capacity::Paced::new(seat));
    }
    // Offered a tool, the model calls it while the turn has rounds left (or, when the
    // client does not say, with the configured chance).
    let tool_call = ask.tools.is_some()
        && match ask.tool_rounds_left {
            Some(left) => left > 0,
            None => {
                let mut coin = ChaCha8Rng::seed_from_u64(cfg.seed ^ index.wrapping_mul(0x7001));
                rand::Rng::random::<f64>(&mut coin) < cfg.tool_call_probability
            }
        };
    let pieces = match tool_call {
        true => tool_call_pieces((requested.min(cfg.max_output_tokens) as usize).min(8)),
        false => Vec::new(),
    };
    let n = match tool_call {
        true => pieces.len(),
        false => requested.min(cfg.max_output_tokens) as usize,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut times = cfg.latency.token_times(prompt_tokens, n, &mut rng);
    times.delay(decision.add_ttft);
    // A cut answer stops after `cut` tokens (half of it when the fault names no count).
    let cut = decision.cut_after.map(|k| {
        if k == u32::MAX {
            n / 2
        } else {
            (k as usize).min(n)
        }
    });
    let mut meta = Meta {
        id: format!("mock-{index}"),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        model: if ask.model.is_empty() {
            "mock".to_string()
        } else {
            ask.model.clone()
        },
        prompt_tokens,
        completion_tokens: match tool_call {
            true => pieces.iter().map(|p| count::count(encoding, p)).sum(),
            false => n,
        },
        truncated: !tool_call
            && ask
                .max_tokens
                .is_some_and(|m| n as u32 >= m && cut_at_limit(cfg.stop_probability, &mut rng)),
        reasoning_tokens: 0,
        thinking_shown: false,
        tool_call,
        received: Some(received),
        tool_arguments: pieces.concat(),
    };
    // Reasoning comes first: its tokens, then the answer's, later by its length.
    let thoughts = match &cfg.reasoning {
        Some(r) => {
            let drawn = r.tokens.sample_count(&mut rng) as f64 * ask.effort.unwrap_or(1.0);
            let cap = ask.thinking_budget.map_or(usize::MAX, |b| b as usize);
            meta.reasoning_tokens = (drawn.round() as usize).min(cap);
            meta.thinking_shown = meta.reasoning_tokens > 0 && wire.shows(r.visible);
            let rate = if r.tokens_per_second > 0.0 {
                r.tokens_per_second
            } else {
                cfg.latency.tokens_per_second.max(1e-9)
            };
            let start = times.peek().unwrap_or_default();
            let thought = |k: usize| start + Duration::from_secs_f64(k as f64 / rate);
            let shift = thought(meta.reasoning_tokens) - start;
            times.delay(shift);
            match meta.thinking_shown {
                true => (0..meta.reasoning_tokens).map(thought).collect(),
                false => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    shared.stats.prompt_tokens(prompt_tokens as u64);
    if ask.stream {
        // A stream's status goes out with its headers, at once.
        shared.stats.status(200);
        let plan = StreamPlan {
            times,
            pieces: pieces
                .iter()
                .map(|p| (*p, count::count(encoding, p) as u64))
                .collect(),
            thoughts,
            include_usage: ask.include_usage,
            cut,
            add_end: decision.add_end,
        };
        let region = served_region(cfg, index);
        let mut resp = stream(shared.clone(), wire, guard, meta, arrival, plan, paced);
        mark_region(&mut resp, wire, &shared, region);
        mark_processing(&mut resp, wire, &shared, received);
        resp
    } else {
        match paced.as_mut() {
            Some(p) => {
                let mut due = Instant::now();
                while let Some(offset) = times.peek() {
                    due = p.token(arrival + offset, times.gap_before_next()).await;
                    times.next();
                }
                shared.stats.lag.record(due.elapsed());
                until(Instant::now() + decision.add_end).await;
            }
            None => {
                if let Some(last) = times.last() {
                    let due = arrival + last + decision.add_end;
                    until(due).await;
                    shared.stats.lag.record(due.elapsed());
                }
            }
        }
        // The slot is free once the answer is made.
        drop(paced);
        // Counted once the answer is ready: a client that gave up before then got nothing.
        shared.stats.status(200);
        shared.stats.completion_tokens(match (tool_call, cut) {
            (true, None) => meta.completion_tokens as u64,
            _ => cut.unwrap_or(n) as u64,
        });
        shared.stats.reasoning_tokens(meta.reasoning_tokens as u64);
        drop(guard);
        let content: String = match tool_call {
            true => pieces.concat(),
            false => (0..n)
                .map(|i| ANSWER_WORDS[i % ANSWER_WORDS.len()])
                .collect(),
        };
        let whole = wire.whole(&meta, &content);
        match cut {
            None => {
                let mut resp = axum::Json(whole).into_response();
                mark_region(&mut resp, wire, &shared, served_region(cfg, index));
                mark_processing(&mut resp, wire, &shared, received);
                resp
            }
            Some(_) => {
                shared.stats.stream_cut();
                crate::stream::broken_off(&whole.to_string())
            }
        }
    }
}

/// An SSE event with a name (Anthropic's framing).
pub(crate) fn named_event(name: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// `wire`'s error body with the given status, counted in the stats.
pub(crate) fn error(
    stats: &Stats,
    wire: &dyn Wire,
    status: StatusCode,
    failure: Failure,
    message: &str,
) -> Response {
    with_headers(
        json_error(stats, status, wire.error_body(status, failure, message)),
        wire.error_headers(status),
    )
}

/// A JSON error response with the given status, counted in the stats.
pub(crate) fn json_error(stats: &Stats, status: StatusCode, body: serde_json::Value) -> Response {
    stats.status(status.as_u16());
    (status, axum::Json(body)).into_response()
}

/// Whether an answer that reached its `max_tokens` was cut there rather than ending on
/// its own. Draws only when both can happen, so a mock that always stops keeps every
/// other draw of its seed.
fn cut_at_limit(stop_probability: f64, rng: &mut impl rand::Rng) -> bool {
    if stop_probability >= 1.0 {
        return false;
    }
    rng.random::<f64>() >= stop_probability
}

/// Waits until `at`, or not at all when it has passed: tokio rounds a timer up to its next
/// millisecond tick, which would make every zero-delay answer about a millisecond late.
pub(crate) async fn until(at: Instant) {
    if at > Instant::now() {
        sleep_until(at).await;
    }
}
