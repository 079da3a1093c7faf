//! Closed mode: `concurrency` users, each running sessions back to back until the run's
//! duration ends. Real runs put each core's share of the users on a single-threaded
//! runtime of its own; tests run them on the calling runtime under the paused clock.

use super::{Engine, Pacer};
use crate::client::{BoxFuture, Transport};
use std::sync::Arc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

impl<T: Transport> Engine<T> {
    pub(super) async fn closed(
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
                    let mut session =
                        engine
                            .workload
                            .session_copy((user << 32) | n, now - start, 0);
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
        // A shard runs every Nth user, numbered as in the whole run, so each keeps the
        // sessions (and prompts) it would have had there.
        let mine: Vec<u64> = (0..concurrency as u64)
            .filter(|u| self.plan.shard.owns(*u))
            .collect();
        match self.pacer {
            Pacer::Tokio => {
                for &u in &mine {
                    tokio::spawn(user(u));
                }
            }
            Pacer::Thread => {
                // One single-threaded runtime per core, each running its share of the
                // users and their connections: no task hops between threads, which at
                // tens of thousands of calls a second cost more than the calls.
                let cores = std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .min(mine.len())
                    .max(1);
                let main = tokio::runtime::Handle::current();
                for core in 0..cores {
                    let users: Vec<BoxFuture<'static, ()>> = mine
                        .iter()
                        .skip(core)
                        .step_by(cores)
                        .map(|&u| Box::pin(user(u)) as BoxFuture<'static, ()>)
                        .collect();
                    // The users are handed over once the thread exists, so that if it
                    // cannot start they still run, on the main runtime.
                    let (hand_over, receive) =
                        std::sync::mpsc::channel::<Vec<BoxFuture<'static, ()>>>();
                    let main = main.clone();
                    let engine_for_thread = self.clone();
                    let spawned = std::thread::Builder::new()
                        .name(format!("llm-drill-users-{core}"))
                        .spawn(move || {
                            let Ok(users) = receive.recv() else { return };
                            match tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                            {
                                Ok(rt) => {
                                    engine_for_thread.transport.worker_thread(core + 1);
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
}
