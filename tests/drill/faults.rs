//! Fault drills on the mock and with client-side injection: outages refused, hung and
//! answered 503; fallback and fail-closed through them; the drill report's figures; and
//! every injected 429, 5xx and cut stream counted exactly as the mock counted it.

use super::support::{outcome, replaced, run};
use llm_drill::report::summary::WindowSummary;
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A primary (West Europe) with `faults` and a fallback (US), both on the mock.
fn drill(policy: &str, faults: &str, retry: &str, secs: u32) -> String {
    format!(
        "name: faults\nseed: 9\nduration: {secs}s\ngraceful_stop: 20s\n{retry}endpoints:\n  primary:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    region: westeurope\n    timeout: 2s\n    fallback_endpoint_ref: backup\n    fallback_policy: {policy}\n    mock: {{ ttft: 20ms, tokens_per_second: 500, jitter: 0 }}\n  backup:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    region: us-east\n    timeout: 2s\n    mock: {{ ttft: 20ms, tokens_per_second: 500, jitter: 0 }}\nfeatures:\n  f:\n    endpoint: primary\n    residency: [westeurope]\n    stream: true\n    prompt: {{ user_tokens: 20 }}\n    output_tokens: 10\nfaults:\n{faults}load: {{ rate: 20 }}\n"
    )
}

fn window(s: &llm_drill::report::Summary) -> &WindowSummary {
    assert_eq!(s.drill.windows.len(), 1, "{:?}", s.drill.windows);
    &s.drill.windows[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_outage_falls_back_without_losing_a_call() {
    let retry = "retry: { max_attempts: 2, backoff: { base: 50ms, max: 200ms } }\n";
    let faults = "  - { endpoint: primary, kind: outage, mode: refuse, from: 1s, until: 3s }\n";
    let (s, _d) = run(&drill("fallback", faults, retry, 4)).await;
    assert_eq!(s.totals.calls, 80);
    assert_eq!(outcome(&s, "ok"), 80, "no call lost: {:?}", s.errors);
    let w = window(&s);
    // Every call the fallback served left the residency area, and only those.
    assert_eq!(s.mock_server["backup"].requests, s.totals.fallbacks);
    assert_eq!(s.totals.residency_violations, s.totals.fallbacks);
    assert!(w.calls.served_by_fallback >= 35, "{w:?}");
    assert_eq!(w.calls.served_by_fallback, w.calls.residency_violations);
    // Failing over takes no longer than a call's retries: 2 attempts, <= 200 ms apart.
    assert!(w.time_to_detect_s.unwrap() < 0.1, "{w:?}");
    assert!(w.time_to_first_fallback_s.unwrap() <= 0.3, "{w:?}");
    // The primary answers again within 1 s of the window's end.
    assert!(w.time_to_recover_s.unwrap() <= 1.0, "{w:?}");
    // What the mock refused is what llm-drill saw fail on the primary.
    let p = &s.endpoints["primary"];
    assert_eq!(p.attempts - p.ok, s.mock_server["primary"].refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refuse_outage_that_cuts_calls_in_flight_is_counted_exactly_by_the_mock() {
    // Whole answers take 400 ms, so the calls sent in the 400 ms before the outage are read by
    // the mock and then refused their answer: llm-drill gets no response (`connect`),
    // the mock has counted the request. `refused_mid_request` is that difference.
    let faults = "  - { endpoint: primary, kind: outage, mode: refuse, from: 1s, until: 2s }\n";
    let yaml = drill("fallback", faults, "", 3)
        .replace("ttft: 20ms", "ttft: 400ms")
        .replace("stream: true", "stream: false");
    let (s, _d) = run(&yaml).await;
    assert_eq!(outcome(&s, "ok"), s.totals.calls, "{:?}", s.errors);
    let p = &s.endpoints["primary"];
    let reached = p.attempts - p.by_outcome.get("connect").copied().unwrap_or(0);
    let m = &s.mock_server["primary"];
    assert!(m.refused_mid_request >= 4, "{m:?}");
    assert!(
        m.refused > m.refused_mid_request,
        "new connections refused too: {m:?}"
    );
    assert_eq!(m.requests - reached, m.refused_mid_request, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_keeps_the_fallback_untouched() {
    let faults = "  - { endpoint: primary, kind: outage, from: 1s, until: 3s }\n";
    let (s, _d) = run(&drill("fail_closed", faults, "", 4)).await;
    assert_eq!(
        s.mock_server["backup"].requests, 0,
        "the fallback is never called"
    );
    let w = window(&s);
    assert_eq!(w.calls.calls, 40);
    assert_eq!((w.calls.failed_closed, w.calls.ok), (40, 0), "{w:?}");
    assert_eq!(s.totals.residency_violations, 0);
    assert_eq!(w.time_to_first_fallback_s, None);
    assert!(outcome(&s, "fail_closed") >= 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_429s_5xx_and_cut_streams_match_the_mocks_counts() {
    let faults = "  - { endpoint: primary, kind: rate_limit, probability: 0.15, retry_after: 1s }\n  - { endpoint: primary, kind: server_error, probability: 0.1, status: 502 }\n  - { endpoint: primary, kind: stream_cut, probability: 0.1, after_tokens: 3 }\n";
    let (s, _d) = run(&drill("fail_closed", faults, "", 4)).await;
    let truth = &s.mock_server["primary"];
    let p = &s.endpoints["primary"];
    let n = |k: &str| p.by_outcome.get(k).copied().unwrap_or(0);
    assert!(
        n("http_429") > 0 && n("http_5xx") > 0 && n("stream_cut") > 0,
        "{:?}",
        p.by_outcome
    );
    assert_eq!(
        n("http_429"),
        truth.by_status.get(&429).copied().unwrap_or(0)
    );
    assert_eq!(
        n("http_5xx"),
        truth.by_status.get(&502).copied().unwrap_or(0)
    );
    assert_eq!(n("stream_cut"), truth.streams_cut);
    assert_eq!(n("ok"), truth.streams_completed);
    // Cut streams were billed for the tokens they carried: 3 each.
    assert_eq!(truth.completion_tokens, 10 * n("ok") + 3 * n("stream_cut"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_whole_answer_reaches_the_client_as_a_cut_not_as_no_response() {
    // The mock sends half of a whole answer, then breaks off: the client must read the
    // half (a `stream_cut`), not find the connection closed before any response (which
    // it would call `connect`, and the mock's counts would not match).
    let faults = "  - { endpoint: primary, kind: stream_cut, probability: 0.3 }\n";
    let yaml = drill("fail_closed", faults, "retry: { max_attempts: 1 }\n", 2)
        .replace("stream: true", "stream: false");
    let (s, _d) = run(&yaml).await;
    let truth = &s.mock_server["primary"];
    let p = &s.endpoints["primary"];
    let n = |k: &str| p.by_outcome.get(k).copied().unwrap_or(0);
    assert!(truth.streams_cut >= 3, "{truth:?}");
    assert_eq!(n("stream_cut"), truth.streams_cut, "{:?}", p.by_outcome);
    assert_eq!(n("connect"), 0, "{:?}", s.errors);
    assert_eq!(n("ok") + n("stream_cut"), truth.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_endpoints_are_cut_at_their_timeout_and_the_run_ends_on_time() {
    let faults = "  - { endpoint: primary, kind: outage, mode: hang }\n  - { endpoint: backup, kind: outage, mode: hang }\n";
    let began = Instant::now();
    let (s, _d) = run(&drill("fallback", faults, "", 1)).await;
    let took = began.elapsed();
    // 20 calls, each 2 s on the primary and 2 s on the fallback, all timed out.
    assert_eq!(outcome(&s, "timeout"), 20, "{:?}", s.totals.by_outcome);
    assert!(
        s.error_latency_ms.max <= 4_300.0,
        "{:?}",
        s.error_latency_ms
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_a_real_endpoint_are_injected_and_send_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let yaml = format!(
        "name: inject\nseed: 2\nduration: 1s\nendpoints:\n  e:\n    provider: openai\n    base_url: {}\n    model_name: gpt-4o\n    timeout: 2s\nfeatures:\n  f:\n    endpoint: e\n    stream: false\n    prompt: {{ user_tokens: 5 }}\n    output_tokens: 2\nfaults:\n  - {{ endpoint: e, kind: outage, mode: refuse, until: 500ms }}\n  - {{ endpoint: e, kind: rate_limit, from: 500ms, until: 800ms }}\n  - {{ endpoint: e, kind: stream_cut, from: 800ms }}\nload: {{ rate: 10 }}\n",
        server.uri()
    );
    let (s, _d) = run(&yaml).await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        0,
        "nothing was sent"
    );
    let e = &s.endpoints["e"];
    assert_eq!((e.attempts, e.injected), (10, 10));
    assert_eq!(
        (
            outcome(&s, "connect"),
            outcome(&s, "http_429"),
            outcome(&s, "stream_cut")
        ),
        (5, 3, 2)
    );
    assert!(
        s.errors
            .iter()
            .all(|x| x.message.contains("nothing was sent")),
        "{:?}",
        s.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_latency_deprecation_and_the_rate_limiter_act_on_the_mock() {
    // 300 ms more before the first token on every call in the first second; the model is
    // gone from 2 s on; 20 calls a second against a limit of 60 a minute.
    let faults = "  - { endpoint: primary, kind: latency, add: 300ms, until: 1s }\n  - { endpoint: primary, kind: deprecated, status: 410, from: 2s }\n";
    let yaml = replaced(
        &drill("fail_closed", faults, "", 3),
        "    mock: { ttft: 20ms, tokens_per_second: 500, jitter: 0 }\n  backup:",
        "    mock: { ttft: 20ms, tokens_per_second: 500, jitter: 0, rate_limit: { rpm: 60 } }\n  backup:",
    );
    let (s, _d) = run(&yaml).await;
    let truth = &s.mock_server["primary"];
    let turns = &s.features["f"].turns[0];
    // The slow second: TTFT at least 20 + 300 ms.
    assert!(turns.ttft_ms.max >= 320.0, "{:?}", turns.ttft_ms);
    assert_eq!(truth.faults["latency"], 20);
    // From 2 s on: 410 model_not_found, a 4xx that is neither retried nor hidden.
    let p = &s.endpoints["primary"];
    assert_eq!(p.by_outcome["http_4xx"], 20);
    assert_eq!(truth.by_status[&410], 20);
    assert!(
        s.errors
            .iter()
            .any(|e| e.message.contains("model_not_found") || e.message.contains("deprecated")),
        "{:?}",
        s.errors
    );
    // The bucket holds 60 requests: the first 40 calls pass, none is limited.
    assert_eq!(truth.faults.get("rate_limiter").copied().unwrap_or(0), 0);
    let (s, _d) = run(&replaced(&yaml, "rpm: 60", "rpm: 10")).await;
    let limited = s.mock_server["primary"].faults["rate_limiter"];
    assert_eq!(limited, 30, "40 calls before 2 s, 10 admitted");
    assert_eq!(s.endpoints["primary"].by_outcome["http_429"], limited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_sends_calls_straight_to_the_fallback_until_a_probe_succeeds() {
    // 503s from 1 s to 3 s; the breaker opens after 3 failures within 1 s and probes
    // every 500 ms.
    let faults = "  - { endpoint: primary, kind: outage, mode: 503, from: 1s, until: 3s }\n";
    let yaml = replaced(
        &drill("fallback", faults, "", 5),
        "    fallback_policy: fallback\n",
        "    fallback_policy: fallback\n    circuit_breaker: { failures: 3, window: 1s, cooldown: 500ms }\n",
    );
    let (s, _d) = run(&yaml).await;
    assert_eq!(outcome(&s, "ok"), 100, "no call lost: {:?}", s.errors);
    let w = window(&s);
    let opened = w.time_to_breaker_open_s.expect("the breaker opened");
    assert!(opened < 0.3, "{w:?}");
    // While open, calls skip the primary: of the 40 calls in the window only the first
    // three and a probe every 500 ms reached it.
    let truth = &s.mock_server["primary"];
    let in_window_503 = truth.by_status[&503];
    assert!(
        (3..=8).contains(&in_window_503),
        "{in_window_503} 503s reached the primary"
    );
    assert_eq!(
        (w.calls.calls, w.calls.served_by_fallback),
        (40, 40),
        "{w:?}"
    );
    // The first probe after the window (within a cooldown) closes the breaker; until
    // then calls still skip the primary.
    let recovered = w.time_to_recover_s.unwrap();
    assert!(recovered <= 0.55, "{w:?}");
    let backup = s.mock_server["backup"].requests;
    assert!((40..=40 + 11).contains(&backup), "{backup}");
}
