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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::Percentiles;

    fn run(p50: f64, p99: f64, failed: u64) -> Summary {
        let mut s = Summary {
            latency_ms: Percentiles {
                count: 100,
                p50,
                p95: p99,
                p99,
                ..Percentiles::default()
            },
            ..Summary::default()
        };
        s.totals.calls = 100;
        s.totals.failed = failed;
        s.totals.attempts = 100;
        s
    }

    fn verdict(c: &Comparison, metric: &str) -> String {
        c.checks
            .iter()
            .find(|x| x.metric == metric)
            .map_or("absent".into(), |x| x.verdict.clone())
    }

    #[test]
    fn worse_by_more_than_tolerance_and_floor_regresses() {
        let base = run(100.0, 200.0, 1);
        // +20% at p50 (over 10% and 2 ms), +1% at p99.
        let c = compare(&base, &run(120.0, 202.0, 1), "base");
        assert_eq!(verdict(&c, "latency.p50"), "regressed");
        assert_eq!(verdict(&c, "latency.p99"), "same");
        assert!(c.regressed);
        // Better by more than both: improved.
        let c = compare(&base, &run(80.0, 200.0, 1), "base");
        assert_eq!(verdict(&c, "latency.p50"), "improved");
        assert!(!c.regressed);
        // Not measured on either side (no streams): not compared at all.
        assert_eq!(verdict(&c, "ttft.p50"), "absent");
        assert_eq!(verdict(&c, "cost.per_call"), "absent", "nothing was priced");
    }

    #[test]
    fn the_floor_absorbs_noise_on_fast_gateways_and_the_candidate_policy_applies() {
        // 1.9 ms → 2.3 ms is +21%, but only 0.4 ms: under the 2 ms floor.
        let c = compare(&run(1.9, 3.0, 0), &run(2.3, 3.0, 0), "base");
        assert_eq!(verdict(&c, "latency.p50"), "same");
        // Error rate 1% → 1.4%: +40%, but 0.4 points is under the 0.5-point floor.
        let per_thousand = |failed: u64| {
            let mut s = run(100.0, 200.0, failed);
            s.totals.calls = 1000;
            s
        };
        let c = compare(&per_thousand(10), &per_thousand(14), "b");
        assert_eq!(verdict(&c, "error_rate"), "same");
        let c = compare(&per_thousand(10), &per_thousand(20), "b");
        assert_eq!(verdict(&c, "error_rate"), "regressed", "a whole point more");
        let mut cand = run(130.0, 200.0, 1);
        cand.regression_policy.tolerance = Some(0.5);
        let c = compare(&run(100.0, 200.0, 1), &cand, "b");
        assert_eq!(
            verdict(&c, "latency.p50"),
            "same",
            "+30% under a 50% tolerance"
        );
        cand.regression_policy
            .per_metric
            .insert("latency.p50".into(), (Some(0.1), Some(1.0)));
        let c = compare(&run(100.0, 200.0, 1), &cand, "b");
        assert_eq!(verdict(&c, "latency.p50"), "regressed", "its own 10% wins");
        let text = render(&c);
        assert!(text.contains("regressed: latency.p50"), "{text}");
    }
}
