//! The pilot verdict (issue 14): every run ends with each assumption of `pilot:` set
//! against what it measured; one that fails makes it no-go (exit 1) and says why.

use super::support::{llm_drill, scenario};

/// Azure-on-the-mock at 20 calls a second for 2 s, with these `pilot:` assumptions and
/// these extra mock keys.
fn pilot(assumptions: &str, mock: &str) -> String {
    format!("name: pilot\nseed: 5\nduration: 2s\nendpoints:\n  p:\n    provider: azure_openai\n    base_url: mock\n    deployment: d\n    model_name: gpt-4o\n    region: westeurope\n    price: {{ input_per_mtok: 2.5, output_per_mtok: 10 }}\n    mock: {{ ttft: 20ms, tokens_per_second: 1000, jitter: 0{mock} }}\nfeatures:\n  f:\n    endpoint: p\n    stream: true\n    prompt: {{ user_tokens: 400 }}\n    output_tokens: 100\nload: {{ rate: 20 }}\npilot:\n  assumptions:\n{assumptions}")
}

/// Runs it; the exit code, stdout and summary.json.
fn run(yaml: &str) -> (Option<i32>, String, serde_json::Value) {
    let s = scenario(yaml);
    let out = s.dir.path().join("out");
    let (code, stdout, _) = llm_drill(&[
        "run".as_ref(),
        s.path.as_os_str(),
        "--no-progress".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (code, stdout, summary)
}

#[test]
fn a_pilot_goes_when_every_assumption_holds_and_not_when_one_fails() {
    // A call: 400 prompt tokens (+ the chat template) at $2.5/M, 100 at $10/M: ~$0.002.
    let holds = "    cost_per_call: $0.01\n    latency.p95: 2s\n    ttft.p95: 500ms\n    rate_429: 1%\n    error_rate: 0.5%\n    residency: [westeurope, northeurope]\n";
    let (code, stdout, s) = run(&pilot(holds, ""));
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(s["pilot"]["verdict"], "go");
    assert_eq!(s["pilot"]["assumptions"].as_array().unwrap().len(), 6);
    assert!(stdout.contains("pilot verdict: GO"), "{stdout}");
    // Per feature too, for the assumptions a feature reports.
    assert_eq!(s["pilot"]["features"]["f"].as_array().unwrap().len(), 4);
    // The cost assumption cut below the measured cost: no-go, named, with its cause.
    let (code, stdout, s) = run(&pilot(&holds.replace("$0.01", "$0.001"), ""));
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(s["pilot"]["verdict"], "no-go");
    let cost = &s["pilot"]["assumptions"][0];
    assert_eq!(
        (cost["assumption"].as_str(), cost["ok"].as_bool()),
        (Some("cost_per_call"), Some(false))
    );
    let measured = cost["measured"].as_f64().unwrap();
    assert!((measured - s["cost"]["per_call_usd"].as_f64().unwrap()).abs() < 1e-12);
    assert!((cost["by"].as_f64().unwrap() - (measured / 0.001 - 1.0)).abs() < 1e-9);
    assert!(
        stdout.contains("FAIL cost_per_call: assumed $0.001"),
        "{stdout}"
    );
    assert!(stdout.contains("because cost_per_call:"), "{stdout}");
    // A latency assumption too tight: the cause names the endpoint.
    let (code, stdout, _) = run(&pilot("    ttft.p95: 5ms\n", ""));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("worst at endpoint `p`"), "{stdout}");
}

#[test]
fn residency_fails_on_a_call_served_outside_even_when_the_declared_region_is_inside() {
    // Declared westeurope, but a fifth of the answers say eastus in x-ms-region.
    let (code, stdout, s) = run(&pilot(
        "    residency: [westeurope, northeurope]\n",
        ", served_regions: { westeurope: 0.8, eastus: 0.2 }",
    ));
    assert_eq!(code, Some(1), "{stdout}");
    let row = &s["pilot"]["assumptions"][0];
    let eastus = s["endpoints"]["p"]["served_regions"]["eastus"]
        .as_u64()
        .unwrap();
    assert!(eastus > 0);
    assert_eq!(row["measured"].as_f64(), Some(eastus as f64));
    assert_eq!(
        s["mock_server"]["p"]["served_regions"]["eastus"].as_u64(),
        Some(eastus)
    );
    assert!(
        stdout.contains("said") && stdout.contains("served in eastus"),
        "{stdout}"
    );
}

#[test]
fn validate_refuses_an_assumption_it_cannot_check() {
    for (assumption, says) in [
        (
            "    latency.p98: 3s\n",
            "pilot.assumptions.latency.p98: unknown statistic",
        ),
        (
            "    residency: [westeurope, atlantis]\n",
            "unknown region `atlantis`",
        ),
        ("    cost_per_call: cheap\n", "cannot read `cheap`"),
    ] {
        let s = scenario(&pilot(assumption, ""));
        let (code, _, stderr) = llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
}

#[test]
fn a_usage_baseline_stands_beside_the_measured_figures() {
    let dir = tempfile::tempdir().unwrap();
    // Today's usage: 100 calls of feature f, 1 s to 2 s each, 1 in 20 a 429, $0.003 each.
    let log = dir.path().join("calls.jsonl");
    let rows: String = (0..100)
        .map(|i| {
            format!(
                "{{\"timestamp\": {}, \"feature\": \"f\", \"prompt_tokens\": 400, \"completion_tokens\": 100, \"latency\": {}, \"status\": {}, \"cost\": 0.003}}\n",
                1_767_225_600 + i,
                1000 + i * 10,
                if i % 20 == 0 { 429 } else { 200 }
            )
        })
        .collect();
    std::fs::write(&log, rows).unwrap();
    let out = dir.path().join("usage");
    let (code, _, stderr) = llm_drill(&[
        "usage".as_ref(),
        "import".as_ref(),
        log.as_os_str(),
        "--format".as_ref(),
        "jsonl".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let yaml = pilot(
        "    cost_per_call: $0.01\n    latency.p95: 3s\n    rate_429: 10%\n",
        "",
    )
    .replace(
        "pilot:\n",
        &format!("pilot:\n  baseline: {}\n", out.display()),
    );
    let (code, stdout, s) = run(&yaml);
    assert_eq!(code, Some(0), "{stdout}");
    let rows = s["pilot"]["assumptions"].as_array().unwrap();
    let baseline = |key: &str| {
        rows.iter()
            .find(|r| r["assumption"] == key)
            .and_then(|r| r["baseline"].as_f64())
    };
    assert!((baseline("cost_per_call").unwrap() - 0.003).abs() < 1e-12);
    assert_eq!(baseline("rate_429"), Some(0.05));
    // p95 of 1000, 1010, ..., 1990 ms: 1940, within HdrHistogram's precision.
    assert!((baseline("latency.p95").unwrap() - 1940.0).abs() <= 2.0);
    assert!(stdout.contains("(baseline $0.0030)"), "{stdout}");
}
