//! Live counters for the progress display: plain atomics the engine bumps, read by the
//! display a few times a second. No locks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Progress {
    started: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
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
