//! Reading metrics off a summary, for thresholds and for the baseline comparison alike:
//! `measure` is the one place a metric of `plan::metrics` gets its value. A value the run
//! could not measure (no successful call, say) is `None`, and fails its threshold rather
//! than passing by default.

use super::summary::{EndpointSummary, Percentiles, Summary, ThresholdResult};
use crate::plan::metrics::{Histo, Metric, Stat};
use crate::plan::thresholds::{Scope, Threshold};

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

/// `part` over `whole`; unmeasured when there is no whole.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Attempts answered 429 over all attempts, across endpoints.
fn rate_429(s: &Summary) -> Option<f64> {
    let n: u64 = s.endpoints.values().map(EndpointSummary::count_429).sum();
    share(n, s.totals.attempts)
}

/// The value of `metric` in `scope`, in the metric's unit.
pub fn measure(metric: Metric, scope: &Scope, s: &Summary) -> Option<f64> {
    match scope {
        Scope::Run => {
            let tot = &s.totals;
            match metric {
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
                Metric::Rate429 => rate_429(s),
                Metric::ErrorRate => share(tot.failed, tot.calls),
                Metric::FallbackRate => share(tot.fallbacks, tot.calls),
                Metric::ResidencyViolations => Some(tot.residency_violations as f64),
                Metric::AchievedRps => Some(tot.achieved_rps),
                Metric::CostPerCall => Some(s.cost.per_call_usd),
                Metric::CostPerSession => Some(s.cost.per_session_usd),
                Metric::CostProjectedDaily => s.cost.projected_daily_usd,
            }
        }
        Scope::Endpoint(id) => {
            let e = s.endpoints.get(id)?;
            match metric {
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
                Metric::Rate429 => share(e.count_429(), e.attempts),
                Metric::ErrorRate => share(e.attempts - e.ok, e.attempts),
                Metric::ResidencyViolations => Some(e.residency_violations as f64),
                Metric::CostPerCall => share(1, e.calls).map(|_| e.cost_usd / e.calls as f64),
                _ => None,
            }
        }
        Scope::Feature(name) => {
            let f = s.features.get(name)?;
            match metric {
                Metric::Percentile(Histo::Latency, st) => stat(&f.latency_ms, st),
                Metric::Percentile(Histo::Ttft, st) => stat(&f.ttft_ms, st),
                Metric::ErrorRate => share(f.calls - f.ok, f.calls),
                Metric::FallbackRate => share(f.fallbacks, f.calls),
                Metric::ResidencyViolations => Some(f.residency_violations as f64),
                Metric::CostPerCall => share(1, f.calls).map(|_| f.cost_usd / f.calls as f64),
                Metric::CostPerSession => {
                    share(1, f.sessions).map(|_| f.cost_usd / f.sessions as f64)
                }
                _ => None,
            }
        }
    }
}

pub fn evaluate(t: &Threshold, s: &Summary) -> ThresholdResult {
    let value = measure(t.metric, &t.scope, s);
    ThresholdResult {
        expr: t.expr.clone(),
        value,
        ok: value.is_some_and(|v| t.op.holds(v, t.limit)),
    }
}
