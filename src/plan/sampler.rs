//! Turns the scenario's "value or distribution" form into a `Sampler` (the mock server's
//! type, which both sides draw with). Validated once when the plan is built.

use crate::scenario::Dist;
pub use mock_server::Sampler;

/// Builds a sampler from parsed values; `Err` says what is wrong, for the caller to locate.
pub fn sampler(dist: &Dist<f64>, floor: f64) -> Result<Sampler, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn clamps_and_validates() {
        let s = sampler(
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
        assert!(sampler(&Dist::Fixed(-1.0), 0.0).is_err());
        assert!(sampler(
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
