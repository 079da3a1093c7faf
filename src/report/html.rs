//! `report.html`: one self-contained page (inline SVG drawn here, no script, no network)
//! that someone can open, read and forward. Rendered from the `Summary` alone, so
//! `llm-drill report` can render it again without re-running.

use super::summary::{Percentiles, Summary};
use std::fmt::Write;

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];
const W: f64 = 760.0;
const H: f64 = 240.0;
const PAD: f64 = 48.0;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One series as an SVG polyline, in chart coordinates.
fn polyline(
    svg: &mut String,
    pts: &[(f64, f64)],
    sx: &dyn Fn(f64) -> f64,
    sy: &dyn Fn(f64) -> f64,
    color: &str,
    width: f64,
) {
    let path: Vec<String> = pts
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
        .collect();
    let _ = write!(
        svg,
        r#"<polyline class="series" fill="none" stroke="{color}" stroke-width="{width}" points="{}"/>"#,
        path.join(" ")
    );
}

/// Five labels up the y axis, from 0 to `y_max`.
fn y_ticks(svg: &mut String, y_max: f64, sy: &dyn Fn(f64) -> f64) {
    for i in 0..=4 {
        let y = y_max * i as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{y:.1}</text>"##,
            PAD - 4.0,
            sy(y) + 3.0
        );
    }
}

/// A labelled line across a chart: vertical at an x value, or horizontal at a y value.
struct Rule {
    vertical: bool,
    at: f64,
    label: String,
}

/// A line chart of `series` (name, points), with shaded x ranges; x in seconds.
fn line_chart(
    title: &str,
    y_unit: &str,
    series: &[(String, Vec<(f64, f64)>)],
    shade: &[(f64, f64)],
) -> String {
    chart(title, "s", y_unit, series, shade, &[])
}

/// A line chart with its x unit, shaded x ranges and labelled rules.
fn chart(
    title: &str,
    x_unit: &str,
    y_unit: &str,
    series: &[(String, Vec<(f64, f64)>)],
    shade: &[(f64, f64)],
    rules: &[Rule],
) -> String {
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x_max, mut y_max) = (1.0f64, 0.0f64);
    for (x, y) in points {
        x_max = x_max.max(*x);
        y_max = y_max.max(*y);
    }
    for (_, b) in shade {
        x_max = x_max.max(*b);
    }
    for r in rules {
        if r.vertical {
            x_max = x_max.max(r.at);
        } else {
            y_max = y_max.max(r.at);
        }
    }
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let sx = |x: f64| PAD + x / x_max * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD + -(y / y_max) * (H - 2.0 * PAD);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img"><title>{}</title>"#,
        esc(title)
    );
    for (a, b) in shade {
        let _ = write!(
            svg,
            r##"<rect class="fault" x="{:.1}" y="{PAD}" width="{:.1}" height="{:.1}" fill="#f4cccc"/>"##,
            sx(*a),
            (sx(*b) - sx(*a)).max(1.0),
            H - 2.0 * PAD
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{PAD}" y1="{0}" x2="{1}" y2="{0}" stroke="#555"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{0}" stroke="#555"/>"##,
        H - PAD,
        W - PAD
    );
    y_ticks(&mut svg, y_max, &sy);
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{x_max:.0} {}</text><text x="4" y="{:.1}" font-size="10">{}</text>"##,
        W - PAD,
        H - PAD + 14.0,
        esc(x_unit),
        PAD - 8.0,
        esc(y_unit)
    );
    for r in rules {
        let (x1, y1, x2, y2) = if r.vertical {
            (sx(r.at), PAD, sx(r.at), H - PAD)
        } else {
            (PAD, sy(r.at), W - PAD, sy(r.at))
        };
        let _ = write!(
            svg,
            r##"<line class="rule" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#888" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#555">{}</text>"##,
            if r.vertical {
                x1 + 3.0
            } else {
                W - PAD - 150.0
            },
            if r.vertical { PAD + 10.0 } else { y1 - 3.0 },
            esc(&r.label)
        );
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if pts.is_empty() {
            continue;
        }
        polyline(&mut svg, pts, &sx, &sy, color, 1.5);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" fill="{color}">{}</text>"#,
            PAD + 8.0 + 130.0 * i as f64,
            PAD - 12.0,
            esc(name)
        );
    }
    svg.push_str("</svg>");
    format!("<h2>{}</h2>{svg}", esc(title))
}

/// Horizontal bars, one per (label, value).
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)]) -> String {
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-12);
    let h = 24.0 * bars.len() as f64 + 20.0;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img"><title>{}</title>"#,
        esc(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 10.0 + 24.0 * i as f64;
        let w = v / max * (W - 320.0);
        let _ = write!(
            svg,
            r##"<text x="180" y="{:.1}" font-size="11" text-anchor="end">{}</text><rect class="series" x="190" y="{y:.1}" width="{w:.1}" height="16" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11">{v:.3} {}</text>"##,
            y + 12.0,
            esc(label),
            COLORS[i % COLORS.len()],
            196.0 + w,
            y + 12.0,
            esc(unit)
        );
    }
    svg.push_str("</svg>");
    format!("<h2>{}</h2>{svg}", esc(title))
}

/// The HdrHistogram percentile plot: latency against percentile on a log scale of
/// 1 / (1 - percentile), so the tail gets the room it deserves.
fn percentile_plot(points: &[[f64; 2]]) -> String {
    let x_of = |p: f64| (1.0 / (1.0 - (p / 100.0).min(0.99999))).log10();
    let pts: Vec<(f64, f64)> = points.iter().map(|[p, ms]| (x_of(*p), *ms)).collect();
    let x_max = x_of(99.999);
    let y_max = pts.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.1;
    let sx = |x: f64| PAD + x / x_max * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD - y / y_max * (H - 2.0 * PAD);
    let mut svg = format!(
        r##"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img"><title>Latency by percentile</title><line x1="{PAD}" y1="{0}" x2="{1}" y2="{0}" stroke="#555"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{0}" stroke="#555"/>"##,
        H - PAD,
        W - PAD
    );
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
            H - PAD + 14.0
        );
    }
    y_ticks(&mut svg, y_max, &sy);
    polyline(&mut svg, &pts, &sx, &sy, COLORS[0], 2.0);
    let _ = write!(
        svg,
        r##"<text x="4" y="{:.1}" font-size="10">ms</text></svg>"##,
        PAD - 8.0
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
    // Attempts per second and endpoint: answered and failed, fault windows shaded.
    let mut series = Vec::new();
    for (id, rows) in &s.drill.timeline {
        let ok: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| {
                (
                    r.second as f64,
                    r.attempts.get("ok").copied().unwrap_or(0) as f64,
                )
            })
            .collect();
        let failed: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| {
                let all: u32 = r.attempts.values().sum();
                (
                    r.second as f64,
                    (all - r.attempts.get("ok").copied().unwrap_or(0)) as f64,
                )
            })
            .collect();
        series.push((format!("{id} ok"), ok));
        series.push((format!("{id} failed"), failed));
    }
    body.push_str(&line_chart(
        "Attempts per second by endpoint (fault windows shaded)",
        "attempts/s",
        &series,
        &windows,
    ));
    let c = &s.cost;
    if c.total_usd > 0.0 {
        let _ = write!(
            body,
            "<h2>Cost</h2><p>${:.4} in all · ${:.4} per call · ${:.4} per session{}</p>",
            c.total_usd,
            c.per_call_usd,
            c.per_session_usd,
            c.projected_daily_usd
                .map_or(String::new(), |d| format!(" · projected ${d:.2} a day"))
        );
        if let (Some(m), Some(b)) = (c.multiplier, &c.breakdown) {
            body.push_str(&bar_chart(
                &format!("Cost multiplier {m:.2}× and its factors"),
                "×",
                &[
                    ("first turn vs model".into(), b.model),
                    ("context growth".into(), b.prompt_growth),
                    ("output length".into(), b.output_length),
                    ("reasoning".into(), b.reasoning),
                    ("retries".into(), b.retries),
                    ("fallback pricing".into(), b.fallback_pricing),
                ],
            ));
        }
    }
    if !s.thresholds.is_empty() {
        body.push_str(
            "<h2>Thresholds</h2><table><tr><th>threshold</th><th>measured</th><th></th></tr>",
        );
        for th in &s.thresholds {
            let _ = write!(
                body,
                r#"<tr class="{}"><td><code>{}</code></td><td>{}</td><td>{}</td></tr>"#,
                if th.ok { "ok" } else { "fail" },
                esc(&th.expr),
                th.value.map_or("—".to_string(), |v| format!("{v:.4}")),
                if th.ok { "held" } else { "FAILED" }
            );
        }
        body.push_str("</table>");
    }
    page(&s.scenario, &body)
}

/// A self-contained page in the report's style around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>llm-drill · {}</title><style>body{{font-family:system-ui,sans-serif;max-width:800px;margin:2em auto;color:#222}}h2{{font-size:1.05em;margin-top:1.6em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}tr.fail td{{background:#f4cccc}}svg{{display:block}}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}
