//! A replay's comparison with its log: per feature, what the calls were like then (the
//! log's own figures) and now (the run's), side by side in every rendering.

use super::schema::{ReplayFigures, ReplayScope, ReplaySummary, Summary};
use crate::plan::{LoadPlan, Plan};
use std::fmt::Write;

/// The replay section of `summary`, for a replayed plan.
pub fn summary(plan: &Plan, s: &Summary, held: (u64, f64, f64)) -> Option<ReplaySummary> {
    let LoadPlan::Replay { replay, .. } = &plan.load else {
        return None;
    };
    let t = &replay.calls;
    let features = plan
        .features
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let then = t.then.get(i)?;
            let now = s.features.get(&f.name)?;
            let priced = !s
                .cost
                .unpriced_endpoints
                .contains(&plan.endpoints[f.endpoint].id);
            let share = |n: u64| (now.calls > 0).then(|| n as f64 / now.calls as f64);
            let measured = |v: f64| (now.latency_ms.count > 0).then_some(v);
            Some((
                f.name.clone(),
                ReplayScope {
                    then: ReplayFigures {
                        calls: then.calls,
                        mean_prompt_tokens: then.mean_prompt_tokens,
                        mean_completion_tokens: then.mean_completion_tokens,
                        latency_p50_ms: then.latency_p50,
                        latency_p95_ms: then.latency_p95,
                        latency_p99_ms: then.latency_p99,
                        error_rate: then.error_rate,
                        cost_per_call_usd: then.cost_per_call_usd,
                    },
                    now: ReplayFigures {
                        calls: now.calls,
                        mean_prompt_tokens: now.mean_input_tokens,
                        mean_completion_tokens: now.mean_output_tokens,
                        latency_p50_ms: measured(now.latency_ms.p50),
                        latency_p95_ms: measured(now.latency_ms.p95),
                        latency_p99_ms: measured(now.latency_ms.p99),
                        error_rate: share(now.calls - now.ok),
                        cost_per_call_usd: (priced && now.calls > 0)
                            .then(|| now.cost_usd / now.calls as f64),
                    },
                },
            ))
        })
        .collect();
    Some(ReplaySummary {
        trace: replay.trace.display().to_string(),
        format: replay.format.name().into(),
        speed: replay.speed,
        rows: t.calls,
        conversations: t.conversations.len() as u64,
        prompt_tokens: t.prompt_tokens,
        raised: t.raised,
        beyond: t.beyond,
        held_turns: held.0,
        held_mean_ms: round3(held.1),
        held_max_ms: round3(held.2),
        features,
    })
}

/// Each compared figure of a scope: its name, then, now, and the change.
fn rows(x: &ReplayScope) -> Vec<(&'static str, String, String, String)> {
    let (a, b) = (&x.then, &x.now);
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} ms"));
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0));
    let usd = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("${v:.5}"));
    let tokens = |v: f64| format!("{v:.1}");
    let change = |then: Option<f64>, now: Option<f64>| match (then, now) {
        (Some(t), Some(n)) if t > 0.0 => format!("{:+.1}%", (n / t - 1.0) * 100.0),
        _ => "-".into(),
    };
    vec![
        (
            "calls",
            a.calls.to_string(),
            b.calls.to_string(),
            change(Some(a.calls as f64), Some(b.calls as f64)),
        ),
        (
            "prompt tokens (mean)",
            tokens(a.mean_prompt_tokens),
            tokens(b.mean_prompt_tokens),
            change(Some(a.mean_prompt_tokens), Some(b.mean_prompt_tokens)),
        ),
        (
            "completion tokens (mean)",
            tokens(a.mean_completion_tokens),
            tokens(b.mean_completion_tokens),
            change(
                Some(a.mean_completion_tokens),
                Some(b.mean_completion_tokens),
            ),
        ),
        (
            "latency p50",
            ms(a.latency_p50_ms),
            ms(b.latency_p50_ms),
            change(a.latency_p50_ms, b.latency_p50_ms),
        ),
        (
            "latency p95",
            ms(a.latency_p95_ms),
            ms(b.latency_p95_ms),
            change(a.latency_p95_ms, b.latency_p95_ms),
        ),
        (
            "latency p99",
            ms(a.latency_p99_ms),
            ms(b.latency_p99_ms),
            change(a.latency_p99_ms, b.latency_p99_ms),
        ),
        ("errors", pct(a.error_rate), pct(b.error_rate), "-".into()),
        (
            "cost per call",
            usd(a.cost_per_call_usd),
            usd(b.cost_per_call_usd),
            change(a.cost_per_call_usd, b.cost_per_call_usd),
        ),
    ]
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn heading(r: &ReplaySummary) -> String {
    let mut h = format!(
        "replay of {} ({}, {}×): {} calls in {} conversations, {} prompt tokens",
        r.trace, r.format, r.speed, r.rows, r.conversations, r.prompt_tokens
    );
    if r.raised > 0 {
        let _ = write!(
            h,
            "; {} row(s) below the smallest request were sent at its size",
            r.raised
        );
    }
    if r.held_turns > 0 {
        let _ = write!(
            h,
            "; {} later turn(s) were due before the answer they resend and started when it came (mean {:.1} ms, longest {:.1} ms after the log's time over speed)",
            r.held_turns, r.held_mean_ms, r.held_max_ms
        );
    }
    if r.beyond > 0 {
        let _ = write!(h, "; {} row(s) beyond `duration` left out", r.beyond);
    }
    h
}

/// The comparison as text (the terminal) or Markdown (`summary.md`).
pub fn table(r: &ReplaySummary, markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "### Then and now\n\n{}\n", heading(r));
        let _ = writeln!(
            out,
            "| feature | figure | then (log) | now (replay) | change |\n|---|---|---:|---:|---:|"
        );
    } else {
        let _ = writeln!(out, "{}", heading(r));
        let _ = writeln!(
            out,
            "  {:<16} {:<26} {:>14} {:>14} {:>8}",
            "feature", "then and now", "then (log)", "now (replay)", "change"
        );
    }
    for (name, x) in &r.features {
        for (figure, then, now, change) in rows(x) {
            if markdown {
                let _ = writeln!(out, "| {name} | {figure} | {then} | {now} | {change} |");
            } else {
                let _ = writeln!(
                    out,
                    "  {name:<16} {figure:<26} {then:>14} {now:>14} {change:>8}"
                );
            }
        }
    }
    if markdown {
        out.push('\n');
    }
    out
}

/// The comparison as a section of `report.html`.
pub fn html(r: &ReplaySummary) -> String {
    use super::html::esc;
    let mut out = format!(
        "<h2>Then and now</h2><p>{}</p><table><tr><th>feature</th><th>figure</th><th>then (log)</th><th>now (replay)</th><th>change</th></tr>",
        esc(&heading(r))
    );
    for (name, x) in &r.features {
        for (figure, then, now, change) in rows(x) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{figure}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                esc(&then),
                esc(&now),
                esc(&change)
            );
        }
    }
    out.push_str("</table>");
    out
}
