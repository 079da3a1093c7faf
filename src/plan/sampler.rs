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
        Dist::Quantiles(ref q) => {
            let mut knots = [(0.0, 0.0); 9];
            let mut len = 0;
            // Without `min`, the distribution starts at the floor.
            if q.first().is_none_or(|(p, _)| *p > 0.0) {
                knots[0] = (0.0, floor);
                len = 1;
            }
            for (p, v) in q {
                let v = finite(*v, "quantile")?;
                if len > 0 && v < knots[len - 1].1 {
                    return Err(format!(
                        "quantiles must not fall: p{:.0} is {v}, below {} before it",
                        p * 100.0,
                        knots[len - 1].1
                    ));
                }
                knots[len] = (*p, v);
                len += 1;
            }
            Sampler::Quantiles { knots, len }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn measured_quantiles_are_drawn_back_and_their_mean_is_known() {
        let q = Dist::Quantiles(vec![
            (0.0, 100.0),
            (0.5, 500.0),
            (0.95, 900.0),
            (1.0, 1000.0),
        ]);
        let s = sampler(&q, 0.0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut draws: Vec<f64> = (0..200_000).map(|_| s.sample(&mut rng)).collect();
        draws.sort_by(f64::total_cmp);
        let at = |p: f64| draws[(p * draws.len() as f64) as usize - 1];
        assert!((at(0.5) - 500.0).abs() < 5.0, "{}", at(0.5));
        assert!((at(0.95) - 900.0).abs() < 5.0, "{}", at(0.95));
        assert!(draws[0] >= 100.0 && draws[draws.len() - 1] <= 1000.0);
        // 0.5 × 300 + 0.45 × 700 + 0.05 × 950 = 512.5
        assert!((s.typical() - 512.5).abs() < 1e-9);
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 512.5).abs() < 3.0, "{mean}");
        assert_eq!((s.smallest(), s.largest()), (100.0, 1000.0));
        // Without `min`, from the floor; falling quantiles are refused.
        let s = sampler(&Dist::Quantiles(vec![(0.5, 10.0), (1.0, 20.0)]), 1.0).unwrap();
        assert_eq!(s.smallest(), 1.0);
        let falling = Dist::Quantiles(vec![(0.5, 900.0), (0.95, 500.0), (1.0, 1000.0)]);
        assert!(sampler(&falling, 0.0)
            .unwrap_err()
            .contains("must not fall"));
    }

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
