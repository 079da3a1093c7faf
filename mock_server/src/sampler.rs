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
        }
    }

    /// The typical value: the mean, or the middle of a uniform range.
    pub fn typical(&self) -> f64 {
        match *self {
            Sampler::Fixed(v) => v,
            Sampler::Normal { mean, min, max, .. } => mean.clamp(min, max),
            Sampler::Uniform { min, max } => (min + max) / 2.0,
        }
    }
}
