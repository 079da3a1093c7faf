//! The reports a CI system reads: JUnit XML (quick-junit), one test case per threshold,
//! so a failing gate shows natively; and `summary.md`, a Markdown summary for a CI step
//! summary or a pull-request comment. Both render the `Summary`, nothing else.

use super::summary::Summary;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write;

pub fn junit(s: &Summary) -> String {
    let mut report = Report::new(format!("llm-drill {}", s.scenario));
    let mut suite = TestSuite::new("thresholds");
    for t in &s.thresholds {
        let value = t
            .value
            .map_or("not measured".to_string(), |v| format!("{v}"));
        let status = if t.ok {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(format!("{} failed: measured {value}", t.expr));
            st
        };
        let mut case = TestCase::new(t.expr.clone(), status);
        case.set_classname(format!("llm-drill.{}", s.scenario));
        suite.add_test_case(case);
    }
    let mut run = TestSuite::new("run");
    let finished = if s.interrupted || s.cost.guard_stopped {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
        st.set_message(if s.interrupted {
            "the run was interrupted"
        } else {
            "the spend guard stopped the run"
        });
        st
    } else {
        TestCaseStatus::success()
    };
    run.add_test_case(TestCase::new("the run finished", finished));
    report.add_test_suites([run, suite]);
    if let Some(c) = &s.baseline {
        let mut regress = TestSuite::new("regression");
        for ch in &c.checks {
            let status = if ch.verdict == "regressed" {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(format!(
                    "{} regressed: {} → {} ({:+.1}%)",
                    ch.metric,
                    ch.baseline,
                    ch.candidate,
                    ch.change * 100.0
                ));
                st
            } else {
                TestCaseStatus::success()
            };
            regress.add_test_case(TestCase::new(format!("{} vs baseline", ch.metric), status));
        }
        report.add_test_suite(regress);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit: {e} -->"))
}

pub fn markdown(s: &Summary) -> String {
    let mut out = String::new();
    let verdict = if s.passed { "✅ passed" } else { "❌ failed" };
    let _ = writeln!(out, "## llm-drill · {} · {verdict}\n", s.scenario);
    if let Some(sh) = &s.shard {
        let _ = writeln!(out, "{}\n", super::terminal::shard_line(sh));
    }
    for (id, e) in &s.endpoints {
        if let Some(c) = &e.calibration {
            let line = super::terminal::calibration_line(c, e.input_token_ratio);
            let _ = writeln!(out, "endpoint `{id}`: {line}\n");
        }
    }
    if let Some(p) = &s.pilot {
        out.push_str(&super::pilot::table(p, true));
    }
    if let Some(x) = &s.side_by_side {
        out.push_str(&super::side::sentences(x, true));
    }
    if let Some(r) = &s.replay {
        out.push_str(&super::replay::table(r, true));
    }
    let t = &s.totals;
    let _ = writeln!(
        out,
        "{} calls ({} ok, {} failed) in {:.1} s · achieved {:.2}/s · {} attempts · retries {} · fallbacks {}\n",
        t.calls, t.ok, t.failed, s.duration_s, t.achieved_rps, t.attempts, t.retries, t.fallbacks
    );
    let _ = writeln!(
        out,
        "| ms | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|"
    );
    for (name, p) in [
        ("latency", &s.latency_ms),
        ("ttft", &s.ttft_ms),
        ("itl", &s.itl_ms),
        ("schedule lag", &s.schedule_lag_ms),
    ] {
        if p.count > 0 {
            let _ = writeln!(
                out,
                "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
                p.p50, p.p95, p.p99, p.max
            );
        }
    }
    if !s.thresholds.is_empty() {
        let _ = writeln!(out, "\n| threshold | measured | |\n|---|---:|---|");
        for th in &s.thresholds {
            let value = th.value.map_or("—".to_string(), |v| format!("{v:.4}"));
            let mark = if th.ok { "✅" } else { "❌ **failed**" };
            let _ = writeln!(out, "| `{}` | {value} | {mark} |", th.expr);
        }
    }
    if s.cost.total_usd > 0.0 {
        let c = &s.cost;
        let _ = write!(out, "\ncost ${:.4}/call", c.per_call_usd);
        if let Some(m) = c.multiplier {
            let _ = write!(out, " · {m:.2}× the modeled ${:.4}", c.modeled_per_call_usd);
        }
        if let Some(d) = c.projected_daily_usd {
            let _ = write!(out, " · projected ${d:.2}/day");
        }
        let _ = writeln!(out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::ThresholdResult;

    #[test]
    fn a_failed_threshold_is_a_failed_case_and_a_red_line() {
        let s = Summary {
            scenario: "gate".into(),
            thresholds: vec![
                ThresholdResult {
                    expr: "latency.p99 < 8s".into(),
                    value: Some(120.0),
                    ok: true,
                },
                ThresholdResult {
                    expr: "rate_429 < 1%".into(),
                    value: Some(0.05),
                    ok: false,
                },
            ],
            passed: false,
            ..Summary::default()
        };
        let xml = junit(&s);
        assert!(
            xml.contains(r#"name="thresholds" tests="2" skipped="0" errors="0" failures="1""#),
            "{xml}"
        );
        assert!(
            xml.contains("rate_429 &lt; 1% failed: measured 0.05"),
            "{xml}"
        );
        let md = markdown(&s);
        assert!(md.contains("❌ failed"));
        assert!(
            md.contains("| `rate_429 < 1%` | 0.0500 | ❌ **failed** |"),
            "{md}"
        );
    }
}
