//! Baseline comparison: a candidate run's key metrics against a baseline's. A metric
//! regresses only when it is worse by more than a relative tolerance *and* an absolute
//! floor, so noise on a fast gateway (a p99 of 1.9 ms becoming 2.3 ms) does not fail a
//! build.

use super::summary::Summary;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub metric: String,
    pub baseline: f64,
    pub candidate: f64,
    /// Relative change, candidate over baseline minus 1.
    pub change: f64,
    /// `regressed`, `improved` or `same`.
    pub verdict: String,
}

/// How much worse a metric may get: relative tolerance, and per metric an override of it
/// and of the absolute floor. Kept in the summary, so `compare` applies the candidate's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub per_metric: std::collections::BTreeMap<String, (Option<f64>, Option<f64>)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline: String,
    pub checks: Vec<Check>,
    pub regressed: bool,
}

/// Relative tolerance, and the absolute floors per kind of metric.
const TOLERANCE: f64 = 0.10;
const FLOOR_MS: f64 = 2.0;
const FLOOR_RATE: f64 = 0.005;
const FLOOR_USD: f64 = 0.0001;

/// Reads a summary from a `summary.json` or a results folder holding one.
pub fn load(path: &Path) -> Result<Summary, String> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not an llm-drill summary: {e}", file.display()))
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The metrics compared, as `regression.per_metric` names them.
pub const METRICS: [&str; 12] = [
    "latency.p50",
    "latency.p95",
    "latency.p99",
    "ttft.p50",
    "ttft.p95",
    "ttft.p99",
    "itl.p50",
    "itl.p95",
    "itl.p99",
    "error_rate",
    "rate_429",
    "cost.per_call",
];

/// (metric, value, floor) for the figures compared; lower is better for all of them.
fn figures(s: &Summary) -> Vec<(&'static str, f64, f64)> {
    let mut v = vec![];
    for (name, p) in [
        ("latency", &s.latency_ms),
        ("ttft", &s.ttft_ms),
        ("itl", &s.itl_ms),
    ] {
        if p.count > 0 {
            for (stat, x) in [("p50", p.p50), ("p95", p.p95), ("p99", p.p99)] {
                let metric: &'static str = match (name, stat) {
                    ("latency", "p50") => "latency.p50",
                    ("latency", "p95") => "latency.p95",
                    ("latency", _) => "latency.p99",
                    ("ttft", "p50") => "ttft.p50",
                    ("ttft", "p95") => "ttft.p95",
                    ("ttft", _) => "ttft.p99",
                    (_, "p50") => "itl.p50",
                    (_, "p95") => "itl.p95",
                    _ => "itl.p99",
                };
                v.push((metric, x, FLOOR_MS));
            }
        }
    }
    let t = &s.totals;
    v.push(("error_rate", rate(t.failed, t.calls), FLOOR_RATE));
    let n429: u64 = s
        .endpoints
        .values()
        .map(|e| e.by_outcome.get("http_429").copied().unwrap_or(0))
        .sum();
    v.push(("rate_429", rate(n429, t.attempts), FLOOR_RATE));
    if s.cost.total_usd > 0.0 {
        v.push(("cost.per_call", s.cost.per_call_usd, FLOOR_USD));
    }
    v
}

pub fn compare(baseline: &Summary, candidate: &Summary, baseline_name: &str) -> Comparison {
    let base = figures(baseline);
    let policy = &candidate.regression_policy;
    let mut checks = Vec::new();
    for (metric, cand, floor) in figures(candidate) {
        let own = policy.per_metric.get(metric);
        let tolerance = own
            .and_then(|o| o.0)
            .or(policy.tolerance)
            .unwrap_or(TOLERANCE);
        let floor = own.and_then(|o| o.1).unwrap_or(floor);
        let Some((_, b, _)) = base.iter().find(|(m, ..)| *m == metric) else {
            continue;
        };
        let b = *b;
        let change = if b > 0.0 {
            cand / b - 1.0
        } else if cand > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        let worse = cand - b > floor && cand > b * (1.0 + tolerance);
        let better = b - cand > floor && cand < b * (1.0 - tolerance);
        checks.push(Check {
            metric: metric.to_string(),
            baseline: b,
            candidate: cand,
            change,
            verdict: if worse {
                "regressed"
            } else if better {
                "improved"
            } else {
                "same"
            }
            .into(),
        });
    }
    Comparison {
        baseline: baseline_name.to_string(),
        regressed: checks.iter().any(|c| c.verdict == "regressed"),
        checks,
    }
}

pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "against {} (worse by more than its tolerance, {:.0}% unless set, and its floor: regressed)",
        c.baseline,
        TOLERANCE * 100.0
    );
    let _ = writeln!(
        out,
        "  {:<16} {:>12} {:>12} {:>9}  verdict",
        "metric", "baseline", "candidate", "change"
    );
    for ch in &c.checks {
        let change = if ch.change.is_finite() {
            format!("{:+.1}%", ch.change * 100.0)
        } else {
            "new".into()
        };
        let mark = if ch.verdict == "regressed" {
            "REGRESSED"
        } else {
            ch.verdict.as_str()
        };
        let _ = writeln!(
            out,
            "  {:<16} {:>12.4} {:>12.4} {:>9}  {mark}",
            ch.metric, ch.baseline, ch.candidate, change
        );
    }
    let regressed: Vec<&str> = c
        .checks
        .iter()
        .filter(|x| x.verdict == "regressed")
        .map(|x| x.metric.as_str())
        .collect();
    if regressed.is_empty() {
        let _ = writeln!(out, "no regression");
    } else {
        let _ = writeln!(out, "regressed: {}", regressed.join(", "));
    }
    out
}
