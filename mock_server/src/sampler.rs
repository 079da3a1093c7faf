//! A number drawn from a seeded RNG: fixed, normal (clamped) or uniform. llm-drill's plan
//! builds one from each "value or distribution" of a scenario, and the mock draws its own
//! token counts with it; sampling never fails.

use rand::Rng;
use rand_distr::{Distribution, Normal};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    Fixed(f64),
    /// Normal, clamped to `[min, max]`.
    Normal {
        mean: f64,
        stddev: f64,
        min: f64,
        max: f64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    /// Measured quantiles (a usage baseline's): `(probability, value)` knots from
    /// `(0, min)` to `(1, max)`, the first `len` of them used; drawn by inverting the
    /// distribution function, linear between knots.
    Quantiles {
        knots: [(f64, f64); 9],
        len: usize,
    },
}

impl Sampler {
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Sampler::Fixed(v) => v,
            Sampler::Normal {
                mean,
                stddev,
                min,
                max,
            } => {
                let v = if stddev > 0.0 {
                    Normal::new(mean, stddev)
                        .map(|n| n.sample(rng))
                        .unwrap_or(mean)
                } else {
                    mean
                };
                v.clamp(min, max)
            }
            Sampler::Uniform { min, max } => {
                if max > min {
                    rng.random_range(min..=max)
                } else {
                    min
                }
            }
            Sampler::Quantiles { knots, len } => {
                let u: f64 = rng.random();
                let k = &knots[..len];
                let i = k
                    .iter()
                    .position(|(p, _)| *p >= u)
                    .unwrap_or(len - 1)
                    .max(1);
                let ((p0, v0), (p1, v1)) = (k[i - 1], k[i]);
                if p1 > p0 {
                    v0 + (v1 - v0) * (u - p0) / (p1 - p0)
                } else {
                    v1
                }
            }
        }
    }

    /// A whole count (tokens), rounded to nearest.
    pub fn sample_count<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        self.sample(rng).round().clamp(0.0, u32::MAX as f64) as u32
    }

    /// A value it rarely exceeds: its maximum, or for an unbounded normal three standard
    /// deviations above the mean. Used for worst-case planning.
    pub fn upper(&self) -> f64 {
        match *self {
            Sampler::Fixed(v) => v,
            Sampler::Normal {
                mean, stddev, max, ..
            } => (mean + 3.0 * stddev).min(max),
            Sampler::Uniform { max, .. } => max,
            Sampler::Quantiles { knots, len } => knots[len - 1].1,
        }
    }

    /// The largest value it can give (infinite for an unbounded normal with spread).
    pub fn largest(&self) -> f64 {
        match *self {
            Sampler::Fixed(v) => v,
            Sampler::Normal {
                mean, stddev, max, ..
            } => {
                if stddev > 0.0 {
                    max
                } else {
                    mean.min(max)
                }
            }
            Sampler::Uniform { max, .. } => max,
            Sampler::Quantiles { knots, len } => knots[len - 1].1,
        }
    }

    /// The smallest value it gives in practice: its minimum, or for a normal with spread
    /// six standard deviations below the mean when its `min` is lower.
    pub fn smallest(&self) -> f64 {
        match *self {
            Sampler::Fixed(v) => v,
            Sampler::Normal {
                mean, stddev, min, ..
            } => (mean - 6.0 * stddev).max(min).min(mean),
            Sampler::Uniform { min, .. } => min,
            Sampler::Quantiles { knots, .. } => knots[0].1,
        }
    }

    /// The typical value: the mean, or the middle of a uniform range.
    pub fn typical(&self) -> f64 {
        match *self {
            Sampler::Fixed(v) => v,
            Sampler::Normal { mean, min, max, .. } => mean.clamp(min, max),
            Sampler::Uniform { min, max } => (min + max) / 2.0,
            // The mean of the piecewise-linear distribution.
            Sampler::Quantiles { knots, len } => knots[..len]
                .windows(2)
                .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
                .sum(),
        }
    }
}
