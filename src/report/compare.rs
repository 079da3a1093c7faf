//! Baseline comparison: a candidate run's key metrics against a baseline's. A metric
//! regresses only when it is worse by more than a relative tolerance *and* an absolute
//! floor, so noise on a fast gateway (a p99 of 1.9 ms becoming 2.3 ms) does not fail a
//! build.

use super::gates::measure;
use super::summary::Summary;
use crate::plan::metrics::{Metric, COMPARED};
use crate::plan::regression::DEFAULT_TOLERANCE;
use crate::plan::thresholds::Scope;
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

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline: String,
    pub checks: Vec<Check>,
    pub regressed: bool,
}

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

/// The compared metrics a summary has a value for. A run that spent nothing (no priced
/// endpoint) has no cost to compare.
fn figures(s: &Summary) -> Vec<(Metric, f64)> {
    COMPARED
        .iter()
        .filter(|m| **m != Metric::CostPerCall || s.cost.total_usd > 0.0)
        .filter_map(|m| Some((*m, measure(*m, &Scope::Run, s)?)))
        .collect()
}

pub fn compare(baseline: &Summary, candidate: &Summary, baseline_name: &str) -> Comparison {
    let base = figures(baseline);
    let policy = &candidate.regression_policy;
    let mut checks = Vec::new();
    for (metric, cand) in figures(candidate) {
        let (tolerance, floor) = policy.limits(metric);
        let Some((_, b)) = base.iter().find(|(m, _)| *m == metric) else {
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
            metric: metric.name(),
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
        DEFAULT_TOLERANCE * 100.0
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
