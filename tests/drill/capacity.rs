//! Capacity (issue 13): goodput against per-call limits, the mock's continuous-batching
//! capacity model, and `llm-drill capacity` finding what it sustains. Every figure is
//! checked against the mock's own counts or against arithmetic done by hand.

use super::support::{outcome, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goodput_leaves_out_exactly_the_calls_a_latency_fault_slowed() {
    // 50 ms answers; a fifth of them 400 ms late. Goodput's limit: 300 ms.
    let yaml = "name: goodput\nseed: 4\nduration: 3s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    mock: { ttft: 50ms, tokens_per_second: 1000, jitter: 0 }\nfeatures:\n  f:\n    endpoint: m\n    stream: true\n    prompt: { user_tokens: 10 }\n    output_tokens: 5\nfaults:\n  - { endpoint: m, kind: latency, probability: 0.2, add: 400ms }\nload: { rate: 40 }\ngoodput: { latency: 300ms }\nthresholds:\n  - goodput > 20/s\n";
    let (s, _d) = run(yaml).await;
    let slowed = s.mock_server["m"].faults["latency"];
    assert_eq!((s.totals.calls, outcome(&s, "ok")), (120, 120));
    assert!((10..=40).contains(&slowed), "{slowed}");
    assert_eq!(s.totals.goodput_calls, Some(120 - slowed));
    let expected = (120 - slowed) as f64 / s.duration_s;
    assert!((s.totals.goodput_rps.unwrap() - expected).abs() < 0.01);
    assert_eq!(s.features["f"].goodput_rps, s.totals.goodput_rps);
    assert!(s.thresholds[0].ok, "{:?}", s.thresholds);
}
