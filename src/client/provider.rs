//! The seam every provider's wire format implements: where calls go, the headers and
//! credential they carry, per-request signing, the request body, and decoding a whole
//! answer or a stream's events. One file per provider implements it; `format` is the one
//! place that maps a plan's `Provider` to its implementation.
//!
//! Formats build bytes and decode bytes; none touches the network.

use super::attempt::{Usage, Whole};
use super::credentials::Secret;
use crate::outcome::FinishReason;
use crate::plan::{AuthKind, EndpointPlan, Provider};
use crate::workload::CallSpec;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};

/// One step of a provider's stream, decoded from one event.
#[derive(Debug, PartialEq)]
pub enum StreamStep<'a> {
    /// Generated text of the answer (may be empty for role-only chunks, which are not
    /// tokens).
    Delta(std::borrow::Cow<'a, str>),
    /// Generated reasoning, streamed before the answer (vLLM's and DeepSeek's
    /// `reasoning_content`, Anthropic's `thinking_delta`): billed, not shown to users.
    Reasoning(std::borrow::Cow<'a, str>),
    /// A piece of a tool call: its id and name when it begins, then its arguments in
    /// fragments of JSON.
    ToolCall {
        id: Option<std::borrow::Cow<'a, str>>,
        name: Option<std::borrow::Cow<'a, str>>,
        arguments: std::borrow::Cow<'a, str>,
    },
    /// The answer is complete (a finish reason was seen); more events may follow.
    Finished(FinishReason),
    Usage(Usage),
    /// The server's own processing time, in milliseconds, where the stream reports it
    /// (Bedrock's `metrics.latencyMs`).
    ServerMs(f64),
    /// The end-of-stream marker.
    Done,
    /// The endpoint reported an error inside the stream.
    Error(String),
    Ignore,
}

/// How a stream's bytes are cut into events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Server-sent events (`event:` / `data:` lines): OpenAI, Azure, Anthropic.
    Sse,
    /// AWS's binary event-stream messages: Bedrock.
    AwsEventStream,
}

pub trait ProviderFormat: Send + Sync {
    /// The URL calls go to, from the endpoint's base URL: streaming or not, where the
    /// provider has a path for each (Bedrock's `converse-stream`).
    fn url(
        &self,
        endpoint: &EndpointPlan,
        base_url: &str,
        stream: bool,
    ) -> Result<url::Url, String>;

    /// The headers every request carries besides its credential (content type, API
    /// version).
    fn headers(&self, endpoint: &EndpointPlan) -> HeaderMap;

    /// The credential as a header: `Authorization: Bearer` for a bearer token, the
    /// provider's own key header (from its row in `plan::provider`) for an API key.
    fn credential_header(
        &self,
        endpoint: &EndpointPlan,
        kind: AuthKind,
        secret: &Secret,
    ) -> Option<(HeaderName, HeaderValue)> {
        let (name, value) = match (kind, endpoint.provider.info().api_key_header) {
            // Signed per request, never sent.
            (AuthKind::AwsSigV4, _) => return None,
            (AuthKind::ApiKey, Some(h)) => {
                (HeaderName::from_static(h), secret.expose().to_string())
            }
            _ => (AUTHORIZATION, format!("Bearer {}", secret.expose())),
        };
        let mut v = HeaderValue::from_str(&value).ok()?;
        v.set_sensitive(true);
        Some((name, v))
    }

    /// The AWS service its requests are signed for with SigV4 (`auth_type: aws_sigv4`):
    /// the signature covers the body and the time, so each request is signed apart.
    fn signing_service(&self) -> Option<&'static str> {
        None
    }

    /// How an error response is classified, and the error's name where the provider
    /// gives one apart from the status (Bedrock's `x-amzn-ErrorType`): by the status,
    /// unless the provider's own name says otherwise.
    fn error_outcome(
        &self,
        status: u16,
        _headers: &HeaderMap,
        _body: &[u8],
    ) -> (crate::outcome::Outcome, Option<String>) {
        (crate::outcome::Outcome::from_status(status), None)
    }

    /// The region that served an answer, where the provider says so in a response
    /// header (Azure's `x-ms-region`).
    fn served_region(&self, _headers: &HeaderMap) -> Option<String> {
        None
    }

    /// How the stream's bytes are framed into events.
    fn framing(&self) -> Framing {
        Framing::Sse
    }

    /// The request body of one call.
    fn body(&self, endpoint: &EndpointPlan, call: &CallSpec) -> Bytes;

    /// Decodes a whole (non-streaming) response body: its usage, finish reason, and its
    /// text when `keep_text` asks for it or the usage is missing (to count the tokens).
    fn parse_body(&self, body: &[u8], keep_text: bool) -> Result<Whole, String>;

    /// Decodes one stream event; may yield several steps (a delta and a usage at once).
    fn stream_event<'a>(
        &self,
        event: &str,
        data: &'a str,
        out: &mut Vec<StreamStep<'a>>,
    ) -> Result<(), String>;
}

/// The wire format of a provider: the one registration.
pub fn format(p: Provider) -> &'static dyn ProviderFormat {
    match p {
        Provider::OpenAi => &super::openai::OpenAi,
        Provider::AzureOpenAi => &super::azure::AzureOpenAi,
        Provider::Anthropic => &super::anthropic::Anthropic,
        Provider::Bedrock => &super::bedrock::Bedrock,
        Provider::Vertex => &super::gemini::Gemini { vertex: true },
        Provider::Gemini => &super::gemini::Gemini { vertex: false },
    }
}

/// A call's messages for a provider that sends system text apart from the conversation
/// (Anthropic, Bedrock, Gemini): the system prompt and the retrieved context as texts,
/// in order, and the other messages as `message` makes them.
pub(super) fn split_system<'a, M>(
    call: &'a CallSpec,
    message: impl Fn(&'a crate::workload::Message) -> M,
) -> (Vec<&'a str>, Vec<M>) {
    let mut system = Vec::new();
    let mut messages = Vec::with_capacity(call.messages.len());
    for m in &call.messages {
        match m.role {
            crate::workload::Role::System => system.push(&*m.content),
            _ => messages.push(message(m)),
        }
    }
    (system, messages)
}

/// `{base_url}/v1/{path}`, accepting a base URL that already ends in `/v1`.
pub(super) fn v1_url(base_url: &str, path: &str) -> Result<url::Url, String> {
    let base = base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    let raw = format!("{base}/v1/{path}");
    url::Url::parse(&raw).map_err(|e| format!("invalid URL {raw}: {e}"))
}

/// A request body as JSON, its buffer sized once from the call's texts.
pub(super) fn json_body(req: &impl serde::Serialize, call: &CallSpec) -> Bytes {
    let texts: usize = call.messages.iter().map(|m| m.content.len() + 40).sum();
    let mut body = Vec::with_capacity(texts + texts / 16 + 200);
    serde_json::to_writer(&mut body, req).expect("serializing plain structs cannot fail");
    body.into()
}

/// "invalid JSON from the endpoint (why): <its first 80 characters>", on one line: the
/// endpoint's control characters are escaped.
pub(super) fn invalid_json(e: &serde_json::Error, data: &str) -> String {
    format!("invalid JSON from the endpoint ({e}): {}", head(data, 80))
}

/// The first `n` characters of what an endpoint sent, on one line: its control
/// characters escaped.
pub(super) fn head(data: &str, n: usize) -> String {
    data.chars()
        .take(n)
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect()
}

/// The JSON schema of the tool's arguments: one search query.
pub(super) fn tool_parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": { "query": { "type": "string" } },
        "required": ["query"],
    })
}
