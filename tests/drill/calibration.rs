//! Calibration: probes fit an endpoint's own prompt-token count (another tokenizer, a
//! chat template's tokens per message), the run then plans prompts that the endpoint
//! counts at the scenario's sizes, and the probes stay apart from every figure — checked
//! against the mock's `/stats`, which counts them all.

use super::support::{run, scenario, BIN};

/// Planned with o200k_base; the mock counts with cl100k_base and a template of 7 tokens
/// per message, as a self-hosted model behind a chat template might.
fn yaml(calibrate: bool) -> String {
    format!(
        "name: calibration\nseed: 3\nduration: 2s\nendpoints:\n  llama:\n    provider: openai\n    base_url: mock\n    model_name: llama-3.1-70b\n    tokenizer: o200k_base\n    calibrate: {calibrate}\n    price: {{ input_per_mtok: 1, output_per_mtok: 2 }}\n    mock: {{ ttft: 5ms, tokens_per_second: 2000, jitter: 0, tokenizer: cl100k_base, template_tokens_per_message: 7 }}\nfeatures:\n  rag:\n    endpoint: llama\n    session: {{ turns: 3 }}\n    prompt: {{ system_tokens: 120, context_tokens: 200, user_tokens: 30 }}\n    output_tokens: 20\nload: {{ rate: 5 }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_makes_the_endpoint_count_the_scenario_sizes() {
    // Without it, the template's tokens show as a ratio well over 1.
    let (s, _d) = run(&yaml(false)).await;
    let before = s.totals.input_token_ratio.unwrap();
    assert!(before > 1.04, "{before}");
    assert!(s.endpoints["llama"].calibration.is_none());

    let (s, d) = run(&yaml(true)).await;
    let c = s.endpoints["llama"]
        .calibration
        .clone()
        .expect("calibrated");
    assert_eq!(c.probes, 6);
    // 3 framing + 1 role + 7 template tokens a message; 3 priming tokens a call;
    // cl100k counts English within a few per cent of o200k.
    assert!((c.per_message - 11.0).abs() < 1.5, "{c:?}");
    assert!((c.per_call - 3.0).abs() < 3.0, "{c:?}");
    assert!((c.ratio - 1.0).abs() < 0.05, "{c:?}");
    let achieved = s.totals.input_token_ratio.unwrap();
    assert!(
        (achieved - 1.0).abs() <= 0.02,
        "achieved {achieved}, before {before}"
    );
    assert_eq!(s.endpoints["llama"].input_token_ratio, Some(achieved));
    // The probes are the mock's requests and tokens beyond the run's, exactly.
    let truth = &s.mock_server["llama"];
    assert_eq!(truth.requests, s.totals.attempts + 6);
    assert_eq!(
        truth.prompt_tokens,
        s.totals.input_tokens + c.probe_input_tokens
    );
    assert_eq!(
        truth.completion_tokens,
        s.totals.output_tokens + c.probe_output_tokens
    );
    assert_eq!(c.probe_output_tokens, 6, "one token a probe");
    let priced = (c.probe_input_tokens as f64 + 2.0 * c.probe_output_tokens as f64) / 1e6;
    assert!((c.probe_cost_usd - priced).abs() < 1e-9, "{c:?}");
    // Said where a reader looks.
    let md = std::fs::read_to_string(d.dir.path().join("results/summary.md")).unwrap();
    assert!(md.contains("calibrated by 6 probes"), "{md}");
}

#[test]
fn the_calibrate_command_prints_the_fit_and_fails_in_one_line() {
    let s = scenario(&yaml(false));
    let out = std::process::Command::new(BIN)
        .arg("calibrate")
        .arg(&s.path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("endpoint llama: it counts ")
            && stdout.contains("(o200k_base)")
            && stdout.contains("per message — 6 probes"),
        "{stdout}"
    );
    // The mock wants a key the endpoint does not send: the first probe is refused.
    let key = s.dir.path().join("key");
    std::fs::write(&key, "the-mocks-key").unwrap();
    let locked = scenario(&yaml(false).replace(
        "template_tokens_per_message: 7 }",
        &format!(
            "template_tokens_per_message: 7, auth: {{ keys: [{{ key_ref: file:{} }}] }} }}",
            key.display()
        ),
    ));
    let out = std::process::Command::new(BIN)
        .arg("calibrate")
        .arg(&locked.path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr
            .contains("endpoint `llama`: cannot calibrate: calibration probe 1 of 6 failed (auth)"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
