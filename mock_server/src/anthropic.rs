//! Anthropic's Messages API, as the mock speaks it: `POST /v1/messages` with the system
//! prompt as a top-level field, a whole `message` body or typed SSE events
//! (`message_start`, `content_block_start`, `ping`, `content_block_delta`...,
//! `content_block_stop`, `message_delta` with the cumulative output tokens,
//! `message_stop`), and Anthropic's error bodies.
//!
//! Request parsing and response shaping only; `chat` does the rest.

use crate::chat::{self, named_event, Ask, Failure, Meta, Refusal, Wire};
use crate::Shared;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
struct MessagesRequest {
    #[serde(default)]
    model: String,
    max_tokens: Option<u32>,
    #[serde(default)]
    system: Option<Text>,
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    thinking: Option<ThinkingRequest>,
    #[serde(default)]
    tools: Vec<ToolDefinition>,
}

#[derive(Deserialize)]
struct ThinkingRequest {
    #[serde(default)]
    budget_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Text,
}

/// A string, or an array of typed blocks of which the text ones count.
#[derive(Deserialize)]
#[serde(untagged)]
enum Text {
    Plain(String),
    Blocks(Vec<Block>),
}

#[derive(Deserialize)]
struct Block {
    #[serde(default)]
    text: String,
    /// A `tool_use` block's arguments.
    #[serde(default)]
    input: Option<serde_json::Value>,
    /// A `tool_result` block's result: a string, or text blocks.
    #[serde(default)]
    content: Option<serde_json::Value>,
}

impl Block {
    /// What the block says, as the prompt counts it: its text, a tool call's arguments
    /// (JSON), or a tool's result.
    fn into_text(self) -> String {
        match (self.input, self.content) {
            (Some(input), _) => input.to_string(),
            (_, Some(serde_json::Value::String(s))) => s,
            (_, Some(serde_json::Value::Array(parts))) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect(),
            _ => self.text,
        }
    }
}

#[derive(Deserialize)]
struct ToolDefinition {
    #[serde(default)]
    description: String,
}

pub(crate) struct Anthropic;

/// The text block comes after the thinking block when the thinking is shown.
fn text_index(meta: &Meta) -> usize {
    usize::from(meta.thinking_shown)
}

/// The block the answer streams in: text, or the tool call.
fn answer_block(meta: &Meta) -> serde_json::Value {
    match meta.tool_call {
        true => serde_json::json!({
            "type": "tool_use", "id": crate::openai::tool_call_id(meta),
            "name": "search_knowledge_base", "input": {},
        }),
        false => serde_json::json!({ "type": "text", "text": "" }),
    }
}

/// Anthropic bills thinking as output tokens, in one count.
fn output_tokens(meta: &Meta) -> usize {
    meta.completion_tokens + meta.reasoning_tokens
}

fn stop_reason(meta: &Meta) -> &'static str {
    if meta.tool_call {
        "tool_use"
    } else if meta.truncated {
        "max_tokens"
    } else {
        "end_turn"
    }
}

impl Wire for Anthropic {
    fn refusal(&self, r: &Refusal) -> (serde_json::Value, Vec<(&'static str, String)>) {
        let (kind, message) = match r.status {
            429 => (
                "rate_limit_error",
                "Number of requests has exceeded your rate limit. Please try again later."
                    .to_string(),
            ),
            404 | 410 => ("not_found_error", format!("model: {}", r.model)),
            529 | 503 => ("overloaded_error", "Overloaded".to_string()),
            _ => ("api_error", "Internal server error".to_string()),
        };
        let mut headers = Vec::new();
        if let (429, Some(wait)) = (r.status, r.retry_after) {
            headers.push((
                "retry-after",
                wait.as_secs_f64().ceil().max(1.0).to_string(),
            ));
            headers.push(("anthropic-ratelimit-requests-remaining", "0".to_string()));
        }
        let body =
            serde_json::json!({ "type": "error", "error": { "type": kind, "message": message } });
        (body, headers)
    }

    fn parse(&self, body: &[u8]) -> Result<Ask, String> {
        let req: MessagesRequest = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let max_tokens = req.max_tokens.ok_or("max_tokens: Field required")?;
        // Each system block counts as a system message, so the count matches the chat
        // recipe llm-drill plans with.
        let mut messages: Vec<(String, String)> = match req.system {
            None => vec![],
            Some(Text::Plain(s)) => vec![("system".into(), s)],
            Some(Text::Blocks(b)) => b.into_iter().map(|b| ("system".into(), b.text)).collect(),
        };
        for m in req.messages {
            let text = match m.content {
                Text::Plain(s) => s,
                Text::Blocks(b) => b.into_iter().map(Block::into_text).collect(),
            };
            messages.push((m.role, text));
        }
        Ok(Ask {
            model: req.model,
            messages,
            stream: req.stream,
            // Anthropic always reports usage in its stream.
            include_usage: true,
            max_tokens: Some(max_tokens),
            legacy_max_tokens: false,
            effort: None,
            thinking_budget: req.thinking.and_then(|t| t.budget_tokens),
            tools: (!req.tools.is_empty())
                .then(|| req.tools.iter().map(|t| t.description.as_str()).collect()),
            tool_rounds_left: None,
        })
    }

    fn error_body(&self, _: StatusCode, failure: Failure, message: &str) -> serde_json::Value {
        let (kind, message) = match failure {
            Failure::Invalid | Failure::Unsupported(_) => ("invalid_request_error", message),
            Failure::NotFound => ("not_found_error", message),
            Failure::Unauthorized => ("authentication_error", "invalid x-api-key"),
        };
        serde_json::json!({ "type": "error", "error": { "type": kind, "message": message } })
    }

    fn whole(&self, meta: &Meta, content: &str) -> serde_json::Value {
        let mut blocks = Vec::new();
        if meta.thinking_shown {
            blocks.push(serde_json::json!({
                "type": "thinking", "thinking": crate::openai::thought_text(meta),
                "signature": "mock",
            }));
        }
        blocks.push(match meta.tool_call {
            true => serde_json::json!({
                "type": "tool_use", "id": crate::openai::tool_call_id(meta),
                "name": "search_knowledge_base",
                "input": serde_json::from_str::<serde_json::Value>(content).unwrap_or_default(),
            }),
            false => serde_json::json!({ "type": "text", "text": content }),
        });
        serde_json::json!({
            "id": format!("msg_{}", meta.id), "type": "message", "role": "assistant",
            "model": meta.model,
            "content": blocks,
            "stop_reason": stop_reason(meta), "stop_sequence": null,
            "usage": { "input_tokens": meta.prompt_tokens, "output_tokens": output_tokens(meta) },
        })
    }

    fn shows(&self, visible: crate::ReasoningVisibility) -> bool {
        visible == crate::ReasoningVisibility::AnthropicThinking
    }

    fn key<'a>(&self, headers: &'a axum::http::HeaderMap) -> Option<&'a str> {
        headers.get("x-api-key")?.to_str().ok()
    }

    fn stream_thought(&self, _meta: &Meta, text: &str) -> Bytes {
        named_event(
            "content_block_delta",
            &serde_json::json!({
                "type": "content_block_delta", "index": 0,
                "delta": { "type": "thinking_delta", "thinking": text },
            }),
        )
    }

    fn stream_thought_end(&self, meta: &Meta) -> Vec<Bytes> {
        vec![
            named_event(
                "content_block_delta",
                &serde_json::json!({
                    "type": "content_block_delta", "index": 0,
                    "delta": { "type": "signature_delta", "signature": "mock" },
                }),
            ),
            named_event(
                "content_block_stop",
                &serde_json::json!({ "type": "content_block_stop", "index": 0 }),
            ),
            named_event(
                "content_block_start",
                &serde_json::json!({
                    "type": "content_block_start", "index": 1,
                    "content_block": answer_block(meta),
                }),
            ),
        ]
    }

    fn stream_start(&self, meta: &Meta) -> Vec<Bytes> {
        let start = serde_json::json!({
            "type": "message_start",
            "message": {
                "id": format!("msg_{}", meta.id), "type": "message", "role": "assistant",
                "content": [], "model": meta.model, "stop_reason": null, "stop_sequence": null,
                "usage": { "input_tokens": meta.prompt_tokens, "output_tokens": 1 },
            },
        });
        vec![
            named_event("message_start", &start),
            named_event(
                "content_block_start",
                &serde_json::json!({
                    "type": "content_block_start", "index": 0,
                    "content_block": match meta.thinking_shown {
                        true => serde_json::json!({ "type": "thinking", "thinking": "" }),
                        false => answer_block(meta),
                    },
                }),
            ),
            named_event("ping", &serde_json::json!({ "type": "ping" })),
        ]
    }

    fn stream_token(&self, meta: &Meta, text: &str) -> Bytes {
        named_event(
            "content_block_delta",
            &serde_json::json!({
                "type": "content_block_delta", "index": text_index(meta),
                "delta": match meta.tool_call {
                    true => serde_json::json!({ "type": "input_json_delta", "partial_json": text }),
                    false => serde_json::json!({ "type": "text_delta", "text": text }),
                },
            }),
        )
    }

    fn stream_end(&self, meta: &Meta, _include_usage: bool) -> Vec<Bytes> {
        vec![
            named_event(
                "content_block_stop",
                &serde_json::json!({ "type": "content_block_stop", "index": text_index(meta) }),
            ),
            named_event(
                "message_delta",
                &serde_json::json!({
                    "type": "message_delta",
                    "delta": { "stop_reason": stop_reason(meta), "stop_sequence": null },
                    "usage": { "output_tokens": output_tokens(meta) },
                }),
            ),
            named_event(
                "message_stop",
                &serde_json::json!({ "type": "message_stop" }),
            ),
        ]
    }
}

pub(crate) async fn messages(
    State(shared): State<Arc<Shared>>,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Response {
    chat::answer(shared, &Anthropic, chat::Arrived::new(&parts, body)).await
}
