//! `cost:` — the modeled cost per call, the production volume to project to, the
//! alerts, and the spend guard's caps.

use super::check::Checker;
use super::feature::FeaturePlan;
use crate::scenario::{Scenario, ScenarioError};

/// The `cost:` section: what to compare with, project to and guard against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostPlan {
    pub modeled_cost_per_call: Option<f64>,
    pub daily_calls: Option<f64>,
    pub per_day_usd: Option<f64>,
    /// Feature index and its daily limit.
    pub per_feature_usd: Vec<(usize, f64)>,
    pub call_volume_sigma: Option<f64>,
    pub max_spend_usd: Option<f64>,
    pub max_calls: Option<u64>,
}

pub(crate) fn cost_plan(
    c: &Checker,
    sc: &Scenario,
    features: &[FeaturePlan],
) -> Result<CostPlan, ScenarioError> {
    let Some(spec) = &sc.cost else {
        return Ok(CostPlan::default());
    };
    let positive = |v: Option<f64>, path: &str| c.positive(v, path);
    let alerts = spec.alerts.as_ref();
    let mut per_feature_usd = Vec::new();
    for (name, limit) in alerts
        .and_then(|a| a.per_feature_usd.as_ref())
        .into_iter()
        .flatten()
    {
        let path = format!("cost.alerts.per_feature_usd.{name}");
        let i = c.index_of(
            &path,
            "feature",
            name,
            features.iter().map(|f| f.name.as_str()),
        )?;
        per_feature_usd.push((i, positive(Some(*limit), &path)?.unwrap_or(0.0)));
    }
    if spec.max_calls == Some(0) {
        return Err(c.err("cost.max_calls", "must be more than 0"));
    }
    Ok(CostPlan {
        modeled_cost_per_call: positive(spec.modeled_cost_per_call, "cost.modeled_cost_per_call")?,
        daily_calls: positive(spec.daily_calls, "cost.daily_calls")?,
        per_day_usd: positive(
            alerts.and_then(|a| a.per_day_usd),
            "cost.alerts.per_day_usd",
        )?,
        per_feature_usd,
        call_volume_sigma: positive(
            alerts.and_then(|a| a.call_volume_sigma),
            "cost.alerts.call_volume_sigma",
        )?,
        max_spend_usd: positive(spec.max_spend_usd, "cost.max_spend_usd")?,
        max_calls: spec.max_calls,
    })
}
