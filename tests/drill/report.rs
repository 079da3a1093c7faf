//! report.html (issue 19) as a reader gets it: rendered by headless Chromium for the
//! shipped scenarios, with the layout checked in the browser's own DOM — the waterfall's
//! bars, 1-2-5 ticks, legends that name drawn lines, no overlapping text, nothing
//! fetched — and its safety and size checked on the renderer directly.

use super::support::{llm_drill, BIN};
use llm_drill::report::summary::{ErrorExample, FeatureSummary, Percentiles};
use llm_drill::report::Summary;
use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        // .ci/run installs it; elsewhere say so rather than pass quietly.
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed: .ci/run installs it (apt-get install chromium)"
        );
        eprintln!("skipped: chromium is not installed");
    }
    found
}

/// Measures the laid-out page in the browser: every pair of texts in one chart whose
/// boxes overlap, written into the DOM for `--dump-dom` to carry out. Only the test's
/// copy of the page gets it; the report itself has no script.
const LAYOUT_PROBE: &str = r#"<script>
addEventListener('load', () => {
  const overlaps = [];
  for (const svg of document.querySelectorAll('svg')) {
    const boxes = [...svg.querySelectorAll('text')]
      .map(t => [t.textContent, t.getBoundingClientRect()])
      .filter(([, r]) => r.width > 0);
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, r] = boxes[i], [b, q] = boxes[j];
        const w = Math.min(r.right, q.right) - Math.max(r.left, q.left);
        const h = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
        if (w > 1 && h > 1) overlaps.push(a + ' / ' + b);
      }
  }
  const out = document.createElement('pre');
  out.id = 'layout-probe';
  out.textContent = JSON.stringify(overlaps);
  document.body.appendChild(out);
});
</script>"#;

/// The page as Chromium leaves it, the network disabled (nothing resolves).
fn rendered(chromium: &str, page: &Path) -> String {
    let probe = page.with_file_name("probed.html");
    let html = std::fs::read_to_string(page).unwrap();
    std::fs::write(
        &probe,
        html.replace("</body>", &format!("{LAYOUT_PROBE}</body>")),
    )
    .unwrap();
    let dom = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1000,3000",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

/// Each chart's tick labels (`class="tick y"` or `"tick x"`), in order.
fn ticks(svg: &str, axis: &str) -> Vec<f64> {
    let marker = format!(r#"class="tick {axis}""#);
    svg.split(&marker)
        .skip(1)
        .filter_map(|rest| {
            let text = rest.split('>').nth(1)?.split('<').next()?;
            text.trim().parse().ok()
        })
        .collect()
}

/// The checks every report passes, whatever the scenario.
fn reads_well(name: &str, dom: &str, html: &str) {
    // Nothing to fetch: no reference to anything outside the page.
    for attr in ["src=", "href=", "url(", "@import"] {
        assert!(!html.contains(attr), "{name}: the page refers to `{attr}`");
    }
    let probe = dom
        .split(r#"<pre id="layout-probe">"#)
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| panic!("{name}: the layout probe did not run"));
    assert_eq!(probe, "[]", "{name}: overlapping texts {probe}");
    for svg in dom.split("<svg").skip(1) {
        let svg = svg.split("</svg>").next().unwrap_or_default();
        // Ticks: evenly spaced from 0 by a step of 1, 2 or 5 times a power of ten.
        for axis in ["x", "y"] {
            let t = ticks(svg, axis);
            if t.len() < 2 {
                continue;
            }
            let step = t[1] - t[0];
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!(
                [1.0, 2.0, 5.0, 10.0]
                    .iter()
                    .any(|m| (m - mantissa).abs() < 1e-6),
                "{name}: {axis} ticks {t:?}"
            );
            assert_eq!(t[0], 0.0, "{name}: {axis} ticks {t:?}");
            for w in t.windows(2) {
                assert!(
                    (w[1] - w[0] - step).abs() < 1e-6 * step.max(1.0),
                    "{name}: {t:?}"
                );
            }
        }
        // Every legend entry names a line drawn in its chart.
        for entry in svg.split(r#"<g class="legend">"#).skip(1) {
            let label = entry
                .split("</text>")
                .next()
                .and_then(|t| t.rsplit('>').next())
                .unwrap_or_default();
            assert!(
                svg.contains(&format!(r#"data-name="{label}""#)),
                "{name}: legend `{label}` has no line"
            );
        }
    }
}

#[test]
fn shipped_scenarios_render_in_chromium_and_read_at_a_glance() {
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // (scenario, factors drawn in its waterfall: 0 when it is not priced)
    for (scenario, factors) in [
        ("quickstart", 6),
        ("fallback-drill", 0),
        ("multi-turn-rag", 0),
        ("cost-projection", 6),
        ("gateway-overhead", 0),
    ] {
        let out = tmp.path().join(scenario);
        let run = Command::new(BIN)
            .current_dir(root)
            .args([
                "run",
                "--no-progress",
                "--set",
                "duration=4s",
                "--set",
                "graceful_stop=5s",
                "--out",
            ])
            .arg(&out)
            .arg(format!("scenarios/{scenario}.yaml"))
            .output()
            .unwrap();
        assert!(
            matches!(run.status.code(), Some(0) | Some(1)),
            "{scenario}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let page = out.join("report.html");
        let html = std::fs::read_to_string(&page).unwrap();
        let dom = rendered(chromium, &page);
        reads_well(scenario, &dom, &html);
        let steps = dom.matches(r#"<rect class="step""#).count();
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        let priced = summary["cost"]["breakdown"].is_object();
        if factors > 0 {
            assert!(priced, "{scenario} is priced");
            // A bar per factor, and the start and the measured cost.
            let modeled = summary["cost"]["modeled_from_scenario"] == true;
            let want = if modeled { factors } else { factors - 1 } + 2;
            assert_eq!(steps, want, "{scenario}: waterfall bars");
        } else if !priced {
            assert_eq!(steps, 0, "{scenario}: an unpriced run has no waterfall");
        }
    }
}

#[test]
fn names_and_messages_from_scenarios_and_endpoints_are_escaped() {
    let mut s = Summary {
        scenario: "<script>alert('scenario')</script>".into(),
        ..Summary::default()
    };
    s.features.insert(
        "<script>alert('feature')</script>".into(),
        FeatureSummary {
            endpoint: "<img onerror=x>".into(),
            calls: 1,
            ..Default::default()
        },
    );
    s.errors.push(ErrorExample {
        outcome: "http_5xx".into(),
        message: "HTTP 500: <script>alert('body')</script>".into(),
        count: 1,
    });
    let html = llm_drill::report::html::render(&s);
    assert!(!html.contains("<script"), "an unescaped script");
    assert!(!html.contains("<img"), "an unescaped tag");
    assert!(
        html.contains("&lt;script&gt;alert('feature')"),
        "the name is shown, escaped"
    );
    assert!(
        html.contains("&lt;script&gt;alert('body')"),
        "the message is shown, escaped"
    );
}

#[test]
fn a_day_long_run_renders_under_a_megabyte() {
    // Every second of 24 h, for the latency chart and two endpoints' timelines.
    let mut s = Summary {
        scenario: "day".into(),
        duration_s: 86_400.0,
        ..Summary::default()
    };
    for second in 0..86_400u64 {
        let v = (second % 997) as f64;
        s.timeseries.push(llm_drill::recorder::SecondStats {
            second,
            latency_p50_ms: 100.0 + v,
            latency_p95_ms: 200.0 + v,
            latency_p99_ms: 300.0 + v,
            ..Default::default()
        });
    }
    for id in ["primary", "fallback"] {
        let rows = (0..86_400u64)
            .map(|second| llm_drill::report::summary::TimelineRow {
                second,
                attempts: [("ok".to_string(), 10u32), ("http_429".to_string(), 1u32)]
                    .into_iter()
                    .collect(),
            })
            .collect();
        s.drill.timeline.insert(id.into(), rows);
    }
    s.latency_ms = Percentiles {
        count: 1,
        p50: 1.0,
        ..Percentiles::default()
    };
    let html = llm_drill::report::html::render(&s);
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    // The busiest second is still drawn: slices keep their maxima.
    assert!(html.contains("p99 at"), "tooltips on the latency points");
}

#[test]
fn an_older_summary_renders_again_without_its_newer_sections() {
    // A summary.json as the first releases wrote it: no cost breakdown, no drill, no
    // time series, no capacity, pilot or replay.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("summary.json"),
        r#"{"schema_version": 1, "scenario": "old", "llm_drill_version": "0.1.0",
            "started_at": "2026-01-01T00:00:00Z", "seed": 1, "load": "open, constant, 5/s for 10s",
            "interrupted": false, "duration_s": 10.0,
            "totals": {"calls": 50, "ok": 50, "failed": 0, "attempts": 50},
            "latency_ms": {"count": 50, "mean": 120.0, "p50": 118.0, "p90": 150.0, "p95": 160.0, "p99": 170.0, "p999": 171.0, "max": 171.0},
            "endpoints": {}, "features": {}, "errors": [], "thresholds": [], "passed": true}"#,
    )
    .unwrap();
    let (code, out, err) = llm_drill(&["report".as_ref(), tmp.path().as_os_str()]);
    assert_eq!(code, Some(0), "{out}{err}");
    let html = std::fs::read_to_string(tmp.path().join("report.html")).unwrap();
    for absent in [
        "Cost per call",
        "Time to first token",
        "Fault windows",
        "Then and now",
        "Pilot verdict",
        "Latency over time",
        "Attempts per second",
    ] {
        assert!(!html.contains(absent), "`{absent}` drawn from nothing");
    }
    assert!(html.contains("llm-drill · old"));
}
