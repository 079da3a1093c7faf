//! The classified result of an attempt or a call. Failures are data: every outcome is
//! counted like a success, under the stable names of SPEC.md (`totals.by_outcome`).

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// 429 Too Many Requests.
    Http429,
    /// Any 5xx (and 529).
    Http5xx,
    /// Any other 4xx: 400, 401, 404, ...
    Http4xx,
    /// The attempt ran past the endpoint's timeout.
    Timeout,
    /// The connection could not be made, or closed before any response.
    Connect,
    /// A stream ended (or reported an error) before its answer was complete.
    StreamCut,
    /// The endpoint answered something that is not its wire format.
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
    pub const ALL: [Outcome; 12] = [
        Outcome::Ok,
        Outcome::Http429,
        Outcome::Http5xx,
        Outcome::Http4xx,
        Outcome::Timeout,
        Outcome::Connect,
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
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect",
            Outcome::StreamCut => "stream_cut",
            Outcome::Protocol => "protocol",
            Outcome::FailClosed => "fail_closed",
            Outcome::BudgetExceeded => "budget_exceeded",
            Outcome::ContextOverflow => "context_overflow",
            Outcome::Interrupted => "interrupted",
        }
    }

    pub fn index(self) -> usize {
        Outcome::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }

    pub fn from_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
            429 => Outcome::Http429,
            500..=599 => Outcome::Http5xx,
            _ => Outcome::Http4xx,
        }
    }

    /// Whether the call was refused before anything was sent.
    pub fn refused_before_send(self) -> bool {
        matches!(self, Outcome::BudgetExceeded | Outcome::ContextOverflow)
    }
}
