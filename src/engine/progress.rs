//! Live counters for the progress display: plain atomics the engine bumps, read by the
//! display a few times a second. No locks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A counter on a cache line of its own: the per-core user threads bump these on every
/// call, and counters sharing a line would make each bump contend with the others.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Counter(AtomicU64);

impl std::ops::Deref for Counter {
    type Target = AtomicU64;
    fn deref(&self) -> &AtomicU64 {
        &self.0
    }
}

#[derive(Debug, Default)]
pub struct Progress {
    started: Counter,
    finished: Counter,
    failed: Counter,
}

impl Progress {
    pub fn call_started(&self) {
        self.started.fetch_add(1, Relaxed);
    }
    pub fn call_finished(&self, ok: bool) {
        self.finished.fetch_add(1, Relaxed);
        if !ok {
            self.failed.fetch_add(1, Relaxed);
        }
    }
    pub fn started(&self) -> u64 {
        self.started.load(Relaxed)
    }
    pub fn finished(&self) -> u64 {
        self.finished.load(Relaxed)
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Relaxed)
    }
    pub fn in_flight(&self) -> u64 {
        self.started().saturating_sub(self.finished())
    }
}
