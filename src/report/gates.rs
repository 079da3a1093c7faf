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
                        Histo::Ttfvt => s.ttfvt_ms.as_ref()?,
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
                Metric::Goodput => tot.goodput_rps,
                Metric::Headroom => s.capacity.as_ref()?.headroom.as_ref()?.ratio,
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
                        Histo::ScheduleLag | Histo::Ttfvt => return None,
                    },
                    st,
                ),
                Metric::Rate429 => e.rate_429,
                Metric::ErrorRate => share(e.attempts - e.ok, e.attempts),
                Metric::ResidencyViolations => Some(e.residency_violations as f64),
                Metric::CostPerCall => share(1, e.calls).map(|_| e.cost_usd / e.calls as f64),
                _ => None,
            }
        }
        Scope::SideBySide(id) => {
            let p = s.side_by_side.as_ref()?.pairs.get(id)?;
            match metric {
                Metric::Percentile(h, st) => {
                    let d = match h {
                        Histo::Latency => &p.latency_ms,
                        Histo::Ttft => &p.ttft_ms,
                        Histo::Itl => &p.itl_ms,
                        _ => return None,
                    };
                    match st {
                        Stat::P50 => d.p50,
                        Stat::P95 => d.p95,
                        Stat::P99 => d.p99,
                        _ => None,
                    }
                }
                Metric::CostPerCall => p.cost_ratio,
                Metric::ErrorRate => p.error_rate_pp,
                Metric::Rate429 => p.rate_429_pp,
                _ => None,
            }
        }
        Scope::Feature(name) => {
            let f = s.features.get(name)?;
            match metric {
                Metric::Percentile(Histo::Latency, st) => stat(&f.latency_ms, st),
                Metric::Percentile(Histo::Ttft, st) => stat(&f.ttft_ms, st),
                Metric::Percentile(Histo::Ttfvt, st) => stat(f.ttfvt_ms.as_ref()?, st),
                Metric::ErrorRate => share(f.calls - f.ok, f.calls),
                Metric::FallbackRate => share(f.fallbacks, f.calls),
                Metric::ResidencyViolations => Some(f.residency_violations as f64),
                Metric::CostPerCall => share(1, f.calls).map(|_| f.cost_usd / f.calls as f64),
                Metric::CostPerSession => {
                    share(1, f.sessions).map(|_| f.cost_usd / f.sessions as f64)
                }
                Metric::Goodput => f.goodput_rps,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::thresholds::{parse, Op};

    fn pct(count: u64, p99: f64) -> Percentiles {
        Percentiles {
            count,
            p50: p99 / 2.0,
            p99,
            ..Percentiles::default()
        }
    }

    fn summary() -> Summary {
        let mut s = Summary {
            latency_ms: pct(97, 800.0),
            ..Summary::default()
        };
        s.totals.calls = 100;
        s.totals.failed = 3;
        s.totals.attempts = 110;
        for (id, attempts, n429, p99) in [("zeta", 60, 6, 900.0), ("alpha", 50, 4, 300.0)] {
            let mut e = EndpointSummary {
                attempts,
                ok: attempts - n429,
                calls: attempts,
                rate_429: share(n429, attempts),
                latency_ms: pct(attempts, p99),
                ..EndpointSummary::default()
            };
            e.by_outcome.insert("http_429".into(), n429);
            s.endpoints.insert(id.into(), e);
        }
        s
    }

    fn value(expr: &str) -> Option<f64> {
        let t = parse(expr, &["zeta", "alpha"], &["f"]).unwrap();
        evaluate(&t, &summary()).value
    }

    #[test]
    fn run_metrics_are_read_from_the_totals() {
        assert_eq!(value("latency.p99 < 1s"), Some(800.0));
        assert_eq!(value("error_rate < 5%"), Some(0.03));
        assert_eq!(value("rate_429 < 5%"), Some(10.0 / 110.0));
        // Unmeasured: a threshold on it fails instead of passing by default.
        let t = parse("ttft.p95 < 1s", &[], &[]).unwrap();
        let r = evaluate(&t, &summary());
        assert_eq!((r.value, r.ok), (None, false));
    }

    #[test]
    fn endpoints_are_found_by_id_not_by_position() {
        // `alpha` sorts first in the summary's map but is the plan's second endpoint.
        assert_eq!(value("endpoint:alpha latency.p99 < 1s"), Some(300.0));
        assert_eq!(value("endpoint:zeta latency.p99 < 1s"), Some(900.0));
        assert_eq!(value("endpoint:alpha rate_429 < 1%"), Some(4.0 / 50.0));
        // A feature the summary has no figures for: unmeasured.
        assert_eq!(value("feature:f error_rate < 1%"), None);
        let t = parse("endpoint:zeta latency.p99 <= 900ms", &["zeta"], &[]).unwrap();
        assert_eq!(t.op, Op::Le);
        assert!(evaluate(&t, &summary()).ok);
    }
}
