//! Thresholds, the CI gates: `[endpoint:ID | feature:NAME] METRIC OP VALUE`, such as
//! `latency.p99 < 8s`, `rate_429 < 1%`, `cost.per_call < $0.10` or
//! `endpoint:primary ttft.p95 <= 1500ms`; and on a side-by-side comparison,
//! `side_by_side:ID METRIC OP CHANGE` with the change written as what it is — a
//! difference `+15ms`, a ratio `×1.2` (or `x1.2`), percentage points `+0.5pp`. Parsed
//! once here, with located errors; evaluated against the summary by the report.

use super::metrics::ScopeKind;
pub use super::metrics::{Histo, Metric, Stat};

/// Where a threshold is measured: the whole run, or one endpoint or feature by its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Run,
    Endpoint(String),
    Feature(String),
    /// An endpoint of `side_by_side` against the first: B − A, or B / A.
    SideBySide(String),
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::Run => ScopeKind::Run,
            Scope::Endpoint(_) => ScopeKind::Endpoint,
            Scope::Feature(_) => ScopeKind::Feature,
            Scope::SideBySide(_) => ScopeKind::SideBySide,
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
    // `KIND:NAME`, NAME among `names` (what KIND calls them: "endpoint", "feature").
    let named = |name: &str, names: &[&str], what: &str| -> Result<String, String> {
        if names.contains(&name) {
            Ok(name.to_string())
        } else {
            Err(format!(
                "`{name}` names no {what} (defined: {})",
                names.join(", ")
            ))
        }
    };
    let scope = match words.peek().and_then(|w| w.split_once(':')) {
        Some(("endpoint", id)) => Scope::Endpoint(named(id, endpoints, "endpoint")?),
        Some(("feature", name)) => Scope::Feature(named(name, features, "feature")?),
        Some(("side_by_side", id)) => Scope::SideBySide(named(id, endpoints, "endpoint")?),
        _ => Scope::Run,
    };
    if scope != Scope::Run {
        words.next();
    }
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
    if !metric.reported_in(scope.kind()) {
        return Err(match scope {
            Scope::SideBySide(_) => format!(
                "`{}`: side by side compares latency, ttft and itl (p50, p95, p99), cost.per_call, error_rate and rate_429",
                expr.trim()
            ),
            _ => format!(
                "`{}` is not reported per endpoint or feature in this form",
                expr.trim()
            ),
        });
    }
    let limit = match scope {
        Scope::SideBySide(_) => change(metric, value)?,
        _ => metric.value(value)?,
    };
    Ok(Threshold {
        expr: expr.trim().to_string(),
        scope,
        metric,
        op,
        limit,
    })
}

/// A side-by-side limit: a signed difference in the metric's unit (`+15ms`, `-2ms`), a
/// ratio for cost (`×1.2`), percentage points for rates (`+0.5pp`).
fn change(metric: Metric, v: &str) -> Result<f64, String> {
    let number = |s: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("cannot read `{v}` as a change"))
    };
    match metric {
        Metric::CostPerCall => match v.strip_prefix('×').or_else(|| v.strip_prefix('x')) {
            Some(r) => number(r),
            None => Err(format!(
                "`{v}`: side by side compares cost as a ratio, written `×1.2` (or `x1.2`)"
            )),
        },
        Metric::ErrorRate | Metric::Rate429 => match v.strip_suffix("pp") {
            Some(p) => number(p.strip_prefix('+').unwrap_or(p)),
            None => Err(format!(
                "`{v}`: side by side compares rates in percentage points, written `+0.5pp`"
            )),
        },
        _ => {
            let (sign, rest) = match v.strip_prefix('-') {
                Some(r) => (-1.0, r),
                None => (1.0, v.strip_prefix('+').unwrap_or(v)),
            };
            if !v.starts_with(['+', '-']) {
                return Err(format!(
                    "`{v}`: side by side compares a difference, written with its sign: `+15ms`"
                ));
            }
            Ok(sign * metric.value(rest)?)
        }
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

    #[test]
    fn side_by_side_limits_are_written_as_changes() {
        let e = ["direct", "gateway"];
        let t = parse("side_by_side:gateway latency.p99 < +15ms", &e, &[]).unwrap();
        assert_eq!(
            (t.scope, t.limit),
            (Scope::SideBySide("gateway".into()), 15.0)
        );
        assert_eq!(
            parse("side_by_side:gateway cost.per_call < ×1.2", &e, &[])
                .unwrap()
                .limit,
            1.2
        );
        assert_eq!(
            parse("side_by_side:gateway error_rate < +0.5pp", &e, &[])
                .unwrap()
                .limit,
            0.5
        );
        assert_eq!(
            parse("side_by_side:gateway ttft.p50 > -2ms", &e, &[])
                .unwrap()
                .limit,
            -2.0
        );
        for (bad, says) in [
            ("side_by_side:gateway latency.p99 < 15ms", "with its sign"),
            ("side_by_side:gateway cost.per_call < $0.10", "as a ratio"),
            ("side_by_side:gateway error_rate < 1%", "percentage points"),
            ("side_by_side:gateway goodput > 5", "side by side compares"),
            ("side_by_side:nope latency.p50 < +1ms", "names no endpoint"),
        ] {
            let err = parse(bad, &e, &[]).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
