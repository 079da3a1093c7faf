//! The OpenAI chat-completions wire format, as the mock speaks it — and Azure OpenAI's,
//! which is the same but for its address, its error bodies and a first chunk of content
//! filter results: `POST /v1/chat/completions` (or
//! `/openai/deployments/{deployment}/chat/completions?api-version=…`), plain JSON or SSE
//! `chat.completion.chunk` deltas, the usage chunk when `stream_options.include_usage` is
//! set, then `data: [DONE]`.
//!
//! Request parsing and response shaping only; `chat` does the rest.

use crate::chat::{self, rate_limit_headers, Ask, Failure, Meta, Refusal, Wire};
use crate::Shared;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

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
    #[serde(default)]
    reasoning_effort: Option<String>,
    #[serde(default)]
    tools: Vec<Tool>,
}

#[derive(Deserialize)]
struct Tool {
    #[serde(default)]
    function: Option<Function>,
}

#[derive(Deserialize, Default)]
struct Function {
    #[serde(default)]
    description: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Deserialize)]
struct ToolCall {
    #[serde(default)]
    function: Function,
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
    /// An assistant message that called tools: their arguments are its text.
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
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

pub(crate) struct OpenAi;
pub(crate) struct Azure;

fn parse(body: &[u8]) -> Result<Ask, String> {
    let req: ChatRequest = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(Ask {
        messages: req
            .messages
            .iter()
            .map(|m| {
                let mut text = m.content.text().into_owned();
                for t in &m.tool_calls {
                    text.push_str(&t.function.arguments);
                }
                (m.role.clone(), text)
            })
            .collect(),
        model: req.model,
        stream: req.stream,
        include_usage: req.stream_options.is_some_and(|o| o.include_usage),
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        legacy_max_tokens: req.max_tokens.is_some(),
        effort: req
            .reasoning_effort
            .as_deref()
            .and_then(chat::effort_factor),
        thinking_budget: None,
        tools: (!req.tools.is_empty()).then(|| {
            req.tools
                .iter()
                .filter_map(|t| t.function.as_ref())
                .map(|f| f.description.as_str())
                .collect()
        }),
        tool_rounds_left: None,
    })
}

/// Usage as OpenAI reports it: reasoning tokens are completion tokens, itemized.
fn usage(meta: &Meta) -> serde_json::Value {
    let completion = meta.completion_tokens + meta.reasoning_tokens;
    let mut u = serde_json::json!({
        "prompt_tokens": meta.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": meta.prompt_tokens + completion,
    });
    if meta.reasoning_tokens > 0 {
        u["completion_tokens_details"] =
            serde_json::json!({ "reasoning_tokens": meta.reasoning_tokens });
    }
    u
}

/// The id of the call the mock makes in answer `meta`.
pub(crate) fn tool_call_id(meta: &Meta) -> String {
    format!("call_{}", meta.id)
}

fn tool_call(meta: &Meta, arguments: &str) -> serde_json::Value {
    serde_json::json!({
        "id": tool_call_id(meta), "type": "function",
        "function": { "name": "search_knowledge_base", "arguments": arguments },
    })
}

/// The reasoning as text, a word a token.
pub(crate) fn thought_text(meta: &Meta) -> String {
    (0..meta.reasoning_tokens)
        .map(|i| crate::tokens::ANSWER_WORDS[i % crate::tokens::ANSWER_WORDS.len()])
        .collect()
}

/// OpenAI's 400 for a parameter the model does not take.
fn unsupported(param: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "error": { "message": message, "type": "invalid_request_error", "param": param,
                   "code": "unsupported_parameter" }
    })
}

fn finish_reason(meta: &Meta) -> &'static str {
    if meta.tool_call {
        "tool_calls"
    } else if meta.truncated {
        "length"
    } else {
        "stop"
    }
}

fn chunk(meta: &Meta, delta: serde_json::Value, finish: Option<&str>) -> Bytes {
    let body = serde_json::json!({
        "id": meta.id, "object": "chat.completion.chunk", "created": meta.created,
        "model": meta.model,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
    });
    Bytes::from(format!("data: {body}\n\n"))
}

impl Wire for OpenAi {
    fn processing_header(&self) -> Option<&'static str> {
        Some("openai-processing-ms")
    }

    fn parse(&self, body: &[u8]) -> Result<Ask, String> {
        parse(body)
    }

    fn refusal(&self, r: &Refusal) -> (serde_json::Value, Vec<(&'static str, String)>) {
        let (message, kind, code) = match r.status {
            429 => (
                format!(
                    "Rate limit reached for {}. Please try again later.",
                    r.model
                ),
                "requests",
                "rate_limit_exceeded",
            ),
            404 | 410 => (
                format!(
                    "The model `{}` does not exist or you do not have access to it.",
                    r.model
                ),
                "invalid_request_error",
                "model_not_found",
            ),
            503 => (
                "The server is overloaded or not ready yet.".to_string(),
                "server_error",
                "service_unavailable",
            ),
            _ => (
                "The server had an error while processing your request. Sorry about that!"
                    .to_string(),
                "server_error",
                "server_error",
            ),
        };
        let body = serde_json::json!({
            "error": { "message": message, "type": kind, "param": null, "code": code }
        });
        (body, rate_limit_headers(r))
    }

    fn error_body(&self, _: StatusCode, failure: Failure, message: &str) -> serde_json::Value {
        let kind = match failure {
            Failure::Unsupported(param) => return unsupported(param, message),
            Failure::Unauthorized => {
                return serde_json::json!({ "error": {
                    "message": "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error", "param": null, "code": "invalid_api_key" } })
            }
            Failure::Invalid | Failure::NotFound => "invalid_request_error",
        };
        serde_json::json!({
            "error": { "message": message, "type": kind, "param": null, "code": null }
        })
    }

    fn whole(&self, meta: &Meta, content: &str) -> serde_json::Value {
        let mut message = match meta.tool_call {
            true => serde_json::json!({
                "role": "assistant", "content": null,
                "tool_calls": [tool_call(meta, content)],
            }),
            false => serde_json::json!({ "role": "assistant", "content": content }),
        };
        if meta.thinking_shown {
            message["reasoning_content"] = thought_text(meta).into();
        }
        serde_json::json!({
            "id": format!("chatcmpl-{}", meta.id), "object": "chat.completion",
            "created": meta.created, "model": meta.model,
            "choices": [{ "index": 0, "message": message,
                          "finish_reason": finish_reason(meta) }],
            "usage": usage(meta),
        })
    }

    fn shows(&self, visible: crate::ReasoningVisibility) -> bool {
        visible == crate::ReasoningVisibility::ReasoningContent
    }

    fn stream_thought(&self, meta: &Meta, text: &str) -> Bytes {
        chunk(meta, serde_json::json!({ "reasoning_content": text }), None)
    }

    fn stream_start(&self, meta: &Meta) -> Vec<Bytes> {
        let delta = match meta.tool_call {
            // The call's id and name come first, its arguments in the chunks after.
            true => serde_json::json!({
                "role": "assistant", "content": null,
                "tool_calls": [{ "index": 0, "id": tool_call_id(meta), "type": "function",
                                 "function": { "name": "search_knowledge_base", "arguments": "" } }],
            }),
            false => serde_json::json!({ "role": "assistant", "content": "" }),
        };
        vec![chunk(meta, delta, None)]
    }

    fn stream_token(&self, meta: &Meta, text: &str) -> Bytes {
        match meta.tool_call {
            true => chunk(
                meta,
                serde_json::json!({ "tool_calls": [{ "index": 0, "function": { "arguments": text } }] }),
                None,
            ),
            false => chunk(meta, serde_json::json!({ "content": text }), None),
        }
    }

    fn stream_end(&self, meta: &Meta, include_usage: bool) -> Vec<Bytes> {
        let mut out = vec![chunk(
            meta,
            serde_json::json!({}),
            Some(finish_reason(meta)),
        )];
        if include_usage {
            let body = serde_json::json!({
                "id": meta.id, "object": "chat.completion.chunk", "created": meta.created,
                "model": meta.model, "choices": [], "usage": usage(meta),
            });
            out.push(Bytes::from(format!("data: {body}\n\n")));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }
}

impl Wire for Azure {
    fn parse(&self, body: &[u8]) -> Result<Ask, String> {
        parse(body)
    }

    fn refusal(&self, r: &Refusal) -> (serde_json::Value, Vec<(&'static str, String)>) {
        let (code, message) = match r.status {
            // Azure's 429 code is the status as a string.
            429 => (
                "429".to_string(),
                format!(
                    "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after {} seconds.",
                    r.retry_after.map_or(1, |w| w.as_secs_f64().ceil().max(1.0) as u64)
                ),
            ),
            404 => (
                "DeploymentNotFound".to_string(),
                "The API deployment for this resource does not exist.".to_string(),
            ),
            410 => (
                "ModelDeprecated".to_string(),
                format!("The model {} has been deprecated.", r.model),
            ),
            503 => (
                "ServiceUnavailable".to_string(),
                "The service is temporarily unable to process your request.".to_string(),
            ),
            _ => (
                "InternalServerError".to_string(),
                "The server had an error processing your request.".to_string(),
            ),
        };
        let body = serde_json::json!({ "error": { "code": code, "message": message } });
        (body, rate_limit_headers(r))
    }

    fn error_body(&self, status: StatusCode, failure: Failure, message: &str) -> serde_json::Value {
        let code = match failure {
            // Azure's reasoning deployments answer this one in OpenAI's words.
            Failure::Unsupported(param) => return unsupported(param, message),
            Failure::Unauthorized => {
                return serde_json::json!({ "error": { "code": "401",
                    "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource." } })
            }
            Failure::Invalid => "BadRequest".to_string(),
            Failure::NotFound => status.as_u16().to_string(),
        };
        serde_json::json!({ "error": { "code": code, "message": message } })
    }

    fn whole(&self, meta: &Meta, content: &str) -> serde_json::Value {
        OpenAi.whole(meta, content)
    }

    fn stream_start(&self, meta: &Meta) -> Vec<Bytes> {
        // Azure opens with the prompt's content-filter results: a chunk with no choices.
        let filter = serde_json::json!({
            "choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": [{ "prompt_index": 0, "content_filter_results": {} }],
        });
        let mut out = vec![Bytes::from(format!("data: {filter}\n\n"))];
        out.extend(OpenAi.stream_start(meta));
        out
    }

    fn stream_token(&self, meta: &Meta, text: &str) -> Bytes {
        OpenAi.stream_token(meta, text)
    }

    fn region_header(&self) -> Option<&'static str> {
        Some("x-ms-region")
    }

    fn processing_header(&self) -> Option<&'static str> {
        Some("openai-processing-ms")
    }

    /// Azure takes a key in `api-key`, or an Entra ID token as a bearer.
    fn key<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        match headers.get("api-key") {
            Some(v) => v.to_str().ok(),
            None => crate::auth::bearer(headers),
        }
    }

    fn shows(&self, visible: crate::ReasoningVisibility) -> bool {
        OpenAi.shows(visible)
    }

    fn stream_thought(&self, meta: &Meta, text: &str) -> Bytes {
        OpenAi.stream_thought(meta, text)
    }

    fn stream_end(&self, meta: &Meta, include_usage: bool) -> Vec<Bytes> {
        OpenAi.stream_end(meta, include_usage)
    }
}

pub(crate) async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    chat::answer(shared, &OpenAi, chat::Arrived::new(&parts, body)).await
}

/// `/openai/deployments/{deployment}/chat/completions?api-version=…`: any deployment name
/// is served; a request without `api-version` is refused, as Azure does.
pub(crate) async fn azure_chat_completions(
    State(shared): State<Arc<Shared>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let versioned = parts.uri.query().is_some_and(|q| {
        q.split('&')
            .any(|p| p.starts_with("api-version=") && p.len() > 12)
    });
    if !versioned {
        shared.stats.request_received();
        shared.stats.request_done();
        return chat::error(
            &shared.stats,
            &Azure,
            StatusCode::NOT_FOUND,
            Failure::NotFound,
            "Resource not found",
        );
    }
    chat::answer(shared, &Azure, chat::Arrived::new(&parts, body)).await
}
