//! The OpenAI chat-completions wire format, as the mock speaks it: `POST
//! /v1/chat/completions`, plain JSON or SSE `chat.completion.chunk` deltas, the usage
//! chunk when `stream_options.include_usage` is set, then `data: [DONE]`.
//!
//! Owns request parsing and response shaping only; timing comes from `latency`, counting
//! from `tokens`, and every figure served is added to `Stats` as it leaves.

use crate::stats::Stats;
use crate::tokens::{Encoding, ANSWER_WORDS};
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::{sleep_until, Instant};

#[derive(Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Content,
}

/// OpenAI accepts a message's content as a string or as an array of typed parts.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
    #[default]
    Empty,
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: String,
}

impl Content {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Content::Text(s) => s.as_str().into(),
            Content::Parts(parts) => parts
                .iter()
                .map(|p| p.text.as_str())
                .collect::<String>()
                .into(),
            Content::Empty => "".into(),
        }
    }
}

/// Decrements the in-flight gauge however the request ends (answered, streamed, or dropped).
struct InFlight(Arc<Shared>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.stats.request_done();
    }
}

pub(crate) fn error_response(
    stats: &Stats,
    status: StatusCode,
    kind: &str,
    message: &str,
) -> Response {
    stats.status(status.as_u16());
    let body = serde_json::json!({
        "error": { "message": message, "type": kind, "param": null, "code": null }
    });
    (status, axum::Json(body)).into_response()
}

pub(crate) async fn chat_completions(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let arrival = Instant::now();
    let index = shared.stats.request_received();
    shared.stats.request_body(&body);
    let guard = InFlight(shared.clone());
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("could not parse the JSON body of your request: {e}");
            return error_response(
                &shared.stats,
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &msg,
            );
        }
    };
    let cfg = &shared.config;
    let encoding = cfg
        .encoding
        .unwrap_or_else(|| Encoding::for_model(&req.model));
    let texts: Vec<_> = req.messages.iter().map(|m| m.content.text()).collect();
    let prompt_tokens = encoding.chat_prompt_tokens(
        req.messages
            .iter()
            .zip(&texts)
            .map(|(m, t)| (m.role.as_str(), t.as_ref())),
    );
    let requested = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(cfg.default_output_tokens);
    let n = requested.min(cfg.max_output_tokens) as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let offsets = cfg.latency.token_offsets(prompt_tokens, n, &mut rng);
    let finish_reason = if n as u32 >= requested {
        "length"
    } else {
        "stop"
    };
    let meta = ResponseMeta {
        id: format!("chatcmpl-mock-{index}"),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        model: if req.model.is_empty() {
            "mock".to_string()
        } else {
            req.model.clone()
        },
        prompt_tokens,
        completion_tokens: n,
        finish_reason,
    };
    shared.stats.prompt_tokens(prompt_tokens as u64);
    if req.stream {
        // A stream's status goes out with its headers, at once.
        shared.stats.status(200);
        let include_usage = req.stream_options.is_some_and(|o| o.include_usage);
        stream_response(shared.clone(), guard, meta, arrival, offsets, include_usage)
    } else {
        if let Some(last) = offsets.last() {
            sleep_until(arrival + *last).await;
        }
        // Counted once the answer is ready: a client that gave up before then got nothing.
        shared.stats.status(200);
        shared.stats.completion_tokens(n as u64);
        drop(guard);
        let content: String = (0..n)
            .map(|i| ANSWER_WORDS[i % ANSWER_WORDS.len()])
            .collect();
        let body = serde_json::json!({
            "id": meta.id, "object": "chat.completion", "created": meta.created, "model": meta.model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": content },
                          "finish_reason": meta.finish_reason }],
            "usage": meta.usage(),
        });
        axum::Json(body).into_response()
    }
}

struct ResponseMeta {
    id: String,
    created: u64,
    model: String,
    prompt_tokens: usize,
    completion_tokens: usize,
    finish_reason: &'static str,
}

impl ResponseMeta {
    fn usage(&self) -> serde_json::Value {
        serde_json::json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        })
    }

    fn chunk(&self, delta: &str, finish_reason: Option<&str>) -> Bytes {
        let finish = finish_reason.map_or("null".to_string(), |r| format!("\"{r}\""));
        Bytes::from(format!(
            "data: {{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\
             \"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n",
            self.id,
            self.created,
            serde_json::Value::String(self.model.clone()),
        ))
    }

    fn usage_chunk(&self) -> Bytes {
        let body = serde_json::json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [], "usage": self.usage(),
        });
        Bytes::from(format!("data: {body}\n\n"))
    }
}

/// What the stream still has to send.
enum Step {
    Role,
    Token(usize),
    Finish,
    Usage,
    Done,
    End,
}

struct StreamState {
    shared: Arc<Shared>,
    _in_flight: InFlight,
    meta: ResponseMeta,
    arrival: Instant,
    offsets: Vec<Duration>,
    include_usage: bool,
    step: Step,
}

impl Drop for StreamState {
    fn drop(&mut self) {
        self.shared
            .stats
            .stream_ended(matches!(self.step, Step::End));
    }
}

fn stream_response(
    shared: Arc<Shared>,
    guard: InFlight,
    meta: ResponseMeta,
    arrival: Instant,
    offsets: Vec<Duration>,
    include_usage: bool,
) -> Response {
    shared.stats.stream_started();
    let state = StreamState {
        shared,
        _in_flight: guard,
        meta,
        arrival,
        offsets,
        include_usage,
        step: Step::Role,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        let (bytes, next) = match s.step {
            // The role chunk goes out at once, as vLLM and OpenAI do: it carries no content,
            // so a client must not take it for the first token.
            Step::Role => (
                s.meta.chunk(r#"{"role":"assistant","content":""}"#, None),
                first_token_or_finish(&s.offsets),
            ),
            Step::Token(i) => {
                sleep_until(s.arrival + s.offsets[i]).await;
                s.shared.stats.completion_tokens(1);
                let word = ANSWER_WORDS[i % ANSWER_WORDS.len()];
                let next = if i + 1 < s.offsets.len() {
                    Step::Token(i + 1)
                } else {
                    Step::Finish
                };
                (
                    s.meta.chunk(&format!("{{\"content\":\"{word}\"}}"), None),
                    next,
                )
            }
            Step::Finish => {
                let next = if s.include_usage {
                    Step::Usage
                } else {
                    Step::Done
                };
                (s.meta.chunk("{}", Some(s.meta.finish_reason)), next)
            }
            Step::Usage => (s.meta.usage_chunk(), Step::Done),
            Step::Done => (Bytes::from_static(b"data: [DONE]\n\n"), Step::End),
            Step::End => return None,
        };
        s.step = next;
        Some((Ok::<_, std::convert::Infallible>(bytes), s))
    });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn first_token_or_finish(offsets: &[Duration]) -> Step {
    if offsets.is_empty() {
        Step::Finish
    } else {
        Step::Token(0)
    }
}
