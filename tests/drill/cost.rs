//! Cost: a small deterministic scenario priced by hand to the cent, factors that multiply
//! to the multiplier on every shipped scenario, price tables and `price_ref`, the spend
//! guard, and alerts that fire only when they should.

use super::support::{options, replaced, run, scenario};
use std::path::Path;
use std::process::Command;
use tokio_util::sync::CancellationToken;

use super::support::BIN;

/// Two-turn conversations on gpt-4o (o200k_base: each role is one token), at $1000 per
/// million prompt tokens and $2000 per million answer tokens: a cent is 10 tokens.
fn priced(extra: &str) -> String {
    format!(
        "name: cost\nseed: 5\nduration: 1s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    price: {{ input_per_mtok: 1000, output_per_mtok: 2000 }}\n    mock: {{ ttft: 5ms, tokens_per_second: 2000, jitter: 0 }}\nfeatures:\n  f:\n    endpoint: m\n    session: {{ turns: 2 }}\n    prompt: {{ user_tokens: 50, context_tokens: {{ start: 100, growth_per_turn: 100 }} }}\n    output_tokens: 20\n{extra}load: {{ rate: 4 }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_scenario_costs_what_the_hand_calculation_says() {
    let (s, _d) = run(&priced(
        "cost: { modeled_cost_per_call: 0.10, daily_calls: 1000 }\n",
    ))
    .await;
    assert_eq!((s.totals.sessions, s.totals.calls), (4, 8));
    // Turn 1: context 100 + 4, user 50 + 4, priming 3 = 161 prompt tokens.
    // Turn 2: context 200 + 4, user 50 + 4, answer 20 + 4, user 50 + 4, 3 = 339.
    // A session: (161 + 339) x $0.001 + 2 x 20 x $0.002 = $0.58; a call $0.29.
    let c = &s.cost;
    let cents = |v: f64| (v * 100.0).round() as i64;
    assert_eq!(cents(c.total_usd), 232, "4 sessions x $0.58: {c:?}");
    assert_eq!(cents(c.per_call_usd), 29);
    assert_eq!(cents(c.per_session_usd), 58);
    assert_eq!(s.features["f"].turns[0].cost_usd, 4.0 * (0.161 + 0.04));
    // The factors: the first turn at list price is 161 x $0.001 + 20 x $0.002 = $0.201,
    // 2.01x the $0.10 model; prompts grew to 250 tokens a call on average, with the
    // answers as modeled: ($0.25 + $0.04) / $0.201; nothing retried or failed over.
    let b = c.breakdown.as_ref().expect("priced");
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(b.first_turn_usd, 0.201), "{b:?}");
    assert!(close(b.model, 2.01), "{b:?}");
    assert!(close(b.prompt_growth, 0.29 / 0.201), "{b:?}");
    assert!(
        close(b.output_length, 1.0) && close(b.retries, 1.0) && close(b.fallback_pricing, 1.0),
        "{b:?}"
    );
    assert!(close(c.multiplier.unwrap(), 2.9));
    assert_eq!(cents(c.projected_daily_usd.unwrap()), 29_000);
    assert_eq!(cents(s.endpoints["m"].cost_usd), 232);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factors_multiply_to_the_multiplier_on_every_shipped_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Priced scenarios that run on the embedded mock, shortened.
        if text.contains("credential_ref") || !text.contains("price") {
            continue;
        }
        let s = scenario(&text);
        let mut opts = options(&s);
        opts.sets = vec!["duration=3s".into(), "graceful_stop=4s".into()];
        let out = llm_drill::run(&opts, CancellationToken::new())
            .await
            .unwrap();
        if let (Some(m), Some(b)) = (out.summary.cost.multiplier, &out.summary.cost.breakdown) {
            let product = b.model
                * b.prompt_growth
                * b.output_length
                * b.reasoning
                * b.retries
                * b.fallback_pricing;
            assert!(
                (product / m - 1.0).abs() < 0.001,
                "{}: {product} vs {m}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "no shipped scenario is priced");
}

#[test]
fn the_spend_guard_stops_within_one_call_of_the_cap() {
    // A call costs $0.201 to $0.579 at worst (339 + 20 tokens); cap the run at $1.
    let s = scenario(&replaced(
        &priced("cost: { max_spend_usd: 1.00 }\n"),
        "duration: 1s",
        "duration: 10s",
    ));
    let out_dir = s.dir.path().join("out");
    let out = Command::new(BIN)
        .args(["run", "--no-progress", "--out"])
        .arg(&out_dir)
        .arg(&s.path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    let spent = summary["cost"]["total_usd"].as_f64().unwrap();
    assert!(summary["cost"]["guard_stopped"].as_bool().unwrap());
    assert!(spent <= 1.00, "the cap is never passed: {spent}");
    // Stopped only when the next call's worst case ($0.359 for a second turn at most)
    // no longer fitted: within one call of the cap.
    assert!(spent >= 1.00 - 0.58, "stopped too early: {spent}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("STOPPED by the spend guard"));
}

#[test]
fn price_ref_resolves_in_a_litellm_file_and_unknown_keys_name_the_closest() {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.json");
    std::fs::write(
        &prices,
        r#"{"acme/llm-1": {"input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06, "litellm_provider": "acme", "mode": "chat"}}"#,
    )
    .unwrap();
    let s = scenario(&replaced(
        &priced(""),
        "    price: { input_per_mtok: 1000, output_per_mtok: 2000 }\n",
        "    price_ref: acme/llm-1\n",
    ));
    let validate = |extra: &[&str]| {
        Command::new(BIN)
            .arg("validate")
            .arg(&s.path)
            .args(extra)
            .output()
            .unwrap()
    };
    let ok = validate(&["--prices", prices.to_str().unwrap()]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Without the file the key is unknown: the error names the closest keys.
    let bad = validate(&[]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("endpoints.m.price_ref")
            && err.contains("`acme/llm-1` is not in")
            && err.contains("closest:"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_when_tripped_and_stay_quiet_otherwise() {
    // $0.29 a call x 10,000 calls = $2,900 a day.
    let tripped = "cost:\n  daily_calls: 10000\n  alerts: { per_day_usd: 2000, per_feature_usd: { f: 1000 } }\n";
    let (s, _d) = run(&priced(tripped)).await;
    let rules: Vec<&str> = s.cost.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert!(
        rules.contains(&"per_day_usd") && rules.contains(&"per_feature_usd"),
        "{:?}",
        s.cost.alerts
    );
    let quiet = "cost:\n  daily_calls: 10000\n  alerts: { per_day_usd: 1000000, per_feature_usd: { f: 1000000 }, call_volume_sigma: 3 }\n";
    let (s, _d) = run(&priced(quiet)).await;
    assert!(s.cost.alerts.is_empty(), "{:?}", s.cost.alerts);
}

#[test]
fn a_failing_threshold_exits_1_and_holding_ones_exit_0() {
    let gate = |thresholds: &str| {
        let s = scenario(&format!("{}thresholds:\n{thresholds}", priced("")));
        let out = Command::new(BIN)
            .args(["run", "--no-progress", "--out"])
            .arg(s.dir.path().join("out"))
            .arg(&s.path)
            .output()
            .unwrap();
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(s.dir.path().join("out/summary.json")).unwrap())
                .unwrap();
        let junit = std::fs::read_to_string(s.dir.path().join("out/junit.xml")).unwrap();
        let md = std::fs::read_to_string(s.dir.path().join("out/summary.md")).unwrap();
        (
            out.status.code(),
            summary,
            format!("{}\n{junit}\n{md}", String::from_utf8_lossy(&out.stdout)),
        )
    };
    // A call costs $0.29 on average and every one is answered.
    let (code, summary, stdout) = gate("  - cost.per_call < $0.10\n  - error_rate < 1%\n");
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(summary["passed"], false);
    assert_eq!(summary["thresholds"][0]["ok"], false);
    assert_eq!(summary["thresholds"][1]["ok"], true);
    assert!(stdout.contains("FAIL cost.per_call < $0.10"), "{stdout}");
    // JUnit: a failed case naming it; Markdown: a red line.
    assert!(
        stdout.contains(r#"<testcase name="cost.per_call &lt; $0.10" classname="llm-drill.cost">"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("cost.per_call &lt; $0.10 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| `cost.per_call < $0.10` | 0.2900 | ❌ **failed** |"),
        "{stdout}"
    );
    let (code, summary, _) = gate("  - cost.per_call < $0.50\n  - feature:f latency.p99 < 10s\n  - endpoint:m rate_429 <= 0%\n");
    assert_eq!(code, Some(0));
    assert_eq!(summary["passed"], true);
}

/// Floors for the tail of a 40-call run on a shared machine, where one slow call moves
/// the p99 by tens of milliseconds: the noise the floors exist to absorb.
const NOISE: &str = "regression:\n  per_metric:\n    latency.p95: { floor: 10 }\n    latency.p99: { floor: 25 }\n    ttft.p95: { floor: 10 }\n    ttft.p99: { floor: 25 }\n    itl.p99: { floor: 5 }\n";

#[test]
fn compare_passes_on_a_rerun_and_names_what_regressed_when_the_mock_slows() {
    let yaml = |ttft: u32, extra: &str| {
        format!("name: gw\nseed: 3\nduration: 2s\n{extra}endpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    mock: {{ ttft: {ttft}ms, tokens_per_second: 1000, jitter: 0 }}\nfeatures:\n  f:\n    endpoint: m\n    prompt: {{ user_tokens: 20 }}\n    output_tokens: 10\nload: {{ rate: 20 }}\n{}", if extra.is_empty() { NOISE } else { "" })
    };
    let run_once_with = |ttft: u32, baseline: Option<&Path>, extra: &str| {
        let s = scenario(&yaml(ttft, extra));
        let out_dir = s.dir.path().join("out");
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--no-progress", "--out"])
            .arg(&out_dir)
            .arg(&s.path);
        if let Some(b) = baseline {
            cmd.arg("--baseline").arg(b);
        }
        let out = cmd.output().unwrap();
        (s, out_dir, out)
    };
    let run_once = |ttft: u32, baseline: Option<&Path>| run_once_with(ttft, baseline, "");
    let (_a, base, _) = run_once(100, None);
    let (_b, same, out) = run_once(100, Some(&base));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let cmp = Command::new(BIN)
        .arg("compare")
        .arg(&base)
        .arg(&same)
        .output()
        .unwrap();
    assert_eq!(
        cmp.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cmp.stdout)
    );
    // 30% more time to first token: latency and TTFT regress, and the run fails.
    let (_c, slow, out) = run_once(130, Some(&base));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let cmp = Command::new(BIN)
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cmp.stdout);
    assert_eq!(cmp.status.code(), Some(1), "{text}");
    let regressed = text.lines().last().unwrap_or_default();
    for metric in ["latency.p50", "latency.p95", "ttft.p50", "ttft.p95"] {
        assert!(regressed.contains(metric), "{metric}: {text}");
    }
    let junit = std::fs::read_to_string(slow.join("junit.xml")).unwrap();
    assert!(junit.contains("latency.p50 regressed"), "{junit}");
    // With a 50% tolerance set for this scenario, the same slowdown passes. (ITL's tail
    // over 360 gaps of 1 ms is the machine's scheduling, not the endpoint: a floor of
    // 10 ms keeps a loaded CI machine's noise out of this check.)
    let (_d, _, out) = run_once_with(
        130,
        Some(&base),
        "regression: { tolerance: 50%, per_metric: { itl.p99: { floor: 10 } } }\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
