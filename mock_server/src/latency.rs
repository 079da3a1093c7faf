//! The mock's seeded latency model: a time to first token drawn from a clamped normal or
//! a uniform distribution, plus the prompt's prefill time when a prefill rate is set,
//! then one token every `1 / tokens_per_second`, each gap jittered.
//!
//! Pure arithmetic on a caller-provided RNG (an answer's token times on one seeded from
//! it); no clocks, no I/O, so it is unit-testable and the same seed always yields the same
//! timings.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::time::Duration;

/// How a duration is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Spread {
    /// Normal, clamped to `[min, max]`.
    Normal {
        mean: Duration,
        stddev: Duration,
        min: Duration,
        max: Duration,
    },
    /// Every value in `[min, max]` equally likely.
    Uniform { min: Duration, max: Duration },
}

impl Spread {
    pub fn fixed(d: Duration) -> Spread {
        Spread::Normal {
            mean: d,
            stddev: Duration::ZERO,
            min: Duration::ZERO,
            max: Duration::MAX,
        }
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        match *self {
            Spread::Normal {
                mean,
                stddev,
                min,
                max,
            } => {
                let (mean, sd) = (mean.as_secs_f64(), stddev.as_secs_f64());
                let v = if sd > 0.0 {
                    Normal::new(mean, sd).map(|n| n.sample(rng)).unwrap_or(mean)
                } else {
                    mean
                };
                Duration::from_secs_f64(v.max(min.as_secs_f64()).max(0.0)).min(max)
            }
            Spread::Uniform { min, max } if max > min => rng.random_range(min..=max),
            Spread::Uniform { min, .. } => min,
        }
    }
}

/// How fast the mock answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyModel {
    pub ttft: Spread,
    pub tokens_per_second: f64,
    /// Relative standard deviation of each inter-token gap (0.1 = ±10%).
    pub jitter: f64,
    /// Prompt tokens read per second before the first token (0: the prompt's size does
    /// not change the time to first token). A real server's prefill makes long prompts
    /// slower to start; this lets growing prompts show in the latency.
    pub prefill_tokens_per_second: f64,
}

impl LatencyModel {
    /// The times, from the request's arrival, at which each of `n` output tokens is
    /// ready, for a prompt of `prompt_tokens`: the first is the time to first token, the
    /// rest follow at the token rate. Drawn as they are taken, so that an open stream
    /// holds a few words of state however long its answer.
    pub fn token_times<R: Rng + ?Sized>(
        &self,
        prompt_tokens: usize,
        n: usize,
        rng: &mut R,
    ) -> TokenTimes {
        let mut first = self.ttft.sample(rng);
        if self.prefill_tokens_per_second > 0.0 {
            first += Duration::from_secs_f64(prompt_tokens as f64 / self.prefill_tokens_per_second);
        }
        let gap = if self.tokens_per_second > 0.0 {
            1.0 / self.tokens_per_second
        } else {
            0.0
        };
        TokenTimes {
            next: (n > 0).then_some(first),
            last_gap: Duration::ZERO,
            index: 0,
            len: n,
            gap,
            jitter: (self.jitter > 0.0)
                .then(|| Normal::new(1.0, self.jitter).ok())
                .flatten(),
            rng: ChaCha8Rng::seed_from_u64(rng.random()),
        }
    }

    /// All of [`token_times`](Self::token_times) at once.
    pub fn token_offsets<R: Rng + ?Sized>(
        &self,
        prompt_tokens: usize,
        n: usize,
        rng: &mut R,
    ) -> Vec<Duration> {
        self.token_times(prompt_tokens, n, rng).collect()
    }
}

/// An answer's token times, drawn one at a time (see [`LatencyModel::token_times`]).
#[derive(Clone, Debug)]
pub struct TokenTimes {
    /// The next token's time, if any is left.
    next: Option<Duration>,
    /// The gap before the next token (zero before the first).
    last_gap: Duration,
    /// The next token's index.
    index: usize,
    len: usize,
    /// Seconds between tokens, before jitter.
    gap: f64,
    jitter: Option<Normal<f64>>,
    rng: ChaCha8Rng,
}

impl TokenTimes {
    /// Tokens in the answer.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The next token's time, without taking it.
    pub fn peek(&self) -> Option<Duration> {
        self.next
    }

    /// The next token's gap after the one before it (zero for the first).
    pub fn gap_before_next(&self) -> Duration {
        self.last_gap
    }

    /// Every token later by `by` (a stall before the answer, a reasoning phase).
    pub fn delay(&mut self, by: Duration) {
        if let Some(t) = self.next.as_mut() {
            *t += by;
        }
    }
}

impl Iterator for TokenTimes {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let t = self.next?;
        self.index += 1;
        self.next = (self.index < self.len).then(|| {
            let factor = match &self.jitter {
                Some(dist) => dist.sample(&mut self.rng).max(0.0),
                None => 1.0,
            };
            self.last_gap = Duration::from_secs_f64(self.gap * factor);
            t + self.last_gap
        });
        Some(t)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.index;
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn fixed_model_is_exact() {
        let m = LatencyModel {
            ttft: Spread::fixed(Duration::from_millis(50)),
            tokens_per_second: 100.0,
            jitter: 0.0,
            prefill_tokens_per_second: 0.0,
        };
        let offs = m.token_offsets(5000, 3, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(offs[0], Duration::from_millis(50));
        assert!((offs[2].as_secs_f64() - 0.070).abs() < 1e-9);
        // With prefill at 10,000 tokens/s, a 5,000-token prompt starts 500 ms later.
        let prefill = LatencyModel {
            prefill_tokens_per_second: 10_000.0,
            ..m
        };
        let offs = prefill.token_offsets(5000, 3, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(offs[0], Duration::from_millis(550));
        assert!((offs[2].as_secs_f64() - 0.570).abs() < 1e-9);
    }

    #[test]
    fn same_seed_same_timings() {
        let m = LatencyModel {
            ttft: Spread::Normal {
                mean: Duration::from_millis(300),
                stddev: Duration::from_millis(80),
                min: Duration::ZERO,
                max: Duration::MAX,
            },
            tokens_per_second: 50.0,
            jitter: 0.2,
            prefill_tokens_per_second: 0.0,
        };
        let a = m.token_offsets(10, 20, &mut ChaCha8Rng::seed_from_u64(7));
        let b = m.token_offsets(10, 20, &mut ChaCha8Rng::seed_from_u64(7));
        let c = m.token_offsets(10, 20, &mut ChaCha8Rng::seed_from_u64(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn drawn_one_at_a_time_with_their_gaps_and_delays() {
        let m = LatencyModel {
            ttft: Spread::fixed(Duration::from_millis(100)),
            tokens_per_second: 20.0,
            jitter: 0.3,
            prefill_tokens_per_second: 0.0,
        };
        let all = m.token_offsets(10, 50, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(all.len(), 50);
        let mut times = m.token_times(10, 50, &mut ChaCha8Rng::seed_from_u64(3));
        times.delay(Duration::from_millis(7));
        assert_eq!(times.len(), 50);
        let mut previous: Option<Duration> = None;
        for (i, want) in all.iter().enumerate() {
            let gap = times.gap_before_next();
            let got = times.next().expect("50 tokens");
            assert_eq!(got, *want + Duration::from_millis(7), "token {i}");
            match previous {
                Some(p) => assert_eq!(gap, got - p, "token {i}"),
                None => assert_eq!(gap, Duration::ZERO),
            }
            previous = Some(got);
        }
        assert_eq!(times.next(), None);
        // Jittered: the gaps are not all the same.
        assert!(all.windows(3).any(|w| w[1] - w[0] != w[2] - w[1]));
        // An open stream holds its times in a few hundred bytes, however long its answer.
        assert!(std::mem::size_of::<TokenTimes>() < 512);
    }

    #[test]
    fn uniform_stays_in_range_and_spreads() {
        let s = Spread::Uniform {
            min: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let v: Vec<Duration> = (0..2000).map(|_| s.sample(&mut rng)).collect();
        assert!(v.iter().all(|d| (100..=300).contains(&d.as_millis())));
        let below_150 = v.iter().filter(|d| d.as_millis() < 150).count();
        // A quarter of the range: ~500 of 2000 (a clamped normal would give ~300).
        assert!((420..580).contains(&below_150), "{below_150}");
    }
}
