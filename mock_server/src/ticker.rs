//! One timer for every stream's tokens: a stream waiting for its next token leaves its
//! waker, with the token's time, in the bucket of that millisecond, and a single task
//! sleeps to the earliest time and wakes every stream due by then together.
//!
//! Ten thousand streams at 20 tokens a second are 200,000 timers a second if each token
//! sleeps on its own; tokio's hierarchical wheel also moves each of them down a level
//! before it fires. Here a token costs a map lookup and a push, and there is one timer
//! per millisecond, however many streams.
//!
//! A token is never released early: the driver sleeps to the earliest wait's own time and
//! releases every wait due by the time it wakes. tokio's timer rounds that sleep up to
//! its millisecond tick, as it would each stream's own sleep, which the mock's lag
//! (`emit_lag_ms`) reports as ever.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

/// A tick: tokio's own timer resolution.
const TICK: Duration = Duration::from_millis(1);

pub(crate) struct Ticker {
    /// Tick 0: ticks count milliseconds from here.
    origin: Instant,
    wheel: Mutex<Wheel>,
    /// Tells the driver a wait earlier than the time it sleeps to was left (or that the
    /// ticker is gone).
    earlier: Arc<Notify>,
    driving: AtomicBool,
}

/// Waits by millisecond bucket; each keeps its waits' own times.
#[derive(Default)]
struct Wheel {
    /// Bucket `k` holds the waits due in `(origin + (k - 1) ms, origin + k ms]`.
    slots: BTreeMap<u64, Vec<(Instant, Waker)>>,
    /// When the driver wakes next, if it sleeps to a time.
    armed: Option<Instant>,
}

impl Ticker {
    pub(crate) fn new() -> Arc<Ticker> {
        Arc::new(Ticker {
            origin: Instant::now(),
            wheel: Mutex::new(Wheel::default()),
            earlier: Arc::new(Notify::new()),
            driving: AtomicBool::new(false),
        })
    }

    /// Completes at `at` (or at once, when it has passed), woken with every other stream
    /// due by then.
    pub(crate) fn until(self: &Arc<Self>, at: Instant) -> Until<'_> {
        Until { ticker: self, at }
    }

    /// The bucket of a wait due at `at`: the first tick at or after it.
    fn bucket(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.origin);
        since.as_nanos().div_ceil(TICK.as_nanos()) as u64
    }

    /// The last tick at or before `now`.
    fn ticks_passed(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin);
        (since.as_nanos() / TICK.as_nanos()) as u64
    }

    fn register(self: &Arc<Self>, at: Instant, waker: &Waker) {
        if !self.driving.swap(true, Relaxed) {
            tokio::spawn(drive(Arc::downgrade(self), self.earlier.clone()));
        }
        let wake_driver = {
            let Ok(mut wheel) = self.wheel.lock() else {
                // Poisoned only if a waker panicked while this lock was held (never: they
                // are woken after it is released); wake the stream rather than lose it.
                waker.wake_by_ref();
                return;
            };
            let bucket = self.bucket(at);
            wheel
                .slots
                .entry(bucket)
                .or_default()
                .push((at, waker.clone()));
            let earlier = wheel.armed.is_none_or(|armed| at < armed);
            if earlier {
                wheel.armed = Some(at);
            }
            earlier
        };
        if wake_driver {
            self.earlier.notify_one();
        }
    }

    /// Takes the wakers of every wait due by `now`, and says when the next is due.
    fn due(&self, now: Instant) -> (Vec<Waker>, Option<Instant>) {
        let Ok(mut wheel) = self.wheel.lock() else {
            return (Vec::new(), None);
        };
        // Every bucket up to the last tick passed is wholly due; the next one in part.
        let passed = self.ticks_passed(now);
        let later = wheel.slots.split_off(&(passed + 1));
        let due = std::mem::replace(&mut wheel.slots, later);
        let mut wakers: Vec<Waker> = due.into_values().flatten().map(|(_, w)| w).collect();
        if let Some(mut part) = wheel.slots.remove(&(passed + 1)) {
            part.retain(|(at, w)| {
                let keep = *at > now;
                if !keep {
                    wakers.push(w.clone());
                }
                keep
            });
            if !part.is_empty() {
                wheel.slots.insert(passed + 1, part);
            }
        }
        let next = wheel
            .slots
            .values()
            .next()
            .and_then(|first| first.iter().map(|(at, _)| *at).min());
        wheel.armed = next;
        (wakers, next)
    }
}

/// The one timer: sleeps to the earliest wait, wakes every stream due by then, and goes
/// on for as long as the ticker lives.
async fn drive(ticker: Weak<Ticker>, earlier: Arc<Notify>) {
    loop {
        let Some(t) = ticker.upgrade() else { return };
        let earlier = earlier.notified();
        tokio::pin!(earlier);
        earlier.as_mut().enable();
        let (wakers, next) = t.due(Instant::now());
        for w in wakers {
            w.wake();
        }
        match next {
            Some(at) => {
                drop(t);
                tokio::select! {
                    _ = sleep_until(at) => {}
                    _ = &mut earlier => {}
                }
            }
            None => {
                drop(t);
                earlier.await;
            }
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        // The driver, if idle, wakes to find the ticker gone and ends.
        self.earlier.notify_one();
    }
}

/// A stream's wait for its next token.
pub(crate) struct Until<'a> {
    ticker: &'a Arc<Ticker>,
    at: Instant,
}

impl Future for Until<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        // Polled again before its time (woken for something else): registered again, so
        // that the waker in the wheel is the current one; an extra wake is harmless.
        self.ticker.register(self.at, cx.waker());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn wakes_each_wait_at_its_tick_never_before() {
        let ticker = Ticker::new();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for ms in [0u64, 1, 5, 5, 17, 50, 50, 999] {
            let ticker = ticker.clone();
            let at = start + Duration::from_micros(ms * 1000 + 300);
            tasks.push(tokio::spawn(async move {
                ticker.until(at).await;
                assert!(Instant::now() >= at, "released before its time");
                Instant::now() - at
            }));
        }
        for t in tasks {
            let late = t.await.unwrap();
            // Released at the first millisecond tick at or after its time.
            assert!(late < Duration::from_millis(1), "{late:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_wait_is_not_held_behind_a_later_one() {
        let ticker = Ticker::new();
        let start = Instant::now();
        let late = {
            let ticker = ticker.clone();
            tokio::spawn(async move { ticker.until(start + Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(2)).await;
        ticker.until(start + Duration::from_millis(20)).await;
        assert_eq!(Instant::now() - start, Duration::from_millis(20));
        late.await.unwrap();
        assert_eq!(Instant::now() - start, Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_passed_time_is_ready_at_once() {
        let ticker = Ticker::new();
        let past = Instant::now();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let before = Instant::now();
        ticker.until(past).await;
        assert!(before.elapsed() < Duration::from_millis(1));
    }
}
