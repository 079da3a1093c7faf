//! The spend guard (`cost.max_spend_usd`, `cost.max_calls`): before a call starts, one
//! attempt's worst case (prompt plus `max_tokens` at the dearest price on its route) is
//! reserved against the cap, and so is each later attempt's (a retried cut stream is
//! billed again) before it is made. When a reservation would not fit beside what was
//! spent and what attempts in flight may still spend, the run stops starting calls and
//! that attempt is not made. So the cap is never passed, and the run stops within one
//! attempt's worst case of it.

use crate::plan::Plan;
use crate::workload::CallSpec;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;

pub struct Guard {
    max_usd: Option<f64>,
    max_calls: Option<u64>,
    /// (spent, reserved by calls in flight), USD.
    money: Mutex<(f64, f64)>,
    calls: AtomicU64,
    tripped: AtomicBool,
    /// Per endpoint, the dearest per-token prices on its fallback chain.
    worst_price: Vec<(f64, f64)>,
}

impl Guard {
    pub fn for_plan(plan: &Plan) -> Guard {
        let worst_price = plan
            .endpoints
            .iter()
            .map(|e| {
                e.chain(&plan.endpoints)
                    .iter()
                    .filter_map(|x| x.price)
                    .fold((0.0, 0.0), |(i, o), p| {
                        (f64::max(i, p.input), f64::max(o, p.output))
                    })
            })
            .collect();
        Guard {
            max_usd: plan.cost.max_spend_usd,
            max_calls: plan.cost.max_calls,
            money: Mutex::new((0.0, 0.0)),
            calls: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
            worst_price,
        }
    }

    /// The most `call` can cost on one attempt.
    pub fn worst(&self, call: &CallSpec) -> f64 {
        let (i, o) = self
            .worst_price
            .get(call.endpoint)
            .copied()
            .unwrap_or((0.0, 0.0));
        call.input_tokens as f64 * i + call.max_tokens as f64 * o
    }

    /// Whether `call` may start; reserves its first attempt's worst case. False trips
    /// the guard.
    pub fn admit(&self, call: &CallSpec) -> bool {
        if self.tripped.load(SeqCst) {
            return false;
        }
        if let Some(max) = self.max_calls {
            if self.calls.fetch_add(1, SeqCst) >= max {
                self.tripped.store(true, SeqCst);
                return false;
            }
        }
        self.reserve_attempt(call)
    }

    /// Whether `call` may make one more attempt (a retry, a fallback); reserves its
    /// worst case. False trips the guard.
    pub fn reserve_attempt(&self, call: &CallSpec) -> bool {
        let Some(max) = self.max_usd else {
            return true;
        };
        let worst = self.worst(call);
        let mut m = self.money.lock().unwrap_or_else(|p| p.into_inner());
        if m.0 + m.1 + worst > max {
            self.tripped.store(true, SeqCst);
            return false;
        }
        m.1 += worst;
        true
    }

    /// A call admitted by `admit`, with `reserved` attempts reserved in all, ended
    /// having spent `usd`.
    pub fn settle(&self, call: &CallSpec, usd: f64, reserved: u32) {
        if self.max_usd.is_some() {
            let worst = self.worst(call) * reserved as f64;
            let mut m = self.money.lock().unwrap_or_else(|p| p.into_inner());
            m.0 += usd;
            m.1 = (m.1 - worst).max(0.0);
        }
    }

    /// What has been spent so far, USD.
    pub fn spent(&self) -> f64 {
        self.money.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    pub fn tripped(&self) -> bool {
        self.tripped.load(SeqCst)
    }
}
