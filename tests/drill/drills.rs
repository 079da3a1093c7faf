//! Retries and fallback against wiremock endpoints: the retry policy and `retry-after`,
//! fallback chains that keep calls alive (and count residency violations), and
//! fail-closed endpoints whose fallback never sees a request.

use super::support::{outcome, run};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const OK: &str = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;

pub fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(OK, "application/json")
}

pub async fn server(first: Option<(ResponseTemplate, u64)>, then: ResponseTemplate) -> MockServer {
    let s = MockServer::start().await;
    if let Some((t, n)) = first {
        Mock::given(method("POST"))
            .respond_with(t)
            .up_to_n_times(n)
            .with_priority(1)
            .mount(&s)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(then)
        .with_priority(2)
        .mount(&s)
        .await;
    s
}

async fn requests(s: &MockServer) -> u64 {
    s.received_requests().await.unwrap().len() as u64
}

/// `calls` calls (at 4/s) of one feature on endpoint `p`, whose fallback is `b`.
pub fn drill(primary: &str, backup: &str, p_extra: &str, retry: &str, calls: u32) -> String {
    format!(
        "name: drill\nseed: 1\nduration: {}ms\ngraceful_stop: 30s\n{retry}endpoints:\n  p:\n    provider: openai\n    base_url: {primary}\n    model_name: gpt-4o\n    region: westeurope\n    timeout: 5s\n    fallback_endpoint_ref: b\n{p_extra}  b:\n    provider: openai\n    base_url: {backup}\n    model_name: gpt-4o-mini\n    region: us-east\n    timeout: 5s\nfeatures:\n  f:\n    endpoint: p\n    stream: false\n    residency: [westeurope, northeurope]\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 4 }}\n",
        calls * 250
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_ms_is_honoured_before_retry_after() {
    // Two 429s asking for 300 ms (and, in seconds, 5 s), then an answer.
    let limited = ResponseTemplate::new(429)
        .insert_header("retry-after-ms", "300")
        .insert_header("retry-after", "5")
        .set_body_raw(
            r#"{"error":{"code":"429","message":"rate limited"}}"#,
            "application/json",
        );
    let p = server(Some((limited, 2)), ok()).await;
    let b = server(None, ok()).await;
    let retry =
        "retry: { max_attempts: 3, backoff: { base: 10ms, max: 2s }, honor_retry_after: true }\n";
    let (s, _d) = run(&drill(&p.uri(), &b.uri(), "", retry, 1)).await;
    assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
    assert_eq!(
        (s.totals.attempts, s.totals.retries, s.totals.fallbacks),
        (3, 2, 0)
    );
    assert_eq!(s.endpoints["p"].by_outcome["http_429"], 2);
    // The call waited 2 x 300 ms between its attempts: retry-after-ms, not 5 s.
    let latency = s.latency_ms.max;
    assert!((600.0..2000.0).contains(&latency), "{latency} ms");
    assert_eq!((requests(&p).await, requests(&b).await), (3, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_in_seconds_is_waited_and_capped_by_max() {
    let limited = ResponseTemplate::new(429)
        .insert_header("retry-after", "1")
        .set_body_raw(r#"{"error":{"message":"slow down"}}"#, "application/json");
    let p = server(Some((limited, 1)), ok()).await;
    let b = server(None, ok()).await;
    let retry = "retry: { max_attempts: 2, backoff: { base: 10ms, max: 5s } }\n";
    let (s, _d) = run(&drill(&p.uri(), &b.uri(), "", retry, 1)).await;
    assert_eq!(
        (outcome(&s, "ok"), s.totals.attempts),
        (1, 2),
        "{:?}",
        s.errors
    );
    assert!(s.latency_ms.max >= 1000.0, "{:?}", s.latency_ms);
    // Capped: with max 200ms the same header waits 200 ms.
    let p = server(
        Some((
            ResponseTemplate::new(429).insert_header("retry-after", "30"),
            1,
        )),
        ok(),
    )
    .await;
    let retry = "retry: { max_attempts: 2, backoff: { base: 10ms, max: 200ms } }\n";
    let (s, _d) = run(&drill(&p.uri(), &b.uri(), "", retry, 1)).await;
    assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
    assert!(
        (200.0..1500.0).contains(&s.latency_ms.max),
        "{:?}",
        s.latency_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_up_quota_is_not_retried() {
    let quota = ResponseTemplate::new(429).set_body_raw(
        r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        "application/json",
    );
    let p = server(None, quota).await;
    let b = server(None, ok()).await;
    let retry = "retry: { max_attempts: 3, backoff: { base: 10ms, max: 50ms } }\n";
    let (s, _d) = run(&drill(
        &p.uri(),
        &b.uri(),
        "    fallback_policy: fail_closed\n",
        retry,
        2,
    ))
    .await;
    assert_eq!(requests(&p).await, 2, "one attempt per call");
    assert_eq!(outcome(&s, "fail_closed"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_primary_falls_back_and_residency_is_counted() {
    let p = server(
        None,
        ResponseTemplate::new(503).set_body_raw("busy", "text/plain"),
    )
    .await;
    let b = server(None, ok()).await;
    let retry = "retry: { max_attempts: 2, backoff: { base: 5ms, max: 20ms } }\n";
    let (s, _d) = run(&drill(&p.uri(), &b.uri(), "", retry, 4)).await;
    // No call is lost: each used its 2 attempts on p, then was served by b.
    assert_eq!(outcome(&s, "ok"), 4, "{:?}", s.errors);
    assert_eq!((requests(&p).await, requests(&b).await), (8, 4));
    assert_eq!(
        (s.totals.attempts, s.totals.retries, s.totals.fallbacks),
        (12, 4, 4)
    );
    assert_eq!(s.endpoints["p"].attempts, 8);
    assert_eq!(s.endpoints["p"].by_outcome["http_5xx"], 8);
    assert_eq!((s.endpoints["b"].attempts, s.endpoints["b"].ok), (4, 4));
    // Served in us-east for a feature bound to Europe: every one is a violation.
    assert_eq!(s.totals.residency_violations, 4);
    assert_eq!(s.features["f"].residency_violations, 4);
    assert_eq!(s.endpoints["b"].residency_violations, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_never_reaches_the_fallback() {
    let p = server(None, ResponseTemplate::new(503)).await;
    let b = server(None, ok()).await;
    let retry = "retry: { max_attempts: 2, backoff: { base: 5ms, max: 20ms } }\n";
    let (s, _d) = run(&drill(
        &p.uri(),
        &b.uri(),
        "    fallback_policy: fail_closed\n",
        retry,
        4,
    ))
    .await;
    assert_eq!(outcome(&s, "fail_closed"), 4, "{:?}", s.totals.by_outcome);
    assert_eq!(requests(&b).await, 0, "the fallback never sees a request");
    assert_eq!(requests(&p).await, 8);
    assert_eq!(s.totals.residency_violations, 0);
    assert!(
        s.errors[0].message.contains("fail_closed"),
        "{:?}",
        s.errors
    );
}
