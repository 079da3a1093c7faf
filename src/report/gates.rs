//! Evaluates the plan's thresholds against the summary: each expression, the value it
//! measured, and whether it held. A value the run could not measure (no successful
//! call, say) fails its threshold rather than passing by default.

use super::summary::{Percentiles, Summary, ThresholdResult};
use crate::plan::thresholds::{Histo, Metric, Scope, Stat, Threshold};

fn stat(p: &Percentiles, s: Stat) -> Option<f64> {
    if p.count == 0 {
        return None;
    }
    Some(match s {
        Stat::P50 => p.p50,
        Stat::P90 => p.p90,
        Stat::P95 => p.p95,
        Stat::P99 => p.p99,
        Stat::P999 => p.p999,
        Stat::Max => p.max,
        Stat::Mean => p.mean,
    })
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The measured value of a threshold's metric in its scope.
fn measure(t: &Threshold, s: &Summary) -> Option<f64> {
    match t.scope {
        Scope::Run => {
            let tot = &s.totals;
            match t.metric {
                Metric::Percentile(h, st) => stat(
                    match h {
                        Histo::Latency => &s.latency_ms,
                        Histo::Ttft => &s.ttft_ms,
                        Histo::Itl => &s.itl_ms,
                        Histo::ScheduleLag => &s.schedule_lag_ms,
                        Histo::ServiceTime => &s.service_time_ms,
                    },
                    st,
                ),
                Metric::Rate429 => {
                    let n: u64 = s
                        .endpoints
                        .values()
                        .map(|e| e.by_outcome.get("http_429").copied().unwrap_or(0))
                        .sum();
                    share(n, tot.attempts)
                }
                Metric::ErrorRate => share(tot.failed, tot.calls),
                Metric::FallbackRate => share(tot.fallbacks, tot.calls),
                Metric::ResidencyViolations => Some(tot.residency_violations as f64),
                Metric::AchievedRps => Some(tot.achieved_rps),
                Metric::CostPerCall => Some(s.cost.per_call_usd),
                Metric::CostPerSession => Some(s.cost.per_session_usd),
                Metric::CostProjectedDaily => s.cost.projected_daily_usd,
            }
        }
        Scope::Endpoint(i) => {
            let e = s.endpoints.values().nth(i)?;
            match t.metric {
                Metric::Percentile(h, st) => stat(
                    match h {
                        Histo::Latency => &e.latency_ms,
                        Histo::Ttft => &e.ttft_ms,
                        Histo::Itl => &e.itl_ms,
                        Histo::ServiceTime => &e.service_time_ms,
                        Histo::ScheduleLag => return None,
                    },
                    st,
                ),
                Metric::Rate429 => Some(e.rate_429),
                Metric::ErrorRate => share(e.attempts - e.ok, e.attempts),
                Metric::ResidencyViolations => Some(e.residency_violations as f64),
                Metric::CostPerCall => (e.calls > 0).then(|| e.cost_usd / e.calls as f64),
                _ => None,
            }
        }
        Scope::Feature(i) => {
            let f = s.features.values().nth(i)?;
            match t.metric {
                Metric::Percentile(Histo::Latency, st) => stat(&f.latency_ms, st),
                Metric::Percentile(Histo::Ttft, st) => stat(&f.ttft_ms, st),
                Metric::ErrorRate => share(f.calls - f.ok, f.calls),
                Metric::FallbackRate => share(f.fallbacks, f.calls),
                Metric::ResidencyViolations => Some(f.residency_violations as f64),
                Metric::CostPerCall => (f.calls > 0).then(|| f.cost_usd / f.calls as f64),
                Metric::CostPerSession => (f.sessions > 0).then(|| f.cost_usd / f.sessions as f64),
                _ => None,
            }
        }
    }
}

pub fn evaluate(t: &Threshold, s: &Summary) -> ThresholdResult {
    let value = measure(t, s);
    ThresholdResult {
        expr: t.expr.clone(),
        value,
        ok: value.is_some_and(|v| t.op.holds(v, t.limit)),
    }
}
