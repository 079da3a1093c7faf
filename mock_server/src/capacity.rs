//! A server that saturates as a continuous-batching one does (vLLM, TGI): at most
//! `slots` sequences run at once and share the decode throughput, arrivals beyond them
//! wait in a queue of `queue`, and beyond the queue requests are refused.
//!
//! The model, which the README works through on paper:
//! - a request takes a slot (or waits in the queue for one), then reads its prompt at
//!   `prefill_tokens_per_second`: its time to first token is the wait, the prefill and
//!   the latency model's own time to first token;
//! - a sequence decodes at the latency model's `tokens_per_second` while the batch has
//!   room, and at `decode_tokens_per_second / batch` once the batch's demand passes it:
//!   each gap between tokens is stretched by `max(1, batch × tokens_per_second /
//!   decode_tokens_per_second)`, the batch counted as each token is made;
//! - so `decode_tokens_per_second / output_tokens` calls a second is what it sustains;
//!   beyond it the batch grows until the slots are full, then the queue, then requests
//!   are refused with the provider's 429 (or a 503), or all wait (`on_full: queue`).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// What the server does when its slots and its queue are full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFull {
    /// The provider's 429, with `retry-after: 1`.
    RateLimit,
    /// 503, server overloaded.
    Unavailable,
    /// Every request waits for a slot, however long the queue.
    Queue,
}

/// How much a mock serves at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapacityModel {
    pub slots: usize,
    pub queue: usize,
    /// Prompt tokens read per second per sequence, once it has its slot (0: no prefill).
    pub prefill_tokens_per_second: f64,
    /// Tokens per second the whole batch decodes, shared by its sequences.
    pub decode_tokens_per_second: f64,
    pub on_full: OnFull,
}

/// The running server's slots, queue and batch.
pub(crate) struct Capacity {
    model: CapacityModel,
    /// The solo decode speed (the latency model's `tokens_per_second`).
    solo_tokens_per_second: f64,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// Sequences past their first token and not done.
    decoding: Arc<AtomicUsize>,
}

/// A slot held until the answer ends (or the client goes).
pub(crate) struct Seat {
    _slot: OwnedSemaphorePermit,
    decoding: Option<Arc<AtomicUsize>>,
    /// The batch counter, kept to join it when decoding starts.
    batch: Arc<AtomicUsize>,
    stretch_per_sequence: f64,
}

impl Seat {
    /// The sequence made its first token: it joins the decoding batch.
    pub(crate) fn decoding(&mut self) {
        if self.decoding.is_none() {
            self.batch.fetch_add(1, Relaxed);
            self.decoding = Some(self.batch.clone());
        }
    }

    /// How much longer each gap between tokens is now than alone: the batch's demand
    /// over the decode throughput, at least 1.
    pub(crate) fn stretch(&self) -> f64 {
        (self.batch.load(Relaxed) as f64 * self.stretch_per_sequence).max(1.0)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        if let Some(b) = &self.decoding {
            b.fetch_sub(1, Relaxed);
        }
    }
}

impl Capacity {
    pub(crate) fn new(model: CapacityModel, solo_tokens_per_second: f64) -> Capacity {
        Capacity {
            model,
            solo_tokens_per_second,
            slots: Arc::new(Semaphore::new(model.slots)),
            waiting: AtomicUsize::new(0),
            decoding: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A slot, after waiting in the queue if the slots are taken; `None` when the queue
    /// is full too (the request is refused as `on_full` says).
    pub(crate) async fn admit(&self) -> Option<Seat> {
        let seat = |slot| Seat {
            _slot: slot,
            decoding: None,
            batch: self.decoding.clone(),
            stretch_per_sequence: if self.model.decode_tokens_per_second > 0.0 {
                self.solo_tokens_per_second / self.model.decode_tokens_per_second
            } else {
                0.0
            },
        };
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Some(seat(slot));
        }
        // A place in the queue, unless it is full (and full matters).
        let queued = self.waiting.fetch_add(1, Relaxed);
        let _leave = Leave(&self.waiting);
        if queued >= self.model.queue && self.model.on_full != OnFull::Queue {
            return None;
        }
        // Tokio's semaphore is fair: the queue is served first come, first served.
        self.slots.clone().acquire_owned().await.ok().map(seat)
    }

    /// How long a sequence reads a prompt of `tokens`.
    pub(crate) fn prefill(&self, tokens: usize) -> Duration {
        match self.model.prefill_tokens_per_second {
            r if r > 0.0 => Duration::from_secs_f64(tokens as f64 / r),
            _ => Duration::ZERO,
        }
    }

    pub(crate) fn on_full(&self) -> OnFull {
        self.model.on_full
    }
}

/// A sequence's tokens paced by the batch: the first at its planned time from the end
/// of the prefill, each later one after its planned gap, stretched by the batch as it is
/// when the gap begins.
pub(crate) struct Paced {
    seat: Seat,
    last: Instant,
    /// Tokens made so far.
    made: usize,
}

impl Paced {
    pub(crate) fn new(seat: Seat) -> Paced {
        Paced {
            seat,
            last: Instant::now(),
            made: 0,
        }
    }

    /// Waits until the next token is made: the first at `unpaced` (its time without a
    /// batch), each later one `gap` after the last, stretched by the batch's pace; returns
    /// when that was due.
    pub(crate) async fn token(&mut self, unpaced: Instant, gap: Duration) -> Instant {
        let at = match self.made {
            0 => unpaced,
            _ => self.last + gap.mul_f64(self.seat.stretch()),
        };
        crate::chat::until(at).await;
        self.last = at;
        self.made += 1;
        self.seat.decoding();
        at
    }
}

/// Leaves the queue however the wait ends (a slot, a refusal, the client gone).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(on_full: OnFull) -> CapacityModel {
        CapacityModel {
            slots: 2,
            queue: 1,
            prefill_tokens_per_second: 1000.0,
            decode_tokens_per_second: 100.0,
            on_full,
        }
    }

    #[tokio::test]
    async fn slots_then_the_queue_then_refusals() {
        let c = Arc::new(Capacity::new(model(OnFull::RateLimit), 50.0));
        let a = c.admit().await.unwrap();
        let _b = c.admit().await.unwrap();
        // The third waits in the queue; a fourth finds it full.
        let waiting = tokio::spawn({
            let c = c.clone();
            async move { c.admit().await.is_some() }
        });
        tokio::task::yield_now().await;
        assert!(c.admit().await.is_none());
        drop(a);
        assert!(
            waiting.await.unwrap(),
            "the queued request gets the freed slot"
        );
        assert_eq!(c.prefill(500), Duration::from_millis(500));
    }

    #[tokio::test]
    async fn the_batch_shares_the_decode_throughput() {
        // Alone at 50 tokens/s of a shared 100: no stretch until two decode at once,
        // then each gap is 1.5x as long with three.
        let c = Capacity::new(
            CapacityModel {
                slots: 3,
                ..model(OnFull::Queue)
            },
            50.0,
        );
        let mut seats = Vec::new();
        for _ in 0..3 {
            let mut s = c.admit().await.unwrap();
            s.decoding();
            seats.push(s);
        }
        assert_eq!(seats[0].stretch(), 1.5);
        seats.pop();
        assert_eq!(seats[0].stretch(), 1.0);
    }
}
