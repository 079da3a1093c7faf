//! AWS Bedrock's Converse API, as the mock speaks it: `POST /model/{modelId}/converse`
//! answers one JSON body (`output.message`, `stopReason`, `usage`, `metrics.latencyMs`),
//! and `/converse-stream` answers in AWS's event-stream framing — `messageStart`,
//! `contentBlockStart` (a tool call's), `contentBlockDelta`..., `contentBlockStop`,
//! `messageStop`, `metadata` with the usage and the server's latency. Errors are
//! Bedrock's: a `{"message"}` body and the exception's name in `x-amzn-ErrorType`.
//! Requests signed with SigV4 are verified against the configured key pairs (`auth`).
//!
//! Request parsing and response shaping only; `chat` does the rest.

use crate::chat::{self, Arrived, Ask, Failure, Meta, Refusal, Wire};
use crate::eventstream;
use crate::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseRequest {
    messages: Vec<Message>,
    #[serde(default)]
    system: Vec<Block>,
    #[serde(default)]
    inference_config: Option<InferenceConfig>,
    #[serde(default)]
    tool_config: Option<ToolConfig>,
    #[serde(default)]
    additional_model_request_fields: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig {
    #[serde(default)]
    max_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct ToolConfig {
    #[serde(default)]
    tools: Vec<Tool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tool {
    #[serde(default)]
    tool_spec: Option<ToolSpec>,
}

#[derive(Deserialize)]
struct ToolSpec {
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Vec<Block>,
}

/// A content block: text, a tool call (`toolUse`, its input counted as JSON) or a
/// tool's result (`toolResult`, its text blocks).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Block {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUse>,
    #[serde(default)]
    tool_result: Option<ToolResult>,
}

#[derive(Deserialize)]
struct ToolUse {
    #[serde(default)]
    input: serde_json::Value,
}

#[derive(Deserialize)]
struct ToolResult {
    #[serde(default)]
    content: Vec<Block>,
}

impl Block {
    fn into_text(self) -> String {
        match (self.text, self.tool_use, self.tool_result) {
            (Some(t), ..) => t,
            (None, Some(u), _) => u.input.to_string(),
            (None, None, Some(r)) => r.content.into_iter().map(Block::into_text).collect(),
            _ => String::new(),
        }
    }
}

/// The Converse API, answering whole (`stream: false`) or in event-stream frames.
pub(crate) struct Bedrock {
    stream: bool,
}

pub(crate) static CONVERSE: Bedrock = Bedrock { stream: false };
pub(crate) static CONVERSE_STREAM: Bedrock = Bedrock { stream: true };

fn stop_reason(meta: &Meta) -> &'static str {
    if meta.tool_call {
        "tool_use"
    } else if meta.truncated {
        "max_tokens"
    } else {
        "end_turn"
    }
}

/// Bedrock bills Claude's thinking as output tokens, in one count.
fn usage(meta: &Meta) -> serde_json::Value {
    let output = meta.completion_tokens + meta.reasoning_tokens;
    serde_json::json!({
        "inputTokens": meta.prompt_tokens, "outputTokens": output,
        "totalTokens": meta.prompt_tokens + output,
    })
}

/// What the server says it took: from the request's arrival to now.
fn metrics(meta: &Meta) -> serde_json::Value {
    let ms = meta.received.map_or(0, |r| r.elapsed().as_millis() as u64);
    serde_json::json!({ "latencyMs": ms })
}

/// The index of the block the answer streams in: after the reasoning block, if shown.
fn answer_index(meta: &Meta) -> usize {
    usize::from(meta.thinking_shown)
}

/// The name of the exception Bedrock answers a status with.
fn exception(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "ValidationException",
        401 | 403 => "AccessDeniedException",
        404 | 410 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 | 529 => "ServiceUnavailableException",
        _ => "InternalServerException",
    }
}

fn message(text: &str) -> serde_json::Value {
    serde_json::json!({ "message": text })
}

impl Wire for Bedrock {
    fn parse(&self, body: &[u8]) -> Result<Ask, String> {
        let req: ConverseRequest = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut messages: Vec<(String, String)> = req
            .system
            .into_iter()
            .map(|b| ("system".to_string(), b.into_text()))
            .collect();
        for m in req.messages {
            let text = m.content.into_iter().map(Block::into_text).collect();
            messages.push((m.role, text));
        }
        let thinking_budget = req
            .additional_model_request_fields
            .as_ref()
            .and_then(|f| f.pointer("/thinking/budget_tokens")?.as_u64())
            .map(|b| b as u32);
        let tools: Vec<String> = req
            .tool_config
            .map(|t| t.tools)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.tool_spec.map(|s| s.description))
            .collect();
        Ok(Ask {
            // The model is in the path; `answer` sets it.
            model: String::new(),
            messages,
            stream: self.stream,
            // Bedrock always reports usage, in a stream's `metadata` event.
            include_usage: true,
            max_tokens: req.inference_config.and_then(|c| c.max_tokens),
            legacy_max_tokens: false,
            effort: None,
            thinking_budget,
            tools: (!tools.is_empty()).then(|| tools.concat()),
            tool_rounds_left: None,
        })
    }

    fn error_body(&self, _: StatusCode, failure: Failure, text: &str) -> serde_json::Value {
        match failure {
            Failure::Unauthorized => {
                message("The security token included in the request is invalid.")
            }
            _ => message(text),
        }
    }

    fn refusal(&self, r: &Refusal) -> (serde_json::Value, Vec<(&'static str, String)>) {
        let text = match r.status {
            429 => "Too many requests, please wait before trying again.".to_string(),
            404 | 410 => format!("The model {} is not available.", r.model),
            503 | 529 => "Bedrock is unable to process your request.".to_string(),
            _ => "The server encountered an internal error.".to_string(),
        };
        (message(&text), Vec::new())
    }

    fn error_headers(&self, status: StatusCode) -> Vec<(&'static str, String)> {
        vec![(
            "x-amzn-errortype",
            format!(
                "{}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                exception(status)
            ),
        )]
    }

    fn denied(
        &self,
        why: &crate::auth::Denied,
    ) -> (StatusCode, serde_json::Value, Vec<(&'static str, String)>) {
        use crate::sigv4::Refused;
        let (kind, text) = match why {
            crate::auth::Denied::Signature(Refused::Invalid(m)) => {
                ("InvalidSignatureException", m.as_str())
            }
            crate::auth::Denied::Signature(Refused::Missing) => (
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            _ => (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
        };
        (
            StatusCode::FORBIDDEN,
            message(text),
            vec![(
                "x-amzn-errortype",
                format!("{kind}:http://internal.amazon.com/coral/com.amazon.coral.service/"),
            )],
        )
    }

    fn signing_service(&self) -> Option<&'static str> {
        Some("bedrock")
    }

    fn stream_content_type(&self) -> &'static str {
        eventstream::CONTENT_TYPE
    }

    fn templated(&self) -> bool {
        false
    }

    fn whole(&self, meta: &Meta, content: &str) -> serde_json::Value {
        let mut blocks = Vec::new();
        if meta.thinking_shown {
            blocks.push(serde_json::json!({ "reasoningContent": { "reasoningText": {
                "text": crate::openai::thought_text(meta), "signature": "mock",
            } } }));
        }
        blocks.push(match meta.tool_call {
            true => serde_json::json!({ "toolUse": {
                "toolUseId": crate::openai::tool_call_id(meta), "name": "search_knowledge_base",
                "input": serde_json::from_str::<serde_json::Value>(content).unwrap_or_default(),
            } }),
            false => serde_json::json!({ "text": content }),
        });
        serde_json::json!({
            "output": { "message": { "role": "assistant", "content": blocks } },
            "stopReason": stop_reason(meta),
            "usage": usage(meta),
            "metrics": metrics(meta),
        })
    }

    fn shows(&self, visible: crate::ReasoningVisibility) -> bool {
        visible == crate::ReasoningVisibility::AnthropicThinking
    }

    fn key<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        // A Bedrock API key, sent as a bearer token.
        crate::auth::bearer(headers)
    }

    fn stream_start(&self, meta: &Meta) -> Vec<Bytes> {
        let mut out = vec![eventstream::event(
            "messageStart",
            &serde_json::json!({ "role": "assistant" }),
        )];
        if meta.tool_call && !meta.thinking_shown {
            out.push(tool_start(meta));
        }
        out
    }

    fn stream_thought(&self, _meta: &Meta, text: &str) -> Bytes {
        eventstream::event(
            "contentBlockDelta",
            &serde_json::json!({
                "contentBlockIndex": 0, "delta": { "reasoningContent": { "text": text } },
            }),
        )
    }

    fn stream_thought_end(&self, meta: &Meta) -> Vec<Bytes> {
        let mut out = vec![
            eventstream::event(
                "contentBlockDelta",
                &serde_json::json!({
                    "contentBlockIndex": 0,
                    "delta": { "reasoningContent": { "signature": "mock" } },
                }),
            ),
            eventstream::event(
                "contentBlockStop",
                &serde_json::json!({ "contentBlockIndex": 0 }),
            ),
        ];
        if meta.tool_call {
            out.push(tool_start(meta));
        }
        out
    }

    fn stream_token(&self, meta: &Meta, text: &str) -> Bytes {
        let delta = match meta.tool_call {
            true => serde_json::json!({ "toolUse": { "input": text } }),
            false => serde_json::json!({ "text": text }),
        };
        eventstream::event(
            "contentBlockDelta",
            &serde_json::json!({ "contentBlockIndex": answer_index(meta), "delta": delta }),
        )
    }

    fn stream_end(&self, meta: &Meta, _include_usage: bool) -> Vec<Bytes> {
        vec![
            eventstream::event(
                "contentBlockStop",
                &serde_json::json!({ "contentBlockIndex": answer_index(meta) }),
            ),
            eventstream::event(
                "messageStop",
                &serde_json::json!({ "stopReason": stop_reason(meta) }),
            ),
            eventstream::event(
                "metadata",
                &serde_json::json!({ "usage": usage(meta), "metrics": metrics(meta) }),
            ),
        ]
    }
}

/// The start of the tool call's block: its id and name.
fn tool_start(meta: &Meta) -> Bytes {
    eventstream::event(
        "contentBlockStart",
        &serde_json::json!({
            "contentBlockIndex": answer_index(meta),
            "start": { "toolUse": {
                "toolUseId": crate::openai::tool_call_id(meta), "name": "search_knowledge_base",
            } },
        }),
    )
}

async fn serve(
    wire: &'static Bedrock,
    shared: Arc<Shared>,
    model: String,
    parts: Parts,
    body: Bytes,
) -> Response {
    let arrived = Arrived {
        model: Some(model),
        ..Arrived::new(&parts, body)
    };
    chat::answer(shared, wire, arrived).await
}

/// `POST /model/{modelId}/converse`.
pub(crate) async fn converse(
    State(shared): State<Arc<Shared>>,
    Path(model): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    serve(&CONVERSE, shared, model, parts, body).await
}

/// `POST /model/{modelId}/converse-stream`.
pub(crate) async fn converse_stream(
    State(shared): State<Arc<Shared>>,
    Path(model): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    serve(&CONVERSE_STREAM, shared, model, parts, body).await
}
