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
        Guard::new(plan.cost.max_spend_usd, plan.cost.max_calls, worst_price)
    }

    /// A guard with these caps; `worst_price` is, per endpoint, the dearest USD per
    /// prompt and per answer token on its fallback chain.
    pub fn new(
        max_usd: Option<f64>,
        max_calls: Option<u64>,
        worst_price: Vec<(f64, f64)>,
    ) -> Guard {
        Guard {
            max_usd,
            max_calls,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A call of 1000 prompt tokens and 1000 answer tokens on endpoint 0.
    fn call() -> CallSpec {
        CallSpec {
            feature: 0,
            endpoint: 0,
            turn: 1,
            messages: Vec::new(),
            max_tokens: 1000,
            stream: true,
            input_tokens: 1000,
            keep_answer: false,
            budget_left: None,
            retry_seed: 0,
            reasoning: Default::default(),
            round: 1,
            rounds_left: 0,
            tools: None,
            pair: None,
        }
    }

    #[test]
    fn reserves_each_attempt_and_never_lets_spending_pass_the_cap() {
        // $1 per thousand tokens each way: an attempt's worst case is $2.
        let g = Guard::new(Some(5.0), None, vec![(0.001, 0.001)]);
        let c = call();
        assert_eq!(g.worst(&c), 2.0);
        assert!(g.admit(&c), "$2 reserved");
        assert!(g.reserve_attempt(&c), "a retry: $4 reserved");
        assert!(!g.reserve_attempt(&c), "a third attempt would reach $6");
        assert!(g.tripped());
        // The two attempts spent $3.50 between them: the reservations go, the spend stays.
        g.settle(&c, 3.5, 2);
        assert_eq!(g.spent(), 3.5);
        assert!(!g.admit(&c), "tripped: nothing more starts");
    }

    #[test]
    fn settling_frees_the_room_a_call_did_not_use() {
        let g = Guard::new(Some(5.0), None, vec![(0.001, 0.001)]);
        let c = call();
        assert!(g.admit(&c) && g.admit(&c), "$4 reserved");
        g.settle(&c, 0.5, 1);
        g.settle(&c, 0.5, 1);
        assert!(g.admit(&c) && g.admit(&c), "$1 spent, $4 reserved: fits $5");
        assert!(!g.tripped());
    }

    #[test]
    fn counts_calls_and_lets_everything_through_without_caps() {
        let g = Guard::new(None, Some(2), vec![(0.001, 0.001)]);
        let c = call();
        assert!(g.admit(&c) && g.admit(&c));
        assert!(!g.admit(&c), "the third call passes max_calls");
        let free = Guard::new(None, None, vec![]);
        for _ in 0..100 {
            assert!(free.admit(&c) && free.reserve_attempt(&c));
        }
        free.settle(&c, 1.0, 2);
        assert_eq!(free.spent(), 0.0, "no cap, no bookkeeping");
    }
}
