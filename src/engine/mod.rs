//! The one driver for every load shape. Open mode fixes each call's intended start from
//! the arrival schedule and never lets a slow endpoint slow the schedule: a call that
//! must wait (for `max_in_flight`, or because the driver is late) carries that wait as
//! schedule lag inside its latency. Closed mode runs `concurrency` users back to back.
//!
//! One shutdown path: a soft stop (the schedule ended, or Ctrl-C) stops new calls; calls
//! in flight get `graceful_stop` (or their timeout, on Ctrl-C), then a hard stop cuts
//! them and records them as `interrupted`. The engine never prints and never exits.

pub mod breaker;
pub mod guard;
mod progress;

pub use progress::Progress;

use crate::client::{Attempt, BoxFuture, Outcome, Route, Transport};
use crate::plan::FallbackPolicy;
use crate::plan::{ArrivalSchedule, LoadPlan, Plan};
use crate::recorder::{CallCost, CallSample, Tried};
use crate::workload::{Answer, CallSpec, Session, Workload};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Everything a call needs, shared by all of them.
pub struct Engine<T: Transport> {
    pub plan: Arc<Plan>,
    pub routes: Arc<Vec<Route>>,
    pub transport: T,
    pub workload: Arc<Workload>,
    pub samples: mpsc::UnboundedSender<CallSample>,
    pub progress: Arc<Progress>,
    pub pacer: Pacer,
    pub breakers: breaker::Breakers,
    pub guard: guard::Guard,
}

/// How the driving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveReport {
    pub start: Instant,
    /// Calls (turns of sessions) started.
    pub started: u64,
    /// Sessions the schedule (or the closed-mode users) started.
    pub sessions: u64,
    /// The user stopped the run before its schedule ended.
    pub interrupted: bool,
    /// The spend guard stopped it.
    pub guard_stopped: bool,
}

impl<T: Transport> Engine<T> {
    /// Runs the plan's load to its end (or until `stop` is cancelled).
    pub async fn drive(self: Arc<Self>, start: Instant, stop: CancellationToken) -> DriveReport {
        let hard = CancellationToken::new();
        let (sessions, in_flight) = match self.plan.load.clone() {
            LoadPlan::Open {
                stages,
                arrival,
                max_in_flight,
            } => {
                let schedule = ArrivalSchedule::new(&stages, arrival, self.plan.seed);
                self.clone()
                    .open(start, schedule, max_in_flight, &stop, &hard)
                    .await
            }
            LoadPlan::Closed { concurrency } => {
                self.clone().closed(start, concurrency, &stop, &hard).await
            }
        };
        // Calls still running get their grace period (`graceful_stop`; after a Ctrl-C,
        // their timeout), then are cut. A Ctrl-C during the grace period shortens it.
        let longest_timeout = self
            .routes
            .iter()
            .map(|r| r.endpoint.timeout)
            .max()
            .unwrap_or_default();
        // A stop the spend guard made is not the user's.
        let guarded = || self.guard.tripped();
        let mut interrupted = stop.is_cancelled() && !guarded();
        let now = Instant::now();
        let mut grace_end = now
            + if interrupted {
                longest_timeout
            } else {
                self.plan.graceful_stop
            };
        in_flight.close();
        loop {
            tokio::select! {
                // A stop comes first: when it ends the last sessions (in their think
                // time) at the same instant, the run was still cut short.
                biased;
                _ = stop.cancelled(), if !interrupted && !guarded() => {
                    interrupted = true;
                    grace_end = grace_end.min(Instant::now() + longest_timeout);
                }
                _ = in_flight.wait() => break,
                _ = sleep_until(grace_end) => {
                    hard.cancel();
                    in_flight.wait().await;
                    break;
                }
            }
        }
        DriveReport {
            start,
            started: self.progress.started(),
            sessions,
            interrupted,
            guard_stopped: self.guard.tripped(),
        }
    }

    async fn open(
        self: Arc<Self>,
        start: Instant,
        schedule: ArrivalSchedule,
        max_in_flight: usize,
        stop: &CancellationToken,
        hard: &CancellationToken,
    ) -> (u64, TaskTracker) {
        // The pacer releases each arrival (a new session and its first turn) at its
        // intended time; the loop below gives it a slot and starts it. The channel is
        // bounded, so when `max_in_flight` holds calls back the pacer waits too, and
        // memory stays flat: the arrivals it then releases late carry their lateness as
        // schedule lag.
        let (tx, mut arrivals) = mpsc::channel::<Arrival>(1024);
        let on_thread = self.pacer == Pacer::Thread && {
            let (engine, stop, schedule, tx) =
                (self.clone(), stop.clone(), schedule.clone(), tx.clone());
            std::thread::Builder::new()
                .name("llm-drill-pacer".into())
                .spawn(move || engine.pace_thread(start, schedule, tx, stop))
                .is_ok()
        };
        // Without a thread of its own (or under the paused clock), tokio's timer paces.
        if on_thread {
            drop(tx);
        } else {
            let (engine, stop) = (self.clone(), stop.clone());
            tokio::spawn(async move { engine.pace_async(start, schedule, tx, stop).await });
        }
        let slots = Arc::new(Semaphore::new(max_in_flight));
        let sessions = TaskTracker::new();
        let mut started = 0u64;
        loop {
            let arrival = tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                a = arrivals.recv() => match a { Some(a) => a, None => break },
            };
            let permit = match &arrival.turn.ready {
                Ready::Send(_) => tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    p = slots.clone().acquire_owned() => match p { Ok(p) => Some(p), Err(_) => break },
                },
                // A refused turn sends nothing, so it takes no slot.
                Ready::Refuse(..) => None,
            };
            if !self.guard.admit(&arrival.turn.call) {
                stop.cancel();
                break;
            }
            started += 1;
            self.progress.call_started();
            let (engine, stop, hard) = (self.clone(), stop.clone(), hard.clone());
            if arrival.session.turns == 1 {
                // One call: no conversation to keep.
                sessions.spawn(async move {
                    engine.call(arrival.turn, &hard).await;
                    drop(permit);
                });
            } else {
                let slots = Some(slots.clone());
                sessions.spawn(async move {
                    let (session, turn) = (arrival.session, arrival.turn);
                    engine
                        .converse(session, turn, permit, slots, &stop, &hard)
                        .await;
                });
            }
        }
        (started, sessions)
    }

    /// Builds arrival `index` — a new session and its first turn, request included —
    /// before its time comes, never inside the timed region.
    fn arrival(&self, index: usize, start: Instant, intended: Instant) -> Arrival {
        let mut session = self.workload.session(index as u64, intended - start);
        let turn = self.turn(&mut session, intended);
        Arrival { session, turn }
    }

    /// Builds the session's next turn, to start at `intended`.
    fn turn(&self, session: &mut Session, intended: Instant) -> Turn {
        let mut call = self.workload.next_call(session);
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
    async fn converse(
        &self,
        mut session: Session,
        mut turn: Turn,
        mut permit: Option<OwnedSemaphorePermit>,
        slots: Option<Arc<Semaphore>>,
        stop: &CancellationToken,
        hard: &CancellationToken,
    ) {
        loop {
            // Boxed: the conversation's own future then stays small through its think
            // time, instead of carrying room for a whole call's state.
            let (answer, end) = Box::pin(self.call(turn, hard)).await;
            drop(permit.take());
            if !self.workload.answered(&mut session, answer)
                || stop.is_cancelled()
                || hard.is_cancelled()
            {
                return;
            }
            let intended = end + self.workload.think_time(&session);
            // The next turn is built a moment before it is due — outside the timed
            // region, yet not held through the think time: 50,000 conversations
            // thinking must not each hold a request body. A stop during the think time
            // ends the conversation: its next turn never started, so it is not a call.
            let build_at = intended.checked_sub(BUILD_LEAD).unwrap_or(intended);
            if !pause_until(build_at, stop, hard).await {
                return;
            }
            turn = self.turn(&mut session, intended);
            if !pause_until(intended, stop, hard).await {
                return;
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

    /// Paces on tokio's timer (millisecond resolution; exact under the paused clock).
    async fn pace_async(
        &self,
        start: Instant,
        schedule: ArrivalSchedule,
        tx: mpsc::Sender<Arrival>,
        stop: CancellationToken,
    ) {
        for (index, offset) in schedule.enumerate() {
            let arrival = self.arrival(index, start, start + offset);
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = sleep_until(arrival.turn.intended) => {}
            }
            if tx.send(arrival).await.is_err() {
                return;
            }
        }
    }

    /// Paces on a thread of its own with the OS's sleep, which wakes within tens of
    /// microseconds where tokio's timer rounds up to the next millisecond. Call
    /// building happens here too, off the runtime's threads.
    fn pace_thread(
        &self,
        start: Instant,
        schedule: ArrivalSchedule,
        tx: mpsc::Sender<Arrival>,
        stop: CancellationToken,
    ) {
        let std_start = start.into_std();
        for (index, offset) in schedule.enumerate() {
            let intended = std_start + offset;
            let arrival = self.arrival(index, start, Instant::from_std(intended));
            loop {
                if stop.is_cancelled() {
                    return;
                }
                let now = std::time::Instant::now();
                if now >= intended {
                    break;
                }
                // Short naps, so a stop is noticed within 50 ms even at 1 call a minute.
                std::thread::sleep((intended - now).min(Duration::from_millis(50)));
            }
            if tx.blocking_send(arrival).is_err() {
                return;
            }
        }
    }

    async fn closed(
        self: Arc<Self>,
        start: Instant,
        concurrency: usize,
        stop: &CancellationToken,
        hard: &CancellationToken,
    ) -> (u64, TaskTracker) {
        let end = start + self.plan.duration;
        let users = TaskTracker::new();
        let sessions = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let user = |user: u64| {
            let (engine, stop, hard, sessions) =
                (self.clone(), stop.clone(), hard.clone(), sessions.clone());
            // Tracked however the user ends — even by a panic — so the run never waits
            // for a user that is gone.
            users.track_future(async move {
                let mut n = 0u64;
                // Each user's sessions get keys of their own, so the traffic depends on
                // the seed and the user, not on which user happens to run first. A
                // session begun before `end` runs all its turns.
                loop {
                    let now = Instant::now();
                    if now >= end || stop.is_cancelled() {
                        break;
                    }
                    let mut session = engine.workload.session((user << 32) | n, now - start);
                    let turn = engine.turn(&mut session, now);
                    if !engine.guard.admit(&turn.call) {
                        stop.cancel();
                        break;
                    }
                    n += 1;
                    sessions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    engine.progress.call_started();
                    engine
                        .converse(session, turn, None, None, &stop, &hard)
                        .await;
                }
            })
        };
        match self.pacer {
            Pacer::Tokio => {
                for u in 0..concurrency as u64 {
                    tokio::spawn(user(u));
                }
            }
            Pacer::Thread => {
                // One single-threaded runtime per core, each running its share of the
                // users and their connections: no task hops between threads, which at
                // tens of thousands of calls a second cost more than the calls.
                let cores = std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .min(concurrency);
                let main = tokio::runtime::Handle::current();
                for core in 0..cores {
                    let users: Vec<BoxFuture<'static, ()>> = (core..concurrency)
                        .step_by(cores)
                        .map(|u| Box::pin(user(u as u64)) as BoxFuture<'static, ()>)
                        .collect();
                    // The users are handed over once the thread exists, so that if it
                    // cannot start they still run, on the main runtime.
                    let (hand_over, receive) =
                        std::sync::mpsc::channel::<Vec<BoxFuture<'static, ()>>>();
                    let main = main.clone();
                    let spawned = std::thread::Builder::new()
                        .name(format!("llm-drill-users-{core}"))
                        .spawn(move || {
                            let Ok(users) = receive.recv() else { return };
                            match tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                            {
                                Ok(rt) => {
                                    crate::client::http::set_shard(core + 1);
                                    rt.block_on(async {
                                        let handles: Vec<_> =
                                            users.into_iter().map(tokio::spawn).collect();
                                        for h in handles {
                                            let _ = h.await;
                                        }
                                    });
                                }
                                Err(_) => users.into_iter().for_each(|u| drop(main.spawn(u))),
                            }
                        });
                    let unplaced = match spawned {
                        Ok(_) => hand_over.send(users).err().map(|e| e.0),
                        Err(_) => Some(users),
                    };
                    for u in unplaced.into_iter().flatten() {
                        tokio::spawn(u);
                    }
                }
            }
        }
        // The users stop starting sessions at `end`; wait for that point, then hand
        // their last sessions to the same grace period as open mode.
        tokio::select! {
            _ = sleep_until(end) => {}
            _ = stop.cancelled() => {}
        }
        (sessions.load(std::sync::atomic::Ordering::Relaxed), users)
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

    /// Runs one call and reports it. Never fails: every way it can end is an outcome.
    /// Gives back what the conversation needs of it, and when it ended.
    async fn call(&self, turn: Turn, hard: &CancellationToken) -> (Answer, Instant) {
        let Turn {
            call,
            ready,
            intended,
        } = turn;
        let (sample, text) = match ready {
            Ready::Refuse(outcome, why) => {
                // Refused when its time came, as the product would refuse it.
                let now = Instant::now().max(intended);
                let (mut s, _) = self.sample(&call, intended, Attempt::failed(now, outcome, why));
                s.attempts = 0;
                s.cost = self.modeled(&call);
                (s, None)
            }
            Ready::Send(prepared) => {
                let (attempt, done) = self.attempts(&call, prepared, hard).await;
                let (mut s, text) = self.sample(&call, intended, attempt);
                s.endpoint = done.endpoint;
                s.started = done.first_sent;
                s.attempts = done.tried.len() as u32;
                s.fallbacks = done.fallbacks;
                s.cost = done.cost;
                s.residency_violation =
                    s.outcome == Outcome::Ok && self.outside_residency(&call, done.endpoint);
                s.tried = done.tried;
                (s, call.keep_answer.then_some(text))
            }
        };
        self.guard.settle(&call, sample.cost.usd);
        let ok = sample.outcome == Outcome::Ok;
        self.progress.call_finished(ok);
        let answer = Answer {
            ok,
            text,
            input_tokens: sample.input_tokens,
            output_tokens: sample.output_tokens,
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
    /// the last attempt, with the call's outcome, and what was tried.
    async fn attempts(
        &self,
        call: &CallSpec,
        mut prepared: crate::client::Prepared,
        hard: &CancellationToken,
    ) -> (Attempt, Done) {
        let mut ep = call.endpoint;
        let mut done = Done {
            cost: self.modeled(call),
            endpoint: ep,
            first_sent: Instant::now(),
            tried: Vec::with_capacity(1),
            fallbacks: 0,
        };
        loop {
            let route = &self.routes[ep];
            let retry = &route.endpoint.retry;
            let gate = self.breakers.gate(ep, Instant::now());
            let attempts_here = match gate {
                breaker::Gate::Probe => 1,
                _ => retry.max_attempts,
            };
            let mut n = 0;
            let last = loop {
                if gate == breaker::Gate::Open {
                    // Nothing is sent: the call moves on at once.
                    let mut a = Attempt::failed(
                        Instant::now(),
                        Outcome::Connect,
                        format!(
                            "circuit breaker of `{}` is open: skipped, nothing sent",
                            route.endpoint.id
                        ),
                    );
                    a.injected = true;
                    break a;
                }
                n += 1;
                let a = tokio::select! {
                    a = self.transport.send(route, prepared.clone(), route.endpoint.timeout) => a,
                    _ = hard.cancelled() => Attempt::failed(Instant::now(), Outcome::Interrupted, "still running when the run stopped"),
                };
                if done.tried.is_empty() {
                    done.first_sent = a.sent;
                }
                let opened = a.outcome != Outcome::Interrupted
                    && self.breakers.record(ep, a.end, a.outcome == Outcome::Ok);
                let cost_usd = self.bill(call, ep, &a, &mut done.cost);
                done.tried.push(Tried {
                    cost_usd,
                    endpoint: ep,
                    outcome: a.outcome,
                    injected: a.injected,
                    sent: a.sent,
                    end: a.end,
                    opened_breaker: opened,
                });
                let retryable = retry.retry_on.contains(&a.outcome) && !a.quota_exhausted;
                if a.outcome == Outcome::Ok || !retryable || n >= attempts_here || opened {
                    break a;
                }
                let wait = retry.wait(n, a.retry_after, rand::random::<f64>());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = hard.cancelled() => break Attempt::failed(Instant::now(), Outcome::Interrupted, "stopped while waiting to retry"),
                }
            };
            done.endpoint = ep;
            if matches!(last.outcome, Outcome::Ok | Outcome::Interrupted) {
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
                (FallbackPolicy::Fallback, Some(next)) if !call.messages.is_empty() => {
                    ep = next;
                    done.fallbacks += 1;
                    prepared = self.routes[ep].prepare(call);
                }
                _ => return (last, done),
            }
        }
    }

    /// The tokens an attempt generated and was billed for: a success's, as the endpoint
    /// reported them (or as planned and counted), and a cut stream's so far; nothing
    /// for 429s, errors, refused connections and injected faults. Adds them to the
    /// call's figures; returns the attempt's cost.
    fn bill(&self, call: &CallSpec, ep: usize, a: &Attempt, cost: &mut CallCost) -> f64 {
        let (input, cached, output) = match (a.outcome, a.usage) {
            (Outcome::Ok, Some(u)) => (u.input_tokens, u.cached_input_tokens, u.output_tokens),
            (Outcome::Ok, None) => {
                let enc = self.routes[ep].endpoint.encoding;
                (call.input_tokens as u64, 0, enc.count(&a.text) as u64)
            }
            (Outcome::StreamCut, _) if a.deltas > 0 && !a.injected => {
                (call.input_tokens as u64, 0, a.deltas)
            }
            _ => return 0.0,
        };
        cost.billed_attempts += 1;
        let plan = &self.plan;
        let usd = plan.endpoints[ep]
            .price
            .map_or(0.0, |p| p.cost(input, cached, output));
        cost.usd += usd;
        if let Some(p) = plan.endpoints[call.endpoint].price {
            cost.primary_input_usd += input as f64 * p.input;
            cost.primary_output_usd += output as f64 * p.output;
        }
        usd
    }

    /// A typical first turn of the call's feature at its first endpoint's price: the
    /// call a sampled test would have priced.
    fn modeled(&self, call: &CallSpec) -> CallCost {
        let (input, output) = self.plan.features[call.feature].typical_first_turn();
        let price = self.plan.endpoints[call.endpoint].price;
        CallCost {
            modeled_input_usd: price.map_or(0.0, |p| input * p.input),
            modeled_output_usd: price.map_or(0.0, |p| output * p.output),
            ..CallCost::default()
        }
    }

    /// Whether the feature has a residency list and `endpoint` is outside it.
    fn outside_residency(&self, call: &CallSpec, endpoint: usize) -> bool {
        let Some(allowed) = &self.plan.features[call.feature].residency else {
            return false;
        };
        let region = self.routes[endpoint].endpoint.region.as_deref();
        !region.is_some_and(|r| allowed.iter().any(|a| crate::plan::regions::same(a, r)))
    }

    /// The call's sample for the recorder, and the answer's text.
    fn sample(&self, call: &CallSpec, intended: Instant, a: Attempt) -> (CallSample, String) {
        let encoding = self.routes[call.endpoint].endpoint.encoding;
        // Output tokens: as reported, else counted from the text (flagged as estimated).
        let (input_tokens, output_tokens, estimated) = match a.usage {
            Some(u) => (u.input_tokens, u.output_tokens, false),
            None if a.outcome == Outcome::Ok || !a.text.is_empty() => (
                call.input_tokens as u64,
                encoding.count(&a.text) as u64,
                true,
            ),
            None => (0, 0, false),
        };
        let sample = CallSample {
            feature: call.feature,
            endpoint: call.endpoint,
            turn: call.turn,
            outcome: a.outcome,
            intended,
            started: a.sent,
            first_token: a.first_token,
            end: a.end,
            itl_us: a.itl_us,
            input_tokens,
            output_tokens,
            tokens_estimated: estimated,
            // Only where the endpoint reported usage can its count be compared with the plan.
            planned_input_tokens: if a.usage.is_some() {
                call.input_tokens as u64
            } else {
                0
            },
            attempts: 1,
            error: a.error,
            tried: Vec::new(),
            fallbacks: 0,
            first_endpoint: call.endpoint,
            cost: CallCost::default(),
            residency_violation: false,
        };
        (sample, a.text)
    }
}

/// Sleeps until `until`; false if the run stopped first.
async fn pause_until(until: Instant, stop: &CancellationToken, hard: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = hard.cancelled() => false,
        _ = stop.cancelled() => false,
        _ = sleep_until(until) => true,
    }
}

/// How long before its intended start a later turn of a conversation is built.
const BUILD_LEAD: Duration = Duration::from_millis(20);

/// Where the load is driven from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacer {
    /// What real runs use: open mode paced by a thread sleeping on the OS clock
    /// (precise); closed-mode users on one single-threaded runtime per core.
    Thread,
    /// Everything on the calling runtime with tokio's timer: follows tokio's paused
    /// clock, for tests.
    Tokio,
}

/// What a call's attempts did, beyond its last attempt.
struct Done {
    cost: CallCost,
    /// The endpoint of the last attempt.
    endpoint: usize,
    first_sent: Instant,
    tried: Vec<Tried>,
    fallbacks: u32,
}

/// A session arriving from the schedule, with its first turn.
struct Arrival {
    session: Session,
    turn: Turn,
}

/// A turn built and waiting for its intended start.
struct Turn {
    call: CallSpec,
    ready: Ready,
    intended: Instant,
}

enum Ready {
    Send(crate::client::Prepared),
    Refuse(Outcome, String),
}
