//! The defects a code review found (issue 11), each pinned by a test that failed before
//! its fix: a retry-after that crashed a call, a breaker skip counted as a network
//! fault, the spend guard's bound with retried cut streams, answers that always ended
//! at `max_tokens`, ground truth refused during an outage, unmeasured figures written as
//! zeros, and retry jitter that ignored the seed.

use super::drills::{drill, ok, server};
use super::support::{llm_drill, options, outcome, run, scenario};
use std::io::{Read, Write};
use wiremock::ResponseTemplate;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_a_huge_retry_after_neither_crashes_the_call_nor_loses_it() {
    for header in ["retry-after", "retry-after-ms"] {
        let limited = ResponseTemplate::new(429).insert_header(header, "1e20");
        let p = server(Some((limited, 1)), ok()).await;
        let b = server(None, ok()).await;
        let retry = "retry: { max_attempts: 2, backoff: { base: 10ms, max: 200ms } }\n";
        let yaml = drill(&p.uri(), &b.uri(), "", retry, 1);
        let (s, _d) = run(&yaml).await;
        // The call's sample arrives, retried after the capped wait, and succeeds.
        assert_eq!(s.totals.calls, 1, "{header}: the call was lost");
        assert_eq!((outcome(&s, "ok"), s.totals.attempts), (1, 2), "{header}");
        assert!(
            s.latency_ms.max >= 200.0,
            "{header}: waited {:?}",
            s.latency_ms
        );
    }
}

#[test]
fn issue_11_a_distribution_that_can_reach_gigabytes_is_refused_with_its_location() {
    let yaml = "name: t\nduration: 1s\nendpoints:\n  e:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\nfeatures:\n  f:\n    endpoint: e\n    prompt:\n      user_tokens: { mean: 100, stddev: 1000000000 }\nload: { rate: 1 }\n";
    let s = scenario(yaml);
    let (code, _, err) = llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(":12:")
            && err.contains("features.f.prompt.user_tokens")
            && err.contains("give a `max`"),
        "{err}"
    );
    // With a max, the same spread is fine: draws are clamped to it.
    let bounded = yaml.replace("stddev: 1000000000 }", "stddev: 1000000000, max: 2000 }");
    let s = scenario(&bounded);
    let (code, _, err) = llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
}

/// A fallback-less endpoint whose mock refuses connections from the start, behind a
/// breaker that opens after 2 failures.
const BREAKER: &str = "name: breaker\nseed: 3\nduration: 2s\ngraceful_stop: 10s\nendpoints:\n  p:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    timeout: 2s\n    circuit_breaker: { failures: 2, window: 10s, cooldown: 10s }\n    mock: { ttft: 5ms, tokens_per_second: 1000, jitter: 0 }\nfeatures:\n  f:\n    endpoint: p\n    stream: false\n    prompt: { user_tokens: 10 }\n    output_tokens: 5\nfaults:\n  - { endpoint: p, kind: outage, mode: refuse }\nload: { rate: 10 }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_a_call_skipped_by_an_open_breaker_is_breaker_open_not_a_network_fault() {
    let (s, _d) = run(BREAKER).await;
    assert_eq!(s.totals.calls, 20);
    let refused = s.mock_server["p"].refused;
    // Connection failures are exactly the connections the mock refused; every other
    // call never left llm-drill.
    assert_eq!(outcome(&s, "connect"), refused, "{:?}", s.totals.by_outcome);
    assert_eq!(outcome(&s, "breaker_open"), 20 - refused);
    assert!(
        (2..=3).contains(&refused),
        "the breaker opened after 2: {refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_the_spend_guard_holds_its_cap_when_cut_streams_are_retried_and_billed() {
    // Every answer is cut after 10 of its 100 tokens and retried twice: each attempt is
    // billed (prompt + 10 tokens). The guard reserves each attempt before it is made.
    let yaml = "name: guard\nseed: 4\nduration: 20s\ngraceful_stop: 10s\nretry: { max_attempts: 3, backoff: { base: 1ms, max: 2ms }, retry_on: [stream_cut] }\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    timeout: 5s\n    price: { input_per_mtok: 1000, output_per_mtok: 1000 }\n    mock: { ttft: 5ms, tokens_per_second: 5000, jitter: 0 }\nfeatures:\n  f:\n    endpoint: m\n    stream: true\n    prompt: { user_tokens: 200 }\n    output_tokens: 100\nfaults:\n  - { endpoint: m, kind: stream_cut, after_tokens: 10 }\ncost: { max_spend_usd: 1.00 }\nload: { rate: 20 }\n";
    let s = scenario(yaml);
    let out = llm_drill::run(&options(&s), tokio_util::sync::CancellationToken::new())
        .await
        .expect("the run ends with results");
    let c = &out.summary.cost;
    assert!(c.guard_stopped, "the guard stopped the run: {c:?}");
    assert!(
        c.total_usd <= 1.00,
        "the cap is never passed: {}",
        c.total_usd
    );
    // An attempt's worst case is 207 + 100 tokens, $0.307: the run stops within it.
    assert!(
        c.total_usd >= 1.00 - 0.307,
        "stopped too early: {}",
        c.total_usd
    );
    assert!(
        out.summary.totals.attempts > out.summary.totals.calls,
        "retries were billed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_answers_end_on_their_own_unless_the_mock_is_told_to_cut_them() {
    let base = "name: finish\nseed: 2\nduration: 1s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    mock: { ttft: 5ms, tokens_per_second: 2000, jitter: 0 }\n  a:\n    provider: anthropic\n    base_url: mock\n    model_name: claude-sonnet-4-5\n    mock: { ttft: 5ms, tokens_per_second: 2000, jitter: 0 }\nfeatures:\n  chat:\n    endpoint: m\n    stream: true\n    prompt: { user_tokens: 10 }\n    output_tokens: 8\n  whole:\n    endpoint: m\n    stream: false\n    prompt: { user_tokens: 10 }\n    output_tokens: 8\n  claude:\n    endpoint: a\n    stream: true\n    prompt: { user_tokens: 10 }\n    output_tokens: 8\nload: { rate: 12 }\n";
    let (s, _d) = run(base).await;
    for (name, f) in &s.features {
        assert_eq!(
            f.finish_reasons.get("stop").copied(),
            Some(f.ok),
            "{name}: {:?}",
            f.finish_reasons
        );
        assert!(f.ok > 0, "{name}");
    }
    // Told that answers reaching max_tokens are cut, the mock says `length` (and
    // Anthropic's `max_tokens`, which llm-drill reports as `length`).
    let cut = base.replace("jitter: 0 }", "jitter: 0, stop_probability: 0 }");
    let (s, _d) = run(&cut).await;
    for (name, f) in &s.features {
        assert_eq!(
            f.finish_reasons.get("length").copied(),
            Some(f.ok),
            "{name}: {:?}",
            f.finish_reasons
        );
    }
}

/// `GET path` on 127.0.0.1:`port`, answered with its status line and body.
fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    c.read_to_string(&mut out)?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_stats_answer_during_a_refuse_outage_while_calls_are_refused() {
    use mock_server::faults::{Fault, FaultKind, FaultSchedule, OutageMode};
    let config = mock_server::MockConfig {
        faults: FaultSchedule {
            faults: vec![Fault {
                kind: FaultKind::Outage {
                    mode: OutageMode::Refuse,
                },
                from: std::time::Duration::ZERO,
                until: None,
                probability: 1.0,
            }],
            seed: 1,
        },
        ..mock_server::MockConfig::default()
    };
    let h = mock_server::spawn(config).await.expect("the mock starts");
    h.start_clock(std::time::Instant::now());
    let port: u16 = h
        .base_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let (stats, health, chat) = tokio::task::spawn_blocking(move || {
        let post = |path: &str| -> std::io::Result<String> {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
            c.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
            let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
            write!(
                c,
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            let mut out = String::new();
            c.read_to_string(&mut out)?;
            Ok(out)
        };
        (
            get(port, "/stats"),
            get(port, "/health"),
            post("/v1/chat/completions"),
        )
    })
    .await
    .unwrap();
    let stats = stats.expect("/stats answers during the outage");
    assert!(stats.starts_with("HTTP/1.1 200"), "{stats}");
    assert!(stats.contains("\"refused\""), "{stats}");
    assert!(health.expect("/health answers").starts_with("HTTP/1.1 200"));
    // A call gets nothing: the connection is refused before any HTTP.
    assert!(
        chat.as_deref().map_or(true, |r| r.is_empty()),
        "a call was answered during a refuse outage: {chat:?}"
    );
    assert_eq!(h.stats().refused, 1);
    h.shutdown().await;
}

#[test]
fn issue_11_what_was_not_measured_reads_as_not_measured() {
    // Non-streaming calls have no time to first token.
    let yaml = "name: whole\nseed: 1\nduration: 1s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    mock: { ttft: 5ms, tokens_per_second: 2000, jitter: 0 }\nfeatures:\n  f:\n    endpoint: m\n    stream: false\n    prompt: { user_tokens: 10 }\n    output_tokens: 4\nload: { rate: 4 }\n";
    let s = scenario(yaml);
    let dir = s.dir.path().join("out");
    let (code, stdout, err) = llm_drill(&[
        "run".as_ref(),
        "--no-progress".as_ref(),
        "--out".as_ref(),
        dir.as_os_str(),
        s.path.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(j["ttft_ms"]["count"], 0);
    for stat in ["mean", "p50", "p95", "p99", "max"] {
        assert!(
            j["ttft_ms"][stat].is_null(),
            "ttft_ms.{stat}: {}",
            j["ttft_ms"]
        );
        assert!(j["features"]["f"]["ttft_ms"][stat].is_null());
    }
    assert!(j["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(stdout.contains("ttft p95 - ms"), "{stdout}");
    assert!(!stdout.contains("ttft p95 0.0"), "{stdout}");
    // The summary reads back, and renders the same dashes.
    let back: llm_drill::report::Summary =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(back.ttft_ms.count, 0);
    assert!(llm_drill::report::terminal::render(&back).contains("ttft p95 - ms"));
}

#[test]
fn issue_11_a_prompt_count_unlike_the_plan_is_reported_as_measured() {
    let mut s = llm_drill::report::Summary::default();
    s.totals.input_token_ratio = Some(0.5);
    s.totals.planned_input_tokens = 400;
    let text = llm_drill::report::terminal::render(&s);
    assert!(
        text.contains("the endpoint reported 0.5000× the planned prompt tokens"),
        "{text}"
    );
    assert!(!text.contains("its tokenizer differs"), "{text}");
}
