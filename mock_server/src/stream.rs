//! A streamed answer, paced token by token: what precedes the first token goes out at
//! once, then each reasoning token shown and each answer token at its planned time, then
//! the end (or a cut, where a `stream_cut` fault says). Its tokens count in `Stats` as
//! they leave.

use crate::capacity::Paced;
use crate::chat::{InFlight, Meta, Wire};
use crate::tokens::ANSWER_WORDS;
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What the stream still has to send.
enum Step {
    Start,
    /// A reasoning token, shown.
    Thought(usize),
    Token(usize),
    End,
    Closed,
    /// Stopped on purpose by a `stream_cut` fault.
    Cut,
}

/// How a stream goes: its token times, and what the faults do to it.
pub(crate) struct StreamPlan {
    pub(crate) offsets: Vec<Duration>,
    /// A tool call's argument pieces and their tokens, sent in place of answer words.
    pub(crate) pieces: Vec<(&'static str, u64)>,
    /// When each reasoning token shown goes out (empty when the reasoning is hidden).
    pub(crate) thoughts: Vec<Duration>,
    pub(crate) include_usage: bool,
    pub(crate) cut: Option<usize>,
    pub(crate) add_end: Duration,
}

struct StreamState {
    shared: Arc<Shared>,
    wire: &'static dyn Wire,
    _in_flight: InFlight,
    meta: Meta,
    arrival: Instant,
    plan: StreamPlan,
    step: Step,
    /// Its slot and the batch's pace, under `mock.capacity`.
    paced: Option<Paced>,
}

impl StreamState {
    /// What follows the reasoning: the first token, or the end of an empty answer.
    fn after_thoughts(&self) -> Step {
        if self.plan.offsets.is_empty() {
            Step::End
        } else {
            Step::Token(0)
        }
    }

    /// The reasoning is over: its tokens are counted once the answer begins.
    fn reasoned(&self) {
        self.shared
            .stats
            .reasoning_tokens(self.meta.reasoning_tokens as u64);
    }
}

impl Drop for StreamState {
    fn drop(&mut self) {
        match self.step {
            Step::Cut => self.shared.stats.stream_cut(),
            Step::Closed => self.shared.stats.stream_ended(true),
            _ => self.shared.stats.stream_ended(false),
        }
    }
}

pub(crate) fn stream(
    shared: Arc<Shared>,
    wire: &'static dyn Wire,
    guard: InFlight,
    meta: Meta,
    arrival: Instant,
    plan: StreamPlan,
    paced: Option<Paced>,
) -> Response {
    shared.stats.stream_started();
    let state = StreamState {
        shared,
        wire,
        _in_flight: guard,
        meta,
        arrival,
        plan,
        step: Step::Start,
        paced,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        let (bytes, next) = match s.step {
            // What precedes the first token (OpenAI's role chunk, Anthropic's
            // message_start) goes out at once: it carries no content, so a client must
            // not take it for the first token.
            Step::Start => (
                concat(s.wire.stream_start(&s.meta)),
                match s.plan.cut {
                    _ if !s.plan.thoughts.is_empty() => Step::Thought(0),
                    Some(0) => Step::Cut,
                    _ => s.after_thoughts(),
                },
            ),
            Step::Thought(i) => {
                crate::chat::until(s.arrival + s.plan.thoughts[i]).await;
                let word = ANSWER_WORDS[i % ANSWER_WORDS.len()];
                let mut parts = vec![s.wire.stream_thought(&s.meta, word)];
                let next = if i + 1 < s.plan.thoughts.len() {
                    Step::Thought(i + 1)
                } else {
                    parts.extend(s.wire.stream_thought_end(&s.meta));
                    match s.plan.cut {
                        Some(0) => Step::Cut,
                        _ => s.after_thoughts(),
                    }
                };
                (concat(parts), next)
            }
            Step::Token(i) => {
                match s.paced.as_mut() {
                    Some(p) => p.token(s.arrival, &s.plan.offsets, i).await,
                    None => crate::chat::until(s.arrival + s.plan.offsets[i]).await,
                }
                if i == 0 {
                    s.reasoned();
                }
                let word = match s.plan.pieces.get(i) {
                    Some((piece, tokens)) => {
                        s.shared.stats.completion_tokens(*tokens);
                        *piece
                    }
                    None => {
                        s.shared.stats.completion_tokens(1);
                        ANSWER_WORDS[i % ANSWER_WORDS.len()]
                    }
                };
                let next = if s.plan.cut == Some(i + 1) {
                    Step::Cut
                } else if i + 1 < s.plan.offsets.len() {
                    Step::Token(i + 1)
                } else {
                    Step::End
                };
                (s.wire.stream_token(&s.meta, word), next)
            }
            Step::End => {
                if s.plan.offsets.is_empty() {
                    s.reasoned();
                }
                crate::chat::until(Instant::now() + s.plan.add_end).await;
                (
                    concat(s.wire.stream_end(&s.meta, s.plan.include_usage)),
                    Step::Closed,
                )
            }
            Step::Closed | Step::Cut => return None,
        };
        s.step = next;
        Some((Ok::<_, std::convert::Infallible>(bytes), s))
    });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn concat(parts: Vec<Bytes>) -> Bytes {
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    Bytes::from(parts.concat())
}
