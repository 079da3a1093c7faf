//! What a person sees: the progress display while a run goes (on a terminal only), and
//! the summary table at the end (also written as `summary.txt`).

use super::summary::{Percentiles, Summary};
use crate::engine::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Starts the progress display; it updates until the returned guard is finished.
pub struct ProgressDisplay {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl ProgressDisplay {
    /// Draws on stderr when it is a terminal; hidden otherwise (CI logs stay clean).
    pub fn start(name: &str, total: Duration, progress: Arc<Progress>) -> ProgressDisplay {
        let bar = ProgressBar::with_draw_target(
            Some(total.as_secs().max(1)),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30.cyan/blue}] {elapsed_precise}/{duration_precise} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        let b = bar.clone();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut last = (start, 0u64);
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let now = Instant::now();
                let done = progress.finished();
                let dt = now.duration_since(last.0).as_secs_f64();
                let rate = if dt > 0.0 {
                    (done - last.1) as f64 / dt
                } else {
                    0.0
                };
                if dt >= 1.0 {
                    last = (now, done);
                }
                b.set_position(now.duration_since(start).as_secs());
                // Past the load window no call starts: say what the run waits for.
                let phase = if now.duration_since(start) >= total {
                    "finishing calls in flight · "
                } else {
                    ""
                };
                b.set_message(format!(
                    "{phase}calls {done} · in flight {} · {rate:.1}/s · errors {}",
                    progress.in_flight(),
                    progress.failed()
                ));
            }
        });
        ProgressDisplay { bar, task }
    }

    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

fn row(out: &mut String, label: &str, p: &Percentiles) {
    if p.count == 0 {
        let _ = writeln!(out, "  {label:<16} {:>8}  (none)", 0);
        return;
    }
    let _ = writeln!(
        out,
        "  {label:<16} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        p.count, p.mean, p.p50, p.p90, p.p95, p.p99, p.p999, p.max
    );
}

fn outcomes(map: &std::collections::BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = map
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" · ")
    }
}

/// The summary table.
/// Dollars for reading: `$0.0421`, `$12.40`, `$6,900`.
fn dollars(v: f64) -> String {
    if v >= 1000.0 {
        let whole = v.round() as u64;
        let s = whole.to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        format!("${out}")
    } else if v >= 1.0 {
        format!("${v:.2}")
    } else {
        format!("${v:.4}")
    }
}

/// The cost lines: what the run cost, the multiplier and its causes, the projection.
fn cost(out: &mut String, c: &crate::cost::CostSummary) {
    if c.total_usd <= 0.0 && c.unpriced_endpoints.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\ncost {} · {}/call (p95 {}) · {}/session at {:.1} calls per session",
        dollars(c.total_usd),
        dollars(c.per_call_usd),
        dollars(c.per_call_p95_usd),
        dollars(c.per_session_usd),
        c.calls_per_session
    );
    if let (Some(m), Some((start, steps))) = (c.multiplier, c.waterfall()) {
        // A call costs fractions of a cent: enough digits to see each factor's share.
        let usd = |v: f64| {
            if v < 0.01 {
                format!("${v:.6}")
            } else {
                dollars(v)
            }
        };
        let modeled = if c.modeled_from_scenario {
            "modeled"
        } else {
            "a typical first turn at list price"
        };
        let _ = writeln!(
            out,
            "from {modeled} to measured, a call ({m:.2}×):\n  {:<22} {:>10}",
            "start",
            usd(start)
        );
        for step in &steps {
            let _ = writeln!(
                out,
                "  {:<22} {:>10}  ×{:.2}  {:+.4}¢",
                step.label,
                usd(step.to_usd),
                step.factor,
                step.cents()
            );
        }
        let _ = writeln!(out, "  {:<22} {:>10}", "measured", usd(c.per_call_usd));
        if let (Some(d), Some(mo)) = (c.projected_daily_usd, c.projected_monthly_usd) {
            let _ = writeln!(out, "projected {}/day, {}/month", dollars(d), dollars(mo));
        }
    }
    for a in &c.alerts {
        let _ = writeln!(out, "ALERT {}: {}", a.rule, a.message);
    }
    if !c.unpriced_endpoints.is_empty() {
        let _ = writeln!(
            out,
            "not priced (counted as free): {}",
            c.unpriced_endpoints.join(", ")
        );
    }
    if c.guard_stopped {
        let _ = writeln!(out, "STOPPED by the spend guard: the next call could have passed cost.max_spend_usd / max_calls");
    }
}

/// A token count for reading: `850`, `1.9k`, `32k`.
fn tokens(n: f64) -> String {
    if n >= 9_999.5 {
        format!("{:.0}k", n / 1000.0)
    } else if n >= 999.5 {
        format!("{:.1}k", n / 1000.0)
    } else {
        format!("{n:.0}")
    }
}

/// An agentic feature's calls per user turn, and its rounds' prompts.
fn agentic(f: &super::summary::FeatureSummary) -> String {
    if f.calls_per_user_turn <= 1.0 {
        return String::new();
    }
    let prompts: Vec<String> = f
        .turns
        .first()
        .map(|t| {
            t.rounds
                .iter()
                .map(|r| format!("{:.0}", r.mean_input_tokens))
                .collect()
        })
        .unwrap_or_default();
    format!(
        " ({:.2} per user turn; turn 1's rounds send {} prompt tokens)",
        f.calls_per_user_turn,
        prompts.join(" → ")
    )
}

/// One statistic of `p` with a decimal, or a dash when `p` measured nothing.
fn at(p: &Percentiles, v: f64) -> String {
    if p.measured() {
        format!("{v:.1}")
    } else {
        "-".into()
    }
}

/// `millis(v)` of a statistic of `p`, or a dash when `p` measured nothing.
fn millis_at(p: &Percentiles, v: f64) -> String {
    if p.measured() {
        millis(v)
    } else {
        "-".into()
    }
}

/// Milliseconds for reading: `850 ms`, `1.24 s`.
fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

/// A capacity search's steps, one row each, and what they found.
fn capacity(out: &mut String, c: &super::summary::CapacitySummary) {
    let load = |x: f64| {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
    let ms = |p: &Percentiles, v: f64| at(p, v);
    let _ = writeln!(
        out,
        "capacity search ({}): {} step(s) of {:.0} s after {:.0} s of warm-up",
        c.unit,
        c.steps.len(),
        c.search.step_duration_s,
        c.search.warmup_s
    );
    let _ = writeln!(
        out,
        "  step  offered  achieved  goodput   lat p50    p95    p99  ttft p95  itl p95   errors    429  $/call    verdict"
    );
    for st in &c.steps {
        let verdict = if st.passed {
            "ok".to_string()
        } else {
            let mut why = st.failed_thresholds.clone();
            why.extend(st.limits.iter().cloned());
            format!("FAIL: {}", why.join("; "))
        };
        let _ = writeln!(
            out,
            "  {:>4} {:>8} {:>9.2} {:>8} {:>9} {:>6} {:>6} {:>9} {:>8} {:>8} {:>6} {:>7.4}    {verdict}",
            st.step,
            load(st.offered),
            st.achieved_rps,
            st.goodput_rps.map_or("-".to_string(), |g| format!("{g:.2}")),
            ms(&st.latency_ms, st.latency_ms.p50),
            ms(&st.latency_ms, st.latency_ms.p95),
            ms(&st.latency_ms, st.latency_ms.p99),
            ms(&st.ttft_ms, st.ttft_ms.p95),
            ms(&st.itl_ms, st.itl_ms.p95),
            pct(st.error_rate),
            pct(st.rate_429),
            st.cost_per_call_usd,
        );
    }
    let _ = writeln!(out, "{}", c.verdict);
    if let Some(o) = &c.rate_limit_onset {
        let _ = writeln!(
            out,
            "429s begin at {} {} (step {}: {:.1}% of attempts, over {:.1}%)",
            load(o.offered),
            c.unit,
            o.step,
            o.rate_429 * 100.0,
            o.bound * 100.0
        );
    }
    match &c.knee {
        Some(k) => {
            let _ = writeln!(
                out,
                "knee at {} {} (step {}, latency p95 {:.1} ms): {}",
                load(k.offered),
                c.unit,
                k.step,
                k.latency_p95_ms,
                k.rule
            );
        }
        None => {
            let _ = writeln!(
                out,
                "knee: latency p95 did not turn upward in the steps run"
            );
        }
    }
    if let Some(h) = &c.headroom {
        let _ = writeln!(out, "headroom: it {} (peak from {})", h.sentence, h.from);
    }
    let _ = writeln!(
        out,
        "\nthe sustainable step in detail (or the first, when none was):"
    );
}

/// Which part of a split run this is, its start and its share of the spend guard: one
/// line, for the terminal, summary.md and report.html alike.
pub fn shard_line(sh: &super::summary::ShardSummary) -> String {
    let mut line = match sh.index {
        Some(i) => format!("shard {i}/{}", sh.count),
        None => format!("merged from {} shards", sh.count),
    };
    if let Some(at) = &sh.start_at {
        let _ = write!(line, " · --start-at {at}");
        match sh.started_late_ms {
            Some(late) if late > 0.0 => {
                let _ = write!(
                    line,
                    ", started {late:.0} ms late (counted as schedule lag)"
                );
            }
            _ => {}
        }
    }
    if let Some(usd) = sh.max_spend_usd {
        let _ = write!(line, " · its share of max_spend_usd ${usd:.2}");
    }
    if let Some(n) = sh.max_calls {
        let _ = write!(line, " · its share of max_calls {n}");
    }
    line
}

pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    if let Some(c) = &s.capacity {
        capacity(&mut out, c);
    }
    let state = if s.interrupted {
        "  (INTERRUPTED: partial results)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "llm-drill {} · {} · {:.1} s · {}{state}",
        s.llm_drill_version, s.scenario, s.duration_s, s.load
    );
    if let Some(sh) = &s.shard {
        let _ = writeln!(out, "{}", shard_line(sh));
    }
    let t = &s.totals;
    let target = |rate: Option<f64>| rate.map_or(String::new(), |r| format!(" (target {r:.2}/s)"));
    let _ = writeln!(
        out,
        "calls {} (ok {}, failed {}) · attempts {} · achieved {:.2}/s{} · throughput {:.2}/s{}",
        t.calls,
        t.ok,
        t.failed,
        t.attempts,
        t.achieved_rps,
        target(t.target_rps),
        t.throughput_rps,
        match (t.goodput_rps, t.goodput_calls) {
            (Some(g), Some(n)) => format!(" · goodput {g:.2}/s ({n} calls within the limits)"),
            _ => String::new(),
        }
    );
    if t.retries + t.fallbacks + t.residency_violations > 0
        || t.by_outcome.get("fail_closed").is_some_and(|n| *n > 0)
    {
        let _ = writeln!(
            out,
            "retries {} · fallbacks {} · failed closed {} · residency violations {}",
            t.retries,
            t.fallbacks,
            t.by_outcome.get("fail_closed").copied().unwrap_or(0),
            t.residency_violations
        );
    }
    if t.sessions != t.calls {
        let _ = writeln!(
            out,
            "sessions {} · {:.1} calls per session · started {:.2}/s{}",
            t.sessions,
            t.calls as f64 / t.sessions.max(1) as f64,
            t.achieved_sessions_per_s,
            target(t.target_sessions_per_s)
        );
    }
    let est = if t.estimated_token_calls > 0 {
        format!(
            " ({} calls counted by llm-drill: the endpoint reported no usage)",
            t.estimated_token_calls
        )
    } else {
        String::new()
    };
    let calibrated = s.endpoints.values().any(|e| e.calibration.is_some());
    let plan = match t.input_token_ratio {
        Some(1.0) => " · prompts exactly as planned".to_string(),
        Some(r) if calibrated => format!(
            " · the endpoints reported {r:.4}× the planned prompt tokens ({} planned, by calibration where an endpoint has it)",
            t.planned_input_tokens
        ),
        Some(r) => format!(
            " · the endpoint reported {r:.4}× the planned prompt tokens ({} planned; a tokenizer other than the plan's is one possible cause: `calibrate: true` plans by the endpoint's own count)",
            t.planned_input_tokens
        ),
        None => String::new(),
    };
    let reasoning = match t.reasoning_tokens {
        0 => String::new(),
        r => format!(" (of which reasoning {r})"),
    };
    let _ = writeln!(
        out,
        "tokens in {} · out {}{reasoning}{plan}{est}",
        t.input_tokens, t.output_tokens
    );
    let _ = writeln!(out, "outcomes: {}", outcomes(&t.by_outcome));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<16} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "ms", "count", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    row(&mut out, "latency", &s.latency_ms);
    row(&mut out, "ttft", &s.ttft_ms);
    if let Some(p) = &s.ttfvt_ms {
        row(&mut out, "ttfvt (visible)", p);
    }
    row(&mut out, "itl", &s.itl_ms);
    row(&mut out, "service time", &s.service_time_ms);
    row(&mut out, "schedule lag", &s.schedule_lag_ms);
    if s.error_latency_ms.count > 0 {
        row(&mut out, "failed calls", &s.error_latency_ms);
    }
    let _ = writeln!(out);
    for (id, e) in &s.endpoints {
        // What the endpoint said of itself: the protocol its answers came in, and where
        // they were served.
        let counted = |label: &str, m: &std::collections::BTreeMap<String, u64>| {
            if m.is_empty() {
                return String::new();
            }
            let parts: Vec<String> = m.iter().map(|(k, n)| format!("{k} {n}")).collect();
            format!(" · {label} {}", parts.join(", "))
        };
        let _ = writeln!(
            out,
            "endpoint {id} — {} [{}] {}: attempts {}{} ({:.2} per call) · ok {} · 429 rate {} · latency p50 {} p99 {} ms{}{}",
            e.display_name,
            e.model_name,
            e.base_url,
            e.attempts,
            if e.injected > 0 {
                format!(" ({} failed by injected faults: nothing sent)", e.injected)
            } else {
                String::new()
            },
            e.attempts_per_call,
            e.ok,
            e.rate_429
                .map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0)),
            at(&e.latency_ms, e.latency_ms.p50),
            at(&e.latency_ms, e.latency_ms.p99),
            counted("answered over", &e.http_versions),
            counted("served from", &e.served_regions),
        );
        for (name, p) in &e.server_timing_ms {
            let _ = writeln!(
                out,
                "  it reports {name}: p50 {:.1} p99 {:.1} ms over {} attempts",
                p.p50, p.p99, p.count
            );
        }
        if let Some(c) = &e.calibration {
            let _ = writeln!(out, "  {}", calibration_line(c, e.input_token_ratio));
        }
    }
    for (name, f) in &s.features {
        let _ = writeln!(
            out,
            "feature {name} → {}: calls {}{} · ok {} · in {:.0} / out {:.0} tokens per call · latency p50 {} p95 {} ms · ttft p95 {} ms",
            f.endpoint, f.calls, agentic(f), f.ok, f.mean_input_tokens, f.mean_output_tokens, at(&f.latency_ms, f.latency_ms.p50), at(&f.latency_ms, f.latency_ms.p95), at(&f.ttft_ms, f.ttft_ms.p95)
        );
        // Conversations: how the prompt and the latency grow turn by turn.
        if f.turns.len() > 1 {
            for t in &f.turns {
                let failed = if t.failed.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", outcomes(&t.failed))
                };
                let answered = if t.ok > 0 {
                    format!(
                        " · in {} / out {} tokens · latency p50 {} p95 {}",
                        tokens(t.mean_input_tokens),
                        tokens(t.mean_output_tokens),
                        millis_at(&t.latency_ms, t.latency_ms.p50),
                        millis_at(&t.latency_ms, t.latency_ms.p95),
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  turn {}: calls {}{answered}{failed}",
                    t.turn, t.calls
                );
            }
        }
    }
    // A credential rotation rehearsed on the mock: what its keys' windows did.
    for (id, m) in &s.mock_server {
        if m.auth_refused + m.auth_overlap > 0 {
            let _ = writeln!(
                out,
                "\ncredential rotation on `{id}`: {} requests refused for their key (the endpoint answered 401); {} used the old key while the new one was already valid — without the overlap they would have failed",
                m.auth_refused, m.auth_overlap
            );
        }
    }
    let d = &s.drill;
    if !d.windows.is_empty() || d.fallback_latency_ms.count > 0 {
        let _ = writeln!(
            out,
            "\ndrill (attempts per call {:.2}):",
            d.attempts_per_call
        );
        let secs = |v: Option<f64>, what: &str| {
            v.map_or(format!("no {what}"), |x| format!("{what} after {x:.2} s"))
        };
        for w in &d.windows {
            let until = w.until_s.map_or("end".to_string(), |u| format!("{u:.1} s"));
            let breaker = w
                .time_to_breaker_open_s
                .map_or(String::new(), |b| format!(" · breaker open after {b:.2} s"));
            let _ = writeln!(
                out,
                "  {} {} {:.1} s – {until}: {} · {}{breaker} · {}",
                w.endpoint,
                w.kind,
                w.from_s,
                secs(w.time_to_detect_s, "detected"),
                secs(w.time_to_first_fallback_s, "first fallback"),
                w.time_to_recover_s
                    .map_or("not recovered".to_string(), |r| format!(
                        "recovered {r:.2} s after"
                    )),
            );
            let _ = writeln!(
                out,
                "    calls in the window {}: ok {} (served by fallback {}), failed {} (failed closed {}), retried {} · residency violations {}",
                w.calls.calls,
                w.calls.ok,
                w.calls.served_by_fallback,
                w.calls.failed,
                w.calls.failed_closed,
                w.calls.retried,
                w.calls.residency_violations
            );
        }
        if d.fallback_latency_ms.count > 0 {
            let _ = writeln!(
                out,
                "  latency of calls served by a fallback p50 {} p95 {} · without one p50 {} p95 {}",
                millis_at(&d.fallback_latency_ms, d.fallback_latency_ms.p50),
                millis_at(&d.fallback_latency_ms, d.fallback_latency_ms.p95),
                millis_at(&d.direct_latency_ms, d.direct_latency_ms.p50),
                millis_at(&d.direct_latency_ms, d.direct_latency_ms.p95)
            );
        }
    }
    if !s.errors.is_empty() {
        let _ = writeln!(out, "\nerrors (examples):");
        for e in &s.errors {
            let _ = writeln!(out, "  {} ×{}: {}", e.outcome, e.count, e.message);
        }
    }
    cost(&mut out, &s.cost);
    if let Some(c) = &s.baseline {
        let _ = write!(out, "\n{}", super::compare::render(c));
    }
    if !s.thresholds.is_empty() {
        let held = s.thresholds.iter().filter(|t| t.ok).count();
        let _ = writeln!(out, "\nthresholds: {held} of {} held", s.thresholds.len());
        for t in &s.thresholds {
            let value = t
                .value
                .map_or("not measured".to_string(), |v| format!("{v:.4}"));
            let mark = if t.ok { "ok  " } else { "FAIL" };
            let _ = writeln!(out, "  {mark} {} (measured {value})", t.expr);
        }
    }
    for why in &s.generator.reasons {
        let _ = writeln!(
            out,
            "\nWARNING: llm-drill itself was the bottleneck: {why}. Its figures measure it as much as the endpoint; lower the rate or give llm-drill more cores."
        );
    }
    for why in super::generator::mock_lag_warnings(&s.mock_server) {
        let _ = writeln!(out, "\nWARNING: {why}.");
    }
    if let Some(x) = &s.side_by_side {
        let _ = write!(out, "\n{}", super::side::sentences(x, false));
    }
    if let Some(r) = &s.replay {
        let _ = write!(out, "\n{}", super::replay::table(r, false));
    }
    if let Some(p) = &s.pilot {
        let _ = write!(out, "\n{}", super::pilot::table(p, false));
    }
    out
}

/// What an endpoint's calibration found, and what the run then achieved.
pub fn calibration_line(c: &super::schema::CalibrationSummary, achieved: Option<f64>) -> String {
    let achieved = achieved.map_or(String::new(), |r| {
        format!("; the run's prompts: {r:.4}× as planned")
    });
    format!(
        "calibrated by {} probes ({} prompt tokens, ${:.4}, apart from every other figure): it counts {:.4}× the plan's tokens + {:.1} per call + {:.1} per message (largest residual {:.1} tokens){achieved}",
        c.probes,
        c.probe_input_tokens,
        c.probe_cost_usd,
        c.ratio,
        c.per_call,
        c.per_message,
        c.max_residual_tokens
    )
}
