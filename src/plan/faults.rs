//! The scenario's `faults:`, each checked for what its kind takes and attached to its
//! endpoint's schedule. A mock endpoint's schedule goes to its mock too, which acts the
//! faults out; the client injects a real endpoint's.

use super::check::{number, Checker};
use super::endpoint::{EndpointPlan, Target};
use crate::scenario::model;
use crate::scenario::{Scenario, ScenarioError};
use mock_server::faults::{Delay, Fault, FaultKind, OutageMode};
use std::time::Duration;

/// Attaches each fault to its endpoint, checking what each kind takes. A mock endpoint's
/// faults go to its mock too, which acts them out.
pub(crate) fn faults(
    c: &Checker,
    sc: &Scenario,
    endpoints: &mut [EndpointPlan],
) -> Result<(), ScenarioError> {
    use model::FaultSpec as K;
    for (i, spec) in sc.faults.iter().flatten().enumerate() {
        let at = |k: &str| format!("faults.{i}.{k}");
        let f = spec.when();
        let ep = c.index_of(
            &at("endpoint"),
            "endpoint",
            f.endpoint,
            endpoints.iter().map(|e| e.id.as_str()),
        )?;
        let from = f.from.map_or(Duration::ZERO, |d| d.0);
        let until = f.until.map(|d| d.0);
        if until.is_some_and(|u| u <= from) {
            return Err(c.err(&at("until"), "must be later than `from`"));
        }
        let probability = f.probability.unwrap_or(1.0);
        if !probability.is_finite() || probability <= 0.0 || probability > 1.0 {
            return Err(c.err(
                &at("probability"),
                format!(
                    "must be more than 0 and at most 1, found {}",
                    number(probability)
                ),
            ));
        }
        let kind = match spec {
            K::RateLimit { retry_after, .. } => FaultKind::RateLimit {
                retry_after: retry_after.map_or(Duration::from_secs(1), |d| d.0),
            },
            K::ServerError { status, .. } => {
                let status = status.unwrap_or(503);
                if !(500..=599).contains(&status) {
                    return Err(c.err(
                        &at("status"),
                        format!("must be a 5xx status, found {status}"),
                    ));
                }
                FaultKind::ServerError { status }
            }
            K::Outage { mode, .. } => {
                let mode = match mode {
                    None => OutageMode::Refuse,
                    Some(model::OutageModeSpec::Code(503)) => OutageMode::Unavailable,
                    Some(model::OutageModeSpec::Name(n)) if n == "503" => OutageMode::Unavailable,
                    Some(model::OutageModeSpec::Name(n)) if n == "refuse" => OutageMode::Refuse,
                    Some(model::OutageModeSpec::Name(n)) if n == "hang" => OutageMode::Hang,
                    Some(other) => {
                        let found = match other {
                            model::OutageModeSpec::Code(code) => code.to_string(),
                            model::OutageModeSpec::Name(n) => n.clone(),
                        };
                        return Err(c.err(
                            &at("mode"),
                            format!("expected refuse, hang or 503, found `{found}`"),
                        ));
                    }
                };
                FaultKind::Outage { mode }
            }
            K::Latency { add, to, .. } => FaultKind::Latency {
                add: add.map(|d| d.0).ok_or_else(|| {
                    c.err(
                        &format!("faults.{i}"),
                        "a latency fault needs `add`, e.g. add: 1500ms",
                    )
                })?,
                to: match to {
                    Some(model::DelaySpec::End) => Delay::End,
                    _ => Delay::Ttft,
                },
            },
            K::StreamCut { after_tokens, .. } => FaultKind::StreamCut {
                after_tokens: *after_tokens,
            },
            K::Deprecated { status, .. } => {
                let status = status.unwrap_or(404);
                if status != 404 && status != 410 {
                    return Err(c.err(&at("status"), "must be 404 or 410"));
                }
                FaultKind::Deprecated { status }
            }
        };
        endpoints[ep].faults.faults.push(Fault {
            kind,
            from,
            until,
            probability,
        });
    }
    for e in endpoints.iter_mut() {
        if let Target::Mock(cfg) = &mut e.target {
            cfg.faults = e.faults.clone();
        }
    }
    Ok(())
}
