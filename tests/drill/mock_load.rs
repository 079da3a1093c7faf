//! The mock under load (issue 20): it accepts a burst of connections at once, says how
//! late it emitted against its own latency model, and a run whose embedded mock could not
//! keep up is warned that the mock shaped its timings.

use super::support::{run, simple};
use std::time::Duration;

/// A mock with a fixed time to first token and no jitter.
fn exact(ttft_ms: u64, tokens_per_second: f64) -> mock_server::MockConfig {
    mock_server::MockConfig {
        latency: mock_server::LatencyModel {
            ttft: mock_server::Spread::fixed(Duration::from_millis(ttft_ms)),
            tokens_per_second,
            jitter: 0.0,
            prefill_tokens_per_second: 0.0,
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starved_mock_reports_its_lag_and_the_summary_warns() {
    // 400 streams of 200 tokens at 5,000 tokens/s each: two million tokens a second asked
    // of the embedded mock's one thread, far beyond what it can write.
    let yaml = "name: starved\nseed: 3\nduration: 2s\ngraceful_stop: 30s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    timeout: 60s\n    mock: { ttft: 1ms, tokens_per_second: 5000, jitter: 0 }\nfeatures:\n  f:\n    endpoint: m\n    stream: true\n    prompt: { user_tokens: 10 }\n    output_tokens: 200\nload: { mode: closed, concurrency: 400 }\n";
    let (s, dir) = run(yaml).await;
    let m = &s.mock_server["m"];
    assert!(m.streams_completed > 0, "{m:?}");
    // Every token of every completed stream, and every first token, was measured.
    assert!(
        m.emit_lag_ms.count >= m.completion_tokens,
        "{} emissions for {} tokens",
        m.emit_lag_ms.count,
        m.completion_tokens
    );
    assert!(m.emit_lag_ms.p99 > 5.0, "{:?}", m.emit_lag_ms);
    let text =
        std::fs::read_to_string(dir.dir.path().join("results/summary.txt")).expect("summary.txt");
    assert!(
        text.contains("WARNING: the mock `m` emitted late against its own latency model"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_mock_is_recognized_and_its_lag_warned_of() {
    // The same starvation, but the mock runs apart (here on its own one-thread runtime,
    // as `llm-drill-mock` would in its own process) and the scenario points at its URL.
    let mock = mock_server::spawn_dedicated(exact(1, 5000.0))
        .await
        .expect("mock");
    let yaml = format!(
        "name: starved\nseed: 3\nduration: 2s\ngraceful_stop: 30s\nendpoints:\n  apart:\n    provider: openai\n    base_url: {}\n    model_name: gpt-4o-mini\n    timeout: 60s\nfeatures:\n  f:\n    endpoint: apart\n    stream: true\n    prompt: {{ user_tokens: 10 }}\n    output_tokens: 200\nload: {{ mode: closed, concurrency: 400 }}\n",
        mock.base_url()
    );
    let (s, dir) = run(&yaml).await;
    // Its /stats, read after the run: the same counts the mock keeps.
    let m = &s.mock_server["apart"];
    let now = mock.stats();
    assert_eq!(m.requests, now.requests);
    assert_eq!(m.requests, s.totals.calls);
    assert!(m.emit_lag_ms.p99 > 5.0, "{:?}", m.emit_lag_ms);
    let text =
        std::fs::read_to_string(dir.dir.path().join("results/summary.txt")).expect("summary.txt");
    assert!(
        text.contains("WARNING: the mock `apart` emitted late against its own latency model"),
        "{text}"
    );
}

#[tokio::test]
async fn an_endpoint_that_is_not_the_mock_gets_no_mock_section() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let body = serde_json::json!({
        "id": "x", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 1, "total_tokens": 51}
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let (s, _dir) = run(&simple(&server.uri(), false, "5s", 10, 1)).await;
    assert_eq!(s.totals.ok, 10);
    assert!(s.mock_server.is_empty(), "{:?}", s.mock_server.keys());
    // Nothing but the calls reached it: no /stats asked of an endpoint that is not ours.
    let asked = server.received_requests().await.expect("recorded");
    assert!(
        asked.iter().all(|r| r.method.as_str() == "POST"),
        "{asked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_connections_is_accepted_at_once_and_counted() {
    let mock = mock_server::spawn(mock_server::MockConfig::default())
        .await
        .expect("mock");
    let addr = mock.addr();
    let n = 600;
    let conns: Vec<_> = (0..n)
        .map(|_| tokio::spawn(tokio::net::TcpStream::connect(addr)))
        .collect();
    let mut open = Vec::new();
    for c in conns {
        open.push(c.await.expect("task").expect("connected"));
    }
    // Accepted as they came: the mock counts each connection it took off the queue.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while mock.stats().connections < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let st = mock.stats();
    assert_eq!(st.connections, n);
    assert!(st.backlog >= 128, "backlog {}", st.backlog);
    if std::path::Path::new("/proc/net/netstat").exists() {
        assert!(
            st.listen_overflows.is_some(),
            "Linux says how many it dropped"
        );
    }
    drop(open);
}

#[tokio::test]
async fn an_unhurried_mock_measures_every_emission() {
    let mock = mock_server::spawn(exact(5, 500.0)).await.expect("mock");
    let (s, _dir) = run(&simple(&mock.base_url(), true, "10s", 20, 1)).await;
    let st = mock.stats();
    assert_eq!(s.totals.ok, 20);
    // A first token and four more per stream (5 tokens each).
    assert_eq!(st.completion_tokens, 100);
    assert_eq!(st.emit_lag_ms.count, 100, "{:?}", st.emit_lag_ms);
}
