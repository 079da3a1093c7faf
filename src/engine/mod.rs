//! The one driver for every load shape. Open mode fixes each call's intended start from
//! the arrival schedule and never lets a slow endpoint slow the schedule: a call that
//! must wait (for `max_in_flight`, or because the driver is late) carries that wait as
//! schedule lag inside its latency. Closed mode runs `concurrency` users back to back.
//!
//! One shutdown path: a soft stop (the schedule ended, or Ctrl-C) stops new calls; calls
//! in flight get `graceful_stop` (or their timeout, on Ctrl-C), then a hard stop cuts
//! them and records them as `interrupted`. The engine never prints and never exits.
//!
//! Files: this one (the engine and its shutdown), `open` and `closed` (the load
//! shapes), `session` (conversations and their turns), `call` (attempts, retries,
//! breaker, fallback), `breaker`, `guard` (the spend guard), `progress`.

pub mod breaker;
mod call;
mod closed;
pub mod guard;
mod open;
mod progress;
mod session;

pub use progress::Progress;

use crate::client::{Prepared, Route, Transport};
use crate::outcome::Outcome;
use crate::plan::{ArrivalSchedule, LoadPlan, Plan};
use crate::recorder::CallSample;
use crate::workload::{CallSpec, Session, Workload};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

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
    /// Replayed turns that were due before the answer they resend had arrived.
    pub held: Held,
    /// How far behind its schedule the pacer itself fell.
    pub pacing: Pacing,
}

/// The pacer's own lateness: arrivals it released more than `LATE` after their
/// intended start while the driver had room for them — llm-drill building calls
/// slower than the schedule asks, not an endpoint or `max_in_flight` holding it back
/// (a full channel is that, and is not counted).
#[derive(Debug, Default)]
pub struct Pacing {
    pub released: std::sync::atomic::AtomicU64,
    pub late: std::sync::atomic::AtomicU64,
    pub late_max_us: std::sync::atomic::AtomicU64,
}

/// Released later than this after its intended start, an arrival was late.
pub const LATE: Duration = Duration::from_millis(5);

impl Pacing {
    pub(super) fn released(&self, late_by: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.released.fetch_add(1, Relaxed);
        if late_by > LATE {
            self.late.fetch_add(1, Relaxed);
            self.late_max_us
                .fetch_max(late_by.as_micros().min(u64::MAX as u128) as u64, Relaxed);
        }
    }

    /// Arrivals released, those late, and the latest (ms).
    pub fn figures(&self) -> (u64, u64, f64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.released.load(Relaxed),
            self.late.load(Relaxed),
            self.late_max_us.load(Relaxed) as f64 / 1000.0,
        )
    }
}

/// Replayed turns held for their history: a later turn of a conversation cannot start
/// before the answer it resends exists, so it starts then. The hold is the log's pace
/// meeting a slower endpoint (or a high `speed`), not the generator's lateness, and is
/// counted here rather than as schedule lag.
#[derive(Debug, Default)]
pub struct Held {
    pub turns: std::sync::atomic::AtomicU64,
    pub total_us: std::sync::atomic::AtomicU64,
    pub max_us: std::sync::atomic::AtomicU64,
}

impl Held {
    pub(super) fn add(&self, by: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let us = by.as_micros().min(u64::MAX as u128) as u64;
        self.turns.fetch_add(1, Relaxed);
        self.total_us.fetch_add(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    /// Turns held, and their mean and longest hold in milliseconds.
    pub fn figures(&self) -> (u64, f64, f64) {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.turns.load(Relaxed);
        let mean = self.total_us.load(Relaxed) as f64 / n.max(1) as f64 / 1000.0;
        (n, mean, self.max_us.load(Relaxed) as f64 / 1000.0)
    }
}

/// How the driving ended.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// Replayed turns held for their history: how many, mean and longest hold (ms).
    pub held: (u64, f64, f64),
    /// The pacer: arrivals released, released late with room to send, the latest (ms).
    pub pacing: (u64, u64, f64),
}

impl<T: Transport> Engine<T> {
    /// An engine for `plan`, sending through `transport` to `routes` (one per endpoint,
    /// in the plan's order) and reporting each finished call on `samples`.
    pub fn new(
        plan: Arc<Plan>,
        routes: Vec<Route>,
        transport: T,
        samples: mpsc::UnboundedSender<CallSample>,
        pacer: Pacer,
    ) -> Engine<T> {
        Engine {
            workload: Arc::new(Workload::new(&plan)),
            breakers: breaker::Breakers::for_plan(&plan),
            guard: guard::Guard::for_plan(&plan),
            held: Held::default(),
            pacing: Pacing::default(),
            progress: Arc::new(Progress::default()),
            routes: Arc::new(routes),
            plan,
            transport,
            samples,
            pacer,
        }
    }

    /// Runs the plan's load to its end (or until `stop` is cancelled).
    pub async fn drive(self: Arc<Self>, start: Instant, stop: CancellationToken) -> DriveReport {
        let hard = CancellationToken::new();
        let shard = self.plan.shard;
        let (sessions, in_flight) = match self.plan.load.clone() {
            LoadPlan::Open {
                stages,
                arrival,
                max_in_flight,
            } => {
                let schedule = ArrivalSchedule::new(&stages, arrival, self.plan.seed)
                    .enumerate()
                    .filter(move |(i, _)| shard.owns(*i as u64));
                self.clone()
                    .open(start, schedule, max_in_flight, &stop, &hard)
                    .await
            }
            LoadPlan::Closed { concurrency } => {
                self.clone().closed(start, concurrency, &stop, &hard).await
            }
            LoadPlan::Replay {
                replay,
                max_in_flight,
            } => {
                let schedule = replay
                    .calls
                    .arrivals()
                    .into_iter()
                    .enumerate()
                    .filter(move |(i, _)| shard.owns(*i as u64));
                let driven = self
                    .clone()
                    .open(start, schedule, max_in_flight, &stop, &hard)
                    .await;
                // Later turns of its conversations come up to the log's last row: the
                // grace period starts after that, not after the last conversation began.
                pause_until(start + self.plan.duration, &stop, &hard).await;
                driven
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
            held: self.held.figures(),
            pacing: self.pacing.figures(),
        }
    }
}

/// Sleeps until `until`; false if the run stopped first.
pub(super) async fn pause_until(
    until: Instant,
    stop: &CancellationToken,
    hard: &CancellationToken,
) -> bool {
    tokio::select! {
        biased;
        _ = hard.cancelled() => false,
        _ = stop.cancelled() => false,
        _ = sleep_until(until) => true,
    }
}

/// How long before its intended start a later turn of a conversation is built.
pub(super) const BUILD_LEAD: Duration = Duration::from_millis(20);

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

/// A session arriving from the schedule, with its first turn.
pub(super) struct Arrival {
    pub session: Session,
    pub turn: Turn,
}

/// A turn built and waiting for its intended start.
pub(super) struct Turn {
    pub call: CallSpec,
    pub ready: Ready,
    pub intended: Instant,
}

pub(super) enum Ready {
    Send(Prepared),
    Refuse(Outcome, String),
}
