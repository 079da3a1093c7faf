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
        Breakers(
            plan.endpoints
                .iter()
                .map(|e| {
                    e.breaker.clone().map(|plan| Breaker {
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
