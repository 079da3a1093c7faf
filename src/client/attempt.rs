//! What the client hands in and gets back: a `Prepared` request (nothing left to compute
//! once the clock starts), and the `Attempt` — timings, tokens, outcome and why — that
//! every way of ending produces, a failure as much as a success.

use crate::outcome::{FinishReason, Outcome};
use crate::workload::ToolCall;
use bytes::Bytes;
use std::time::Duration;
use tokio::time::Instant;

/// A request ready to go. Cloning it for a retry shares the body.
#[derive(Clone)]
pub struct Prepared {
    pub body: Bytes,
    pub stream: bool,
    /// Keep the answer's text (a later turn resends it).
    pub keep_text: bool,
    /// This request's own headers, for providers that sign each request; otherwise the
    /// route's.
    pub headers: Option<Box<hyper::header::HeaderMap>>,
}

/// Token usage as the endpoint reported it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of the prompt tokens, those read from the provider's cache (billed lower).
    pub cached_input_tokens: u64,
    /// Of the output tokens, those the model spent reasoning, where the endpoint itemizes
    /// them (OpenAI's `completion_tokens_details.reasoning_tokens`).
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// Anthropic reports the prompt at a stream's start and the answer's running count
    /// at its end: the largest of each is the answer's.
    pub fn merge_max(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.max(other.input_tokens),
            output_tokens: self.output_tokens.max(other.output_tokens),
            cached_input_tokens: self.cached_input_tokens.max(other.cached_input_tokens),
            reasoning_tokens: self.reasoning_tokens.max(other.reasoning_tokens),
        }
    }
}

/// A whole (non-streaming) answer, decoded.
#[derive(Debug, Default, PartialEq)]
pub struct Whole {
    /// Its text, when asked for or needed to count tokens the endpoint did not report.
    pub text: String,
    pub usage: Option<Usage>,
    pub finish: Option<FinishReason>,
    /// The reasoning it shows (vLLM's `reasoning_content`, Anthropic's thinking blocks).
    pub reasoning: String,
    /// The tool it calls instead of answering.
    pub tool_call: Option<ToolCall>,
    /// The server's own processing time in milliseconds, where the body says it
    /// (Bedrock's `metrics.latencyMs`).
    pub server_ms: Option<f64>,
}

impl Whole {
    /// A decoded answer; `finish` in the provider's own word (`stop`, `end_turn`, ...).
    pub fn new(text: String, usage: Option<Usage>, finish: Option<&str>) -> Whole {
        Whole {
            text,
            usage,
            finish: finish.map(FinishReason::from_wire),
            reasoning: String::new(),
            tool_call: None,
            server_ms: None,
        }
    }
}

/// What one attempt did.
#[derive(Debug)]
pub struct Attempt {
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub sent: Instant,
    /// The first generated token of any kind, reasoning included.
    pub first_token: Option<Instant>,
    pub end: Instant,
    /// Gaps between content deltas, in microseconds.
    pub itl_us: Vec<u64>,
    pub usage: Option<Usage>,
    /// The answer's text, kept to count tokens when `usage` is missing.
    pub text: String,
    /// What only some answers have (reasoning, a tool call, the serving region), boxed:
    /// an attempt moves through every call's future, and a small one is cheap to move.
    pub extra: Option<Box<Extra>>,
    /// Content deltas received (a stream's chunk count).
    pub deltas: u64,
    /// Why the answer ended, as the endpoint said.
    pub finish: Option<FinishReason>,
    /// Why it failed, short, for the error sample in the summary.
    pub error: Option<String>,
    /// How long the endpoint asked the client to wait (`retry-after-ms`, else
    /// `retry-after` as seconds or an HTTP date), capped by the retry policy's `max`.
    pub retry_after: Option<Duration>,
    /// A 429 that says the quota is used up: waiting does not help, so it is not retried.
    pub quota_exhausted: bool,
    /// The fault was injected by llm-drill: nothing was sent.
    pub injected: bool,
    /// The protocol its answer came in; `None` when none came.
    pub http_version: Option<Spoken>,
}

/// The HTTP an answer came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spoken {
    Http1,
    Http2,
}

impl Spoken {
    pub const ALL: [Spoken; 2] = [Spoken::Http1, Spoken::Http2];

    /// Its name in the summary: the `http_version` key's words.
    pub fn key(self) -> &'static str {
        match self {
            Spoken::Http1 => "http1",
            Spoken::Http2 => "http2",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The parts of an attempt that only some answers have.
#[derive(Debug, Default)]
pub struct Extra {
    /// The first token of the answer itself, when reasoning was streamed before it.
    pub first_visible: Option<Instant>,
    /// The reasoning shown, kept to count its tokens where the endpoint does not
    /// itemize them.
    pub reasoning: String,
    /// The tool the model called instead of answering.
    pub tool_call: Option<ToolCall>,
    /// The region the endpoint said served the answer, canonical (`westeurope`), or
    /// `unrecognized` when llm-drill does not know the name.
    pub served_region: Option<&'static str>,
    /// What the endpoint (or a gateway before it) reported of its own timing.
    pub server_timing: Option<super::timing::ServerTimings>,
}

impl Attempt {
    /// An attempt that has not happened yet, stamped `now`; the transport fills it in.
    pub fn begin(now: Instant) -> Attempt {
        Attempt {
            outcome: Outcome::Ok,
            status: None,
            sent: now,
            first_token: None,
            end: now,
            itl_us: Vec::new(),
            usage: None,
            text: String::new(),
            extra: None,
            deltas: 0,
            finish: None,
            error: None,
            retry_after: None,
            quota_exhausted: false,
            injected: false,
            http_version: None,
        }
    }

    /// An attempt cut short, or refused, with this outcome and reason.
    pub fn failed(now: Instant, outcome: Outcome, why: impl Into<String>) -> Attempt {
        Attempt {
            outcome,
            error: Some(why.into()),
            ..Attempt::begin(now)
        }
    }

    /// The extra parts, made on first use.
    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// The reasoning shown, or "".
    pub fn reasoning(&self) -> &str {
        self.extra.as_ref().map_or("", |e| e.reasoning.as_str())
    }

    pub fn first_visible(&self) -> Option<Instant> {
        self.extra.as_ref().and_then(|e| e.first_visible)
    }

    pub fn served_region(&self) -> Option<&'static str> {
        self.extra.as_ref().and_then(|e| e.served_region)
    }

    /// The timings the endpoint reported in its headers.
    pub fn server_timing(&self) -> Option<super::timing::ServerTimings> {
        self.extra.as_ref().and_then(|e| e.server_timing)
    }

    /// A failure llm-drill made up itself: nothing was sent.
    pub fn injected(now: Instant, outcome: Outcome, why: impl Into<String>) -> Attempt {
        Attempt {
            injected: true,
            ..Attempt::failed(now, outcome, why)
        }
    }
}
