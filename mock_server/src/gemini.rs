//! Gemini's `generateContent`, as the mock speaks it, at both its homes: Vertex AI's
//! `POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`
//! (a bearer token this mock's `/oauth2/token` issued, when OAuth is on) and the Gemini
//! API's `POST /v1beta/models/{model}:generateContent` (`x-goog-api-key`). Streams are
//! `:streamGenerateContent?alt=sse`: `data:` chunks of the same response shape, the
//! last with `finishReason` and the whole `usageMetadata`, no end marker. Errors are
//! Google's `{"error": {"code", "message", "status"}}`.
//!
//! Request parsing and response shaping only; `chat` does the rest.

use crate::chat::{self, Arrived, Ask, Failure, Meta, Refusal, Wire};
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
struct GenerateRequest {
    contents: Vec<Content>,
    #[serde(default)]
    system_instruction: Option<Content>,
    #[serde(default)]
    generation_config: Option<GenerationConfig>,
    #[serde(default)]
    tools: Vec<Tool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    thinking_config: Option<ThinkingConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    #[serde(default)]
    thinking_budget: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tool {
    #[serde(default)]
    function_declarations: Vec<FunctionDeclaration>,
}

#[derive(Deserialize)]
struct FunctionDeclaration {
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    parts: Vec<Part>,
}

/// A part: text, a call (`functionCall`, its args counted as JSON) or a result
/// (`functionResponse`, its response as JSON, or its `content` text).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    function_call: Option<serde_json::Value>,
    #[serde(default)]
    function_response: Option<serde_json::Value>,
}

impl Part {
    fn into_text(self) -> String {
        match (self.text, self.function_call, self.function_response) {
            (Some(t), ..) => t,
            (None, Some(c), _) => c.get("args").map(|a| a.to_string()).unwrap_or_default(),
            (None, None, Some(r)) => match r.pointer("/response/content") {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => r.get("response").map(|v| v.to_string()).unwrap_or_default(),
            },
            _ => String::new(),
        }
    }
}

/// Gemini on Vertex AI or on the Gemini API, answering whole or as a stream.
pub(crate) struct Google {
    vertex: bool,
    stream: bool,
}

pub(crate) static VERTEX: Google = Google {
    vertex: true,
    stream: false,
};
pub(crate) static VERTEX_STREAM: Google = Google {
    vertex: true,
    stream: true,
};
pub(crate) static GEMINI: Google = Google {
    vertex: false,
    stream: false,
};
pub(crate) static GEMINI_STREAM: Google = Google {
    vertex: false,
    stream: true,
};

fn finish_reason(meta: &Meta) -> &'static str {
    if meta.truncated {
        "MAX_TOKENS"
    } else {
        "STOP"
    }
}

/// Gemini counts thinking apart from the answer's tokens; both are billed as output.
fn usage(meta: &Meta) -> serde_json::Value {
    let mut u = serde_json::json!({
        "promptTokenCount": meta.prompt_tokens,
        "candidatesTokenCount": meta.completion_tokens,
        "totalTokenCount": meta.prompt_tokens + meta.completion_tokens + meta.reasoning_tokens,
    });
    if meta.reasoning_tokens > 0 {
        u["thoughtsTokenCount"] = serde_json::json!(meta.reasoning_tokens);
    }
    u
}

fn error(code: u16, status: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "message": message, "status": status } })
}

fn data(v: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {v}\r\n\r\n"))
}

/// The answer's parts: its text, or the call of the offered tool.
fn parts(meta: &Meta, content: &str) -> serde_json::Value {
    match meta.tool_call {
        true => serde_json::json!([{ "functionCall": {
            "name": "search_knowledge_base",
            "args": serde_json::from_str::<serde_json::Value>(content).unwrap_or_default(),
        } }]),
        false => serde_json::json!([{ "text": content }]),
    }
}

impl Wire for Google {
    fn parse(&self, body: &[u8]) -> Result<Ask, String> {
        let req: GenerateRequest = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut messages: Vec<(String, String)> = req
            .system_instruction
            .map(|s| s.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| ("system".to_string(), p.into_text()))
            .collect();
        for c in req.contents {
            let role = match c.role.as_deref() {
                Some("model") => "assistant",
                _ => "user",
            };
            messages.push((
                role.to_string(),
                c.parts.into_iter().map(Part::into_text).collect(),
            ));
        }
        let config = req.generation_config;
        let tools: String = req
            .tools
            .into_iter()
            .flat_map(|t| t.function_declarations)
            .map(|f| f.description)
            .collect();
        Ok(Ask {
            // The model is in the path; `answer` sets it.
            model: String::new(),
            messages,
            stream: self.stream,
            // Every chunk carries the usage.
            include_usage: true,
            max_tokens: config.as_ref().and_then(|c| c.max_output_tokens),
            legacy_max_tokens: false,
            effort: None,
            thinking_budget: config
                .and_then(|c| c.thinking_config)
                .and_then(|t| t.thinking_budget),
            tools: (!tools.is_empty()).then_some(tools),
            tool_rounds_left: None,
        })
    }

    fn error_body(&self, status: StatusCode, failure: Failure, message: &str) -> serde_json::Value {
        match failure {
            Failure::NotFound => error(404, "NOT_FOUND", message),
            Failure::Unauthorized => error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            ),
            _ => error(status.as_u16(), "INVALID_ARGUMENT", message),
        }
    }

    fn denied(
        &self,
        _why: &crate::auth::Denied,
    ) -> (StatusCode, serde_json::Value, Vec<(&'static str, String)>) {
        match self.vertex {
            true => (
                StatusCode::UNAUTHORIZED,
                self.error_body(StatusCode::UNAUTHORIZED, Failure::Unauthorized, ""),
                Vec::new(),
            ),
            // The Gemini API answers a bad key with a 400 whose reason says so.
            false => {
                let mut body = error(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                );
                body["error"]["details"] = serde_json::json!([{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                }]);
                (StatusCode::BAD_REQUEST, body, Vec::new())
            }
        }
    }

    fn refusal(&self, r: &Refusal) -> (serde_json::Value, Vec<(&'static str, String)>) {
        let body = match r.status {
            429 => error(429, "RESOURCE_EXHAUSTED", "Resource exhausted. Please try again later."),
            404 | 410 => error(r.status, "NOT_FOUND", &format!("Publisher Model `{}` was not found or your project does not have access to it.", r.model)),
            503 | 529 => error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            s => error(s, "INTERNAL", "Internal error encountered."),
        };
        (body, Vec::new())
    }

    fn key<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        match self.vertex {
            true => crate::auth::bearer(headers),
            false => headers.get("x-goog-api-key")?.to_str().ok(),
        }
    }

    fn whole(&self, meta: &Meta, content: &str) -> serde_json::Value {
        serde_json::json!({
            "candidates": [{
                "content": { "role": "model", "parts": parts(meta, content) },
                "finishReason": finish_reason(meta), "index": 0,
            }],
            "usageMetadata": usage(meta),
            "modelVersion": meta.model,
            "responseId": meta.id,
        })
    }

    fn stream_start(&self, _meta: &Meta) -> Vec<Bytes> {
        Vec::new()
    }

    fn stream_token(&self, meta: &Meta, text: &str) -> Bytes {
        // A call's arguments go out whole, at the end: Gemini does not stream them.
        if meta.tool_call {
            return Bytes::new();
        }
        data(&serde_json::json!({
            "candidates": [{ "content": { "role": "model", "parts": [{ "text": text }] }, "index": 0 }],
            "usageMetadata": { "promptTokenCount": meta.prompt_tokens },
            "modelVersion": meta.model,
        }))
    }

    fn stream_end(&self, meta: &Meta, _include_usage: bool) -> Vec<Bytes> {
        let last = match meta.tool_call {
            true => parts(meta, &meta.tool_arguments),
            false => serde_json::json!([{ "text": "" }]),
        };
        vec![data(&serde_json::json!({
            "candidates": [{
                "content": { "role": "model", "parts": last },
                "finishReason": finish_reason(meta), "index": 0,
            }],
            "usageMetadata": usage(meta),
            "modelVersion": meta.model,
        }))]
    }
}

/// `{model}:generateContent` or `{model}:streamGenerateContent` (with `alt=sse`).
async fn serve(
    vertex: bool,
    shared: Arc<Shared>,
    action: String,
    parts: Parts,
    body: Bytes,
) -> Response {
    let (model, verb) = action.split_once(':').unwrap_or((&action, ""));
    let sse = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
    let wire: &'static Google = match (verb, vertex) {
        ("generateContent", true) => &VERTEX,
        ("generateContent", false) => &GEMINI,
        ("streamGenerateContent", true) if sse => &VERTEX_STREAM,
        ("streamGenerateContent", false) if sse => &GEMINI_STREAM,
        _ => {
            shared.stats.request_received();
            shared.stats.request_done();
            let why = match verb {
                "streamGenerateContent" => "the mock streams with alt=sse only",
                _ => "unknown method: expected generateContent or streamGenerateContent",
            };
            let wire = if vertex { &VERTEX } else { &GEMINI };
            return chat::error(
                &shared.stats,
                wire,
                StatusCode::NOT_FOUND,
                Failure::NotFound,
                why,
            );
        }
    };
    let arrived = Arrived {
        model: Some(model.to_string()),
        ..Arrived::new(&parts, body)
    };
    chat::answer(shared, wire, arrived).await
}

/// Vertex AI: `/v1/projects/{project}/locations/{location}/publishers/google/models/{action}`.
pub(crate) async fn vertex(
    State(shared): State<Arc<Shared>>,
    Path((_project, _location, action)): Path<(String, String, String)>,
    parts: Parts,
    body: Bytes,
) -> Response {
    serve(true, shared, action, parts, body).await
}

/// The Gemini API: `/v1beta/models/{action}`.
pub(crate) async fn gemini(
    State(shared): State<Arc<Shared>>,
    Path(action): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    serve(false, shared, action, parts, body).await
}
