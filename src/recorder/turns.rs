//! Per turn of a conversation (and per round of an agentic turn): enough to see prompts
//! and latency grow as conversations go on, without a whole `Metrics` per turn.

use super::{new_histogram, record_us, us, CallSample};
use crate::outcome::Outcome;
use hdrhistogram::Histogram;

/// Turns past this one are recorded together, in the last row.
pub const TURN_ROWS: usize = 50;
/// Rounds of a turn past this one are recorded together.
const MAX_ROUNDS: usize = 50;

/// One turn number of one feature: enough to see prompts and latency grow with the
/// conversation, without a whole `Metrics` per turn.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct TurnMetrics {
    pub calls: u64,
    pub outcomes: [u64; Outcome::ALL.len()],
    /// Tokens of the successful calls.
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// Successful calls, from the intended start.
    #[serde(with = "super::state::hist")]
    pub latency: Histogram<u64>,
    #[serde(with = "super::state::hist")]
    pub ttft: Histogram<u64>,
    /// Agentic features: per round of the turn (from 1), calls, successful calls and
    /// their prompt tokens.
    pub rounds: Vec<RoundMetrics>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoundMetrics {
    pub calls: u64,
    pub ok: u64,
    pub input_tokens: u64,
}

impl Default for TurnMetrics {
    fn default() -> Self {
        TurnMetrics {
            calls: 0,
            outcomes: [0; Outcome::ALL.len()],
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            latency: new_histogram(),
            ttft: new_histogram(),
            rounds: Vec::new(),
        }
    }
}

impl TurnMetrics {
    /// User turns: a turn's first round (every call, for features without tools).
    pub fn user_turns(&self) -> u64 {
        self.rounds.first().map_or(self.calls, |r| r.calls)
    }

    /// Its rounds, with the calls of a turn that never went past its first round
    /// counted in round 1.
    fn round_rows(&self) -> Vec<RoundMetrics> {
        if self.rounds.is_empty() {
            vec![RoundMetrics {
                calls: self.calls,
                ok: self.outcomes[Outcome::Ok.index()],
                input_tokens: self.input_tokens,
            }]
        } else {
            self.rounds.clone()
        }
    }

    /// Adds another recorder's row for the same turn.
    pub(super) fn merge(&mut self, other: &TurnMetrics) {
        if !self.rounds.is_empty() || !other.rounds.is_empty() {
            let (mut mine, theirs) = (self.round_rows(), other.round_rows());
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), RoundMetrics::default());
            }
            for (m, t) in mine.iter_mut().zip(&theirs) {
                m.calls += t.calls;
                m.ok += t.ok;
                m.input_tokens += t.input_tokens;
            }
            self.rounds = mine;
        }
        self.calls += other.calls;
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
            *a += b;
        }
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_usd += other.cost_usd;
        super::state::add(&mut self.latency, &other.latency);
        super::state::add(&mut self.ttft, &other.ttft);
    }

    pub(super) fn record(&mut self, s: &CallSample) {
        if s.round > 1 || !self.rounds.is_empty() {
            let i = (s.round.max(1) as usize - 1).min(MAX_ROUNDS - 1);
            if self.rounds.is_empty() {
                // The rounds seen so far were all first rounds.
                self.rounds.push(RoundMetrics {
                    calls: self.calls,
                    ok: self.outcomes[Outcome::Ok.index()],
                    input_tokens: self.input_tokens,
                });
            }
            if self.rounds.len() <= i {
                self.rounds.resize(i + 1, RoundMetrics::default());
            }
            let r = &mut self.rounds[i];
            r.calls += 1;
            if s.outcome == Outcome::Ok {
                r.ok += 1;
                r.input_tokens += s.input_tokens;
            }
        }
        self.calls += 1;
        self.outcomes[s.outcome.index()] += 1;
        self.cost_usd += s.cost.usd;
        if s.outcome == Outcome::Ok {
            self.input_tokens += s.input_tokens;
            self.output_tokens += s.output_tokens;
            record_us(
                &mut self.latency,
                us(s.end.saturating_duration_since(s.intended)),
            );
            if let Some(ft) = s.first_token {
                record_us(&mut self.ttft, us(ft.saturating_duration_since(s.intended)));
            }
        }
    }
}
