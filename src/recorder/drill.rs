//! What a fallback drill needs to know, beyond the histograms: for each fault window,
//! when the failure was first seen, when the fallback first served, when the endpoint
//! served again after the window, and what became of the calls meant to start in it;
//! and a per-second timeline of attempt outcomes per endpoint.
//!
//! Fed by the recorder with each call's attempts; memory grows with fault windows and
//! run seconds, never with calls.

use super::{CallSample, Tried};
use crate::outcome::Outcome;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// A fault's time window on one endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub endpoint: usize,
    pub kind: &'static str,
    pub from: Duration,
    /// The end of the run when absent.
    pub until: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// First failed attempt on the endpoint at or after the window's start, from the run's
    /// start.
    pub first_failure: Option<Duration>,
    /// First attempt sent to another endpoint by a call that failed on this one: the
    /// moment traffic failed over.
    pub first_fallback: Option<Duration>,
    /// When the endpoint's circuit breaker first opened in the window.
    pub breaker_opened: Option<Duration>,
    /// First attempt sent after the window that the endpoint answered successfully.
    pub recovered: Option<Duration>,
    pub calls: WindowCalls,
}

/// Calls meant to start within a window (of features whose route starts at its
/// endpoint), and what became of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowCalls {
    pub calls: u64,
    pub ok: u64,
    pub failed: u64,
    pub retried: u64,
    pub served_by_fallback: u64,
    pub failed_closed: u64,
    pub residency_violations: u64,
}

impl WindowStats {
    /// Adds another recorder's figures for the same window: each first moment is the
    /// earlier of the two, the calls add up.
    pub fn merge(&mut self, o: &WindowStats) {
        let first = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.first_failure = first(self.first_failure, o.first_failure);
        self.first_fallback = first(self.first_fallback, o.first_fallback);
        self.breaker_opened = first(self.breaker_opened, o.breaker_opened);
        self.recovered = first(self.recovered, o.recovered);
        let (c, d) = (&mut self.calls, &o.calls);
        c.calls += d.calls;
        c.ok += d.ok;
        c.failed += d.failed;
        c.retried += d.retried;
        c.served_by_fallback += d.served_by_fallback;
        c.failed_closed += d.failed_closed;
        c.residency_violations += d.residency_violations;
    }
}

pub struct Drill {
    pub windows: Vec<(Window, WindowStats)>,
    /// Per endpoint, per second of the run (by attempt end): attempts by outcome.
    pub timeline: Vec<Vec<[u32; Outcome::ALL.len()]>>,
}

impl Drill {
    pub fn new(windows: Vec<Window>, endpoints: usize) -> Drill {
        Drill {
            windows: windows
                .into_iter()
                .map(|w| (w, WindowStats::default()))
                .collect(),
            timeline: vec![Vec::new(); endpoints],
        }
    }

    pub fn record(&mut self, start: Instant, s: &CallSample) {
        let since = |t: Instant| t.saturating_duration_since(start);
        for t in &s.tried {
            if let Some(rows) = self.timeline.get_mut(t.endpoint) {
                // A row per second; a run of days still holds only its seconds.
                let second = (since(t.end).as_secs() as usize).min(7 * 24 * 3600);
                if rows.len() <= second {
                    rows.resize(second + 1, [0; Outcome::ALL.len()]);
                }
                rows[second][t.outcome.index()] += 1;
            }
        }
        for (w, st) in &mut self.windows {
            let within = |d: Duration| d >= w.from && w.until.is_none_or(|u| d < u);
            let failed_here = |t: &&Tried| t.endpoint == w.endpoint && t.outcome != Outcome::Ok;
            for t in s.tried.iter().filter(failed_here) {
                let at = since(t.end);
                if at >= w.from && st.first_failure.is_none_or(|f| at < f) {
                    st.first_failure = Some(at);
                }
                if t.opened_breaker && at >= w.from && st.breaker_opened.is_none_or(|f| at < f) {
                    st.breaker_opened = Some(at);
                }
            }
            // Its route starts here: it failed here, or skipped an open breaker.
            let routed_here = s.first_endpoint == w.endpoint;
            let failed_over = routed_here && s.tried.iter().any(|t| t.endpoint != w.endpoint);
            if failed_over {
                for t in s.tried.iter().filter(|t| t.endpoint != w.endpoint) {
                    let at = since(t.sent);
                    if at >= w.from && st.first_fallback.is_none_or(|f| at < f) {
                        st.first_fallback = Some(at);
                    }
                }
            }
            let served_elsewhere =
                s.outcome == Outcome::Ok && failed_over && s.endpoint != w.endpoint;
            if let Some(until) = w.until {
                for t in &s.tried {
                    let sent = since(t.sent);
                    if t.endpoint == w.endpoint
                        && t.outcome == Outcome::Ok
                        && sent >= until
                        && st.recovered.is_none_or(|r| sent < r)
                    {
                        st.recovered = Some(sent);
                    }
                }
            }
            if routed_here && within(since(s.intended)) {
                let c = &mut st.calls;
                c.calls += 1;
                c.ok += (s.outcome == Outcome::Ok) as u64;
                c.failed += (s.outcome != Outcome::Ok) as u64;
                c.retried += (s.attempts > 1 + s.fallbacks) as u64;
                c.served_by_fallback += served_elsewhere as u64;
                c.failed_closed += (s.outcome == Outcome::FailClosed) as u64;
                c.residency_violations += s.residency_violation as u64;
            }
        }
    }
}
