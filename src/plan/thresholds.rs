//! Thresholds, the CI gates: `[endpoint:ID | feature:NAME] METRIC OP VALUE`, such as
//! `latency.p99 < 8s`, `rate_429 < 1%`, `cost.per_call < $0.10` or
//! `endpoint:primary ttft.p95 <= 1500ms`. Parsed once here, with located errors;
//! evaluated against the summary by the report.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Run,
    Endpoint(usize),
    Feature(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Histo {
    Latency,
    Ttft,
    Itl,
    ScheduleLag,
    ServiceTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Milliseconds.
    Percentile(Histo, Stat),
    /// Fractions from 0 to 1.
    Rate429,
    ErrorRate,
    FallbackRate,
    ResidencyViolations,
    AchievedRps,
    /// USD.
    CostPerCall,
    CostPerSession,
    CostProjectedDaily,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub expr: String,
    pub scope: Scope,
    pub metric: Metric,
    pub op: Op,
    /// In the metric's unit (ms, fraction, count, calls/s, USD).
    pub limit: f64,
}

/// Parses one expression; `Err` says what is wrong, for the caller to locate.
pub fn parse(expr: &str, endpoints: &[&str], features: &[&str]) -> Result<Threshold, String> {
    let mut words = expr.split_whitespace().peekable();
    let scope = match words.peek().and_then(|w| w.split_once(':')) {
        Some(("endpoint", id)) => {
            let i = endpoints.iter().position(|e| *e == id).ok_or_else(|| {
                format!(
                    "`{id}` names no endpoint (defined: {})",
                    endpoints.join(", ")
                )
            })?;
            words.next();
            Scope::Endpoint(i)
        }
        Some(("feature", name)) => {
            let i = features.iter().position(|f| *f == name).ok_or_else(|| {
                format!(
                    "`{name}` names no feature (defined: {})",
                    features.join(", ")
                )
            })?;
            words.next();
            Scope::Feature(i)
        }
        _ => Scope::Run,
    };
    let form = || {
        format!("expected `[endpoint:ID|feature:NAME] METRIC OP VALUE` such as `latency.p99 < 8s`, found `{expr}`")
    };
    let (Some(metric), Some(op), Some(value), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(form());
    };
    let op = match op {
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        other => return Err(format!("unknown comparison `{other}`: use <, <=, > or >=")),
    };
    let metric = metric_named(metric)?;
    let limit = value_in_unit(metric, value)?;
    let unsupported = match (scope, metric) {
        (Scope::Feature(_), Metric::Percentile(h, _)) => !matches!(h, Histo::Latency | Histo::Ttft),
        (Scope::Feature(_), Metric::Rate429 | Metric::AchievedRps | Metric::CostProjectedDaily) => {
            true
        }
        (Scope::Endpoint(_), Metric::Percentile(Histo::ScheduleLag, _)) => true,
        (Scope::Endpoint(_), m) => !matches!(
            m,
            Metric::Percentile(..)
                | Metric::Rate429
                | Metric::ErrorRate
                | Metric::ResidencyViolations
                | Metric::CostPerCall
        ),
        _ => false,
    };
    if unsupported {
        return Err(format!(
            "`{}` is not reported per endpoint or feature in this form",
            expr.trim()
        ));
    }
    Ok(Threshold {
        expr: expr.trim().to_string(),
        scope,
        metric,
        op,
        limit,
    })
}

fn metric_named(name: &str) -> Result<Metric, String> {
    let known = "latency|ttft|itl|schedule_lag|service_time.p50|p90|p95|p99|p999|max|mean, rate_429, error_rate, fallback_rate, residency_violations, achieved_rps, cost.per_call, cost.per_session, cost.projected_daily";
    Ok(match name {
        "rate_429" => Metric::Rate429,
        "error_rate" => Metric::ErrorRate,
        "fallback_rate" => Metric::FallbackRate,
        "residency_violations" => Metric::ResidencyViolations,
        "achieved_rps" => Metric::AchievedRps,
        "cost.per_call" => Metric::CostPerCall,
        "cost.per_session" => Metric::CostPerSession,
        "cost.projected_daily" => Metric::CostProjectedDaily,
        _ => {
            let (h, s) = name
                .split_once('.')
                .ok_or_else(|| format!("unknown metric `{name}` (known: {known})"))?;
            let h = match h {
                "latency" => Histo::Latency,
                "ttft" => Histo::Ttft,
                "itl" => Histo::Itl,
                "schedule_lag" => Histo::ScheduleLag,
                "service_time" => Histo::ServiceTime,
                _ => return Err(format!("unknown metric `{name}` (known: {known})")),
            };
            let s = match s {
                "p50" => Stat::P50,
                "p90" => Stat::P90,
                "p95" => Stat::P95,
                "p99" => Stat::P99,
                "p999" => Stat::P999,
                "max" => Stat::Max,
                "mean" => Stat::Mean,
                _ => {
                    return Err(format!(
                        "unknown statistic `{s}` (known: p50, p90, p95, p99, p999, max, mean)"
                    ))
                }
            };
            Metric::Percentile(h, s)
        }
    })
}

/// The limit in the metric's unit: durations in ms (`8s`, `1500ms`, or a bare number of
/// ms), rates as fractions (`1%` or `0.01`), money in USD (`$0.10` or `0.10`).
fn value_in_unit(metric: Metric, v: &str) -> Result<f64, String> {
    let bad = || format!("cannot read `{v}` as a value for this metric");
    let number = |s: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(bad)
    };
    match metric {
        Metric::Percentile(..) => {
            if v.chars().last().is_some_and(|c| c.is_ascii_alphabetic()) {
                let d = crate::scenario::parse_duration(v)?;
                Ok(d.as_secs_f64() * 1000.0)
            } else {
                number(v)
            }
        }
        Metric::Rate429 | Metric::ErrorRate | Metric::FallbackRate => match v.strip_suffix('%') {
            Some(p) => Ok(number(p)? / 100.0),
            None => number(v),
        },
        Metric::CostPerCall | Metric::CostPerSession | Metric::CostProjectedDaily => {
            number(v.strip_prefix('$').unwrap_or(v))
        }
        Metric::ResidencyViolations | Metric::AchievedRps => number(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_and_units() {
        let e = ["primary"];
        let f = ["chat"];
        let t = parse("latency.p99 < 8s", &e, &f).unwrap();
        assert_eq!(
            (t.metric, t.op, t.limit),
            (
                Metric::Percentile(Histo::Latency, Stat::P99),
                Op::Lt,
                8000.0
            )
        );
        let t = parse("endpoint:primary ttft.p95 <= 1500ms", &e, &f).unwrap();
        assert_eq!((t.scope, t.limit), (Scope::Endpoint(0), 1500.0));
        assert_eq!(parse("rate_429 < 1%", &e, &f).unwrap().limit, 0.01);
        assert_eq!(parse("cost.per_call < $0.10", &e, &f).unwrap().limit, 0.10);
        assert_eq!(
            parse("feature:chat error_rate < 0.5", &e, &f)
                .unwrap()
                .scope,
            Scope::Feature(0)
        );
        assert!(parse("latency.p99 << 8s", &e, &f)
            .unwrap_err()
            .contains("comparison"));
        assert!(parse("latencyy.p99 < 8s", &e, &f)
            .unwrap_err()
            .contains("unknown metric"));
        assert!(parse("latency.p98 < 8s", &e, &f)
            .unwrap_err()
            .contains("statistic"));
        assert!(parse("endpoint:nope rate_429 < 1%", &e, &f)
            .unwrap_err()
            .contains("names no endpoint"));
        assert!(parse("latency.p99 < eight", &e, &f).is_err());
        assert!(parse("latency.p99 <", &e, &f)
            .unwrap_err()
            .contains("expected"));
    }
}
