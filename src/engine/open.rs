//! Open mode: a pacer releases each arrival — a new session and its first turn, built
//! before its time — at its intended start, on a thread of its own (the OS clock) or on
//! tokio's timer (the paused clock of tests); the driver gives it a slot under
//! `max_in_flight` and starts it.

use super::{Arrival, Engine, Pacer, Ready};
use crate::client::Transport;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Arrivals by their number in the whole run and their intended start (an offset from
/// the run's start), in order: the seeded arrival schedule, or a replayed log's
/// conversations; a shard's are every Nth of them, numbered as in the whole run.
pub(super) trait Schedule:
    Iterator<Item = (usize, Duration)> + Clone + Send + 'static
{
}
impl<S: Iterator<Item = (usize, Duration)> + Clone + Send + 'static> Schedule for S {}

impl<T: Transport> Engine<T> {
    pub(super) async fn open(
        self: Arc<Self>,
        start: Instant,
        schedule: impl Schedule,
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
            if arrival.session.turns == 1 && arrival.turn.call.rounds_left == 0 {
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
    fn arrival(&self, index: usize, copy: usize, start: Instant, intended: Instant) -> Arrival {
        let mut session = self
            .workload
            .session_copy(index as u64, intended - start, copy);
        let turn = self.turn(&mut session, intended);
        Arrival { session, turn }
    }

    /// Paces on tokio's timer (millisecond resolution; exact under the paused clock).
    async fn pace_async(
        &self,
        start: Instant,
        schedule: impl Schedule,
        tx: mpsc::Sender<Arrival>,
        stop: CancellationToken,
    ) {
        for (index, offset) in schedule {
            // Side by side in `mirror`: a copy for each endpoint, the same intended start.
            for copy in 0..self.workload.copies() {
                let arrival = self.arrival(index, copy, start, start + offset);
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => return,
                    _ = sleep_until(arrival.turn.intended) => {}
                }
                let late_by = Instant::now().saturating_duration_since(arrival.turn.intended);
                match tx.try_send(arrival) {
                    Ok(()) => self.pacing.released(late_by),
                    Err(mpsc::error::TrySendError::Full(arrival)) => {
                        // The driver is holding arrivals back (max_in_flight): that
                        // wait is the endpoint's, counted as schedule lag, not here.
                        if tx.send(arrival).await.is_err() {
                            return;
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
        }
    }

    /// Paces on a thread of its own with the OS's sleep, which wakes within tens of
    /// microseconds where tokio's timer rounds up to the next millisecond. Call
    /// building happens here too, off the runtime's threads.
    fn pace_thread(
        &self,
        start: Instant,
        schedule: impl Schedule,
        tx: mpsc::Sender<Arrival>,
        stop: CancellationToken,
    ) {
        let std_start = start.into_std();
        for (index, offset) in schedule {
            for copy in 0..self.workload.copies() {
                let intended = std_start + offset;
                let arrival = self.arrival(index, copy, start, Instant::from_std(intended));
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
                let late_by = std::time::Instant::now().saturating_duration_since(intended);
                match tx.try_send(arrival) {
                    Ok(()) => self.pacing.released(late_by),
                    Err(mpsc::error::TrySendError::Full(arrival)) => {
                        if tx.blocking_send(arrival).is_err() {
                            return;
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
        }
    }
}
