//! Anthropic's Messages API: `POST {base_url}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`; the system prompt is a top-level field, not a
//! message. Streams are typed SSE events — `message_start` (prompt usage),
//! `content_block_delta` (text), `message_delta` (stop reason, cumulative output tokens),
//! `message_stop` — and an `error` event mid-stream (`overloaded_error`, ...).
//!
//! Builds bodies and decodes responses; it never touches the network itself.

use super::attempt::{Usage, Whole};
use super::provider::{invalid_json, json_body, split_system, v1_url, ProviderFormat, StreamStep};
use crate::outcome::FinishReason;
use crate::plan::EndpointPlan;
use crate::workload::{CallSpec, ToolCall, ToolPart, TOOL_NAME};
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub struct Anthropic;

pub const ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Serialize)]
struct Block<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Content<'a>,
}

/// A message's content: text, or the blocks of a tool round.
#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(&'a str),
    Blocks([serde_json::Value; 1]),
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Block<'a>>,
    messages: Vec<Message<'a>>,
    stream: bool,
    /// Extended thinking, when the feature gives a budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    /// The tool an agentic feature offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<[serde_json::Value; 1]>,
}

#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
    budget_tokens: u32,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        Usage {
            // Cached prompt tokens are prompt tokens too (billed at other rates).
            input_tokens: u.input_tokens
                + u.cache_creation_input_tokens.unwrap_or(0)
                + u.cache_read_input_tokens.unwrap_or(0),
            output_tokens: u.output_tokens,
            cached_input_tokens: u.cache_read_input_tokens.unwrap_or(0),
            // Thinking is in `output_tokens`, not itemized.
            reasoning_tokens: None,
        }
    }
}

#[derive(Deserialize)]
struct ContentBlock<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    input: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct MessageBody<'a> {
    #[serde(default, borrow)]
    content: Vec<ContentBlock<'a>>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    message: Option<StartMessage>,
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    /// A block's start: a tool call's id and name.
    #[serde(default, borrow)]
    content_block: Option<ContentBlock<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    /// Extended thinking streams its reasoning first; those are generated tokens too.
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
    /// A piece of a tool call's input.
    #[serde(default, borrow)]
    partial_json: Option<Cow<'a, str>>,
}

/// A message on Anthropic's wire: a tool call is a `tool_use` block of the assistant, its
/// result a `tool_result` block of the user.
fn message(m: &crate::workload::Message) -> Message<'_> {
    match &m.tool {
        None => Message {
            role: m.role.as_str(),
            content: Content::Text(&m.content),
        },
        Some(ToolPart::Call { id, name }) => Message {
            role: "assistant",
            content: Content::Blocks([serde_json::json!({
                "type": "tool_use", "id": &**id, "name": &**name,
                "input": serde_json::from_str::<serde_json::Value>(&m.content)
                    .unwrap_or_else(|_| serde_json::json!({ "arguments": &*m.content })),
            })]),
        },
        Some(ToolPart::Result { id }) => Message {
            role: "user",
            content: Content::Blocks([serde_json::json!({
                "type": "tool_result", "tool_use_id": &**id, "content": &*m.content,
            })]),
        },
    }
}

fn error_message(err: &serde_json::Value) -> String {
    let kind = err.get("type").and_then(|t| t.as_str()).unwrap_or("error");
    match err.get("message").and_then(|m| m.as_str()) {
        Some(m) => format!("{kind}: {m}"),
        None => kind.to_string(),
    }
}

impl ProviderFormat for Anthropic {
    fn url(
        &self,
        _endpoint: &EndpointPlan,
        base_url: &str,
        _stream: bool,
    ) -> Result<url::Url, String> {
        v1_url(base_url, "messages")
    }

    fn headers(&self, _endpoint: &EndpointPlan) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        headers
    }

    fn body(&self, endpoint: &EndpointPlan, call: &CallSpec) -> Bytes {
        // The system prompt and the retrieved context: one text block each.
        let (system, messages) = split_system(call, message);
        let system = system
            .into_iter()
            .map(|text| Block { kind: "text", text })
            .collect();
        let req = Request {
            model: &endpoint.model_name,
            max_tokens: call.max_tokens,
            system,
            messages,
            stream: call.stream,
            thinking: call.reasoning.budget_tokens.map(|budget_tokens| Thinking {
                kind: "enabled",
                budget_tokens,
            }),
            tools: call.tools.as_deref().map(|description| {
                [serde_json::json!({
                    "name": TOOL_NAME, "description": description,
                    "input_schema": super::provider::tool_parameters(),
                })]
            }),
        };
        json_body(&req, call)
    }

    fn parse_body(&self, body: &[u8], keep_text: bool) -> Result<Whole, String> {
        let m: MessageBody = serde_json::from_slice(body)
            .map_err(|e| invalid_json(&e, &String::from_utf8_lossy(body)))?;
        let text = if keep_text || m.usage.is_none() {
            m.content
                .iter()
                .filter(|b| b.kind == "text")
                .filter_map(|b| b.text.as_deref())
                .collect()
        } else {
            String::new()
        };
        let usage = m.usage.map(Usage::from);
        let mut whole = Whole::new(text, usage, m.stop_reason.as_deref());
        whole.reasoning = m
            .content
            .iter()
            .filter(|b| b.kind == "thinking")
            .filter_map(|b| b.thinking.as_deref())
            .collect();
        whole.tool_call = m
            .content
            .iter()
            .find(|b| b.kind == "tool_use")
            .map(|b| ToolCall {
                id: b.id.as_deref().unwrap_or_default().to_string(),
                name: b.name.as_deref().unwrap_or_default().to_string(),
                arguments: b.input.as_ref().map_or(String::new(), |i| i.to_string()),
            });
        Ok(whole)
    }

    fn stream_event<'a>(
        &self,
        _event: &str,
        data: &'a str,
        out: &mut Vec<StreamStep<'a>>,
    ) -> Result<(), String> {
        // Dispatch on the data's own `type` (the same as the `event:` line, which some
        // proxies drop).
        let ev: Event<'a> = serde_json::from_str(data).map_err(|e| invalid_json(&e, data))?;
        match ev.kind.as_ref() {
            "message_start" => {
                if let Some(u) = ev.message.and_then(|m| m.usage) {
                    out.push(StreamStep::Usage(u.into()));
                }
            }
            "content_block_start" => match ev.content_block {
                Some(b) if b.kind == "tool_use" => out.push(StreamStep::ToolCall {
                    id: b.id,
                    name: b.name,
                    arguments: Cow::Borrowed(""),
                }),
                _ => out.push(StreamStep::Ignore),
            },
            "content_block_delta" => {
                if let Some(d) = ev.delta {
                    if let Some(j) = d.partial_json {
                        out.push(StreamStep::ToolCall {
                            id: None,
                            name: None,
                            arguments: j,
                        });
                    }
                    if let Some(t) = d.thinking {
                        out.push(StreamStep::Reasoning(t));
                    }
                    if let Some(t) = d.text {
                        out.push(StreamStep::Delta(t));
                    }
                }
            }
            "message_delta" => {
                if let Some(u) = ev.usage {
                    out.push(StreamStep::Usage(u.into()));
                }
                if let Some(why) = ev.delta.and_then(|d| d.stop_reason) {
                    out.push(StreamStep::Finished(FinishReason::from_wire(&why)));
                }
            }
            "message_stop" => out.push(StreamStep::Done),
            "error" => {
                let msg = ev
                    .error
                    .as_ref()
                    .map_or_else(|| "error".into(), error_message);
                out.push(StreamStep::Error(msg));
            }
            // ping, content_block_start, content_block_stop, and types added later.
            _ => out.push(StreamStep::Ignore),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(data: &str) -> Vec<StreamStep<'_>> {
        let mut out = vec![];
        Anthropic.stream_event("", data, &mut out).unwrap();
        out
    }

    #[test]
    fn decodes_events() {
        let start = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","usage":{"input_tokens":25,"output_tokens":1}}}"#;
        assert_eq!(
            steps(start),
            vec![StreamStep::Usage(Usage {
                input_tokens: 25,
                output_tokens: 1,
                cached_input_tokens: 0,
                reasoning_tokens: None,
            })]
        );
        let delta = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \"there\""}}"#;
        assert_eq!(steps(delta), vec![StreamStep::Delta("Hi \"there\"".into())]);
        let end = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#;
        assert_eq!(
            steps(end),
            vec![
                StreamStep::Usage(Usage {
                    input_tokens: 0,
                    output_tokens: 15,
                    cached_input_tokens: 0,
                    reasoning_tokens: None,
                }),
                StreamStep::Finished(FinishReason::Stop)
            ]
        );
        assert_eq!(steps(r#"{"type":"message_stop"}"#), vec![StreamStep::Done]);
        assert_eq!(steps(r#"{"type": "ping"}"#), vec![StreamStep::Ignore]);
        let err = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            steps(err),
            vec![StreamStep::Error("overloaded_error: Overloaded".into())]
        );
    }

    #[test]
    fn decodes_whole_messages() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":1,"cache_read_input_tokens":100}}"#;
        let Whole {
            text,
            usage,
            finish,
            ..
        } = Anthropic.parse_body(body, true).unwrap();
        assert_eq!(text, "hello");
        assert_eq!(finish, Some(FinishReason::Stop));
        assert_eq!(
            usage,
            Some(Usage {
                input_tokens: 112,
                output_tokens: 1,
                cached_input_tokens: 100,
                reasoning_tokens: None,
            })
        );
        assert!(Anthropic.parse_body(b"<html>", false).is_err());
    }
}
