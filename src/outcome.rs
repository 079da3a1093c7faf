//! The classified result of an attempt or a call, and why an answer ended. Failures are
//! data: every outcome is counted like a success, under the stable names of SPEC.md
//! (`totals.by_outcome`).
//!
//! A leaf: plan, client, recorder and report all speak these words, so they live below
//! all of them and import nothing of the crate.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// 429 Too Many Requests.
    Http429,
    /// Any 5xx (and 529).
    Http5xx,
    /// Any other 4xx: 400, 404, 413, ...
    Http4xx,
    /// 401 or 403: the credential was refused. Never retried, never sent to a fallback
    /// (another endpoint would not make the key valid; it would hide the failure).
    Auth,
    /// Skipped because the endpoint's circuit breaker was open: nothing was sent.
    BreakerOpen,
    /// The attempt ran past the endpoint's timeout.
    Timeout,
    /// The connection could not be made, or closed before any response.
    Connect,
    /// The TLS handshake failed: an untrusted or expired certificate, a name mismatch,
    /// a client certificate required or refused. The error says which.
    Tls,
    /// The proxy refused or failed: unreachable, 407, a refused `CONNECT`. Not the
    /// endpoint's doing.
    Proxy,
    /// A stream ended (or reported an error) before its answer was complete.
    StreamCut,
    /// The endpoint answered something that is not its wire format (a 1xx or 3xx
    /// status among them: a chat endpoint never answers a POST with those).
    Protocol,
    /// The endpoint failed and the policy is fail_closed: the call is escalated.
    FailClosed,
    /// The conversation's token budget would be passed: refused before sending.
    BudgetExceeded,
    /// The prompt plus the answer asked for exceed the endpoint's context: refused before sending.
    ContextOverflow,
    /// Still running when the run was stopped (Ctrl-C, or past graceful_stop).
    Interrupted,
}

impl Outcome {
    pub const ALL: [Outcome; 16] = [
        Outcome::Ok,
        Outcome::Http429,
        Outcome::Http5xx,
        Outcome::Http4xx,
        Outcome::Auth,
        Outcome::BreakerOpen,
        Outcome::Timeout,
        Outcome::Connect,
        Outcome::Tls,
        Outcome::Proxy,
        Outcome::StreamCut,
        Outcome::Protocol,
        Outcome::FailClosed,
        Outcome::BudgetExceeded,
        Outcome::ContextOverflow,
        Outcome::Interrupted,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Http429 => "http_429",
            Outcome::Http5xx => "http_5xx",
            Outcome::Http4xx => "http_4xx",
            Outcome::Auth => "auth",
            Outcome::BreakerOpen => "breaker_open",
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect",
            Outcome::Tls => "tls",
            Outcome::Proxy => "proxy",
            Outcome::StreamCut => "stream_cut",
            Outcome::Protocol => "protocol",
            Outcome::FailClosed => "fail_closed",
            Outcome::BudgetExceeded => "budget_exceeded",
            Outcome::ContextOverflow => "context_overflow",
            Outcome::Interrupted => "interrupted",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
            429 => Outcome::Http429,
            401 | 403 => Outcome::Auth,
            // Only a proxy asks for its own authentication.
            407 => Outcome::Proxy,
            500..=599 => Outcome::Http5xx,
            400..=499 => Outcome::Http4xx,
            _ => Outcome::Protocol,
        }
    }

    /// Whether the call was refused before anything was sent.
    pub fn refused_before_send(self) -> bool {
        matches!(self, Outcome::BudgetExceeded | Outcome::ContextOverflow)
    }
}

/// Why an answer ended, as the provider said it, in one vocabulary for every provider
/// (Anthropic's `end_turn` is `stop`, its `max_tokens` is `length`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FinishReason {
    /// The model ended the answer itself (or at a stop sequence).
    Stop,
    /// The answer hit `max_tokens`.
    Length,
    ToolCalls,
    ContentFilter,
    /// A reason llm-drill does not know.
    Other,
}

impl FinishReason {
    pub const ALL: [FinishReason; 5] = [
        FinishReason::Stop,
        FinishReason::Length,
        FinishReason::ToolCalls,
        FinishReason::ContentFilter,
        FinishReason::Other,
    ];

    pub fn key(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other => "other",
        }
    }

    /// From any provider's word for it.
    pub fn from_wire(reason: &str) -> FinishReason {
        match reason {
            "stop" | "end_turn" | "stop_sequence" | "eos" => FinishReason::Stop,
            "length" | "max_tokens" => FinishReason::Length,
            "tool_calls" | "tool_use" | "function_call" => FinishReason::ToolCalls,
            "content_filter" | "refusal" => FinishReason::ContentFilter,
            _ => FinishReason::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_and_indexes_follow_all() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i, "{o:?}");
        }
        assert_eq!(Outcome::from_status(200), Outcome::Ok);
        assert_eq!(Outcome::from_status(429), Outcome::Http429);
        assert_eq!(Outcome::from_status(503), Outcome::Http5xx);
        assert_eq!(Outcome::from_status(404), Outcome::Http4xx);
        assert_eq!(Outcome::from_status(401), Outcome::Auth);
        assert_eq!(Outcome::from_status(403), Outcome::Auth);
        // Issue 11: 1xx and 3xx were counted as http_4xx.
        assert_eq!(Outcome::from_status(101), Outcome::Protocol);
        assert_eq!(Outcome::from_status(302), Outcome::Protocol);
        assert_eq!(FinishReason::from_wire("end_turn"), FinishReason::Stop);
        assert_eq!(FinishReason::from_wire("max_tokens"), FinishReason::Length);
        assert_eq!(FinishReason::from_wire("weird"), FinishReason::Other);
    }
}
