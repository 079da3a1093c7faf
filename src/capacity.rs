//! `llm-drill capacity`: the highest load a scenario's endpoints sustain within its SLO.
//!
//! Each step is a whole run at one load (`run::execute`): its own embedded mocks, a
//! warm-up recorded apart, then `step_duration` measured with fresh histograms, and its
//! own results folder under the search's. From `start` the load grows by `growth` until
//! a step breaks the SLO or reaches `max`, then the gap between the last good and the
//! first bad step is halved down to `resolution`.
//!
//! A step meets the SLO when every threshold holds (the scenario's `thresholds`), it
//! offered its load (open mode: it started at least 95% of the calls asked for), and
//! llm-drill kept its schedule (schedule lag p99 within `max_schedule_lag`).

use crate::plan::capacity::{CapacityPlan, LoadUnit};
use crate::plan::metrics::Metric;
use crate::plan::thresholds::{Op, Scope};
use crate::plan::{LoadPlan, Plan};
use crate::report::summary::{
    CapacitySearch, CapacityStep, CapacitySummary, Headroom, Knee, Onset, Sustainable,
};
use crate::report::{self, Summary};
use crate::run::{self, Execution, Loaded, RunError, RunOptions};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// A step starts at least this share of the calls it offers, or the load was not offered.
const OFFERED_SHARE: f64 = 0.95;
/// Latency p95 this many times the lightest step's marks the knee.
const KNEE_RISE: f64 = 1.25;
/// The 429 rate that counts as their onset when the SLO names none.
const ONSET_429: f64 = 0.01;

pub struct CapacityOutput {
    /// The sustainable step's summary (or the first step's), with `capacity` set.
    pub summary: Summary,
    pub dir: PathBuf,
}

/// Runs the search and writes its folder: `summary.json` and the reports at the top,
/// each step's own results under `steps/`.
pub async fn capacity(
    opts: &RunOptions,
    stop: CancellationToken,
) -> Result<CapacityOutput, RunError> {
    let Loaded { plan, source, .. } = run::load(opts)?;
    if let crate::plan::LoadPlan::Replay { .. } = plan.load {
        return Err(RunError::Invalid(source.error(
            "load.mode",
            "`capacity` searches a rate or a concurrency, and a replay's schedule is its log's; use `mode: open` with the rate `usage import --emit-scenario` gives",
        ).to_string()));
    }
    let baseline = run::load_baseline(opts)?;
    let cap = plan.capacity.clone();
    let dir = run::results_folder(opts, &plan.name)?;
    let steps_dir = dir.join("steps");
    std::fs::create_dir_all(&steps_dir)
        .map_err(|e| RunError::Fatal(format!("cannot create {}: {e}", steps_dir.display())))?;
    let scenario_as_run = source.as_run();
    let mut done: Vec<(CapacityStep, Summary)> = Vec::new();
    let (mut good, mut bad): (Option<f64>, Option<f64>) = (None, None);
    let mut next = Some(cap.start);
    let mut interrupted = false;
    while let Some(x) = next {
        let n = done.len() as u32 + 1;
        let name = format!("{n:02}-{}", fmt_load(x).replace('.', "_"));
        let label = format!(
            "step {n} · {} {} · {}",
            fmt_load(x),
            cap.unit.key(),
            so_far(good, bad, cap.unit)
        );
        let executed = run::execute(
            Execution {
                plan: plan.at_load(x, cap.warmup + cap.step_duration),
                warmup: cap.warmup,
                dir: steps_dir.join(&name),
                scenario_as_run: scenario_as_run.clone(),
                baseline: None,
                progress: opts.progress.then_some(label),
                start_at: None,
                shard_state: false,
                metrics: None,
            },
            stop.clone(),
        )
        .await?;
        let mut step = judge(&plan, &cap, n, x, &executed);
        step.dir = format!("steps/{name}");
        if opts.progress {
            let mut why = step.failed_thresholds.clone();
            why.extend(step.limits.iter().cloned());
            eprintln!(
                "step {n}: {} {} → {}",
                fmt_load(x),
                cap.unit.key(),
                if step.passed {
                    "meets the SLO".to_string()
                } else {
                    format!("breaks it: {}", why.join("; "))
                }
            );
        }
        if executed.summary.interrupted {
            // Cut short: its figures are partial, so it decides nothing.
            interrupted = true;
            step.passed = false;
            step.limits.push("interrupted before the step ended".into());
            done.push((step, executed.summary));
            break;
        }
        if step.generator_saturated {
            // What failed here was llm-drill: no step above this one can say more of the
            // endpoint, and this one is not its limit.
            step.passed = false;
            done.push((step, executed.summary));
            break;
        }
        if step.passed {
            if bad.is_none_or(|b| x < b) {
                good = Some(good.map_or(x, |g| g.max(x)));
            }
        } else {
            bad = Some(bad.map_or(x, |b| b.min(x)));
        }
        done.push((step, executed.summary));
        next = match (good, bad) {
            (Some(g), None) if g < cap.max => Some(cap.grow(g)),
            (Some(g), Some(b)) => cap.bisect(g, b),
            _ => None,
        };
    }
    let mut summary = conclude(&plan, &cap, done, interrupted);
    // The pilot's verdict on the search: the sustainable step's figures, and headroom.
    if let Some(p) = &plan.pilot {
        summary.pilot = Some(report::pilot::verdict(
            p,
            &summary,
            run::pilot_baseline(&plan)?.as_ref(),
        ));
    }
    if let Some((base, name)) = &baseline {
        summary.baseline = Some(report::compare::compare(base, &summary, name));
    }
    let found = summary
        .capacity
        .as_ref()
        .is_some_and(|c| c.max_sustainable.is_some());
    summary.passed = found
        && !interrupted
        && summary.thresholds.iter().all(|t| t.ok)
        && summary.pilot.as_ref().is_none_or(|p| p.verdict == "go")
        && !summary.baseline.as_ref().is_some_and(|c| c.regressed);
    summary.interrupted = interrupted;
    report::write_search(&dir, &summary, &scenario_as_run).map_err(|e| RunError::NotWritten {
        message: format!("cannot write results to {}: {e}", dir.display()),
        summary: Box::new(summary.clone()),
    })?;
    Ok(CapacityOutput { summary, dir })
}

/// What the progress bar says the search has found so far.
fn so_far(good: Option<f64>, bad: Option<f64>, unit: LoadUnit) -> String {
    match (good, bad) {
        (None, None) => "first step".into(),
        (Some(g), None) => format!("sustained {} {} so far", fmt_load(g), unit.key()),
        (None, Some(b)) => format!("broke at {}", fmt_load(b)),
        (Some(g), Some(b)) => format!(
            "sustained {}, broke at {} {}",
            fmt_load(g),
            fmt_load(b),
            unit.key()
        ),
    }
}

/// A load as people read it: whole users, rates without trailing zeros.
pub fn fmt_load(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One step's row and verdict.
fn judge(plan: &Plan, cap: &CapacityPlan, n: u32, x: f64, e: &run::Executed) -> CapacityStep {
    let s = &e.summary;
    let t = &s.totals;
    let measure = |m: Metric| report::measure(m, &Scope::Run, s);
    let per_minute = |tokens: u64| {
        if s.duration_s > 0.0 {
            tokens as f64 / s.duration_s * 60.0
        } else {
            0.0
        }
    };
    let mut limits = Vec::new();
    if let LoadPlan::Open { .. } = plan.load {
        // Sessions for conversations, calls otherwise: what the step offered.
        let (asked, started) = match cap.unit {
            LoadUnit::SessionsPerSecond => (t.target_sessions_per_s, t.achieved_sessions_per_s),
            _ => (t.target_rps, t.achieved_rps),
        };
        if let Some(asked) = asked.filter(|a| *a > 0.0) {
            if started < asked * OFFERED_SHARE {
                limits.push(format!(
                    "offered only {:.0}% of its load ({} of {} a second): the endpoint or max_in_flight saturated",
                    started / asked * 100.0,
                    fmt_load(started),
                    fmt_load(asked)
                ));
            }
        }
        let bound = cap.max_schedule_lag.as_secs_f64() * 1000.0;
        if s.schedule_lag_ms.count > 0 && s.schedule_lag_ms.p99 > bound {
            limits.push(format!(
                "llm-drill fell behind its schedule: lag p99 {:.1} ms over {bound:.0} ms",
                s.schedule_lag_ms.p99
            ));
        }
    }
    for why in &s.generator.reasons {
        limits.push(format!(
            "llm-drill itself saturated, not the endpoint: {why}"
        ));
    }
    let failed_thresholds: Vec<String> = s
        .thresholds
        .iter()
        .filter(|t| !t.ok)
        .map(|t| t.expr.clone())
        .collect();
    CapacityStep {
        generator_saturated: s.generator_saturated,
        step: n,
        offered: x,
        target_rps: t.target_rps,
        achieved_rps: t.achieved_rps,
        throughput_rps: t.throughput_rps,
        goodput_rps: t.goodput_rps,
        calls: t.calls,
        attempts: t.attempts,
        warmup_calls: e.warmup_calls,
        warmup_attempts: e.warmup_attempts,
        attempts_429: s.endpoints.values().map(|e| e.count_429()).sum(),
        warmup_attempts_429: e.warmup_429,
        latency_ms: s.latency_ms.clone(),
        ttft_ms: s.ttft_ms.clone(),
        itl_ms: s.itl_ms.clone(),
        schedule_lag_p99_ms: (s.schedule_lag_ms.count > 0).then_some(s.schedule_lag_ms.p99),
        error_rate: measure(Metric::ErrorRate),
        rate_429: measure(Metric::Rate429),
        cost_per_call_usd: s.cost.per_call_usd,
        input_tokens_per_minute: per_minute(t.input_tokens),
        output_tokens_per_minute: per_minute(t.output_tokens),
        passed: failed_thresholds.is_empty() && limits.is_empty(),
        failed_thresholds,
        limits,
        dir: String::new(),
        started_unix_ms: e.started_unix_ms,
        ended_unix_ms: e.ended_unix_ms,
        mock_requests: s
            .mock_server
            .iter()
            .map(|(id, m)| (id.clone(), m.requests))
            .collect(),
    }
}

/// The search's summary: the sustainable step's (else the first step's), with every
/// step, the sustainable maximum, the 429 onset, the knee and the headroom.
fn conclude(
    plan: &Plan,
    cap: &CapacityPlan,
    done: Vec<(CapacityStep, Summary)>,
    interrupted: bool,
) -> Summary {
    let unit = cap.unit.key();
    let best = done
        .iter()
        .filter(|(s, _)| s.passed)
        .max_by(|a, b| a.0.offered.total_cmp(&b.0.offered));
    let max_sustainable = best.map(|(s, _)| Sustainable {
        offered: s.offered,
        step: s.step,
        calls_per_second: s.achieved_rps,
        input_tokens_per_minute: s.input_tokens_per_minute.round(),
        output_tokens_per_minute: s.output_tokens_per_minute.round(),
        at_least: !done
            .iter()
            .any(|(o, _)| !o.passed && !o.generator_saturated && o.offered > s.offered),
    });
    let mut by_load: Vec<&CapacityStep> = done.iter().map(|(s, _)| s).collect();
    by_load.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    // The SLO's own 429 bound, when it has one for the whole run.
    let bound = plan
        .thresholds
        .iter()
        .find(|t| {
            t.metric == Metric::Rate429 && t.scope == Scope::Run && matches!(t.op, Op::Lt | Op::Le)
        })
        .map_or(ONSET_429, |t| t.limit);
    let rate_limit_onset = by_load
        .iter()
        .find(|s| s.rate_429.is_some_and(|r| r > bound))
        .map(|s| Onset {
            offered: s.offered,
            step: s.step,
            rate_429: s.rate_429.unwrap_or(0.0),
            bound,
        });
    let knee = knee(&by_load);
    let headroom = cap.peak.as_ref().map(|p| {
        let ratio = max_sustainable
            .as_ref()
            .map(|m| m.calls_per_second / p.calls_per_second);
        let sentence = match ratio {
            Some(r) if r >= 1.0 => format!(
                "sustains {r:.1}× the expected peak of {:.2} calls/s",
                p.calls_per_second
            ),
            Some(r) => format!(
                "falls short of the expected peak of {:.2} calls/s by {:.0}%",
                p.calls_per_second,
                (1.0 - r) * 100.0
            ),
            None => format!(
                "sustains nothing of the expected peak of {:.2} calls/s",
                p.calls_per_second
            ),
        };
        Headroom {
            production_peak_rps: p.calls_per_second,
            from: p.from.clone(),
            ratio: ratio.map(|r| (r * 1000.0).round() / 1000.0),
            sentence,
        }
    });
    let verdict = match &max_sustainable {
        Some(m) => format!(
            "sustains {}{} {unit} ({:.2} calls/s, {:.0} input and {:.0} output tokens a minute) within its SLO{}{}",
            if m.at_least { "at least " } else { "" },
            fmt_load(m.offered),
            m.calls_per_second,
            m.input_tokens_per_minute,
            m.output_tokens_per_minute,
            headroom
                .as_ref()
                .map_or(String::new(), |h| format!("; it {}", h.sentence)),
            if interrupted { " (interrupted: the steps done so far)" } else { "" },
        ),
        None if done.is_empty() => "no step finished".into(),
        None => format!(
            "even the first step, {} {unit}, broke the SLO",
            fmt_load(cap.start)
        ),
    };
    let steps: Vec<CapacityStep> = done.iter().map(|(s, _)| s.clone()).collect();
    let pick = best
        .map(|(_, s)| s.clone())
        .or_else(|| done.first().map(|(_, s)| s.clone()))
        .unwrap_or_default();
    let mut summary = pick;
    summary.capacity = Some(CapacitySummary {
        unit: unit.to_string(),
        search: CapacitySearch {
            start: cap.start,
            max: cap.max,
            growth: cap.growth,
            resolution: cap.resolution,
            step_duration_s: cap.step_duration.as_secs_f64(),
            warmup_s: cap.warmup.as_secs_f64(),
            max_schedule_lag_ms: cap.max_schedule_lag.as_secs_f64() * 1000.0,
        },
        steps,
        max_sustainable,
        rate_limit_onset,
        knee,
        headroom,
        interrupted,
        verdict,
    });
    // Thresholds on the search itself (headroom), beside the sustainable step's own.
    for t in plan.thresholds.iter().filter(|t| t.metric.capacity_only()) {
        let r = report::gates::evaluate(t, &summary);
        summary.thresholds.push(r);
    }
    summary
}

/// The knee: the last step, by offered load, before the first whose latency p95 is more
/// than `KNEE_RISE` times the lightest step's. `None` until latency turns upward.
fn knee(by_load: &[&CapacityStep]) -> Option<Knee> {
    let measured: Vec<&&CapacityStep> = by_load.iter().filter(|s| s.latency_ms.count > 0).collect();
    let base = measured.first()?.latency_ms.p95;
    let turn = measured
        .iter()
        .position(|s| s.latency_ms.p95 > base * KNEE_RISE)?;
    let before = measured.get(turn.checked_sub(1)?)?;
    Some(Knee {
        offered: before.offered,
        step: before.step,
        latency_p95_ms: before.latency_ms.p95,
        rule: format!(
            "the last step before latency p95 first exceeds {KNEE_RISE}× the lightest step's ({base:.1} ms)"
        ),
    })
}
