//! `pilot:` — the assumptions a pilot was approved on (cost per call, latency, 429s,
//! errors, residency, headroom), each checked against what a run measures. Plan data
//! only; `report::pilot` gives the verdict.

use super::check::Checker;
use super::metrics::Metric;
use crate::scenario::model::{AssumedValue, PilotSpec};
use crate::scenario::ScenarioError;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq)]
pub struct PilotPlan {
    /// A run whose figures stand beside the measured ones.
    pub baseline: Option<PathBuf>,
    pub assumptions: Vec<Assumption>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Assumption {
    /// A metric within its assumed value: at most it, or at least it where more is
    /// better (goodput, achieved rate, headroom).
    Metric {
        key: String,
        written: String,
        metric: Metric,
        limit: f64,
    },
    /// No call served outside these regions, by the endpoint's declared region or by
    /// the region it said served the call.
    Residency(Vec<String>),
}

impl Assumption {
    pub fn key(&self) -> &str {
        match self {
            Assumption::Metric { key, .. } => key,
            Assumption::Residency(_) => "residency",
        }
    }
}

/// Whether more of this metric is better (the assumption is a floor, not a ceiling).
pub fn higher_is_better(m: Metric) -> bool {
    matches!(m, Metric::Goodput | Metric::AchievedRps | Metric::Headroom)
}

pub(super) fn pilot(
    c: &Checker,
    spec: Option<&PilotSpec>,
) -> Result<Option<PilotPlan>, ScenarioError> {
    let Some(p) = spec else { return Ok(None) };
    if p.assumptions.is_empty() {
        return Err(c.err(
            "pilot.assumptions",
            "name at least one assumption (cost_per_call: $0.04, latency.p95: 3s, ...)",
        ));
    }
    let mut assumptions = Vec::new();
    for (key, value) in &p.assumptions {
        let at = format!("pilot.assumptions.{key}");
        if key == "residency" {
            let AssumedValue::Regions(regions) = value else {
                return Err(c.err(
                    &at,
                    "expected a list of regions, e.g. [westeurope, northeurope]",
                ));
            };
            let mut canonical = Vec::new();
            for r in regions {
                let name = super::regions::canonical(r)
                    .ok_or_else(|| c.err(&at, format!("unknown region `{r}`")))?;
                canonical.push(name.to_string());
            }
            assumptions.push(Assumption::Residency(canonical));
            continue;
        }
        let name = match key.as_str() {
            "cost_per_call" => "cost.per_call",
            "cost_per_session" => "cost.per_session",
            other => other,
        };
        let metric = Metric::parse(name).map_err(|e| c.err(&at, e))?;
        let written = match value {
            AssumedValue::Number(n) => n.to_string(),
            AssumedValue::Text(t) => t.clone(),
            AssumedValue::Regions(_) => {
                return Err(c.err(&at, "expected one value, not a list"));
            }
        };
        let limit = metric.value(&written).map_err(|e| c.err(&at, e))?;
        assumptions.push(Assumption::Metric {
            key: key.clone(),
            written,
            metric,
            limit,
        });
    }
    Ok(Some(PilotPlan {
        baseline: p.baseline.as_ref().map(PathBuf::from),
        assumptions,
    }))
}
