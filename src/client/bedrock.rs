//! AWS Bedrock's Converse API: `POST {base_url}/model/{modelId}/converse`, and
//! `/converse-stream` for streams, which come in AWS's event-stream framing
//! (`application/vnd.amazon.eventstream`): `messageStart`, `contentBlockStart`,
//! `contentBlockDelta` (text, a tool call's input, Claude's reasoning),
//! `contentBlockStop`, `messageStop` (the stop reason), `metadata` (usage, and the
//! server's own `metrics.latencyMs`), or an exception (`throttlingException`...) in
//! their place. Requests are signed with SigV4 (service `bedrock`) by the route, or
//! carry a Bedrock API key as a bearer token. Errors name their exception in
//! `x-amzn-ErrorType`; `ModelNotReadyException` comes as a 429 but is the model's
//! failure, not a rate limit.
//!
//! Builds bodies and decodes responses; it never touches the network itself.

use super::attempt::{Usage, Whole};
use super::provider::{invalid_json, json_body, split_system, Framing, ProviderFormat, StreamStep};
use crate::outcome::{FinishReason, Outcome};
use crate::plan::EndpointPlan;
use crate::workload::{CallSpec, ToolCall, ToolPart, TOOL_NAME};
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub struct Bedrock;

/// The SigV4 service Bedrock's runtime signs for.
pub const SERVICE: &str = "bedrock";

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Message {
    role: &'static str,
    content: [serde_json::Value; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig {
    max_tokens: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    messages: Vec<Message>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Text<'a>>,
    inference_config: InferenceConfig,
    /// The tool an agentic feature offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<serde_json::Value>,
    /// Claude's extended thinking, which Converse passes through to the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_model_request_fields: Option<serde_json::Value>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_write_input_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        Usage {
            // Cached prompt tokens are reported apart from `inputTokens`, and are
            // prompt tokens too (billed at other rates).
            input_tokens: u.input_tokens
                + u.cache_read_input_tokens.unwrap_or(0)
                + u.cache_write_input_tokens.unwrap_or(0),
            output_tokens: u.output_tokens,
            cached_input_tokens: u.cache_read_input_tokens.unwrap_or(0),
            // Claude's thinking is in `outputTokens`, not itemized.
            reasoning_tokens: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    latency_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentBlock<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_use: Option<ToolUse>,
    #[serde(default)]
    reasoning_content: Option<ReasoningContent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse {
    #[serde(default)]
    tool_use_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    input: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningContent {
    #[serde(default)]
    reasoning_text: Option<ReasoningText>,
}

#[derive(Deserialize)]
struct ReasoningText {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct OutputMessage<'a> {
    #[serde(default, borrow)]
    content: Vec<ContentBlock<'a>>,
}

#[derive(Deserialize)]
struct Output<'a> {
    #[serde(borrow)]
    message: OutputMessage<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseResponse<'a> {
    #[serde(borrow)]
    output: Output<'a>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
    usage: Option<WireUsage>,
    #[serde(default)]
    metrics: Option<Metrics>,
}

/// One stream event's payload; which fields it has depends on its `:event-type`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    start: Option<Start>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    metrics: Option<Metrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Start {
    #[serde(default)]
    tool_use: Option<ToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delta<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_use: Option<ToolInput<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<ReasoningDelta<'a>>,
}

#[derive(Deserialize)]
struct ToolInput<'a> {
    #[serde(default, borrow)]
    input: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ReasoningDelta<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

/// The model id as a path segment: `anthropic.claude-3-5-sonnet-20240620-v1:0` is sent
/// as `...-v1%3A0`, and an ARN's `/` as `%2F`, as the AWS SDKs send them.
fn model_segment(model: &str) -> String {
    let mut out = String::with_capacity(model.len() + 8);
    for b in model.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A message on Bedrock's wire: a tool call is a `toolUse` block of the assistant, its
/// result a `toolResult` block of the user.
fn message(m: &crate::workload::Message) -> Message {
    let (role, block) = match &m.tool {
        None => (m.role.as_str(), serde_json::json!({ "text": &*m.content })),
        Some(ToolPart::Call { id, name }) => (
            "assistant",
            serde_json::json!({ "toolUse": {
                "toolUseId": &**id, "name": &**name,
                "input": serde_json::from_str::<serde_json::Value>(&m.content)
                    .unwrap_or_else(|_| serde_json::json!({ "arguments": &*m.content })),
            } }),
        ),
        Some(ToolPart::Result { id }) => (
            "user",
            serde_json::json!({ "toolResult": {
                "toolUseId": &**id, "content": [{ "text": &*m.content }],
            } }),
        ),
    };
    Message {
        role,
        content: [block],
    }
}

/// The exception an error response names: `x-amzn-ErrorType` (`ThrottlingException:
/// http://internal...`), or a `__type` in its body.
fn exception_name(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(v) = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.split(':').next().unwrap_or(v).trim().to_string());
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let t = v.get("__type")?.as_str()?;
    // `com.amazon.coral.service#UnrecognizedClientException`.
    Some(t.rsplit('#').next().unwrap_or(t).to_string())
}

impl ProviderFormat for Bedrock {
    fn url(
        &self,
        endpoint: &EndpointPlan,
        base_url: &str,
        stream: bool,
    ) -> Result<url::Url, String> {
        let raw = format!(
            "{}/model/{}/{}",
            base_url.trim_end_matches('/'),
            model_segment(&endpoint.model_name),
            if stream {
                "converse-stream"
            } else {
                "converse"
            }
        );
        url::Url::parse(&raw).map_err(|e| format!("invalid URL {raw}: {e}"))
    }

    fn headers(&self, _endpoint: &EndpointPlan) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    fn signing_service(&self) -> Option<&'static str> {
        Some(SERVICE)
    }

    fn framing(&self) -> Framing {
        Framing::AwsEventStream
    }

    fn error_outcome(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (Outcome, Option<String>) {
        let name = exception_name(headers, body);
        let outcome = match name.as_deref() {
            Some("ThrottlingException") => Outcome::Http429,
            // The model is loading or the service is down: the endpoint's failure, which a
            // fallback should take over, even where it comes as a 429.
            Some(
                "ServiceUnavailableException"
                | "ModelNotReadyException"
                | "InternalServerException",
            ) => Outcome::Http5xx,
            Some(
                "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "MissingAuthenticationTokenException"
                | "ExpiredTokenException",
            ) => Outcome::Auth,
            _ => Outcome::from_status(status),
        };
        (outcome, name)
    }

    fn body(&self, _endpoint: &EndpointPlan, call: &CallSpec) -> Bytes {
        // The system prompt and the retrieved context: one text block each.
        let (system, messages) = split_system(call, message);
        let req = Request {
            messages,
            system: system.into_iter().map(|text| Text { text }).collect(),
            inference_config: InferenceConfig {
                max_tokens: call.max_tokens,
            },
            tool_config: call.tools.as_deref().map(|description| {
                serde_json::json!({ "tools": [{ "toolSpec": {
                    "name": TOOL_NAME, "description": description,
                    "inputSchema": { "json": super::provider::tool_parameters() },
                } }] })
            }),
            additional_model_request_fields: call.reasoning.budget_tokens.map(|budget| {
                serde_json::json!({ "thinking": { "type": "enabled", "budget_tokens": budget } })
            }),
        };
        json_body(&req, call)
    }

    fn parse_body(&self, body: &[u8], keep_text: bool) -> Result<Whole, String> {
        let r: ConverseResponse = serde_json::from_slice(body)
            .map_err(|e| invalid_json(&e, &String::from_utf8_lossy(body)))?;
        let blocks = &r.output.message.content;
        let text = if keep_text || r.usage.is_none() {
            blocks.iter().filter_map(|b| b.text.as_deref()).collect()
        } else {
            String::new()
        };
        let mut whole = Whole::new(text, r.usage.map(Usage::from), r.stop_reason.as_deref());
        whole.reasoning = blocks
            .iter()
            .filter_map(|b| b.reasoning_content.as_ref()?.reasoning_text.as_ref())
            .map(|t| t.text.as_str())
            .collect();
        whole.tool_call = blocks
            .iter()
            .find_map(|b| b.tool_use.as_ref())
            .map(|t| ToolCall {
                id: t.tool_use_id.clone(),
                name: t.name.clone(),
                arguments: t.input.as_ref().map_or(String::new(), |i| i.to_string()),
            });
        whole.server_ms = r.metrics.and_then(|m| m.latency_ms);
        Ok(whole)
    }

    /// `event` is the message's `:event-type`, or `exception:<type>` for an exception.
    fn stream_event<'a>(
        &self,
        event: &str,
        data: &'a str,
        out: &mut Vec<StreamStep<'a>>,
    ) -> Result<(), String> {
        if let Some(kind) = event
            .strip_prefix("exception:")
            .or(event.strip_prefix("error:"))
        {
            let message = serde_json::from_str::<serde_json::Value>(data)
                .ok()
                .and_then(|v| Some(v.get("message")?.as_str()?.to_string()))
                .unwrap_or_else(|| super::provider::head(data, 200));
            out.push(StreamStep::Error(format!("{kind}: {message}")));
            return Ok(());
        }
        let ev: Event<'a> = serde_json::from_str(data).map_err(|e| invalid_json(&e, data))?;
        match event {
            "contentBlockStart" => match ev.start.and_then(|s| s.tool_use) {
                Some(t) => out.push(StreamStep::ToolCall {
                    id: Some(Cow::Owned(t.tool_use_id)),
                    name: Some(Cow::Owned(t.name)),
                    arguments: Cow::Borrowed(""),
                }),
                None => out.push(StreamStep::Ignore),
            },
            "contentBlockDelta" => {
                if let Some(d) = ev.delta {
                    if let Some(t) = d.tool_use {
                        out.push(StreamStep::ToolCall {
                            id: None,
                            name: None,
                            arguments: t.input,
                        });
                    }
                    if let Some(t) = d.reasoning_content.and_then(|r| r.text) {
                        out.push(StreamStep::Reasoning(t));
                    }
                    if let Some(t) = d.text {
                        out.push(StreamStep::Delta(t));
                    }
                }
            }
            "messageStop" => {
                let why = ev.stop_reason.as_deref().unwrap_or("end_turn");
                out.push(StreamStep::Finished(FinishReason::from_wire(why)));
            }
            // The last event: the usage and the server's own latency.
            "metadata" => {
                if let Some(u) = ev.usage {
                    out.push(StreamStep::Usage(u.into()));
                }
                if let Some(ms) = ev.metrics.and_then(|m| m.latency_ms) {
                    out.push(StreamStep::ServerMs(ms));
                }
                out.push(StreamStep::Done);
            }
            // messageStart, contentBlockStop, and types added later.
            _ => out.push(StreamStep::Ignore),
        }
        Ok(())
    }
}
