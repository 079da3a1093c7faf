//! Misbehaving endpoints: each failure is classified into its outcome, counted once per
//! request the server saw, and the run still completes.

use super::support::{outcome, replaced, run, simple};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_answering(t: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(t)
        .mount(&server)
        .await;
    server
}

fn sse(events: &[&str]) -> ResponseTemplate {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

const ROLE: &str =
    r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
const TOKEN: &str =
    r#"{"choices":[{"index":0,"delta":{"content":" hello"},"finish_reason":null}]}"#;
const FINISH: &str = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;

/// Runs 4 calls (4/s for 1 s) and checks that all of them ended as `expected`, and that
/// the server saw exactly that many requests.
async fn expect_all(
    server: &MockServer,
    stream: bool,
    timeout: &str,
    expected: &str,
) -> llm_drill::report::Summary {
    let (summary, _dir) = run(&simple(&server.uri(), stream, timeout, 4, 1)).await;
    assert_eq!(summary.totals.calls, 4, "{:?}", summary.totals);
    assert_eq!(
        outcome(&summary, expected),
        4,
        "{:?} errors {:?}",
        summary.totals.by_outcome,
        summary.errors
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
    summary
}

#[tokio::test]
async fn invalid_json_is_a_protocol_error() {
    let server = server_answering(
        ResponseTemplate::new(200).set_body_raw("{\"choices\": [", "application/json"),
    )
    .await;
    expect_all(&server, false, "5s", "protocol").await;
}

#[tokio::test]
async fn invalid_json_inside_a_stream_is_a_protocol_error() {
    let server = server_answering(sse(&[ROLE, TOKEN, "{not json at all", FINISH, "[DONE]"])).await;
    expect_all(&server, true, "5s", "protocol").await;
}

#[tokio::test]
async fn a_truncated_stream_is_a_stream_cut() {
    let server = server_answering(sse(&[ROLE, TOKEN, TOKEN])).await;
    let s = expect_all(&server, true, "5s", "stream_cut").await;
    assert!(
        s.errors
            .iter()
            .any(|e| e.message.contains("after 2 deltas")),
        "{:?}",
        s.errors
    );
}

#[tokio::test]
async fn a_whole_stream_is_ok_and_counts_tokens_when_usage_is_missing() {
    let server = server_answering(sse(&[ROLE, TOKEN, TOKEN, TOKEN, FINISH, "[DONE]"])).await;
    let s = expect_all(&server, true, "5s", "ok").await;
    // Three " hello" deltas: 3 tokens, counted by llm-drill and flagged as such.
    assert_eq!(s.totals.output_tokens, 12);
    assert_eq!(s.totals.estimated_token_calls, 4);
    assert_eq!(s.itl_ms.count, 8);
    assert_eq!(s.ttft_ms.count, 4);
}

#[tokio::test]
async fn not_found_is_http_4xx() {
    let server = MockServer::start().await;
    expect_all(&server, false, "5s", "http_4xx").await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_classified() {
    let server = server_answering(
        ResponseTemplate::new(429).set_body_string("{\"error\":{\"message\":\"slow down\"}}"),
    )
    .await;
    let s = expect_all(&server, true, "5s", "http_429").await;
    assert_eq!(s.endpoints["e"].rate_429, Some(1.0));
    let server = server_answering(ResponseTemplate::new(503)).await;
    expect_all(&server, false, "5s", "http_5xx").await;
}

#[tokio::test]
async fn a_refused_connection_is_connect() {
    // Bind a port, then free it: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (s, _dir) = run(&simple(
        &format!("http://127.0.0.1:{port}"),
        false,
        "5s",
        4,
        1,
    ))
    .await;
    assert_eq!(outcome(&s, "connect"), 4, "{:?}", s.errors);
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_a_timeout() {
    let server = server_answering(sse(&[ROLE, TOKEN]).set_delay(Duration::from_secs(5))).await;
    let s = expect_all(&server, true, "300ms", "timeout").await;
    // The failed calls took the timeout, not the server's 5 s.
    assert!(s.error_latency_ms.max < 2000.0, "{:?}", s.error_latency_ms);
}

#[tokio::test]
async fn a_50_mb_body_is_refused_without_reading_it_all() {
    let body = vec![b'x'; 50 << 20];
    let server =
        server_answering(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
    let s = expect_all(&server, false, "20s", "protocol").await;
    assert!(
        s.errors.iter().any(|e| e.message.contains("larger than")),
        "{:?}",
        s.errors
    );
}

#[tokio::test]
async fn a_bearer_credential_is_sent_from_its_environment_variable() {
    std::env::set_var("LLM_DRILL_TEST_BEARER", "test-token-123");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer test-token-123"))
        .respond_with(sse(&[ROLE, TOKEN, FINISH, "[DONE]"]))
        .mount(&server)
        .await;
    let yaml = replaced(
        &simple(&server.uri(), true, "5s", 4, 1),
        "    model_name: gpt-4o-mini\n",
        "    model_name: gpt-4o-mini\n    auth_type: bearer\n    credential_ref: env:LLM_DRILL_TEST_BEARER\n",
    );
    let (s, dir) = run(&yaml).await;
    assert_eq!(outcome(&s, "ok"), 4, "{:?}", s.errors);
    for entry in std::fs::read_dir(dir.dir.path().join("results")).unwrap() {
        let text = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains("test-token-123"));
    }
}

#[tokio::test]
async fn a_tls_handshake_failure_is_tls_not_connect() {
    // wiremock speaks plain HTTP: an https URL to it fails in the TLS handshake, which
    // issue 12 classifies as `tls` (it used to be a bare `connect`).
    let server = MockServer::start().await;
    let url = replaced(&server.uri(), "http://", "https://");
    let (s, _dir) = run(&simple(&url, false, "5s", 4, 1)).await;
    assert_eq!(outcome(&s, "tls"), 4, "{:?}", s.errors);
    assert!(
        s.errors.iter().any(|e| e.message.contains("TLS handshake")),
        "{:?}",
        s.errors
    );
}

#[tokio::test]
async fn an_endpoint_counting_prompts_differently_shows_in_the_ratio() {
    // The plan: system 20 + user 30 tokens, framed by OpenAI's recipe (3 + 1 role token
    // per message, 3 to prime the reply) = 61. This endpoint says 122: twice the plan.
    let body = r#"{"choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":122,"completion_tokens":1}}"#;
    let server =
        server_answering(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
    let s = expect_all(&server, false, "5s", "ok").await;
    assert_eq!(s.totals.planned_input_tokens, 4 * 61);
    assert_eq!(s.totals.input_tokens, 4 * 122);
    assert_eq!(s.totals.input_token_ratio, Some(2.0));
}

#[tokio::test]
async fn the_servers_own_timing_headers_become_per_endpoint_histograms() {
    // A gateway in front of a model, each saying what it took.
    let server = server_answering(
        sse(&[ROLE, TOKEN, FINISH, "[DONE]"])
            .insert_header("openai-processing-ms", "123")
            .insert_header("x-litellm-overhead-duration-ms", "2.4")
            .insert_header("x-envoy-upstream-service-time", "45")
            .insert_header("server-timing", "upstream;dur=12.5, gw;desc=\"x\";dur=2"),
    )
    .await;
    let s = expect_all(&server, true, "5s", "ok").await;
    let t = &s.endpoints["e"].server_timing_ms;
    let got: Vec<(&str, u64, f64)> = t
        .iter()
        .map(|(k, p)| (k.as_str(), p.count, p.p50))
        .collect();
    // Each within HdrHistogram's three significant digits of the header's value.
    let want = [
        ("openai-processing-ms", 123.0),
        ("server-timing", 14.5),
        ("x-envoy-upstream-service-time", 45.0),
        ("x-litellm-overhead-duration-ms", 2.4),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((name, count, p50), (w_name, w)) in got.iter().zip(want) {
        assert_eq!((*name, *count), (w_name, 4));
        assert!(
            (p50 - w).abs() <= w * 0.001 + 1e-9,
            "{name}: {p50} against {w}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mocks_processing_time_is_reported_as_the_mock_counted_it() {
    let h = mock_server::spawn(mock_server::MockConfig::default())
        .await
        .unwrap();
    let (s, _dir) = run(&simple(&h.base_url(), false, "10s", 20, 1)).await;
    let truth = h.stats();
    h.shutdown().await;
    let p = &s.endpoints["e"].server_timing_ms["openai-processing-ms"];
    assert_eq!((p.count, truth.processing_reported), (20, 20));
    let mean = truth.processing_ms_sum / truth.processing_reported as f64;
    // Non-streamed: the whole answer's time, which the latency contains.
    assert!(
        (p.mean - mean).abs() <= mean * 0.002 + 0.01,
        "{} against {mean}",
        p.mean
    );
    assert!(p.max <= s.latency_ms.max, "{p:?} {:?}", s.latency_ms);
}
