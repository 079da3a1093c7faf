//! Google's Gemini `generateContent`, in its two homes:
//! - Vertex AI (`provider: vertex`): `POST {base_url}/v1/projects/{project}/locations/
//!   {location}/publishers/google/models/{model}:generateContent`, with a bearer token
//!   (a service account's, exchanged by a signed JWT, or one from `gcloud`);
//! - the Gemini API (`provider: gemini`): `POST {base_url}/v1beta/models/{model}:
//!   generateContent` with `x-goog-api-key`.
//!
//! Streams are `:streamGenerateContent?alt=sse`: SSE `data:` chunks of the same
//! response shape, the last with its `finishReason` and `usageMetadata`, and no end
//! marker. Errors are `{"error": {"code", "message", "status"}}`; `RESOURCE_EXHAUSTED` is
//! a 429.
//!
//! Builds bodies and decodes responses; it never touches the network itself.

use super::attempt::{Usage, Whole};
use super::provider::{head, invalid_json, json_body, split_system, ProviderFormat, StreamStep};
use crate::outcome::{FinishReason, Outcome};
use crate::plan::EndpointPlan;
use crate::workload::{CallSpec, Role, ToolCall, ToolPart, TOOL_NAME};
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// `vertex`: Vertex AI's URL; otherwise the Gemini API's.
pub struct Gemini {
    pub vertex: bool,
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Content {
    role: &'static str,
    parts: [serde_json::Value; 1],
}

#[derive(Serialize)]
struct SystemInstruction<'a> {
    parts: Vec<Text<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    max_output_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_config: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    contents: Vec<Content>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<SystemInstruction<'a>>,
    generation_config: GenerationConfig,
    /// The tool an agentic feature offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<serde_json::Value>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
}

impl From<UsageMetadata> for Usage {
    fn from(u: UsageMetadata) -> Usage {
        let thoughts = u.thoughts_token_count.unwrap_or(0);
        Usage {
            // Cached tokens are counted in `promptTokenCount` already.
            input_tokens: u.prompt_token_count,
            // Thinking is billed as output, counted apart from the answer's tokens.
            output_tokens: u.candidates_token_count + thoughts,
            cached_input_tokens: u.cached_content_token_count.unwrap_or(0),
            reasoning_tokens: u.thoughts_token_count,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    /// A thought summary, when asked for with `includeThoughts`.
    #[serde(default)]
    thought: bool,
    #[serde(default)]
    function_call: Option<FunctionCall>,
}

#[derive(Deserialize)]
struct FunctionCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    args: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct CandidateContent<'a> {
    #[serde(default, borrow)]
    parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(default, borrow)]
    content: CandidateContent<'a>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

/// A whole response, and each chunk of a stream.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response<'a> {
    #[serde(default, borrow)]
    candidates: Vec<Candidate<'a>>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Why an answer ended, in the common vocabulary: Gemini's `SAFETY`, `RECITATION`,
/// `BLOCKLIST`... are content filters.
fn finish(reason: &str) -> FinishReason {
    match reason {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        other => FinishReason::from_wire(other),
    }
}

/// A message on Gemini's wire: the assistant is `model`; a tool call is a
/// `functionCall` part, its result a `functionResponse` part of the user.
fn content(m: &crate::workload::Message) -> Content {
    let (role, part) = match &m.tool {
        None => (
            match m.role {
                Role::Assistant => "model",
                _ => "user",
            },
            serde_json::json!({ "text": &*m.content }),
        ),
        Some(ToolPart::Call { name, .. }) => (
            "model",
            serde_json::json!({ "functionCall": {
                "name": &**name,
                "args": serde_json::from_str::<serde_json::Value>(&m.content)
                    .unwrap_or_else(|_| serde_json::json!({ "arguments": &*m.content })),
            } }),
        ),
        Some(ToolPart::Result { .. }) => (
            "user",
            serde_json::json!({ "functionResponse": {
                "name": TOOL_NAME, "response": { "content": &*m.content },
            } }),
        ),
    };
    Content {
        role,
        parts: [part],
    }
}

fn error_text(err: &serde_json::Value) -> String {
    let status = err
        .get("status")
        .and_then(|s| s.as_str())
        .unwrap_or("error");
    match err.get("message").and_then(|m| m.as_str()) {
        Some(m) => format!("{status}: {m}"),
        None => status.to_string(),
    }
}

impl ProviderFormat for Gemini {
    fn url(
        &self,
        endpoint: &EndpointPlan,
        base_url: &str,
        stream: bool,
    ) -> Result<url::Url, String> {
        let base = base_url.trim_end_matches('/');
        let method = match stream {
            true => "streamGenerateContent?alt=sse",
            false => "generateContent",
        };
        let model = &endpoint.model_name;
        let raw = match self.vertex {
            true => format!(
                "{base}/v1/projects/{}/locations/{}/publishers/google/models/{model}:{method}",
                endpoint.options.get("project").unwrap_or_default(),
                endpoint.options.get("location").unwrap_or_default(),
            ),
            false => format!("{base}/v1beta/models/{model}:{method}"),
        };
        url::Url::parse(&raw).map_err(|e| format!("invalid URL {raw}: {e}"))
    }

    fn headers(&self, _endpoint: &EndpointPlan) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    fn error_outcome(
        &self,
        status: u16,
        _headers: &HeaderMap,
        body: &[u8],
    ) -> (Outcome, Option<String>) {
        let v = serde_json::from_slice::<serde_json::Value>(body).ok();
        let name = v
            .as_ref()
            .and_then(|v| Some(v.pointer("/error/status")?.as_str()?.to_string()));
        // The Gemini API refuses a bad key with a 400 whose reason says so.
        let bad_key = v
            .as_ref()
            .and_then(|v| v.pointer("/error/details")?.as_array())
            .is_some_and(|d| d.iter().any(|x| x["reason"] == "API_KEY_INVALID"));
        if bad_key {
            return (Outcome::Auth, Some("API_KEY_INVALID".into()));
        }
        let outcome = match name.as_deref() {
            Some("RESOURCE_EXHAUSTED") => Outcome::Http429,
            Some("UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED") => Outcome::Http5xx,
            Some("UNAUTHENTICATED" | "PERMISSION_DENIED") => Outcome::Auth,
            _ => Outcome::from_status(status),
        };
        (outcome, name)
    }

    fn body(&self, _endpoint: &EndpointPlan, call: &CallSpec) -> Bytes {
        // The system prompt and the retrieved context: one part each.
        let (system, contents) = split_system(call, content);
        let req = Request {
            contents,
            system_instruction: (!system.is_empty()).then(|| SystemInstruction {
                parts: system.into_iter().map(|text| Text { text }).collect(),
            }),
            generation_config: GenerationConfig {
                max_output_tokens: call.max_tokens,
                thinking_config: call
                    .reasoning
                    .budget_tokens
                    .map(|b| serde_json::json!({ "thinkingBudget": b })),
            },
            tools: call.tools.as_deref().map(|description| {
                serde_json::json!([{ "functionDeclarations": [{
                    "name": TOOL_NAME, "description": description,
                    "parameters": super::provider::tool_parameters(),
                }] }])
            }),
        };
        json_body(&req, call)
    }

    fn parse_body(&self, body: &[u8], keep_text: bool) -> Result<Whole, String> {
        let r: Response = serde_json::from_slice(body)
            .map_err(|e| invalid_json(&e, &String::from_utf8_lossy(body)))?;
        let Some(c) = r.candidates.first() else {
            // A prompt blocked before any answer has no candidates, only feedback.
            return Err(format!(
                "no candidates in the answer: {}",
                head(&String::from_utf8_lossy(body), 200)
            ));
        };
        let answer = || c.content.parts.iter().filter(|p| !p.thought);
        let text = if keep_text || r.usage_metadata.is_none() {
            answer().filter_map(|p| p.text.as_deref()).collect()
        } else {
            String::new()
        };
        let mut whole = Whole::new(text, r.usage_metadata.map(Usage::from), None);
        whole.finish = c.finish_reason.as_deref().map(finish);
        whole.reasoning = c
            .content
            .parts
            .iter()
            .filter(|p| p.thought)
            .filter_map(|p| p.text.as_deref())
            .collect();
        whole.tool_call = c
            .content
            .parts
            .iter()
            .find_map(|p| p.function_call.as_ref())
            .map(|f| ToolCall {
                id: f.id.clone().unwrap_or_default(),
                name: f.name.clone(),
                arguments: f.args.as_ref().map_or(String::new(), |a| a.to_string()),
            });
        if whole.tool_call.is_some() {
            whole.finish = Some(FinishReason::ToolCalls);
        }
        Ok(whole)
    }

    fn stream_event<'a>(
        &self,
        _event: &str,
        data: &'a str,
        out: &mut Vec<StreamStep<'a>>,
    ) -> Result<(), String> {
        let r: Response<'a> = serde_json::from_str(data).map_err(|e| invalid_json(&e, data))?;
        if let Some(err) = &r.error {
            out.push(StreamStep::Error(error_text(err)));
            return Ok(());
        }
        let mut called = false;
        for c in r.candidates {
            for p in c.content.parts {
                if let Some(f) = p.function_call {
                    called = true;
                    out.push(StreamStep::ToolCall {
                        id: f.id.map(Cow::Owned),
                        name: Some(Cow::Owned(f.name)),
                        arguments: Cow::Owned(f.args.map_or(String::new(), |a| a.to_string())),
                    });
                } else if let Some(t) = p.text {
                    out.push(match p.thought {
                        true => StreamStep::Reasoning(t),
                        false => StreamStep::Delta(t),
                    });
                }
            }
            if let Some(why) = c.finish_reason {
                out.push(StreamStep::Finished(match called {
                    true => FinishReason::ToolCalls,
                    false => finish(&why),
                }));
            }
        }
        // Every chunk carries the usage so far; the last one the whole.
        if let Some(u) = r.usage_metadata {
            out.push(StreamStep::Usage(u.into()));
        }
        if out.is_empty() {
            out.push(StreamStep::Ignore);
        }
        Ok(())
    }
}
