//! The client side of a fault schedule, for real endpoints (the mock acts its own out):
//! decides each attempt's fault by its number and its time into the run, and fails it
//! the way the endpoint would have — without sending anything, so a drill costs nothing.

use super::attempt::Attempt;
use crate::outcome::Outcome;
use mock_server::faults::{Decision, Failure, FaultSchedule};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::time::Instant;

pub(super) struct Injector {
    schedule: FaultSchedule,
    next: AtomicU64,
    origin: OnceLock<Instant>,
}

impl Injector {
    pub fn new(schedule: FaultSchedule) -> Injector {
        Injector {
            schedule,
            next: AtomicU64::new(0),
            origin: OnceLock::new(),
        }
    }

    /// Times the schedule from the run's start.
    pub fn start(&self, start: Instant) {
        let _ = self.origin.set(start);
    }

    /// This attempt's fault: a failure to return at once (after a hang's timeout), or
    /// `None` with the added latency already waited.
    pub async fn before_send(&self, timeout: Duration) -> Option<Attempt> {
        let now = Instant::now();
        let at = now.saturating_duration_since(*self.origin.get_or_init(|| now));
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let d = self.schedule.decide(at, index);
        if let Some(a) = inject(&d, now, timeout).await {
            return Some(a);
        }
        let delay = d.add_ttft + d.add_end;
        if !delay.is_zero() {
            // Added latency: the request leaves late, and the wait is in its latency.
            tokio::time::sleep(delay).await;
        }
        None
    }
}

/// An injected failure: what the endpoint would have done, without sending anything.
async fn inject(d: &Decision, now: Instant, timeout: Duration) -> Option<Attempt> {
    let Some(fail) = d.fail.as_ref() else {
        // A cut stream cannot be cut before it exists: the attempt fails as one would,
        // without sending (and so without tokens).
        return d.cut_after.map(|_| {
            Attempt::injected(
                now,
                Outcome::StreamCut,
                "injected stream cut (nothing was sent)",
            )
        });
    };
    Some(match fail {
        Failure::Refuse => Attempt::injected(
            now,
            Outcome::Connect,
            "injected outage: connection refused (nothing was sent)",
        ),
        Failure::Hang => {
            tokio::time::sleep(timeout).await;
            let mut a = Attempt::injected(
                now,
                Outcome::Timeout,
                format!("injected outage: no answer within {timeout:?} (nothing was sent)"),
            );
            a.end = Instant::now();
            a
        }
        Failure::Status {
            status,
            retry_after,
            deprecated,
        } => {
            let what = match (status, deprecated) {
                (_, true) => "model_not_found (deprecated)",
                (429, _) => "rate limited",
                _ => "server error",
            };
            let mut a = Attempt::injected(
                now,
                Outcome::from_status(*status),
                format!("injected HTTP {status}: {what} (nothing was sent)"),
            );
            a.status = Some(*status);
            a.retry_after = *retry_after;
            a
        }
    })
}
