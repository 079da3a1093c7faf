//! A streamed answer, paced token by token: what precedes the first token goes out at
//! once, then each reasoning token shown and each answer token at its planned time, then
//! the end (or a cut, where a `stream_cut` fault says). Its tokens count in `Stats` as
//! they leave.

use crate::capacity::Paced;
use crate::chat::{InFlight, Meta, Wire};
use crate::latency::TokenTimes;
use crate::template::TokenTemplate;
use crate::tokens::ANSWER_WORDS;
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
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
    pub(crate) times: TokenTimes,
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
    /// Its token event, made once.
    template: Option<TokenTemplate>,
}

impl StreamState {
    /// What follows the reasoning: the first token, or the end of an empty answer.
    fn after_thoughts(&self) -> Step {
        if self.plan.times.is_empty() {
            Step::End
        } else {
            Step::Token(0)
        }
    }

    /// When token `n`, the next to come, was due, if by `now` and it may go out in the
    /// same write as the one before. (Under `mock.capacity` each token keeps its own pace;
    /// a cut stops before it.)
    fn caught_up(&self, n: usize, now: Instant) -> Option<Instant> {
        if self.paced.is_some() || self.plan.cut == Some(n) {
            return None;
        }
        let at = self.arrival + self.plan.times.peek()?;
        (at <= now).then_some(at)
    }

    /// Token `i`'s text, counted as it leaves.
    fn word(&self, i: usize) -> &'static str {
        match self.plan.pieces.get(i) {
            Some((piece, tokens)) => {
                self.shared.stats.completion_tokens(*tokens);
                piece
            }
            None => {
                self.shared.stats.completion_tokens(1);
                ANSWER_WORDS[i % ANSWER_WORDS.len()]
            }
        }
    }

    /// The event of a token of `text`.
    fn event(&self, text: &str) -> Bytes {
        match &self.template {
            Some(t) => t.event(text),
            None => self.wire.stream_token(&self.meta, text),
        }
    }

    fn put_event(&self, out: &mut BytesMut, text: &str) {
        match &self.template {
            Some(t) => t.append(out, text),
            None => out.extend_from_slice(&self.wire.stream_token(&self.meta, text)),
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
        template: TokenTemplate::new(wire, &meta),
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
                let at = s.arrival + s.plan.thoughts[i];
                s.shared.ticker.until(at).await;
                s.shared.stats.lag.record(at.elapsed());
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
                // Step::Token(i) is only ever set with token i still to come.
                let offset = s.plan.times.peek()?;
                let gap = s.plan.times.gap_before_next();
                let at = match s.paced.as_mut() {
                    Some(p) => p.token(s.arrival + offset, gap).await,
                    None => {
                        let at = s.arrival + offset;
                        s.shared.ticker.until(at).await;
                        at
                    }
                };
                s.plan.times.next();
                if i == 0 {
                    s.reasoned();
                }
                let now = Instant::now();
                s.shared.stats.lag.record(now.saturating_duration_since(at));
                // Tokens already due by now go out in the same write: a stream that woke
                // late catches up in one system call, one SSE event per token as ever.
                let mut next = i + 1;
                let bytes = match s.caught_up(next, now) {
                    None => s.event(s.word(i)),
                    Some(mut at) => {
                        let mut out = BytesMut::new();
                        s.put_event(&mut out, s.word(i));
                        loop {
                            s.plan.times.next();
                            s.shared.stats.lag.record(now.saturating_duration_since(at));
                            s.put_event(&mut out, s.word(next));
                            next += 1;
                            match s.caught_up(next, now) {
                                Some(due) => at = due,
                                None => break,
                            }
                        }
                        out.freeze()
                    }
                };
                let step = if s.plan.cut == Some(next) {
                    Step::Cut
                } else if next < s.plan.times.len() {
                    Step::Token(next)
                } else {
                    Step::End
                };
                (bytes, step)
            }
            Step::End => {
                if s.plan.times.is_empty() {
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
        HeaderValue::from_static(wire.stream_content_type()),
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

/// A whole answer cut by a `stream_cut` fault: its first half, then the connection breaks
/// off, so the client reads a truncated body. The break waits a turn after the half, so
/// that hyper sends the head and the half before it drops the connection: breaking off at
/// once, it dropped them unsent, and the client saw no response at all.
pub(crate) fn broken_off(text: &str) -> Response {
    use futures_util::StreamExt;
    let half = Bytes::from(text[..text.len() / 2].to_string());
    let cut = async {
        tokio::task::yield_now().await;
        Err(std::io::Error::other("cut by a stream_cut fault"))
    };
    let parts =
        futures_util::stream::once(async { Ok(half) }).chain(futures_util::stream::once(cut));
    let mut resp = Body::from_stream(parts).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
