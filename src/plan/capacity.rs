//! `capacity:` — how `llm-drill capacity` searches the load a scenario sustains: where
//! it starts, how it grows and bisects, how long each step warms up and measures, and
//! production's peak to set the result against. Also each step's plan: the scenario with
//! its load held at one level.

use super::arrivals::Stage;
use super::check::{number, Checker};
use super::{LoadPlan, Plan};
use crate::scenario::{Scenario, ScenarioError};
use std::time::Duration;

/// What the search varies, and the unit its results are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadUnit {
    /// Open mode, single calls: calls a second.
    CallsPerSecond,
    /// Open mode with conversations: new sessions a second.
    SessionsPerSecond,
    /// Closed mode: simultaneous users.
    Concurrency,
}

impl LoadUnit {
    pub fn key(self) -> &'static str {
        match self {
            LoadUnit::CallsPerSecond => "calls/s",
            LoadUnit::SessionsPerSecond => "sessions/s",
            LoadUnit::Concurrency => "users",
        }
    }
}

/// Production's peak, in calls a second, and where the figure comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Peak {
    pub calls_per_second: f64,
    pub from: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CapacityPlan {
    pub unit: LoadUnit,
    pub start: f64,
    pub max: f64,
    pub step_duration: Duration,
    pub warmup: Duration,
    /// Bisection stops when the gap between the last good and the first bad step is
    /// at most this share of the good one.
    pub resolution: f64,
    pub growth: f64,
    pub max_schedule_lag: Duration,
    pub peak: Option<Peak>,
}

impl CapacityPlan {
    /// The load of the next growth step after `x`, capped at `max`.
    pub fn grow(&self, x: f64) -> f64 {
        self.level((x * self.growth).min(self.max))
    }

    /// Between a good and a bad load: the middle, or `None` once the gap is within the
    /// resolution (or, for users, one).
    pub fn bisect(&self, good: f64, bad: f64) -> Option<f64> {
        let mid = self.level((good + bad) / 2.0);
        let close = (bad - good) <= good * self.resolution;
        (!close && mid > good && mid < bad).then_some(mid)
    }

    /// A load as the search uses it: whole users, rates to 4 significant figures.
    fn level(&self, x: f64) -> f64 {
        match self.unit {
            LoadUnit::Concurrency => x.round().max(1.0),
            _ => {
                let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
                (x * scale).round() / scale
            }
        }
    }
}

impl Plan {
    /// This plan as measured after its first `warmup`: that much shorter, its open
    /// load's stages trimmed from the front.
    pub fn after(&self, warmup: Duration) -> Plan {
        if warmup.is_zero() {
            return self.clone();
        }
        let mut p = self.clone();
        p.duration = self.duration.saturating_sub(warmup);
        if let LoadPlan::Open { stages, .. } = &mut p.load {
            let mut skip = warmup;
            stages.retain_mut(|s| {
                let cut = skip.min(s.duration);
                s.duration -= cut;
                skip -= cut;
                !s.duration.is_zero()
            });
        }
        p
    }

    /// This plan with its load held at `x` (in the search's unit) for `duration`.
    pub fn at_load(&self, x: f64, duration: Duration) -> Plan {
        let mut p = self.clone();
        p.duration = duration;
        p.load = match &self.load {
            LoadPlan::Open {
                arrival,
                max_in_flight,
                ..
            } => LoadPlan::Open {
                stages: vec![Stage { duration, rate: x }],
                arrival: *arrival,
                max_in_flight: *max_in_flight,
            },
            LoadPlan::Closed { .. } => LoadPlan::Closed {
                concurrency: x.round().max(1.0) as usize,
            },
            // A log's schedule is its own: `capacity` refuses a replay.
            LoadPlan::Replay { .. } => self.load.clone(),
        };
        p
    }
}

pub(super) fn capacity(
    c: &Checker,
    sc: &Scenario,
    load: &LoadPlan,
    multi_turn: bool,
    daily_calls: Option<f64>,
) -> Result<CapacityPlan, ScenarioError> {
    let spec = sc
        .capacity
        .clone()
        .unwrap_or(crate::scenario::model::CapacitySpec {
            start: None,
            max: None,
            step_duration: None,
            warmup: None,
            resolution: None,
            growth: None,
            peak_factor: None,
            production_peak: None,
            max_schedule_lag: None,
        });
    let (unit, own) = match load {
        LoadPlan::Open { stages, .. } => (
            if multi_turn {
                LoadUnit::SessionsPerSecond
            } else {
                LoadUnit::CallsPerSecond
            },
            stages.first().map_or(1.0, |s| s.rate),
        ),
        LoadPlan::Closed { concurrency } => (LoadUnit::Concurrency, *concurrency as f64),
        LoadPlan::Replay { .. } => (LoadUnit::CallsPerSecond, 1.0),
    };
    let start = c
        .positive(spec.start, "capacity.start")?
        .unwrap_or(own.max(1e-3));
    let max = c
        .positive(spec.max, "capacity.max")?
        .unwrap_or(start * 64.0);
    if max < start {
        return Err(c.err(
            "capacity.max",
            format!(
                "must be at least `start` ({}), found {}",
                number(start),
                number(max)
            ),
        ));
    }
    let growth = spec.growth.unwrap_or(2.0);
    if !growth.is_finite() || growth <= 1.0 || growth > 100.0 {
        return Err(c.err("capacity.growth", "must be more than 1 and at most 100"));
    }
    let resolution = spec.resolution.map_or(0.05, |p| p.0);
    if !(resolution > 0.0 && resolution < 1.0) {
        return Err(c.err(
            "capacity.resolution",
            "must be more than 0% and less than 100%",
        ));
    }
    let step_duration = spec.step_duration.map_or(Duration::from_secs(30), |d| d.0);
    if step_duration < Duration::from_secs(1) || step_duration > Duration::from_secs(3600) {
        return Err(c.err("capacity.step_duration", "must be from 1s to 1h"));
    }
    let warmup = spec.warmup.map_or(Duration::from_secs(5), |d| d.0);
    if warmup > Duration::from_secs(3600) {
        return Err(c.err("capacity.warmup", "must be at most 1h"));
    }
    let peak_factor = c.positive(spec.peak_factor, "capacity.peak_factor")?;
    let peak = match (&spec.production_peak, daily_calls) {
        (Some(p), _) => {
            let rate = p
                .trim()
                .strip_suffix("/s")
                .unwrap_or(p.trim())
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| {
                    c.err(
                        "capacity.production_peak",
                        format!("expected calls a second such as `12/s`, found `{p}`"),
                    )
                })?;
            Some(Peak {
                calls_per_second: rate,
                from: "capacity.production_peak".into(),
            })
        }
        (None, Some(daily)) => {
            let factor = peak_factor.unwrap_or(3.0);
            Some(Peak {
                calls_per_second: daily / 86_400.0 * factor,
                from: format!(
                    "cost.daily_calls {} over 24 h × peak_factor {}",
                    number(daily),
                    number(factor)
                ),
            })
        }
        (None, None) => None,
    };
    Ok(CapacityPlan {
        unit,
        start,
        max,
        step_duration,
        warmup,
        resolution,
        growth,
        max_schedule_lag: spec
            .max_schedule_lag
            .map_or(Duration::from_millis(50), |d| d.0),
        peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(unit: LoadUnit) -> CapacityPlan {
        CapacityPlan {
            unit,
            start: 2.0,
            max: 100.0,
            step_duration: Duration::from_secs(30),
            warmup: Duration::from_secs(5),
            resolution: 0.05,
            growth: 2.0,
            max_schedule_lag: Duration::from_millis(50),
            peak: None,
        }
    }

    #[test]
    fn it_grows_to_max_then_bisects_to_the_resolution() {
        let p = plan(LoadUnit::CallsPerSecond);
        assert_eq!(p.grow(2.0), 4.0);
        assert_eq!(p.grow(64.0), 100.0, "capped at max");
        assert_eq!(p.bisect(8.0, 16.0), Some(12.0));
        assert_eq!(p.bisect(9.6, 10.0), None, "within 5% of 9.6");
        assert_eq!(p.bisect(9.5, 10.0), Some(9.75), "5.3% apart");
        assert_eq!(p.bisect(9.0, 10.0), Some(9.5));
        assert_eq!(p.grow(1.0 / 3.0), 0.6667, "four significant figures");
        let users = plan(LoadUnit::Concurrency);
        assert_eq!(users.bisect(8.0, 9.0), None, "no half users");
        assert_eq!(users.bisect(8.0, 11.0), Some(10.0));
    }
}
