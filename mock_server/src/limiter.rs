//! `mock.rate_limit: {rpm, tpm}`: a token bucket per minute for requests and one for
//! tokens, refilled continuously. A request is admitted only if both have room; its
//! tokens are counted at admission as prompt plus `max_tokens`, as Azure OpenAI counts
//! them. A refusal says how long until there would be room, for `retry-after`.

use crate::RateLimit;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) struct Limiter {
    limit: RateLimit,
    state: Mutex<Buckets>,
}

struct Buckets {
    requests: f64,
    tokens: f64,
    at: Instant,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Limiter {
        Limiter {
            state: Mutex::new(Buckets {
                requests: limit.rpm.unwrap_or(0) as f64,
                tokens: limit.tpm.unwrap_or(0) as f64,
                at: Instant::now(),
            }),
            limit,
        }
    }

    /// Takes one request and `tokens` tokens, or says how long to wait for them.
    pub(crate) fn admit(&self, tokens: u64) -> Result<(), Duration> {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let minutes = now.saturating_duration_since(b.at).as_secs_f64() / 60.0;
        b.at = now;
        let mut wait: f64 = 0.0;
        if let Some(rpm) = self.limit.rpm {
            let cap = rpm as f64;
            b.requests = (b.requests + cap * minutes).min(cap);
            if b.requests < 1.0 {
                wait = wait.max((1.0 - b.requests) / cap * 60.0);
            }
        }
        if let Some(tpm) = self.limit.tpm {
            let cap = tpm as f64;
            b.tokens = (b.tokens + cap * minutes).min(cap);
            let need = tokens as f64;
            if b.tokens < need {
                // A request larger than the whole minute's budget can never pass.
                wait = wait.max(((need - b.tokens) / cap * 60.0).min(60.0));
            }
        }
        if wait > 0.0 {
            return Err(Duration::from_secs_f64(wait));
        }
        if self.limit.rpm.is_some() {
            b.requests -= 1.0;
        }
        if self.limit.tpm.is_some() {
            b.tokens -= tokens as f64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_tokens_per_minute() {
        let l = Limiter::new(RateLimit {
            rpm: Some(3),
            tpm: Some(1000),
        });
        assert!(l.admit(100).is_ok());
        assert!(l.admit(100).is_ok());
        assert!(l.admit(100).is_ok());
        let wait = l.admit(100).unwrap_err();
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        let l = Limiter::new(RateLimit {
            rpm: None,
            tpm: Some(1000),
        });
        assert!(l.admit(900).is_ok());
        assert!(
            l.admit(200).is_err(),
            "prompt + max_tokens over what is left"
        );
    }
}
