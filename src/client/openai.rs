//! The OpenAI chat-completions wire format, which vLLM, llama.cpp, TGI and most gateways
//! also speak: `POST {base_url}/v1/chat/completions`, `Authorization: Bearer`, SSE
//! `chat.completion.chunk` deltas ending in `data: [DONE]`.
//!
//! Builds bodies and decodes responses; it never touches the network itself.

use super::attempt::{Usage, Whole};
use super::provider::{invalid_json, json_body, v1_url, ProviderFormat, StreamStep};
use crate::outcome::FinishReason;
use crate::plan::provider::TokenLimit;
use crate::plan::EndpointPlan;
use crate::workload::{CallSpec, ToolCall, ToolPart, TOOL_NAME};
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub struct OpenAi;

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    /// Absent on an assistant message that calls a tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[serde_json::Value; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    /// One of the two, as the endpoint's `token_limit_param` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'static str>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    /// The tool an agentic feature offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<[serde_json::Value; 1]>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: u64,
}

#[derive(Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cached_input_tokens: u.prompt_tokens_details.map_or(0, |d| d.cached_tokens),
            reasoning_tokens: u.completion_tokens_details.and_then(|d| d.reasoning_tokens),
        }
    }
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<ChunkChoice<'a>>,
    usage: Option<WireUsage>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    /// Reasoning models served by vLLM (and DeepSeek) stream their thinking here
    /// first, or in `reasoning` (newer vLLM); billed tokens that users do not see.
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Vec<ToolCallDelta<'a>>,
}

/// A tool call, whole or (streamed) in pieces: the first carries its id and name.
#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Completion<'a> {
    #[serde(default, borrow)]
    choices: Vec<CompletionChoice<'a>>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct CompletionChoice<'a> {
    #[serde(borrow)]
    message: CompletionMessage<'a>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CompletionMessage<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Vec<ToolCallDelta<'a>>,
}

impl ProviderFormat for OpenAi {
    fn url(
        &self,
        _endpoint: &EndpointPlan,
        base_url: &str,
        _stream: bool,
    ) -> Result<url::Url, String> {
        v1_url(base_url, "chat/completions")
    }

    fn headers(&self, _endpoint: &EndpointPlan) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    fn body(&self, endpoint: &EndpointPlan, call: &CallSpec) -> Bytes {
        let messages = call
            .messages
            .iter()
            .map(|m| match &m.tool {
                None => Message {
                    role: m.role.as_str(),
                    content: Some(&m.content),
                    tool_calls: None,
                    tool_call_id: None,
                },
                Some(ToolPart::Call { id, name }) => Message {
                    role: "assistant",
                    content: None,
                    tool_calls: Some([serde_json::json!({
                        "id": &**id, "type": "function",
                        "function": { "name": &**name, "arguments": &*m.content },
                    })]),
                    tool_call_id: None,
                },
                Some(ToolPart::Result { id }) => Message {
                    role: "tool",
                    content: Some(&m.content),
                    tool_calls: None,
                    tool_call_id: Some(id),
                },
            })
            .collect();
        let completion = endpoint.token_limit == TokenLimit::MaxCompletionTokens;
        let req = Request {
            model: &endpoint.model_name,
            messages,
            max_tokens: (!completion).then_some(call.max_tokens),
            max_completion_tokens: completion.then_some(call.max_tokens),
            reasoning_effort: call.reasoning.effort.map(|e| e.key()),
            stream: call.stream,
            stream_options: call.stream.then_some(StreamOptions {
                include_usage: true,
            }),
            tools: call.tools.as_deref().map(|description| {
                [serde_json::json!({
                    "type": "function",
                    "function": {
                        "name": TOOL_NAME, "description": description,
                        "parameters": super::provider::tool_parameters(),
                    },
                })]
            }),
        };
        // Sized up front: the texts plus ~160 bytes of JSON around them, so the buffer is
        // allocated once.
        json_body(&req, call)
    }

    fn parse_body(&self, body: &[u8], keep_text: bool) -> Result<Whole, String> {
        let c: Completion = serde_json::from_slice(body)
            .map_err(|e| invalid_json(&e, &String::from_utf8_lossy(body)))?;
        let first = c
            .choices
            .into_iter()
            .next()
            .ok_or("the response has no choices")?;
        // The text is needed for a later turn's history, or to count tokens the
        // endpoint did not report.
        let text = match first.message.content {
            Some(t) if keep_text || c.usage.is_none() => t.into_owned(),
            _ => String::new(),
        };
        let usage = c.usage.map(Usage::from);
        let mut whole = Whole::new(text, usage, first.finish_reason.as_deref());
        whole.reasoning = first
            .message
            .reasoning_content
            .map_or(String::new(), Cow::into_owned);
        whole.tool_call = first.message.tool_calls.into_iter().next().map(|t| {
            let f = t.function;
            ToolCall {
                id: t.id.unwrap_or_default().into_owned(),
                name: f
                    .as_ref()
                    .and_then(|f| f.name.clone())
                    .unwrap_or_default()
                    .into_owned(),
                arguments: f.and_then(|f| f.arguments).unwrap_or_default().into_owned(),
            }
        });
        Ok(whole)
    }

    fn stream_event<'a>(
        &self,
        _event: &str,
        data: &'a str,
        out: &mut Vec<StreamStep<'a>>,
    ) -> Result<(), String> {
        let data_trim = data.trim();
        if data_trim == "[DONE]" {
            out.push(StreamStep::Done);
            return Ok(());
        }
        let chunk: Chunk<'a> = serde_json::from_str(data).map_err(|e| invalid_json(&e, data))?;
        if let Some(err) = chunk.error {
            let msg = err
                .get("message")
                .and_then(|m| m.as_str())
                .map_or_else(|| err.to_string(), str::to_string);
            out.push(StreamStep::Error(msg));
            return Ok(());
        }
        for choice in chunk.choices {
            if let Some(d) = choice.delta {
                if let Some(r) = d.reasoning_content.or(d.reasoning) {
                    out.push(StreamStep::Reasoning(r));
                }
                if let Some(c) = d.content {
                    out.push(StreamStep::Delta(c));
                }
                // One tool is offered: its first call is the one followed.
                if let Some(t) = d.tool_calls.into_iter().next() {
                    let f = t.function;
                    let (name, arguments) = f.map_or((None, None), |f| (f.name, f.arguments));
                    out.push(StreamStep::ToolCall {
                        id: t.id,
                        name,
                        arguments: arguments.unwrap_or_default(),
                    });
                }
            }
            if let Some(why) = choice.finish_reason {
                out.push(StreamStep::Finished(FinishReason::from_wire(&why)));
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamStep::Usage(u.into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(data: &str) -> Result<Vec<StreamStep<'_>>, String> {
        let mut out = vec![];
        OpenAi.stream_event("message", data, &mut out).map(|_| out)
    }

    #[test]
    fn decodes_chunks() {
        let role = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
        assert_eq!(steps(role).unwrap(), vec![StreamStep::Delta("".into())]);
        let tok = r#"{"choices":[{"index":0,"delta":{"content":" he said \"hi\""},"finish_reason":null}]}"#;
        assert_eq!(
            steps(tok).unwrap(),
            vec![StreamStep::Delta(" he said \"hi\"".into())]
        );
        let fin = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
        assert_eq!(
            steps(fin).unwrap(),
            vec![StreamStep::Finished(FinishReason::Stop)]
        );
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;
        assert_eq!(
            steps(usage).unwrap(),
            vec![StreamStep::Usage(Usage {
                input_tokens: 12,
                output_tokens: 5,
                cached_input_tokens: 0,
                reasoning_tokens: None,
            })]
        );
        assert_eq!(steps("[DONE]").unwrap(), vec![StreamStep::Done]);
        assert!(steps("{not json").is_err());
        let err = r#"{"error":{"message":"overloaded"}}"#;
        assert_eq!(
            steps(err).unwrap(),
            vec![StreamStep::Error("overloaded".into())]
        );
    }

    #[test]
    fn decodes_whole_bodies() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"hello"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let Whole { text, usage, .. } = OpenAi.parse_body(body, false).unwrap();
        assert_eq!(text, "", "with usage reported, the text is not kept");
        assert_eq!(OpenAi.parse_body(body, true).unwrap().text, "hello");
        assert_eq!(
            usage,
            Some(Usage {
                input_tokens: 3,
                output_tokens: 1,
                cached_input_tokens: 0,
                reasoning_tokens: None,
            })
        );
        let no_usage =
            br#"{"choices":[{"message":{"role":"assistant","content":"he said \"hi\""}}]}"#;
        assert_eq!(
            OpenAi.parse_body(no_usage, false).unwrap(),
            Whole {
                text: "he said \"hi\"".to_string(),
                usage: None,
                finish: None,
                reasoning: String::new(),
                tool_call: None,
                server_ms: None,
            }
        );
        assert!(OpenAi.parse_body(b"<html>", false).is_err());
        assert!(OpenAi.parse_body(br#"{"choices":[]}"#, false).is_err());
    }
}
