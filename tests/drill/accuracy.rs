//! llm-drill's figures against ground truth: the mock server's own `/stats` counts, and
//! the mock's fixed delays (a measured latency can never be below them).

use super::support::{options, outcome, replaced, run, scenario};
use tokio_util::sync::CancellationToken;

const TWO_FEATURES: &str = "name: truth\nseed: 11\nduration: 2s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    mock: { ttft: { mean: 40ms, stddev: 10ms }, tokens_per_second: 400 }\nfeatures:\n  chat:\n    weight: 3\n    endpoint: m\n    stream: true\n    prompt: { system_tokens: 120, user_tokens: { mean: 40, stddev: 10, min: 5 } }\n    output_tokens: { mean: 20, stddev: 5, min: 2 }\n  batch:\n    weight: 1\n    endpoint: m\n    stream: false\n    prompt: { user_tokens: { min: 200, max: 400 } }\n    output_tokens: 8\nload: { arrival: poisson, rate: 25 }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_and_tokens_match_the_mock_servers_own() {
    let (s, _dir) = run(TWO_FEATURES).await;
    let truth = &s.mock_server["m"];
    assert!(s.totals.calls > 20, "{:?}", s.totals);
    assert_eq!(s.totals.calls, truth.requests);
    assert_eq!(s.totals.attempts, truth.requests);
    assert_eq!(outcome(&s, "ok"), truth.by_status[&200]);
    assert_eq!(
        s.totals.input_tokens, truth.prompt_tokens,
        "planned prompts are exact"
    );
    assert_eq!(s.totals.output_tokens, truth.completion_tokens);
    assert_eq!(s.features["chat"].calls, truth.streams_completed);
    assert_eq!(truth.streams_aborted, 0);
    assert_eq!(s.totals.estimated_token_calls, 0);
    assert_eq!(
        s.features["chat"].calls + s.features["batch"].calls,
        s.totals.calls
    );
    // Every gap between stream tokens is one ITL sample: tokens - 1 per streamed answer.
    let streamed_tokens: u64 = s.endpoints["m"].output_tokens - 8 * s.features["batch"].calls;
    assert_eq!(s.itl_ms.count, streamed_tokens - s.features["chat"].calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_never_below_the_servers_fixed_delay() {
    let yaml = "name: floor\nseed: 1\nduration: 1s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    mock: { ttft: 50ms, tokens_per_second: 100, jitter: 0 }\nfeatures:\n  s:\n    endpoint: m\n    stream: true\n    prompt: { user_tokens: 10 }\n    output_tokens: 3\n  n:\n    endpoint: m\n    stream: false\n    prompt: { user_tokens: 10 }\n    output_tokens: 1\nload: { rate: 40 }\n";
    let (s, _dir) = run(yaml).await;
    assert_eq!(s.totals.calls, 40);
    assert_eq!(outcome(&s, "ok"), 40);
    // TTFT >= 50 ms; a 3-token stream lasts >= 50 + 2 * 10 ms; a 1-token answer >= 50 ms.
    assert!(
        s.ttft_ms.p50 >= 50.0 && s.ttft_ms.max >= 50.0,
        "{:?}",
        s.ttft_ms
    );
    assert!(
        s.features["s"].latency_ms.p50 >= 70.0,
        "{:?}",
        s.features["s"].latency_ms
    );
    assert!(
        s.features["n"].latency_ms.p50 >= 50.0,
        "{:?}",
        s.features["n"].latency_ms
    );
    assert!(s.service_time_ms.p50 >= 50.0);
    assert_eq!(s.itl_ms.count, 2 * s.features["s"].calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_writes_partial_results() {
    let sc = scenario(&replaced(TWO_FEATURES, "duration: 2s", "duration: 60s"));
    let stop = CancellationToken::new();
    let s2 = stop.clone();
    tokio::spawn(async move {
        // Long enough for a debug build to get past start-up (tokenizer tables) and make
        // some calls; far shorter than the 60 s schedule.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        s2.cancel();
    });
    let out = llm_drill::run(&options(&sc), stop)
        .await
        .expect("partial results");
    assert!(out.summary.interrupted);
    assert!(!out.summary.passed);
    assert!(
        out.summary.totals.calls > 0 && out.summary.totals.calls < 200,
        "{:?}",
        out.summary.totals
    );
    assert_eq!(
        out.summary.totals.calls,
        out.summary.mock_server["m"].requests
    );
    for f in [
        "summary.json",
        "summary.txt",
        "scenario.yaml",
        "latency.hgrm",
    ] {
        assert!(out.dir.join(f).exists(), "{f} missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_mode_users_on_their_own_threads_match_the_mock() {
    let yaml = replaced(
        TWO_FEATURES,
        "load: { arrival: poisson, rate: 25 }",
        "load: { mode: closed, concurrency: 6 }",
    );
    let (s, _dir) = run(&yaml).await;
    let truth = &s.mock_server["m"];
    assert!(s.totals.calls >= 6, "{:?}", s.totals);
    assert_eq!(s.totals.calls, truth.requests);
    assert_eq!(outcome(&s, "ok"), truth.by_status[&200]);
    assert_eq!(s.totals.input_tokens, truth.prompt_tokens);
    assert_eq!(s.totals.output_tokens, truth.completion_tokens);
    assert_eq!(truth.streams_aborted, 0);
    assert_eq!(s.totals.target_rps, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_time_out_are_never_answers_on_the_mock_either() {
    let yaml = "name: slow\nseed: 1\nduration: 1s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    timeout: 300ms\n    mock: { ttft: 2s }\nfeatures:\n  n:\n    endpoint: m\n    stream: false\n    prompt: { user_tokens: 10 }\n    output_tokens: 1\nload: { rate: 4 }\n";
    let (s, _dir) = run(yaml).await;
    let truth = &s.mock_server["m"];
    assert_eq!(outcome(&s, "timeout"), 4, "{:?}", s.totals.by_outcome);
    assert_eq!(truth.requests, 4);
    assert!(truth.by_status.is_empty(), "{:?}", truth.by_status);
    assert_eq!(truth.completion_tokens, 0);
}
