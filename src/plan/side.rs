//! `side_by_side: { endpoints: [direct, gateway], mode: mirror | alternate }` — the same
//! traffic to two or more endpoints in one run. Features that name the first endpoint
//! are sent to every listed one (`mirror`: each call to each, paired; `alternate`:
//! consecutive conversations to each in turn).

use super::check::Checker;
use super::endpoint::EndpointPlan;
use super::feature::FeaturePlan;
use super::LoadPlan;
use crate::scenario::model::{SideBySideMode, SideBySideSpec};
use crate::scenario::ScenarioError;

#[derive(Clone, Debug, PartialEq)]
pub struct SideBySidePlan {
    /// Endpoint indexes, the baseline first.
    pub endpoints: Vec<usize>,
    pub mirror: bool,
}

impl super::Plan {
    /// Calls made per arrival on average: in `mirror`, each call of a compared feature
    /// goes to every listed endpoint.
    pub fn copies_per_arrival(&self) -> f64 {
        let Some(s) = self.side_by_side.as_ref().filter(|s| s.mirror) else {
            return 1.0;
        };
        let total: f64 = self.features.iter().map(|f| f.weight).sum();
        let compared: f64 = self
            .features
            .iter()
            .filter(|f| f.endpoint == s.endpoints[0])
            .map(|f| f.weight)
            .sum();
        1.0 + (s.endpoints.len() - 1) as f64 * compared / total.max(1e-12)
    }
}

pub(super) fn side_by_side(
    c: &Checker,
    spec: Option<&SideBySideSpec>,
    endpoints: &[EndpointPlan],
    features: &[FeaturePlan],
    load: &LoadPlan,
) -> Result<Option<SideBySidePlan>, ScenarioError> {
    let Some(spec) = spec else { return Ok(None) };
    let ids = spec
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, id)| {
            c.index_of(
                &format!("side_by_side.endpoints.{i}"),
                "endpoint",
                id,
                endpoints.iter().map(|e| e.id.as_str()),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() < 2 {
        return Err(c.err(
            "side_by_side.endpoints",
            "needs two or more endpoints: the baseline first, then what it is compared with",
        ));
    }
    for (i, e) in ids.iter().enumerate() {
        if ids[..i].contains(e) {
            return Err(c.err(
                &format!("side_by_side.endpoints.{i}"),
                format!("`{}` is listed twice", endpoints[*e].id),
            ));
        }
    }
    if let Some(f) = features.iter().find(|f| ids[1..].contains(&f.endpoint)) {
        return Err(c.err(
            &format!("features.{}.endpoint", f.name),
            format!(
                "names `{}`, which side_by_side compares with `{}`: name the first, and its calls go to both",
                endpoints[f.endpoint].id, endpoints[ids[0]].id
            ),
        ));
    }
    if !features.iter().any(|f| f.endpoint == ids[0]) {
        return Err(c.err(
            "side_by_side.endpoints.0",
            format!(
                "no feature names `{}`: features name the first endpoint, and their calls go to each listed one",
                endpoints[ids[0]].id
            ),
        ));
    }
    let mirror = spec.mode.unwrap_or(SideBySideMode::Mirror) == SideBySideMode::Mirror;
    if mirror && matches!(load, LoadPlan::Closed { .. }) {
        return Err(c.err(
            "side_by_side.mode",
            "mirror sends each call at the same intended start to every endpoint, which needs a schedule: use open mode (or a replay), or `mode: alternate`",
        ));
    }
    Ok(Some(SideBySidePlan {
        endpoints: ids,
        mirror,
    }))
}
