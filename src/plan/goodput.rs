//! Goodput: the calls a second that met every per-call limit (DistServe's definition).
//! The limits are plan data; the recorder judges each call against them.

use super::check::Checker;
use crate::scenario::model::GoodputSpec;
use crate::scenario::ScenarioError;
use std::time::Duration;

/// The limits a call must meet to count as good; `None` limits do not apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GoodputPlan {
    /// From the intended start to the last byte.
    pub latency: Option<Duration>,
    /// From the intended start to the first token (streamed calls).
    pub ttft: Option<Duration>,
    /// The call's mean gap between tokens (streamed calls).
    pub itl: Option<Duration>,
}

pub(super) fn goodput(
    c: &Checker,
    spec: Option<&GoodputSpec>,
) -> Result<Option<GoodputPlan>, ScenarioError> {
    let Some(g) = spec else { return Ok(None) };
    let plan = GoodputPlan {
        latency: g.latency.map(|d| d.0),
        ttft: g.ttft.map(|d| d.0),
        itl: g.itl.map(|d| d.0),
    };
    if plan == GoodputPlan::default() {
        return Err(c.err("goodput", "give at least one of latency, ttft, itl"));
    }
    for (key, d) in [
        ("latency", plan.latency),
        ("ttft", plan.ttft),
        ("itl", plan.itl),
    ] {
        if d.is_some_and(|d| d.is_zero()) {
            return Err(c.err(&format!("goodput.{key}"), "must be more than 0"));
        }
    }
    Ok(Some(plan))
}
