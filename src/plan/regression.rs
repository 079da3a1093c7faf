//! `regression:` — how much worse than a baseline a metric may get: a relative
//! tolerance for every metric, and per metric its own tolerance and absolute floor. Kept
//! in the summary, so that `compare` applies the candidate's policy.

use super::check::Checker;
use super::metrics::{Metric, COMPARED};
use crate::scenario::{Scenario, ScenarioError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The relative tolerance when a scenario sets none.
pub const DEFAULT_TOLERANCE: f64 = 0.10;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub tolerance: Option<f64>,
    /// Metric name → (tolerance, floor), each optional.
    #[serde(default)]
    pub per_metric: BTreeMap<String, (Option<f64>, Option<f64>)>,
}

impl Policy {
    /// The relative tolerance and absolute floor that apply to `metric`.
    pub fn limits(&self, metric: Metric) -> (f64, f64) {
        let own = self.per_metric.get(&metric.name());
        let tolerance = own
            .and_then(|o| o.0)
            .or(self.tolerance)
            .unwrap_or(DEFAULT_TOLERANCE);
        let floor = own.and_then(|o| o.1).unwrap_or(metric.regression_floor());
        (tolerance, floor)
    }
}

pub(crate) fn policy(c: &Checker, sc: &Scenario) -> Result<Policy, ScenarioError> {
    let Some(r) = &sc.regression else {
        return Ok(Policy::default());
    };
    let mut per_metric = BTreeMap::new();
    for (name, t) in r.per_metric.iter().flatten() {
        let at = format!("regression.per_metric.{name}");
        if !COMPARED.iter().any(|m| m.name() == *name) {
            let compared: Vec<String> = COMPARED.iter().map(|m| m.name()).collect();
            return Err(c.err(
                &at,
                format!(
                    "is not a compared metric (compared: {})",
                    compared.join(", ")
                ),
            ));
        }
        if t.floor.is_some_and(|f| !f.is_finite() || f < 0.0) {
            return Err(c.err(&format!("{at}.floor"), "must be 0 or more"));
        }
        per_metric.insert(name.clone(), (t.tolerance.map(|p| p.0), t.floor));
    }
    Ok(Policy {
        tolerance: r.tolerance.map(|p| p.0),
        per_metric,
    })
}
