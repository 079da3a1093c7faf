//! Thresholds, the CI gates: `[endpoint:ID | feature:NAME] METRIC OP VALUE`, such as
//! `latency.p99 < 8s`, `rate_429 < 1%`, `cost.per_call < $0.10` or
//! `endpoint:primary ttft.p95 <= 1500ms`. Parsed once here, with located errors;
//! evaluated against the summary by the report.

use super::metrics::ScopeKind;
pub use super::metrics::{Histo, Metric, Stat};

/// Where a threshold is measured: the whole run, or one endpoint or feature by its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Run,
    Endpoint(String),
    Feature(String),
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::Run => ScopeKind::Run,
            Scope::Endpoint(_) => ScopeKind::Endpoint,
            Scope::Feature(_) => ScopeKind::Feature,
        }
    }
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
            if !endpoints.contains(&id) {
                return Err(format!(
                    "`{id}` names no endpoint (defined: {})",
                    endpoints.join(", ")
                ));
            }
            words.next();
            Scope::Endpoint(id.to_string())
        }
        Some(("feature", name)) => {
            if !features.contains(&name) {
                return Err(format!(
                    "`{name}` names no feature (defined: {})",
                    features.join(", ")
                ));
            }
            words.next();
            Scope::Feature(name.to_string())
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
    let metric = Metric::parse(metric)?;
    let limit = metric.value(value)?;
    if !metric.reported_in(scope.kind()) {
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
        assert_eq!(
            (t.scope, t.limit),
            (Scope::Endpoint("primary".into()), 1500.0)
        );
        assert_eq!(parse("rate_429 < 1%", &e, &f).unwrap().limit, 0.01);
        assert_eq!(parse("cost.per_call < $0.10", &e, &f).unwrap().limit, 0.10);
        assert_eq!(
            parse("feature:chat error_rate < 0.5", &e, &f)
                .unwrap()
                .scope,
            Scope::Feature("chat".into())
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
