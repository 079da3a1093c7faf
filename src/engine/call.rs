//! One call, from its intended start to its sample: its attempts on its endpoint with
//! that endpoint's retry policy and circuit breaker, then its fallback chain or its
//! `fail_closed` escalation. Every way a call can end is an outcome; none is an error.

use super::breaker::Gate;
use super::{Engine, Ready, Turn};
use crate::client::{Attempt, Prepared, Transport};
use crate::outcome::Outcome;
use crate::plan::FallbackPolicy;
use crate::recorder::{CallCost, CallSample, Tried};
use crate::workload::{Answer, CallSpec};
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a call's attempts did, beyond its last attempt.
struct Done {
    cost: CallCost,
    /// The endpoint of the last attempt.
    endpoint: usize,
    first_sent: Instant,
    tried: Vec<Tried>,
    fallbacks: u32,
    /// Attempts the spend guard reserved a worst case for.
    reserved: u32,
}

impl<T: Transport> Engine<T> {
    /// Runs one call and reports it. Never fails: every way it can end is an outcome.
    /// Gives back what the conversation needs of it, and when it ended.
    pub(super) async fn call(&self, turn: Turn, hard: &CancellationToken) -> (Answer, Instant) {
        let Turn {
            call,
            ready,
            intended,
        } = turn;
        let encoding = self.routes[call.endpoint].endpoint.encoding;
        let (sample, text, reserved, tool_call) = match ready {
            Ready::Refuse(outcome, why) => {
                // Refused when its time came, as the product would refuse it.
                let now = Instant::now().max(intended);
                let attempt = Attempt::failed(now, outcome, why);
                let (mut s, _) = CallSample::new(&call, intended, attempt, encoding);
                s.attempts = 0;
                s.cost = crate::cost::modeled(&self.plan, &call);
                (s, None, 1, None)
            }
            Ready::Send(prepared) => {
                let (mut attempt, done) = self.attempts(&call, prepared, hard).await;
                let tool_call = match attempt.outcome {
                    Outcome::Ok => attempt.extra.as_mut().and_then(|x| x.tool_call.take()),
                    _ => None,
                };
                let observed = attempt.served_region();
                let (mut s, text) = CallSample::new(&call, intended, attempt, encoding);
                let served_in = self.routes[done.endpoint].endpoint.region.as_deref();
                s.endpoint = done.endpoint;
                s.started = done.first_sent;
                s.attempts = done.tried.len() as u32;
                s.fallbacks = done.fallbacks;
                s.cost = done.cost;
                // Outside by the endpoint's declared region, or by the region the
                // endpoint said served the call.
                let feature = &self.plan.features[call.feature];
                let ok = s.outcome == Outcome::Ok;
                let declared = ok && !feature.allows_region(served_in);
                s.residency_observed =
                    ok && !declared && observed.is_some_and(|r| !feature.allows_region(Some(r)));
                s.residency_violation = declared || s.residency_observed;
                s.tried = done.tried;
                (
                    s,
                    call.keep_answer.then_some(text),
                    done.reserved,
                    tool_call,
                )
            }
        };
        self.guard.settle(&call, sample.cost.usd, reserved);
        let ok = sample.outcome == Outcome::Ok;
        self.progress.call_finished(ok);
        let answer = Answer {
            ok,
            text,
            input_tokens: sample.input_tokens,
            output_tokens: sample.output_tokens,
            tool_call,
        };
        let end = sample.end;
        // The receiver lives until every call has finished; if it is gone the run is
        // being torn down and the sample has nowhere to go.
        let _ = self.samples.send(sample);
        (answer, end)
    }

    /// Sends a call: attempts on its endpoint with the endpoint's retry policy, then, when
    /// those are used up, on to its fallback (`fallback_policy: fallback`, chains of any
    /// length, each endpoint with its own retries) or ends it as `fail_closed`. Returns
    /// the last attempt, with the call's outcome, and what was tried. Every attempt after
    /// the first reserves its own worst case with the spend guard, since each may be
    /// billed; one that does not fit is not made.
    async fn attempts(
        &self,
        call: &CallSpec,
        mut prepared: Prepared,
        hard: &CancellationToken,
    ) -> (Attempt, Done) {
        let mut ep = call.endpoint;
        let mut done = Done {
            cost: crate::cost::modeled(&self.plan, call),
            endpoint: ep,
            first_sent: Instant::now(),
            tried: Vec::with_capacity(1),
            fallbacks: 0,
            reserved: 1,
        };
        // Seeded per call, so that the same seed gives the same retry schedule.
        let mut jitter = rand_pcg::Pcg32::seed_from_u64(call.retry_seed);
        // A refused credential that is fetched (an OAuth token, a command's output such as
        // `aws configure export-credentials`) is fetched again, and the attempt made once
        // more, signed anew.
        let mut reauthed = false;
        loop {
            let route = &self.routes[ep];
            let retry = &route.endpoint.retry;
            let gate = self.breakers.gate(ep, Instant::now());
            let attempts_here = match gate {
                Gate::Probe => 1,
                _ => retry.max_attempts,
            };
            let mut n = 0;
            let last = loop {
                if gate == Gate::Open {
                    // Nothing is sent: the call moves on at once.
                    break Attempt::injected(
                        Instant::now(),
                        Outcome::BreakerOpen,
                        format!(
                            "circuit breaker of `{}` is open: skipped, nothing sent",
                            route.endpoint.id
                        ),
                    );
                }
                n += 1;
                // Signed as it leaves (SigV4): a call prepared before a credential was
                // refreshed, or retried after a wait, carries the time and keys of now.
                route.sign_now(&mut prepared);
                let sending = Instant::now();
                let a = tokio::select! {
                    a = self.transport.send(route, prepared.clone(), route.endpoint.timeout) => a,
                    // Cut: it was sent when it began, not when it was cut (else its wait
                    // would count as schedule lag, and its start as a late one).
                    _ = hard.cancelled() => Attempt {
                        sent: sending,
                        ..Attempt::failed(Instant::now(), Outcome::Interrupted, "still running when the run stopped")
                    },
                };
                if done.tried.is_empty() {
                    done.first_sent = a.sent;
                }
                let opened = a.outcome != Outcome::Interrupted
                    && self.breakers.record(ep, a.end, a.outcome == Outcome::Ok);
                let cost_usd = crate::cost::bill(&self.plan, call, ep, &a, &mut done.cost);
                done.tried.push(Tried {
                    cost_usd,
                    endpoint: ep,
                    outcome: a.outcome,
                    injected: a.injected,
                    sent: a.sent,
                    end: a.end,
                    opened_breaker: opened,
                    served_region: a.served_region(),
                    http_version: a.http_version,
                    server_timing: a.server_timing(),
                });
                if a.outcome == Outcome::Auth && !reauthed && route.fetches_credential() {
                    reauthed = true;
                    // Boxed: fetching a credential again is rare and its future is
                    // large (9 KB); held inline it made every call's future 10 KB,
                    // allocated and copied per call.
                    if Box::pin(route.refresh_token()).await.is_ok() {
                        // The repeat is not a retry: it does not use the retry budget.
                        n -= 1;
                        continue;
                    }
                }
                let retryable = retry.retry_on.contains(&a.outcome) && !a.quota_exhausted;
                if a.outcome == Outcome::Ok || !retryable || n >= attempts_here || opened {
                    break a;
                }
                if !self.reserve_another(call, &mut done) {
                    break a;
                }
                let wait = retry.wait(n, a.retry_after, jitter.random::<f64>());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = hard.cancelled() => break Attempt::failed(Instant::now(), Outcome::Interrupted, "stopped while waiting to retry"),
                }
            };
            done.endpoint = ep;
            // A refused credential is the endpoint's own: no fallback would fix it, and
            // sending the call elsewhere would hide it.
            if matches!(
                last.outcome,
                Outcome::Ok | Outcome::Interrupted | Outcome::Auth
            ) {
                return (last, done);
            }
            match (route.endpoint.fallback_policy, route.endpoint.fallback) {
                (FallbackPolicy::FailClosed, _) => {
                    let why = format!(
                        "endpoint `{}` failed ({}: {}) and its policy is fail_closed: escalated, not sent elsewhere",
                        route.endpoint.id,
                        last.outcome.key(),
                        last.error.as_deref().unwrap_or("no detail"),
                    );
                    let mut a = last;
                    a.outcome = Outcome::FailClosed;
                    a.error = Some(why);
                    return (a, done);
                }
                (FallbackPolicy::Fallback, Some(next))
                    if !call.messages.is_empty() && self.reserve_another(call, &mut done) =>
                {
                    ep = next;
                    done.fallbacks += 1;
                    prepared = self.routes[ep].prepare(call);
                }
                _ => return (last, done),
            }
        }
    }

    /// Reserves one more attempt's worst case with the spend guard.
    fn reserve_another(&self, call: &CallSpec, done: &mut Done) -> bool {
        let ok = self.guard.reserve_attempt(call);
        done.reserved += ok as u32;
        ok
    }
}
