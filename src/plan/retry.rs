//! How an endpoint's failed attempts are retried (the scenario's `retry`, with the
//! endpoint's own keys over it) and when its circuit breaker opens.

use super::check::Checker;
use crate::outcome::Outcome;
use crate::scenario::model;
use crate::scenario::ScenarioError;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct BreakerPlan {
    pub failures: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

/// How an endpoint's failed attempts are retried.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPlan {
    /// Attempts on this endpoint, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
    pub honor_retry_after: bool,
    pub retry_on: Vec<Outcome>,
}

impl RetryPlan {
    pub fn none() -> RetryPlan {
        RetryPlan {
            max_attempts: 1,
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            honor_retry_after: true,
            retry_on: Vec::new(),
        }
    }

    /// How long to wait after failed attempt `n` (from 1): what the endpoint asked for
    /// when honoured (capped by `max`), else full jitter up to `min(max, base * 2^(n-1))`.
    /// `unit` is a uniform draw in [0, 1).
    pub fn wait(&self, n: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        if let (true, Some(asked)) = (self.honor_retry_after, retry_after) {
            return asked.min(self.max);
        }
        let ceiling = self
            .base
            .saturating_mul(
                1u32.checked_shl(n.saturating_sub(1).min(30))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// The scenario's `retry`, with the endpoint's own `retry` keys over it.
pub(crate) fn retry_plan(
    c: &Checker,
    path: &str,
    global: Option<&model::Retry>,
    own: Option<&model::Retry>,
) -> Result<RetryPlan, ScenarioError> {
    let pick = |f: &dyn Fn(&model::Retry) -> bool| own.filter(|r| f(r)).or(global.filter(|r| f(r)));
    // Errors point at whichever block gave the value.
    let at = |from_own: bool, k: &str| {
        if from_own {
            format!("{path}.{k}")
        } else {
            format!("retry.{k}")
        }
    };
    let mut plan = RetryPlan::none();
    if global.is_none() && own.is_none() {
        return Ok(plan);
    }
    plan.retry_on = vec![
        Outcome::Http429,
        Outcome::Http5xx,
        Outcome::Timeout,
        Outcome::Connect,
    ];
    if let Some(r) = pick(&|r| r.max_attempts.is_some()) {
        let n = r.max_attempts.unwrap_or(1);
        let from_own = own.is_some_and(|o| o.max_attempts.is_some());
        if !(1..=20).contains(&n) {
            return Err(c.err(
                &at(from_own, "max_attempts"),
                format!("must be from 1 to 20, found {n}"),
            ));
        }
        plan.max_attempts = n;
    } else {
        plan.max_attempts = 3;
    }
    if let Some(r) = pick(&|r| r.backoff.is_some()) {
        let b = r.backoff.expect("picked for its backoff");
        let from_own = own.is_some_and(|o| o.backoff.is_some());
        if b.base.0.is_zero() || b.base.0 > b.max.0 || b.max.0 > Duration::from_secs(600) {
            return Err(c.err(&at(from_own, "backoff"), "needs 0 < base <= max <= 10m"));
        }
        plan.base = b.base.0;
        plan.max = b.max.0;
    }
    if let Some(r) = pick(&|r| r.honor_retry_after.is_some()) {
        plan.honor_retry_after = r.honor_retry_after.unwrap_or(true);
    }
    if let Some(r) = pick(&|r| r.retry_on.is_some()) {
        plan.retry_on = r
            .retry_on
            .iter()
            .flatten()
            .map(|o| match o {
                model::RetryOn::Http429 => Outcome::Http429,
                model::RetryOn::Http5xx => Outcome::Http5xx,
                model::RetryOn::Timeout => Outcome::Timeout,
                model::RetryOn::Connect => Outcome::Connect,
                model::RetryOn::StreamCut => Outcome::StreamCut,
            })
            .collect();
    }
    Ok(plan)
}

pub(crate) fn breaker_plan(
    c: &Checker,
    path: &str,
    b: Option<model::CircuitBreaker>,
) -> Result<Option<BreakerPlan>, ScenarioError> {
    let Some(b) = b else { return Ok(None) };
    if b.failures == 0 || b.window.0.is_zero() || b.cooldown.0.is_zero() {
        return Err(c.err(
            path,
            "needs failures >= 1 and a window and cooldown longer than 0",
        ));
    }
    Ok(Some(BreakerPlan {
        failures: b.failures,
        window: b.window.0,
        cooldown: b.cooldown.0,
    }))
}

#[cfg(test)]
mod tests {
    use super::RetryPlan;
    use std::time::Duration;

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_ceiling() {
        let r = RetryPlan {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
            honor_retry_after: true,
            retry_on: vec![],
        };
        assert_eq!(r.wait(1, None, 0.999_999), Duration::from_nanos(99_999_900));
        assert_eq!(r.wait(2, None, 0.5), Duration::from_millis(100));
        assert_eq!(r.wait(3, None, 1.0), Duration::from_millis(400));
        assert_eq!(
            r.wait(4, None, 1.0),
            Duration::from_millis(500),
            "capped by max"
        );
        assert_eq!(r.wait(60, None, 1.0), Duration::from_millis(500));
        assert_eq!(r.wait(1, None, 0.0), Duration::ZERO);
        // What the endpoint asks for wins, capped by max; unless not honoured.
        let asked = Some(Duration::from_millis(300));
        assert_eq!(r.wait(1, asked, 0.0), Duration::from_millis(300));
        assert_eq!(
            r.wait(1, Some(Duration::from_secs(9)), 0.0),
            Duration::from_millis(500)
        );
        let ignore = RetryPlan {
            honor_retry_after: false,
            ..r
        };
        assert_eq!(ignore.wait(1, asked, 0.0), Duration::ZERO);
    }
}
