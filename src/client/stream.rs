//! Reads a streamed answer: frames its bytes into events (`ProviderFormat::framing`: SSE,
//! or AWS's event-stream messages, whose exceptions reach the provider as
//! `exception:<type>`),
//! lets the provider decode each one, and stamps the first token and every gap between
//! tokens as bytes arrive. A stream that breaks, reports an error or ends without its
//! finish is a `stream_cut`, with how far it got.

use super::attempt::Attempt;
use super::http;
use super::provider::{Framing, ProviderFormat, StreamStep};
use super::sse;
use super::{MAX_EVENT_BYTES, MAX_TEXT_BYTES};
use crate::outcome::Outcome;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

pub(super) async fn read_stream(
    format: &dyn ProviderFormat,
    body: &mut Incoming,
    a: &mut Attempt,
) -> Result<(), (Outcome, String)> {
    let mut parser = match format.framing() {
        Framing::Sse => Parser::Sse(sse::SseParser::new(MAX_EVENT_BYTES)),
        Framing::AwsEventStream => {
            Parser::Aws(super::eventstream::EventStreamParser::new(MAX_EVENT_BYTES))
        }
    };
    let mut last_token: Option<Instant> = None;
    let mut finished = false;
    let mut done = false;
    let mut failure: Option<(Outcome, String)> = None;
    loop {
        let chunk = match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(c) => c,
                Err(_) => continue,
            },
            None => break,
            Some(Err(e)) => {
                return Err((
                    Outcome::StreamCut,
                    format!(
                        "the stream broke after {} deltas: {}",
                        a.deltas,
                        http::error_chain(&e)
                    ),
                ));
            }
        };
        let now = Instant::now();
        let on_event = |event: &str, data: &str| {
            let mut steps = Vec::with_capacity(2);
            if let Err(m) = format.stream_event(event, data, &mut steps) {
                failure = Some((Outcome::Protocol, m));
                return sse::Flow::Stop;
            }
            for step in steps.drain(..) {
                match step {
                    StreamStep::Delta(t) | StreamStep::Reasoning(t) if t.is_empty() => {}
                    StreamStep::Delta(t) => {
                        token(a, &mut last_token, now);
                        if let Some(x) = a.extra.as_deref_mut() {
                            if x.first_visible.is_none() && !x.reasoning.is_empty() {
                                x.first_visible = Some(now);
                            }
                        }
                        keep(&mut a.text, &t);
                    }
                    StreamStep::Reasoning(t) => {
                        token(a, &mut last_token, now);
                        keep(&mut a.extra_mut().reasoning, &t);
                    }
                    StreamStep::ToolCall {
                        id,
                        name,
                        arguments,
                    } => {
                        let call = a.extra_mut().tool_call.get_or_insert_with(Default::default);
                        if let Some(id) = id {
                            call.id = id.into_owned();
                        }
                        if let Some(name) = name {
                            call.name = name.into_owned();
                        }
                        if !arguments.is_empty() {
                            token(a, &mut last_token, now);
                            let call = a.extra_mut().tool_call.get_or_insert_with(Default::default);
                            keep(&mut call.arguments, &arguments);
                        }
                    }
                    StreamStep::Ignore => {}
                    StreamStep::Finished(why) => {
                        finished = true;
                        a.finish = Some(why);
                    }
                    StreamStep::Usage(u) => {
                        a.usage = Some(a.usage.unwrap_or_default().merge_max(u));
                    }
                    StreamStep::ServerMs(ms) => {
                        let x = a.extra_mut();
                        x.server_timing =
                            super::timing::ServerTimings::with_body_latency(x.server_timing, ms);
                    }
                    StreamStep::Done => {
                        done = true;
                        return sse::Flow::Stop;
                    }
                    StreamStep::Error(m) => {
                        failure = Some((
                            Outcome::StreamCut,
                            format!("the endpoint reported an error mid-stream: {m}"),
                        ));
                        return sse::Flow::Stop;
                    }
                }
            }
            sse::Flow::Continue
        };
        if let Err(e) = parser.feed(&chunk, on_event) {
            return Err((Outcome::Protocol, e));
        }
        if let Some(f) = failure {
            return Err(f);
        }
        if done {
            return Ok(());
        }
    }
    if finished {
        // Some servers close after the finish reason without `[DONE]`: the answer is whole.
        return Ok(());
    }
    Err((
        Outcome::StreamCut,
        format!(
            "the stream ended after {} deltas without a finish reason or [DONE]",
            a.deltas
        ),
    ))
}

/// A stream's framing, with its parser's state.
enum Parser {
    Sse(sse::SseParser),
    Aws(super::eventstream::EventStreamParser),
}

impl Parser {
    /// Feeds a chunk, calling `on_event(event, data)` for each whole event: an SSE
    /// event's name and data, or an event-stream message's `:event-type` (or
    /// `exception:<type>`, `error:<code>`) and its payload as text.
    fn feed(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(&str, &str) -> sse::Flow,
    ) -> Result<(), String> {
        match self {
            Parser::Sse(p) => p.feed(chunk, on_event).map(drop).map_err(|e| e.to_string()),
            Parser::Aws(p) => {
                let mut bad_text = false;
                p.feed(chunk, |m| match m.text() {
                    Some(data) => on_event(&m.event_name(), data),
                    None => {
                        bad_text = true;
                        sse::Flow::Stop
                    }
                })
                .map_err(|e| e.to_string())?;
                match bad_text {
                    true => Err("an event-stream message's payload is not UTF-8".into()),
                    false => Ok(()),
                }
            }
        }
    }
}

/// A generated token arrived `now`: the first token's time, or a gap since the last.
fn token(a: &mut Attempt, last: &mut Option<Instant>, now: Instant) {
    match *last {
        None => a.first_token = Some(now),
        Some(prev) => a.itl_us.push((now - prev).as_micros() as u64),
    }
    *last = Some(now);
    a.deltas += 1;
}

/// Appends to a kept text, up to its cap.
fn keep(text: &mut String, more: &str) {
    if text.len() + more.len() <= MAX_TEXT_BYTES {
        text.push_str(more);
    }
}
