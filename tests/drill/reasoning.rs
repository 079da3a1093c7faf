//! Reasoning models (issue 21): requests they accept (`max_completion_tokens`, effort,
//! thinking budgets) pinned with wiremock and refused as OpenAI refuses them by the
//! mock's reasoning family; recorded reasoning streams, served at their own pace, parsed
//! to the tokens and timings they carry; and reasoning against the mock, counted as its
//! `/stats` counts it and priced in the multiplier.

use super::support::{llm_drill, outcome, run, scenario};
use std::io::{Read, Write};
use std::time::Duration;
use wiremock::{Mock, MockServer, ResponseTemplate};

const OK: &str = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;
const ANTHROPIC_OK: &str = r#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}"#;

/// One call of a feature with `feature_extra` keys to an endpoint `endpoint_extra` at
/// `base_url`; the body the endpoint received, as JSON.
async fn body_sent(
    provider: &str,
    model: &str,
    endpoint_extra: &str,
    feature_extra: &str,
    output: u32,
) -> serde_json::Value {
    let server = MockServer::start().await;
    let ok = if provider == "anthropic" {
        ANTHROPIC_OK
    } else {
        OK
    };
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(ok, "application/json"))
        .mount(&server)
        .await;
    let yaml = format!(
        "name: r\nseed: 1\nduration: 1s\nendpoints:\n  e:\n    provider: {provider}\n    base_url: {}\n    model_name: {model}\n{endpoint_extra}features:\n  f:\n    endpoint: e\n    stream: false\n{feature_extra}    prompt: {{ user_tokens: 8 }}\n    output_tokens: {output}\nload: {{ rate: 1 }}\n",
        server.uri()
    );
    let (s, _d) = run(&yaml).await;
    assert_eq!(outcome(&s, "ok"), 1, "{model}: {:?}", s.errors);
    let reqs = server.received_requests().await.unwrap();
    serde_json::from_slice(&reqs[0].body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_gets_the_reasoning_options_it_takes() {
    // OpenAI's reasoning models: max_completion_tokens, and the effort.
    let b = body_sent(
        "openai",
        "gpt-5-mini",
        "",
        "    reasoning: { effort: high }\n",
        6,
    )
    .await;
    assert_eq!(b["max_completion_tokens"], 6, "{b}");
    assert_eq!(b["reasoning_effort"], "high");
    assert!(
        b.get("max_tokens").is_none() && b.get("temperature").is_none(),
        "{b}"
    );
    // Azure's o-series, the same.
    let azure = "    deployment: o3-prod\n";
    let b = body_sent(
        "azure_openai",
        "o3-mini",
        azure,
        "    reasoning: { effort: minimal }\n",
        6,
    )
    .await;
    assert_eq!(
        (
            b["max_completion_tokens"].clone(),
            b["reasoning_effort"].clone()
        ),
        (6.into(), "minimal".into()),
        "{b}"
    );
    assert!(b.get("max_tokens").is_none());
    // Anthropic's extended thinking: a budget under max_tokens.
    let b = body_sent(
        "anthropic",
        "claude-sonnet-4-5",
        "",
        "    reasoning: { budget_tokens: 1024 }\n",
        2000,
    )
    .await;
    assert_eq!(b["max_tokens"], 2000, "{b}");
    assert_eq!(
        b["thinking"],
        serde_json::json!({ "type": "enabled", "budget_tokens": 1024 })
    );
    // A model that does not reason keeps its request as it was.
    let b = body_sent("openai", "gpt-4o", "", "", 6).await;
    assert_eq!(b["max_tokens"], 6, "{b}");
    assert!(b.get("max_completion_tokens").is_none() && b.get("reasoning_effort").is_none());
    // And the parameter can be named.
    let b = body_sent(
        "openai",
        "my-gateway-model",
        "    token_limit_param: max_completion_tokens\n",
        "",
        6,
    )
    .await;
    assert_eq!(b["max_completion_tokens"], 6, "{b}");
}

#[test]
fn reasoning_options_the_endpoint_does_not_take_are_refused_with_their_location() {
    let yaml = |provider: &str, model: &str, endpoint: &str, feature: &str, output: u32| {
        format!("name: r\nduration: 1s\nendpoints:\n  e:\n    provider: {provider}\n    base_url: mock\n    model_name: {model}\n{endpoint}features:\n  f:\n    endpoint: e\n{feature}    prompt: {{ user_tokens: 8 }}\n    output_tokens: {output}\nload: {{ rate: 1 }}\n")
    };
    for (text, expect) in [
        (
            yaml(
                "openai",
                "gpt-5",
                "",
                "    reasoning: { budget_tokens: 2048 }\n",
                4000,
            ),
            "features.f.reasoning.budget_tokens: endpoint `e` is openai, which takes `effort`",
        ),
        (
            yaml(
                "anthropic",
                "claude-sonnet-4-5",
                "",
                "    reasoning: { effort: low }\n",
                4000,
            ),
            "features.f.reasoning.effort: endpoint `e` is anthropic, which takes `budget_tokens`",
        ),
        (
            yaml(
                "anthropic",
                "claude-sonnet-4-5",
                "",
                "    reasoning: { budget_tokens: 2048 }\n",
                1000,
            ),
            "budget_tokens: is 2048 but output_tokens (sent as max_tokens) can be 1000",
        ),
        (
            yaml(
                "anthropic",
                "claude-sonnet-4-5",
                "",
                "    reasoning: { budget_tokens: 500 }\n",
                4000,
            ),
            "must be at least 1024",
        ),
        (
            yaml(
                "anthropic",
                "claude-sonnet-4-5",
                "    token_limit_param: max_completion_tokens\n",
                "",
                40,
            ),
            "endpoints.e.token_limit_param: an anthropic endpoint takes `max_tokens` only",
        ),
    ] {
        let s = scenario(&text);
        let (code, _, err) = llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(expect), "expected `{expect}` in {err}");
    }
    // validate says which parameter each endpoint gets.
    let s = scenario(&yaml("openai", "gpt-5", "", "", 40));
    let (code, out, err) = llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("answers capped by max_completion_tokens"),
        "{out}"
    );
}

/// A reasoning-family mock endpoint of `model` (`extra` keys added), one feature.
fn reasoning_family(model: &str, extra: &str) -> String {
    format!("name: family\nseed: 2\nduration: 2s\nendpoints:\n  o:\n    provider: openai\n    base_url: mock\n    model_name: {model}\n{extra}    mock: {{ ttft: 5ms, tokens_per_second: 2000, jitter: 0, model_family: reasoning }}\nfeatures:\n  f:\n    endpoint: o\n    stream: true\n    prompt: {{ user_tokens: 10 }}\n    output_tokens: 8\nload: {{ rate: 5 }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reasoning_family_refuses_max_tokens_and_gpt5_names_never_send_it() {
    // The refusal, exactly as OpenAI words it, to a raw request.
    let h = mock_server::spawn(mock_server::MockConfig {
        model_family: mock_server::ModelFamily::Reasoning,
        ..mock_server::MockConfig::default()
    })
    .await
    .unwrap();
    let port: u16 = h.base_url().rsplit(':').next().unwrap().parse().unwrap();
    let answer = tokio::task::spawn_blocking(move || {
        let body = r#"{"model":"o3-mini","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let json: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "error": {
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter" } })
    );
    h.shutdown().await;
    // llm-drill's default for a gpt-5 name: no refusal at all.
    let (s, _d) = run(&reasoning_family("gpt-5-mini", "")).await;
    assert_eq!(
        (s.totals.calls, outcome(&s, "ok"), outcome(&s, "http_4xx")),
        (10, 10, 0),
        "{:?}",
        s.errors
    );
    // Forced to send max_tokens, every call gets the 400 users get.
    let (s, _d) = run(&reasoning_family(
        "gpt-5-mini",
        "    token_limit_param: max_tokens\n",
    ))
    .await;
    assert_eq!(outcome(&s, "http_4xx"), 10, "{:?}", s.totals.by_outcome);
    assert_eq!(s.mock_server["o"].by_status[&400], 10);
    assert!(
        s.errors[0]
            .message
            .contains("Use 'max_completion_tokens' instead"),
        "{:?}",
        s.errors
    );
}

/// Serves each connection the fixture `name` at its own pace: an SSE comment `: t=N`
/// holds what follows until N ms after the request arrived.
async fn paced_server(name: &'static str) -> String {
    let path = format!("{}/tests/fixtures/sse/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut c, _)) = listener.accept().await {
            let text = text.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                let mut got = 0;
                // The request's headers and body, by its Content-Length.
                loop {
                    let n = c.read(&mut buf[got..]).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got += n;
                    let head = String::from_utf8_lossy(&buf[..got]).to_string();
                    if let Some(end) = head.find("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if got >= end + 4 + len {
                            break;
                        }
                    }
                }
                let start = tokio::time::Instant::now();
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n").await;
                for (i, part) in text.split(": t=").enumerate() {
                    let (at, events) = match i {
                        0 => (0, part),
                        _ => {
                            let (ms, rest) = part.split_once('\n').unwrap();
                            (ms.trim().parse::<u64>().unwrap(), rest)
                        }
                    };
                    tokio::time::sleep_until(start + Duration::from_millis(at)).await;
                    if !events.is_empty() {
                        let chunk = format!("{:x}\r\n{events}\r\n", events.len());
                        let _ = c.write_all(chunk.as_bytes()).await;
                        let _ = c.flush().await;
                    }
                }
                let _ = c.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_reasoning_streams_parse_to_their_tokens_and_timings() {
    // (provider, model, fixture, first token ms, first visible token ms, output, reasoning)
    let cases = [
        // o3-mini hides its reasoning: 192 tokens, itemized in the usage; the first
        // token is the first visible one.
        (
            "openai",
            "o3-mini",
            "openai_reasoning.txt",
            300,
            None,
            196,
            192,
        ),
        // vLLM streams it as reasoning_content: counted from its text (7 tokens).
        (
            "openai",
            "Qwen/Qwen3-8B",
            "vllm_reasoning.txt",
            100,
            Some(400),
            10,
            7,
        ),
        // Claude's thinking_delta, then text_delta in a second block.
        (
            "anthropic",
            "claude-sonnet-4-5",
            "anthropic_thinking.txt",
            150,
            Some(450),
            57,
            7,
        ),
    ];
    for (provider, model, fixture, ttft, ttfvt, output, reasoning) in cases {
        let url = paced_server(fixture).await;
        let yaml = format!("name: r\nseed: 1\nduration: 1s\nendpoints:\n  e:\n    provider: {provider}\n    base_url: {url}\n    model_name: {model}\n    timeout: 10s\nfeatures:\n  f:\n    endpoint: e\n    stream: true\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4000\nload: {{ rate: 1 }}\n");
        let (s, _d) = run(&yaml).await;
        assert_eq!(outcome(&s, "ok"), 1, "{fixture}: {:?}", s.errors);
        let near = |got: f64, want: u64| got >= want as f64 && got < want as f64 + 80.0;
        assert!(near(s.ttft_ms.p50, ttft), "{fixture}: ttft {:?}", s.ttft_ms);
        match ttfvt {
            Some(v) => {
                let p = s.ttfvt_ms.as_ref().expect("reasoning was streamed");
                assert!(near(p.p50, v), "{fixture}: ttfvt {p:?}");
            }
            None => assert!(
                s.ttfvt_ms.is_none(),
                "{fixture}: nothing streamed before the answer"
            ),
        }
        assert_eq!(
            (s.totals.output_tokens, s.totals.reasoning_tokens),
            (output, reasoning),
            "{fixture}"
        );
        let f = &s.features["f"];
        assert_eq!(
            f.reasoning_tokens.as_ref().map(|p| p.p50),
            Some(reasoning as f64),
            "{fixture}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_on_the_mock_is_counted_as_its_stats_count_it_and_priced_in_the_multiplier() {
    for (provider, model, visible) in [
        ("openai", "gpt-5-mini", "reasoning_content"),
        ("openai", "o4-mini", "hidden"),
        ("anthropic", "claude-sonnet-4-5", "anthropic_thinking"),
    ] {
        for stream in [true, false] {
            let yaml = format!("name: r\nseed: 3\nduration: 2s\nendpoints:\n  m:\n    provider: {provider}\n    base_url: mock\n    model_name: {model}\n    price: {{ input_per_mtok: 1000, output_per_mtok: 2000 }}\n    mock: {{ ttft: 20ms, tokens_per_second: 2000, jitter: 0, reasoning: {{ tokens: {{ mean: 100, stddev: 20, min: 50, max: 150 }}, visible: {visible}, tokens_per_second: 1000 }} }}\nfeatures:\n  f:\n    endpoint: m\n    stream: {stream}\n    prompt: {{ user_tokens: 10 }}\n    output_tokens: 20\ncost: {{ modeled_cost_per_call: 0.05 }}\nload: {{ rate: 5 }}\n");
            let (s, _d) = run(&yaml).await;
            let what = format!("{model} {visible} stream {stream}");
            let truth = &s.mock_server["m"];
            assert_eq!(outcome(&s, "ok"), 10, "{what}: {:?}", s.errors);
            let t = &s.totals;
            assert!(truth.reasoning_tokens >= 500, "{what}: {truth:?}");
            assert_eq!(t.reasoning_tokens, truth.reasoning_tokens, "{what}");
            assert_eq!(
                t.output_tokens - t.reasoning_tokens,
                truth.completion_tokens,
                "{what}"
            );
            // The reasoning factor is what the calls cost over what they would have cost
            // without their reasoning ($1 per million prompt tokens and $2 per million
            // answer tokens), and the factors multiply to the multiplier.
            let b = s.cost.breakdown.as_ref().expect("priced");
            let usd = |output: u64| t.input_tokens as f64 * 1e-3 + output as f64 * 2e-3;
            let by_hand = usd(t.output_tokens) / usd(t.output_tokens - t.reasoning_tokens);
            assert!(
                (b.reasoning - by_hand).abs() < 1e-9,
                "{what}: {} vs {by_hand}",
                b.reasoning
            );
            let product = b.model
                * b.prompt_growth
                * b.output_length
                * b.reasoning
                * b.retries
                * b.fallback_pricing;
            assert!(
                (product / s.cost.multiplier.unwrap() - 1.0).abs() < 1e-9,
                "{what}"
            );
            if stream && visible != "hidden" {
                // The first visible token comes the reasoning's time after the first token.
                let per_call = 1000.0 * truth.reasoning_tokens as f64 / 10.0 / 1000.0;
                let gap = s.ttfvt_ms.as_ref().unwrap().mean - s.ttft_ms.mean;
                assert!(
                    (gap - per_call).abs() <= 2.0,
                    "{what}: {gap} ms against {per_call} ms"
                );
            } else {
                assert!(s.ttfvt_ms.is_none(), "{what}");
            }
        }
    }
}
