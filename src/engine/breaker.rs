//! Circuit breakers, per endpoint (`circuit_breaker: {failures, window, cooldown}`): after
//! `failures` failed attempts within `window`, the breaker opens and calls skip the
//! endpoint — straight to its fallback, or failed closed — without waiting on it. After
//! `cooldown` one call probes it: success closes the breaker, failure opens it again. As
//! LiteLLM's cooldowns and Envoy's outlier detection do.
//!
//! A lock per endpoint, taken only by endpoints that declare a breaker.

use crate::plan::{BreakerPlan, Plan};
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::time::Instant;

/// What a call may do with an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Closed: use it as usual.
    Closed,
    /// Half-open: this call is the one probe (one attempt, no retries).
    Probe,
    /// Open: skip it.
    Open,
}

pub struct Breakers(Vec<Option<Breaker>>);

pub struct Breaker {
    plan: BreakerPlan,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: VecDeque<Instant>,
    open_until: Option<Instant>,
    probing: bool,
}

impl Breakers {
    pub fn for_plan(plan: &Plan) -> Breakers {
        Breakers::new(plan.endpoints.iter().map(|e| e.breaker.clone()).collect())
    }

    /// One breaker per endpoint that has a plan for one, in the endpoints' order.
    pub fn new(plans: Vec<Option<BreakerPlan>>) -> Breakers {
        Breakers(
            plans
                .into_iter()
                .map(|p| {
                    p.map(|plan| Breaker {
                        plan,
                        state: Mutex::new(State::default()),
                    })
                })
                .collect(),
        )
    }

    pub fn gate(&self, endpoint: usize, now: Instant) -> Gate {
        let Some(Some(b)) = self.0.get(endpoint) else {
            return Gate::Closed;
        };
        let mut s = b.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.open_until {
            None => Gate::Closed,
            Some(until) if now < until || s.probing => Gate::Open,
            Some(_) => {
                s.probing = true;
                Gate::Probe
            }
        }
    }

    /// Records an attempt's result; true when this failure opened the breaker.
    pub fn record(&self, endpoint: usize, now: Instant, ok: bool) -> bool {
        let Some(Some(b)) = self.0.get(endpoint) else {
            return false;
        };
        let mut s = b.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.open_until.is_some() {
            if !s.probing {
                // An attempt that started before the breaker opened.
                return false;
            }
            s.probing = false;
            if ok {
                s.open_until = None;
                s.failures.clear();
                return false;
            }
            s.open_until = Some(now + b.plan.cooldown);
            return true;
        }
        if ok {
            return false;
        }
        s.failures.push_back(now);
        while s
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > b.plan.window)
        {
            s.failures.pop_front();
        }
        if s.failures.len() as u32 >= b.plan.failures {
            s.failures.clear();
            s.open_until = Some(now + b.plan.cooldown);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn breakers() -> Breakers {
        Breakers::new(vec![
            Some(BreakerPlan {
                failures: 3,
                window: Duration::from_secs(1),
                cooldown: Duration::from_secs(5),
            }),
            None,
        ])
    }

    #[test]
    fn opens_after_failures_within_the_window_and_probes_after_the_cooldown() {
        let b = breakers();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(!b.record(0, at(0), false));
        assert!(!b.record(0, at(100), false));
        assert_eq!(b.gate(0, at(150)), Gate::Closed);
        assert!(b.record(0, at(200), false), "the third failure opens it");
        assert_eq!(b.gate(0, at(300)), Gate::Open);
        assert_eq!(b.gate(0, at(5_199)), Gate::Open);
        // After the cooldown, one probe; others keep skipping while it runs.
        assert_eq!(b.gate(0, at(5_200)), Gate::Probe);
        assert_eq!(b.gate(0, at(5_201)), Gate::Open);
        // A failed probe opens it again for a cooldown.
        assert!(b.record(0, at(5_300), false));
        assert_eq!(b.gate(0, at(10_299)), Gate::Open);
        assert_eq!(b.gate(0, at(10_300)), Gate::Probe);
        // A successful probe closes it, with the failures forgotten.
        assert!(!b.record(0, at(10_400), true));
        assert_eq!(b.gate(0, at(10_401)), Gate::Closed);
        assert!(!b.record(0, at(10_500), false));
        assert_eq!(b.gate(0, at(10_501)), Gate::Closed);
    }

    #[test]
    fn failures_outside_the_window_do_not_count_and_late_attempts_are_ignored() {
        let b = breakers();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(!b.record(0, at(0), false));
        assert!(!b.record(0, at(900), false));
        assert!(
            !b.record(0, at(1_500), false),
            "the first fell out of the window"
        );
        assert!(b.record(0, at(1_800), false), "three within a second");
        // An attempt that started before it opened and ends after: not a probe.
        assert!(!b.record(0, at(1_900), true));
        assert_eq!(b.gate(0, at(2_000)), Gate::Open);
        // An endpoint without a breaker is always closed.
        for ms in 0..10 {
            assert!(!b.record(1, at(ms), false));
        }
        assert_eq!(b.gate(1, at(20)), Gate::Closed);
        assert_eq!(b.gate(7, at(20)), Gate::Closed, "an unknown endpoint too");
    }
}
