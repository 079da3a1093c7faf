//! Conversations: each turn is built just before it is due (outside the timed region,
//! yet not held through the think time), refused before sending when it would pass the
//! token budget or the endpoint's context, and started at the previous turn's end plus
//! the think time — its intended start.

use super::{pause_until, Engine, Ready, Turn, BUILD_LEAD};
use crate::client::Transport;
use crate::outcome::Outcome;
use crate::workload::{CallSpec, Session};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

impl<T: Transport> Engine<T> {
    /// Builds the session's next turn, to start at `intended`.
    pub(super) fn turn(&self, session: &mut Session, intended: Instant) -> Turn {
        let call = self.workload.next_call(session);
        self.ready_turn(call, intended)
    }

    /// A call built, made ready to start at `intended`.
    fn ready_turn(&self, mut call: CallSpec, intended: Instant) -> Turn {
        let ready = self.ready(&call);
        // The texts are in the request body now; the call keeps only its figures — and
        // its texts when a fallback may need a body of its own format.
        if self.routes[call.endpoint].endpoint.fallback.is_none() {
            call.messages = Vec::new();
        }
        Turn {
            call,
            ready,
            intended,
        }
    }

    /// Runs a conversation from its first turn (already built and, in open mode, holding
    /// its slot) to its end: each later turn is built as soon as the previous one has
    /// answered, and starts after the think time, at previous end + think time — its
    /// intended start, so waiting for a slot then is schedule lag like any other.
    pub(super) async fn converse(
        &self,
        mut session: Session,
        mut turn: Turn,
        mut permit: Option<OwnedSemaphorePermit>,
        slots: Option<Arc<Semaphore>>,
        stop: &CancellationToken,
        hard: &CancellationToken,
    ) {
        let first = turn.intended;
        loop {
            // Boxed: the conversation's own future then stays small through its think
            // time, instead of carrying room for a whole call's state.
            let (mut answer, end) = Box::pin(self.call(turn, hard)).await;
            drop(permit.take());
            // The model called a tool and the user turn has rounds left: the tool's
            // result goes back to it at once, in the same turn.
            let round = match answer.tool_call.take() {
                Some(called) if answer.ok => {
                    self.workload.tool_round(&mut session, &answer, called)
                }
                _ => None,
            };
            if let Some(call) = round {
                if stop.is_cancelled() || hard.is_cancelled() {
                    return;
                }
                turn = self.ready_turn(call, end);
            } else {
                if !self.workload.answered(&mut session, answer)
                    || stop.is_cancelled()
                    || hard.is_cancelled()
                {
                    return;
                }
                // A replayed conversation's turns start at the log's times — or, when
                // the answer they resend came later than that, as it arrives (counted
                // as held). Others start after the think time.
                let intended = match self.workload.replay_offset(&session) {
                    Some(since_first) if first + since_first < end => {
                        self.held.add(end - (first + since_first));
                        end
                    }
                    Some(since_first) => first + since_first,
                    None => end + self.workload.think_time(&session),
                };
                // The next turn is built a moment before it is due — outside the timed
                // region, yet not held through the think time: 50,000 conversations
                // thinking must not each hold a request body. A stop during the think
                // time ends the conversation: its next turn never started, so it is not
                // a call.
                let build_at = intended.checked_sub(BUILD_LEAD).unwrap_or(intended);
                if !pause_until(build_at, stop, hard).await {
                    return;
                }
                turn = self.turn(&mut session, intended);
                if !pause_until(intended, stop, hard).await {
                    return;
                }
            }
            if !self.guard.admit(&turn.call) {
                stop.cancel();
                return;
            }
            if let (Some(slots), Ready::Send(_)) = (&slots, &turn.ready) {
                permit = tokio::select! {
                    biased;
                    _ = hard.cancelled() => return,
                    _ = stop.cancelled() => return,
                    p = slots.clone().acquire_owned() => match p { Ok(p) => Some(p), Err(_) => return },
                };
            }
            self.progress.call_started();
        }
    }

    /// Everything that can be decided before the clock starts: the request body, or a
    /// refusal that means nothing is sent.
    fn ready(&self, call: &CallSpec) -> Ready {
        let route = &self.routes[call.endpoint];
        let needed = call.input_tokens as u64 + call.max_tokens as u64;
        if let Some(left) = call.budget_left {
            if needed > left {
                return Ready::Refuse(
                    Outcome::BudgetExceeded,
                    format!(
                        "turn {}: prompt {} + answer {} tokens would pass the conversation's token_budget ({left} left)",
                        call.turn, call.input_tokens, call.max_tokens
                    ),
                );
            }
        }
        if let Some(max) = route.endpoint.max_context_tokens {
            if needed > max as u64 {
                return Ready::Refuse(
                    Outcome::ContextOverflow,
                    format!(
                        "turn {}: prompt {} + answer {} tokens exceed max_context_tokens {max} of endpoint `{}`",
                        call.turn, call.input_tokens, call.max_tokens, route.endpoint.id
                    ),
                );
            }
        }
        Ready::Send(route.prepare(call))
    }
}
