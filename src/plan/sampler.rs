//! Turns the scenario's "value or distribution" form into something that draws numbers
//! from a seeded RNG. Validated once when the plan is built; sampling never fails.

use crate::scenario::Dist;
use rand::Rng;
use rand_distr::{Distribution, Normal};

#[derive(Clone, Debug, PartialEq)]
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
    /// Builds a sampler from parsed values; `Err` says what is wrong, for the caller to locate.
    pub fn new(dist: &Dist<f64>, floor: f64) -> Result<Sampler, String> {
        let finite = |v: f64, what: &str| {
            if !v.is_finite() || v < floor {
                Err(format!(
                    "`{what}` must be a number of at least {floor}, found {v}"
                ))
            } else {
                Ok(v)
            }
        };
        Ok(match *dist {
            Dist::Fixed(v) => Sampler::Fixed(finite(v, "value")?),
            Dist::Spread {
                mean: Some(mean),
                stddev,
                min,
                max,
            } => {
                let mean = finite(mean, "mean")?;
                let stddev = finite(stddev.unwrap_or(0.0), "stddev")?;
                let min = finite(min.unwrap_or(floor), "min")?;
                let max = match max {
                    Some(m) => finite(m, "max")?,
                    None => f64::INFINITY,
                };
                if min > max {
                    return Err(format!("`min` ({min}) is larger than `max` ({max})"));
                }
                Sampler::Normal {
                    mean,
                    stddev,
                    min,
                    max,
                }
            }
            Dist::Spread {
                mean: None,
                min: Some(min),
                max: Some(max),
                ..
            } => {
                let (min, max) = (finite(min, "min")?, finite(max, "max")?);
                if min > max {
                    return Err(format!("`min` ({min}) is larger than `max` ({max})"));
                }
                Sampler::Uniform { min, max }
            }
            Dist::Spread { .. } => {
                return Err("a distribution needs `mean`, or both `min` and `max`".into())
            }
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn clamps_and_validates() {
        let s = Sampler::new(
            &Dist::Spread {
                mean: Some(100.0),
                stddev: Some(50.0),
                min: Some(80.0),
                max: Some(120.0),
            },
            0.0,
        )
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..1000 {
            let v = s.sample(&mut rng);
            assert!((80.0..=120.0).contains(&v));
        }
        assert!(Sampler::new(&Dist::Fixed(-1.0), 0.0).is_err());
        assert!(Sampler::new(
            &Dist::Spread {
                mean: None,
                stddev: None,
                min: Some(5.0),
                max: Some(1.0)
            },
            0.0
        )
        .is_err());
    }
}
