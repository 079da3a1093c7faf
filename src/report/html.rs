//! `report.html`: one self-contained page (inline SVG drawn here, no script, no network)
//! that someone can open, read and forward. Rendered from the `Summary` alone, so
//! `llm-drill report` can render it again without re-running.

use super::chart::{
    bar_chart, chart, legend, line_chart, wrap, y_grid, Axis, Rule, COLORS, H, PAD, W,
};
use super::summary::{Percentiles, Summary};
use std::fmt::Write;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The cost waterfall: the modeled cost per call (or a typical first turn), a floating
/// bar per factor of the multiplier from the cost before it to the cost after, each
/// labelled with its factor and the cents it adds, then the measured cost.
fn waterfall(c: &crate::cost::CostSummary) -> Option<String> {
    let (start, steps) = c.waterfall()?;
    let top = steps
        .iter()
        .map(|s| s.to_usd)
        .chain([start, c.per_call_usd])
        .fold(0.0, f64::max);
    // In cents: a call costs fractions of a dollar.
    let ya = Axis::new(top * 100.0 * 1.1, "¢");
    let n = steps.len() + 2;
    let slot = (W - 2.0 * PAD) / n as f64;
    let sy = |cents: f64| H - PAD - cents / ya.max() * (H - 2.0 * PAD);
    let start_label = if c.modeled_from_scenario {
        "modeled"
    } else {
        "first turn"
    };
    let mut svg = format!(
        r#"<svg class="chart waterfall" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img"><title>Cost per call, modeled to measured</title>"#
    );
    y_grid(&mut svg, &ya, &sy);
    let mut bar = |i: usize,
                   from: f64,
                   to: f64,
                   color: &str,
                   label: &str,
                   top_text: &str,
                   tip: &str| {
        let x = PAD + slot * i as f64 + slot * 0.15;
        let (lo, hi) = (from.min(to) * 100.0, from.max(to) * 100.0);
        let _ = write!(
            svg,
            r##"<rect class="step" x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{}</title></rect>"##,
            sy(hi),
            slot * 0.7,
            (sy(lo) - sy(hi)).max(1.0),
            esc(tip),
        );
        // Each label on lines of its own words, so that neighbours never overlap.
        let mid = x + slot * 0.35;
        let above: Vec<&str> = top_text.split(' ').collect();
        for (j, line) in above.iter().enumerate() {
            let _ = write!(
                svg,
                r##"<text x="{mid:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"##,
                sy(hi) - 4.0 - 12.0 * (above.len() - 1 - j) as f64,
                esc(line)
            );
        }
        for (j, line) in wrap(label, 12).iter().enumerate() {
            let _ = write!(
                svg,
                r##"<text x="{mid:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"##,
                H - PAD + 14.0 + 12.0 * j as f64,
                esc(line)
            );
        }
    };
    bar(
        0,
        0.0,
        start,
        "#555555",
        start_label,
        &format!("{:.3}¢", start * 100.0),
        &format!("{start_label}: ${start:.6} a call"),
    );
    for (i, st) in steps.iter().enumerate() {
        let delta = st.cents();
        let color = if delta >= 0.0 { COLORS[1] } else { COLORS[2] };
        bar(
            i + 1,
            st.from_usd,
            st.to_usd,
            color,
            st.label,
            &format!("×{:.2} {delta:+.4}¢", st.factor),
            &format!(
                "{}: ×{:.3}, ${:.6} → ${:.6} a call ({delta:+.4}¢)",
                st.label, st.factor, st.from_usd, st.to_usd
            ),
        );
    }
    bar(
        n - 1,
        0.0,
        c.per_call_usd,
        COLORS[0],
        "measured",
        &format!("{:.3}¢", c.per_call_usd * 100.0),
        &format!("measured: ${:.6} a call", c.per_call_usd),
    );
    let _ = write!(
        svg,
        r##"<line x1="{PAD}" y1="{0}" x2="{1}" y2="{0}" stroke="#555"/><text x="6" y="{2:.1}" font-size="10">¢ a call</text></svg>"##,
        H - PAD,
        W - PAD,
        PAD - 10.0
    );
    Some(format!(
        "<h2>Cost per call: from {start_label} to measured ({})</h2>{svg}",
        c.multiplier.map_or(String::new(), |m| format!("{m:.2}×"))
    ))
}

/// The HdrHistogram percentile plot: latency against percentile on a log scale of
/// 1 / (1 - percentile), so the tail gets the room it deserves.
fn percentile_plot(points: &[[f64; 2]]) -> String {
    let x_of = |p: f64| (1.0 / (1.0 - (p / 100.0).min(0.99999))).log10();
    let x_max = x_of(99.999);
    let ya = Axis::new(
        points.iter().map(|p| p[1]).fold(0.0, f64::max).max(1e-9) * 1.05,
        "ms",
    );
    let sx = |x: f64| PAD + x / x_max * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD - y / ya.max() * (H - 2.0 * PAD);
    let mut svg = format!(
        r##"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img"><title>Latency by percentile</title><line x1="{PAD}" y1="{0}" x2="{1}" y2="{0}" stroke="#555"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{0}" stroke="#555"/>"##,
        H - PAD,
        W - PAD
    );
    y_grid(&mut svg, &ya, &sy);
    for (p, label) in [
        (0.0, "0%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    ] {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{label}</text>"##,
            sx(x_of(p)),
            H - PAD + 15.0
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|[p, ms]| format!("{:.1},{:.1}", sx(x_of(*p)), sy(*ms)))
        .collect();
    let _ = write!(
        svg,
        r#"<polyline class="series" data-name="latency" fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
        COLORS[0],
        path.join(" ")
    );
    for [p, ms] in points {
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}" fill-opacity="0"><title>p{p}: {ms:.3} ms</title></circle>"#,
            sx(x_of(*p)),
            sy(*ms),
            COLORS[0]
        );
    }
    legend(&mut svg, [(0, "latency")].into_iter());
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">percentile</text><text x="6" y="{:.1}" font-size="10">{}</text></svg>"##,
        W / 2.0,
        H - PAD + 30.0,
        PAD - 10.0,
        esc(&ya.unit)
    );
    format!("<h2>Latency by percentile (log scale)</h2>{svg}")
}

fn percentile_bars(p: &Percentiles) -> Vec<(String, f64)> {
    [
        ("p50", p.p50),
        ("p90", p.p90),
        ("p95", p.p95),
        ("p99", p.p99),
        ("p99.9", p.p999),
        ("max", p.max),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect()
}

/// A capacity search against offered load: latency percentiles with the SLO's latency
/// limits, then achieved calls and goodput, the sustainable maximum marked on both.
fn capacity_charts(c: &super::summary::CapacitySummary, s: &Summary) -> String {
    let mut steps: Vec<&super::summary::CapacityStep> = c
        .steps
        .iter()
        .filter(|st| st.latency_ms.count > 0)
        .collect();
    steps.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    let line = |f: &dyn Fn(&super::summary::CapacityStep) -> Option<f64>| -> Vec<(f64, f64)> {
        steps
            .iter()
            .filter_map(|st| Some((st.offered, f(st)?)))
            .collect()
    };
    let mut marks: Vec<Rule> = c
        .max_sustainable
        .iter()
        .map(|m| Rule {
            vertical: true,
            at: m.offered,
            label: format!("sustainable {:.4}", m.offered)
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
        })
        .collect();
    // The SLO's limits on the metrics a chart shows, and the sustainable load.
    let slo = |prefixes: &[&str]| -> Vec<Rule> {
        let mut rules: Vec<Rule> = s
            .thresholds
            .iter()
            .filter(|t| prefixes.iter().any(|p| t.expr.starts_with(p)))
            .filter_map(|t| {
                let limit = crate::plan::thresholds::parse(&t.expr, &[], &[])
                    .ok()?
                    .limit;
                Some(Rule {
                    vertical: false,
                    at: limit,
                    label: format!("SLO {}", t.expr),
                })
            })
            .collect();
        rules.extend(marks.iter().map(|m| Rule {
            vertical: true,
            at: m.at,
            label: m.label.clone(),
        }));
        rules
    };
    let latency_marks = slo(&["latency.p"]);
    let token_marks = slo(&["ttft.p", "itl.p"]);
    let mut out = format!("<h2>Capacity search</h2><p>{}</p>", esc(&c.verdict));
    out.push_str(&chart(
        "Latency against offered load (successful calls)",
        &c.unit,
        "ms",
        &[
            ("p50".into(), line(&|st| Some(st.latency_ms.p50))),
            ("p95".into(), line(&|st| Some(st.latency_ms.p95))),
            ("p99".into(), line(&|st| Some(st.latency_ms.p99))),
        ],
        &[],
        &latency_marks,
    ));
    if steps.iter().any(|st| st.ttft_ms.count > 0) {
        out.push_str(&chart(
            "Time to first token and between tokens against offered load (p95)",
            &c.unit,
            "ms",
            &[
                ("ttft p95".into(), line(&|st| Some(st.ttft_ms.p95))),
                ("itl p95".into(), line(&|st| Some(st.itl_ms.p95))),
            ],
            &[],
            &token_marks,
        ));
    }
    let mut throughput = vec![(
        "achieved calls/s".to_string(),
        line(&|st| Some(st.achieved_rps)),
    )];
    if steps.iter().any(|st| st.goodput_rps.is_some()) {
        throughput.push(("goodput calls/s".into(), line(&|st| st.goodput_rps)));
    }
    if let Some(h) = &c.headroom {
        marks.push(Rule {
            vertical: false,
            at: h.production_peak_rps,
            label: format!("production peak {:.2}/s", h.production_peak_rps),
        });
    }
    out.push_str(&chart(
        "Throughput and goodput against offered load",
        &c.unit,
        "calls/s",
        &throughput,
        &[],
        &marks,
    ));
    out
}

pub fn render(s: &Summary) -> String {
    let mut body = String::new();
    let t = &s.totals;
    let verdict = if s.passed { "passed" } else { "failed" };
    let _ = write!(
        body,
        "<h1>llm-drill · {} · {verdict}</h1><p>{} calls ({} ok, {} failed) in {:.1} s · {} · achieved {:.2}/s · {} attempts · retries {} · fallbacks {} · residency violations {}</p>",
        esc(&s.scenario), t.calls, t.ok, t.failed, s.duration_s, esc(&s.load), t.achieved_rps, t.attempts, t.retries, t.fallbacks, t.residency_violations
    );
    if let Some(sh) = &s.shard {
        let _ = write!(body, "<p>{}</p>", esc(&super::terminal::shard_line(sh)));
    }
    for (id, e) in &s.endpoints {
        if let Some(c) = &e.calibration {
            let line = super::terminal::calibration_line(c, e.input_token_ratio);
            let _ = write!(body, "<p>endpoint {}: {}</p>", esc(id), esc(&line));
        }
    }
    if let Some(p) = &s.pilot {
        let _ = write!(
            body,
            "<h2>Pilot verdict: {}</h2><table><tr><th>assumption</th><th>assumed</th><th>measured</th>{}<th></th></tr>",
            if p.verdict == "go" { "GO" } else { "NO-GO" },
            if p.baseline.is_some() { "<th>baseline</th>" } else { "" }
        );
        for (scope, r) in super::pilot::rows(p) {
            let _ = write!(
                body,
                "<tr><td>{}{}</td><td>{}</td><td>{}</td>{}<td>{} {}</td></tr>",
                esc(&scope),
                esc(&r.assumption),
                esc(&r.assumed),
                esc(&super::pilot::shown(&r.assumption, r.measured)),
                if p.baseline.is_some() {
                    format!(
                        "<td>{}</td>",
                        esc(&super::pilot::shown(&r.assumption, r.baseline))
                    )
                } else {
                    String::new()
                },
                if r.ok { "pass" } else { "<b>FAIL</b>" },
                esc(&super::pilot::by(r))
            );
        }
        body.push_str("</table>");
        if !p.causes.is_empty() {
            body.push_str("<ul>");
            for c in &p.causes {
                let _ = write!(body, "<li>{}</li>", esc(c));
            }
            body.push_str("</ul>");
        }
    }
    body.push_str(&cost_story(s));
    if let Some(x) = &s.side_by_side {
        body.push_str(&super::side::html(x));
    }
    if let Some(r) = &s.replay {
        body.push_str(&super::replay::html(r));
    }
    if let Some(c) = &s.capacity {
        body.push_str(&capacity_charts(c, s));
        body.push_str("<h2>The sustainable step</h2>");
    }
    let secs = |f: &dyn Fn(&crate::recorder::SecondStats) -> f64| -> Vec<(f64, f64)> {
        s.timeseries
            .iter()
            .map(|r| (r.second as f64, f(r)))
            .collect()
    };
    let windows: Vec<(f64, f64)> = s
        .drill
        .windows
        .iter()
        .map(|w| (w.from_s, w.until_s.unwrap_or(s.duration_s)))
        .collect();
    if !s.timeseries.is_empty() {
        body.push_str(&line_chart(
            "Latency over time (successful calls, by second)",
            "ms",
            &[
                ("p50".into(), secs(&|r| r.latency_p50_ms)),
                ("p95".into(), secs(&|r| r.latency_p95_ms)),
                ("p99".into(), secs(&|r| r.latency_p99_ms)),
            ],
            &windows,
        ));
    }
    if !s.latency_distribution.is_empty() {
        body.push_str(&percentile_plot(&s.latency_distribution));
    }
    if s.ttft_ms.count > 0 {
        body.push_str(&bar_chart(
            "Time to first token",
            "ms",
            &percentile_bars(&s.ttft_ms),
        ));
        body.push_str(&bar_chart(
            "Inter-token latency",
            "ms",
            &percentile_bars(&s.itl_ms),
        ));
    }
    // Each endpoint's attempts per second by outcome, its own fault windows shaded.
    for (id, rows) in &s.drill.timeline {
        let outcomes: std::collections::BTreeSet<&String> =
            rows.iter().flat_map(|r| r.attempts.keys()).collect();
        // `ok` first: it takes the first colour and the solid line.
        let mut order: Vec<&String> = outcomes.iter().copied().filter(|o| *o == "ok").collect();
        order.extend(outcomes.iter().copied().filter(|o| *o != "ok"));
        let series: Vec<(String, Vec<(f64, f64)>)> = order
            .into_iter()
            .map(|o| {
                let pts = rows
                    .iter()
                    .map(|r| {
                        (
                            r.second as f64,
                            r.attempts.get(o).copied().unwrap_or(0) as f64,
                        )
                    })
                    .collect();
                (o.clone(), pts)
            })
            .collect();
        let shaded: Vec<(f64, f64)> = s
            .drill
            .windows
            .iter()
            .filter(|w| &w.endpoint == id)
            .map(|w| (w.from_s, w.until_s.unwrap_or(s.duration_s)))
            .collect();
        body.push_str(&line_chart(
            &format!("Attempts per second at {id}, by outcome (its fault windows shaded)"),
            "attempts/s",
            &series,
            &shaded,
        ));
    }
    body.push_str(&features(s));
    body.push_str(&drill_windows(s));
    body.push_str(&errors(s));
    body.push_str(&gates(s));
    page(&s.scenario, &body)
}

fn ms(p: &Percentiles) -> String {
    if p.count == 0 {
        "—".into()
    } else {
        format!("{:.1}", p.p50)
    }
}

/// Per feature: calls, latency and TTFT, tokens and cost; then, for multi-turn
/// features, how prompt size and latency grow turn by turn.
fn features(s: &Summary) -> String {
    if s.features.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>By feature</h2><table><tr><th>feature</th><th>endpoint</th><th>calls</th><th>ok</th><th>latency p50 / p95 / p99 ms</th><th>TTFT p50 / p95 ms</th><th>tokens in / out</th><th>$ a call</th></tr>",
    );
    for (name, f) in &s.features {
        let pct = |p: &Percentiles| {
            if p.count == 0 {
                "—".to_string()
            } else {
                format!("{:.1} / {:.1} / {:.1}", p.p50, p.p95, p.p99)
            }
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0} / {:.0}</td><td>{}</td></tr>",
            esc(name),
            esc(&f.endpoint),
            f.calls,
            f.ok,
            pct(&f.latency_ms),
            if f.ttft_ms.count == 0 {
                "—".to_string()
            } else {
                format!("{} / {:.1}", ms(&f.ttft_ms), f.ttft_ms.p95)
            },
            f.mean_input_tokens,
            f.mean_output_tokens,
            if f.calls > 0 && s.cost.total_usd > 0.0 {
                format!("${:.5}", f.cost_usd / f.calls as f64)
            } else {
                "—".into()
            }
        );
    }
    out.push_str("</table>");
    for (name, f) in s.features.iter().filter(|(_, f)| f.turns.len() > 1) {
        let _ = write!(
            out,
            "<h3>{}, turn by turn</h3><table><tr><th>turn</th><th>calls</th><th>ok</th><th>tokens in / out</th><th>latency p50 / p95 ms</th><th>$ a call</th></tr>",
            esc(name)
        );
        for t in &f.turns {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0} / {:.0}</td><td>{} / {}</td><td>{}</td></tr>",
                t.turn,
                t.calls,
                t.ok,
                t.mean_input_tokens,
                t.mean_output_tokens,
                ms(&t.latency_ms),
                if t.latency_ms.count == 0 { "—".into() } else { format!("{:.1}", t.latency_ms.p95) },
                if t.calls > 0 && s.cost.total_usd > 0.0 {
                    format!("${:.5}", t.cost_usd / t.calls as f64)
                } else {
                    "—".into()
                }
            );
        }
        out.push_str("</table>");
        // Growth turn by turn, each figure over its value at turn 1.
        let first = &f.turns[0];
        let relative = |v: &dyn Fn(&super::schema::TurnSummary) -> Option<f64>| -> Vec<(f64, f64)> {
            match v(first).filter(|b| *b > 0.0) {
                Some(base) => f
                    .turns
                    .iter()
                    .filter_map(|t| Some((t.turn as f64, v(t)? / base)))
                    .collect(),
                None => Vec::new(),
            }
        };
        let per_call = |t: &super::schema::TurnSummary| {
            (t.calls > 0 && s.cost.total_usd > 0.0).then(|| t.cost_usd / t.calls as f64)
        };
        out.push_str(&chart(
            &format!("{name}: growth by turn (× turn 1)"),
            "turn",
            "× turn 1",
            &[
                ("tokens in".into(), relative(&|t| Some(t.mean_input_tokens))),
                (
                    "latency p50".into(),
                    relative(&|t| (t.latency_ms.count > 0).then_some(t.latency_ms.p50)),
                ),
                ("cost a call".into(), relative(&per_call)),
            ],
            &[],
            &[],
        ));
    }
    out
}

/// The drill's fault windows: when each was, and how fast detection, fallback, the
/// breaker and recovery came.
fn drill_windows(s: &Summary) -> String {
    if s.drill.windows.is_empty() {
        return String::new();
    }
    let secs = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.2} s"));
    let mut out = String::from("<h2>Fault windows</h2><table><tr><th>endpoint</th><th>fault</th><th>from</th><th>until</th><th>to detect</th><th>to first fallback</th><th>to breaker open</th><th>to recover</th></tr>");
    for w in &s.drill.windows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.1} s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&w.endpoint),
            esc(&w.kind),
            w.from_s,
            w.until_s.map_or("the end".to_string(), |u| format!("{u:.1} s")),
            secs(w.time_to_detect_s),
            secs(w.time_to_first_fallback_s),
            secs(w.time_to_breaker_open_s),
            secs(w.time_to_recover_s)
        );
    }
    out.push_str("</table>");
    out
}

/// The errors, by outcome, each with its count and an example message.
fn errors(s: &Summary) -> String {
    if s.errors.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Errors</h2><table><tr><th>outcome</th><th>count</th><th>example</th></tr>",
    );
    for e in &s.errors {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&e.outcome),
            e.count,
            esc(&e.message)
        );
    }
    out.push_str("</table>");
    out
}

/// Thresholds, and the comparison with a baseline, each held (✓) or not (✗).
fn gates(s: &Summary) -> String {
    let mut out = String::new();
    if !s.thresholds.is_empty() {
        out.push_str(
            "<h2>Thresholds</h2><table><tr><th></th><th>threshold</th><th>measured</th></tr>",
        );
        for th in &s.thresholds {
            let _ = write!(
                out,
                r#"<tr class="{}"><td>{}</td><td><code>{}</code></td><td>{}</td></tr>"#,
                if th.ok { "ok" } else { "fail" },
                if th.ok { "✓" } else { "✗" },
                esc(&th.expr),
                th.value
                    .map_or("not measured".to_string(), |v| format!("{v:.4}")),
            );
        }
        out.push_str("</table>");
    }
    if let Some(c) = &s.baseline {
        let _ = write!(
            out,
            "<h2>Against {}</h2><table><tr><th></th><th>metric</th><th>baseline</th><th>this run</th><th>change</th></tr>",
            esc(&c.baseline)
        );
        for ch in &c.checks {
            let bad = ch.verdict == "regressed";
            let _ = write!(
                out,
                r#"<tr class="{}"><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>"#,
                if bad { "fail" } else { "ok" },
                if bad { "✗" } else { "✓" },
                esc(&ch.metric),
                ch.baseline,
                ch.candidate,
                if ch.change.is_finite() {
                    format!("{:+.1}% ({})", ch.change * 100.0, esc(&ch.verdict))
                } else {
                    esc(&ch.verdict)
                }
            );
        }
        out.push_str("</table>");
    }
    out
}

/// The cost story, when prices are known: the waterfall, the projection per day and
/// month and per feature, then the alerts that fired.
fn cost_story(s: &Summary) -> String {
    let c = &s.cost;
    if c.total_usd <= 0.0 {
        return String::new();
    }
    let mut out = waterfall(c).unwrap_or_default();
    let _ = write!(
        out,
        "<p>${:.4} in all · ${:.4} a call (p95 ${:.4}) · ${:.4} a session{}{}</p>",
        c.total_usd,
        c.per_call_usd,
        c.per_call_p95_usd,
        c.per_session_usd,
        c.projected_daily_usd.map_or(String::new(), |d| format!(
            " · projected <b>${d:.2} a day</b>"
        )),
        c.projected_monthly_usd
            .map_or(String::new(), |m| format!(", <b>${m:.2} a month</b>"))
    );
    if !c.per_feature.is_empty() {
        out.push_str(
            "<table><tr><th>feature</th><th>cost</th><th>a call</th><th>projected a day</th></tr>",
        );
        for (name, f) in &c.per_feature {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>${:.4}</td><td>${:.5}</td><td>{}</td></tr>",
                esc(name),
                f.cost_usd,
                f.per_call_usd,
                f.projected_daily_usd
                    .map_or("—".to_string(), |d| format!("${d:.2}"))
            );
        }
        out.push_str("</table>");
    }
    if !c.alerts.is_empty() {
        out.push_str("<ul class=\"alerts\">");
        for a in &c.alerts {
            let _ = write!(out, "<li><b>{}</b>: {}</li>", esc(&a.rule), esc(&a.message));
        }
        out.push_str("</ul>");
    }
    out
}

/// A self-contained page in the report's style around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>llm-drill · {}</title><style>body{{font-family:system-ui,sans-serif;max-width:800px;margin:2em auto;color:#222}}h2{{font-size:1.05em;margin-top:1.6em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}tr.fail td{{background:#f4cccc}}svg{{display:block;max-width:100%;height:auto}}@media print{{body{{max-width:none;margin:0}}h2{{break-after:avoid}}svg,table{{break-inside:avoid}}}}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}
