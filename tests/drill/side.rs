//! Side by side (issue 15): the same traffic to two endpoints in one run. In `mirror`
//! each call goes to both at the same intended start and the copies are paired; a
//! known 10 ms added on one side is what the paired difference reports, and every
//! count equals the mocks' own. In `alternate` identical endpoints differ by noise.

use super::support::run;
use mock_server::{LatencyModel, MockConfig, Spread};
use std::time::Duration;

fn paced(extra_ms: u64) -> MockConfig {
    MockConfig {
        latency: LatencyModel {
            ttft: Spread::fixed(Duration::from_millis(30 + extra_ms)),
            tokens_per_second: 1000.0,
            jitter: 0.0,
            prefill_tokens_per_second: 0.0,
        },
        ..MockConfig::default()
    }
}

fn yaml(a: &str, b: &str, mode: &str, rate: u32, b_extra: &str) -> String {
    format!(
        "name: sbs\nseed: 3\nduration: 3s\nendpoints:\n  direct: {{ provider: openai, base_url: {a}, model_name: gpt-4o-mini, timeout: 10s }}\n  gateway: {{ provider: openai, base_url: {b}, model_name: gpt-4o-mini, timeout: 10s{b_extra} }}\nfeatures:\n  chat:\n    endpoint: direct\n    stream: true\n    prompt: {{ user_tokens: 40 }}\n    output_tokens: 20\nload: {{ rate: {rate} }}\nside_by_side: {{ endpoints: [direct, gateway], mode: {mode} }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_pairs_every_call_and_reports_a_known_10_ms_as_its_difference() {
    // The second mock takes exactly 10 ms longer to its first token.
    let a = mock_server::spawn(paced(0)).await.unwrap();
    let b = mock_server::spawn(paced(10)).await.unwrap();
    let (s, _d) = run(&yaml(&a.base_url(), &b.base_url(), "mirror", 50, "")).await;
    let (ta, tb) = (a.stats(), b.stats());
    a.shutdown().await;
    b.shutdown().await;
    // 150 arrivals, each sent to both: each endpoint's requests equal the calls, and
    // each mock counted what llm-drill counted.
    assert_eq!(s.totals.calls, 300);
    assert_eq!((ta.requests, tb.requests), (150, 150));
    assert_eq!(s.endpoints["direct"].attempts, ta.requests);
    assert_eq!(s.endpoints["gateway"].attempts, tb.requests);
    assert_eq!(ta.prompt_tokens, tb.prompt_tokens, "the same bodies");
    let x = s.side_by_side.as_ref().expect("a side_by_side section");
    let p = &x.pairs["gateway"];
    assert_eq!((p.calls, p.against_calls, p.paired_calls), (150, 150, 150));
    let (p50, p99) = (p.latency_ms.p50.unwrap(), p.latency_ms.p99.unwrap());
    assert!((p50 - 10.0).abs() <= 1.0, "paired p50 {p50} ms");
    // The tail is the machine's scheduling as much as the mock's: its bound (within 3
    // ms) is measured by `benches/loadgen.sh side`, not asserted on a shared machine.
    assert!(p99 >= p50, "paired p99 {p99} ms, p50 {p50} ms");
    assert!(
        (p.ttft_ms.p50.unwrap() - 10.0).abs() <= 1.0,
        "{:?}",
        p.ttft_ms
    );
    assert!(p.slower_share.unwrap() > 0.95, "{:?}", p.slower_share);
    assert_eq!(p.prompt_tokens_ratio, Some(1.0));
    assert!(
        p.sentence.starts_with("through `gateway`: +"),
        "{}",
        p.sentence
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternate_splits_the_calls_and_identical_endpoints_differ_by_noise() {
    let a = mock_server::spawn(paced(0)).await.unwrap();
    let b = mock_server::spawn(paced(0)).await.unwrap();
    let (s, _d) = run(&yaml(&a.base_url(), &b.base_url(), "alternate", 200, "")).await;
    let (ta, tb) = (a.stats(), b.stats());
    a.shutdown().await;
    b.shutdown().await;
    assert_eq!(s.totals.calls, 600);
    assert_eq!(ta.requests + tb.requests, 600);
    assert_eq!(
        (ta.requests, tb.requests),
        (300, 300),
        "consecutive calls in turn"
    );
    let p = &s.side_by_side.as_ref().unwrap().pairs["gateway"];
    assert_eq!(p.paired_calls, 0);
    let d = p.latency_ms.p50.unwrap();
    assert!(d.abs() < 1.0, "identical endpoints: p50 differs by {d} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tokenizer_shows_as_the_exact_prompt_token_ratio() {
    // The same prompts, counted by the second endpoint with cl100k instead of o200k.
    let a = mock_server::spawn(paced(0)).await.unwrap();
    let b = mock_server::spawn(paced(0)).await.unwrap();
    let (s, _d) = run(&yaml(
        &a.base_url(),
        &b.base_url(),
        "mirror",
        20,
        ", tokenizer: cl100k_base",
    ))
    .await;
    let (ta, tb) = (a.stats(), b.stats());
    a.shutdown().await;
    b.shutdown().await;
    let p = &s.side_by_side.as_ref().unwrap().pairs["gateway"];
    let exact = tb.prompt_tokens as f64 / ta.prompt_tokens as f64;
    assert!(
        (p.prompt_tokens_ratio.unwrap() - exact).abs() < 1e-4,
        "{:?} against the mocks' {exact}",
        p.prompt_tokens_ratio
    );
}

#[test]
fn a_side_by_side_that_cannot_be_is_a_located_error() {
    let s = super::support::scenario("placeholder");
    let check = |yaml: &str, says: &str| {
        std::fs::write(&s.path, yaml).unwrap();
        let (code, _, err) = super::support::llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(says), "expected `{says}`: {err}");
    };
    let ok = yaml("mock", "mock", "mirror", 5, "");
    check(
        &ok.replace("[direct, gateway]", "[direct]"),
        "side_by_side.endpoints: needs two or more",
    );
    check(
        &ok.replace("[direct, gateway]", "[direct, gatway]"),
        "did you mean `gateway`",
    );
    check(
        &ok.replace("endpoint: direct", "endpoint: gateway"),
        "features.chat.endpoint: names `gateway`",
    );
    check(
        &ok.replace(
            "load: { rate: 5 }",
            "load: { mode: closed, concurrency: 2 }",
        ),
        "side_by_side.mode: mirror sends",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_on_the_differences_pass_and_fail_as_written_with_junit_cases() {
    let a = mock_server::spawn(paced(0)).await.unwrap();
    let b = mock_server::spawn(paced(10)).await.unwrap();
    let text = yaml(&a.base_url(), &b.base_url(), "mirror", 20, "")
        + "thresholds:\n  - side_by_side:gateway latency.p50 < +15ms\n  - side_by_side:gateway latency.p50 < +5ms\n  - side_by_side:gateway error_rate < +0.5pp\n  - side_by_side:gateway ttft.p99 > -1ms\n";
    let (s, d) = run(&text).await;
    a.shutdown().await;
    b.shutdown().await;
    let held: Vec<(String, bool)> = s
        .thresholds
        .iter()
        .map(|t| (t.expr.clone(), t.ok))
        .collect();
    assert_eq!(
        held,
        vec![
            ("side_by_side:gateway latency.p50 < +15ms".into(), true),
            ("side_by_side:gateway latency.p50 < +5ms".into(), false),
            ("side_by_side:gateway error_rate < +0.5pp".into(), true),
            ("side_by_side:gateway ttft.p99 > -1ms".into(), true),
        ]
    );
    assert!(!s.passed);
    let junit = std::fs::read_to_string(d.dir.path().join("results/junit.xml")).unwrap();
    assert!(
        junit.contains("side_by_side:gateway latency.p50 &lt; +5ms"),
        "{junit}"
    );
    assert_eq!(junit.matches("<failure").count(), 1, "{junit}");
}
