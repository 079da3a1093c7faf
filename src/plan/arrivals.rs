//! The open-mode arrival schedule: each call's *intended* start, as an offset from the
//! run's start, fixed in advance by the stages and the seed and never by how fast the
//! endpoint answers (this is what keeps latency free of coordinated omission).
//!
//! Pure and allocation-free per arrival; the engine only sleeps until each offset.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    /// New calls (sessions) per second.
    pub rate: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Evenly spaced: `1 / rate` apart.
    Constant,
    /// Exponential gaps with mean `1 / rate` (a Poisson process).
    Poisson,
}

/// Iterator over intended start offsets, in order, ending with the last stage.
#[derive(Clone)]
pub struct ArrivalSchedule {
    stages: Vec<Stage>,
    arrival: Arrival,
    rng: ChaCha8Rng,
    stage: usize,
    /// Exact (integer nanosecond) start of the current stage.
    stage_start: Duration,
    /// Constant: arrivals made in this stage. Each offset is `k / rate`, computed from
    /// the index rather than by adding gaps, so rounding never adds or drops a call.
    k: u64,
    /// Poisson: offset within the stage of the next arrival, in seconds.
    next_in_stage: f64,
}

impl ArrivalSchedule {
    pub fn new(stages: &[Stage], arrival: Arrival, seed: u64) -> Self {
        let mut s = ArrivalSchedule {
            stages: stages.to_vec(),
            arrival,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xA5A5_5A5A_0F0F_F0F0),
            stage: 0,
            stage_start: Duration::ZERO,
            k: 0,
            next_in_stage: 0.0,
        };
        s.next_in_stage = s.poisson_gap();
        s
    }

    fn poisson_gap(&mut self) -> f64 {
        let rate = self.stages.get(self.stage).map_or(0.0, |s| s.rate);
        if self.arrival != Arrival::Poisson || rate <= 0.0 {
            return 0.0;
        }
        // Inverse transform: 1 - u is in (0, 1], so the log is finite.
        -(1.0 - self.rng.random::<f64>()).ln() / rate
    }

    /// How many arrivals a constant schedule makes (Poisson: the expected count).
    pub fn expected_count(stages: &[Stage]) -> f64 {
        stages
            .iter()
            .map(|s| s.duration.as_secs_f64() * s.rate)
            .sum()
    }
}

impl Iterator for ArrivalSchedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        loop {
            let stage = *self.stages.get(self.stage)?;
            let len = stage.duration.as_secs_f64();
            let at = match self.arrival {
                // A tiny tolerance keeps `k / rate` from landing just inside the stage's
                // end through rounding (20/s for 5 s is 100 calls, not 101).
                Arrival::Constant if (self.k as f64) + 1e-9 < len * stage.rate => {
                    Some(self.k as f64 / stage.rate)
                }
                Arrival::Poisson if self.next_in_stage < len => Some(self.next_in_stage),
                _ => None,
            };
            if let Some(at) = at {
                self.k += 1;
                if self.arrival == Arrival::Poisson {
                    self.next_in_stage += self.poisson_gap();
                }
                return Some(self.stage_start + Duration::from_secs_f64(at));
            }
            // Next stage. A Poisson process is memoryless, so drawing a fresh gap at the
            // new rate from the boundary is exact; a constant one starts on the boundary.
            self.stage += 1;
            self.stage_start += stage.duration;
            self.k = 0;
            self.next_in_stage = self.poisson_gap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(secs: f64, rate: f64) -> Stage {
        Stage {
            duration: Duration::from_secs_f64(secs),
            rate,
        }
    }

    #[test]
    fn constant_is_evenly_spaced_and_counts_exactly() {
        let offs: Vec<_> =
            ArrivalSchedule::new(&[stage(10.0, 500.0)], Arrival::Constant, 1).collect();
        assert_eq!(offs.len(), 5000);
        // Rates whose gap is not exact in binary floating point still count exactly.
        for (secs, rate, n) in [
            (5.0, 20.0, 100),
            (3.0, 0.1, 1),
            (10.0, 3.0, 30),
            (7.0, 0.3, 3),
            (1.0, 1000.0, 1000),
        ] {
            assert_eq!(
                ArrivalSchedule::new(&[stage(secs, rate)], Arrival::Constant, 1).count(),
                n,
                "{rate}/s for {secs}s"
            );
        }
        assert_eq!(offs[0], Duration::ZERO);
        assert!((offs[1].as_secs_f64() - 0.002).abs() < 1e-9);
        assert!(offs.last().unwrap().as_secs_f64() < 10.0);
    }

    #[test]
    fn stages_change_the_rate() {
        let offs: Vec<_> =
            ArrivalSchedule::new(&[stage(1.0, 2.0), stage(2.0, 4.0)], Arrival::Constant, 1)
                .collect();
        let secs: Vec<f64> = offs.iter().map(|d| d.as_secs_f64()).collect();
        assert_eq!(
            secs,
            vec![0.0, 0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75]
        );
    }

    #[test]
    fn poisson_is_seeded_and_has_the_right_mean() {
        let a: Vec<_> = ArrivalSchedule::new(&[stage(100.0, 50.0)], Arrival::Poisson, 9).collect();
        let b: Vec<_> = ArrivalSchedule::new(&[stage(100.0, 50.0)], Arrival::Poisson, 9).collect();
        let c: Vec<_> = ArrivalSchedule::new(&[stage(100.0, 50.0)], Arrival::Poisson, 10).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // 5000 expected; a Poisson count has stddev sqrt(5000) ~ 71, so 4 sigma is ~283.
        assert!((a.len() as i64 - 5000).abs() < 283, "{}", a.len());
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }
}
