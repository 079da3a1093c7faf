//! The three wire formats: every provider against the mock's own counts, the exact
//! request each one sends (pinned with wiremock), and streams recorded in each provider's
//! format parsed to the figures they carry.

use super::support::{outcome, run};
use llm_drill::report::Summary;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PROVIDERS: [&str; 3] = ["openai", "azure_openai", "anthropic"];

/// The endpoint block for `provider` at `base_url`, with a key read from `key_file`.
fn endpoint(provider: &str, base_url: &str, key_file: Option<&str>) -> String {
    let mut e = format!(
        "  e:\n    provider: {provider}\n    base_url: {base_url}\n    model_name: {}\n    timeout: 5s\n",
        if provider == "anthropic" { "claude-sonnet-4-5" } else { "gpt-4o" }
    );
    if provider == "azure_openai" {
        e.push_str("    deployment: gpt4o-prod\n    api_version: 2024-10-21\n");
    }
    if base_url == "mock" {
        e.push_str("    mock: { ttft: 5ms, tokens_per_second: 2000, jitter: 0 }\n");
    }
    if let Some(f) = key_file {
        let auth = if provider == "openai" {
            "bearer"
        } else {
            "api_key"
        };
        e.push_str(&format!(
            "    auth_type: {auth}\n    credential_ref: file:{f}\n"
        ));
    }
    e
}

fn scenario(endpoint: &str, stream: bool, turns: u32, rate: u32) -> String {
    format!(
        "name: providers\nseed: 4\nduration: 1s\nendpoints:\n{endpoint}features:\n  f:\n    endpoint: e\n    stream: {stream}\n    session: {{ turns: {turns} }}\n    prompt: {{ system_tokens: 30, context_tokens: 40, user_tokens: 12 }}\n    output_tokens: 6\nload: {{ rate: {rate} }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_against_the_mock_matches_its_counts() {
    for provider in PROVIDERS {
        for stream in [true, false] {
            let (s, _dir) = run(&scenario(&endpoint(provider, "mock", None), stream, 2, 5)).await;
            let truth = &s.mock_server["e"];
            let what = format!("{provider} stream {stream}");
            assert_eq!(s.totals.calls, 10, "{what}: {:?} {:?}", s.totals, s.errors);
            assert_eq!(outcome(&s, "ok"), 10, "{what}: {:?}", s.errors);
            assert_eq!(truth.by_status[&200], 10, "{what}");
            assert_eq!(s.totals.input_tokens, truth.prompt_tokens, "{what}");
            assert_eq!(s.totals.input_token_ratio, Some(1.0), "{what}");
            assert_eq!(s.totals.output_tokens, truth.completion_tokens, "{what}");
            assert_eq!(truth.completion_tokens, 60, "{what}");
            if stream {
                assert_eq!(truth.streams_completed, 10, "{what}");
                assert_eq!(s.ttft_ms.count, 10, "{what}");
                assert_eq!(s.itl_ms.count, 50, "{what}: 5 gaps per 6-token answer");
            }
        }
    }
}

fn ok_body(provider: &str) -> ResponseTemplate {
    let body = if provider == "anthropic" {
        r#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}"#
    } else {
        r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#
    };
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

async fn one_request(
    provider: &str,
    stream: bool,
    template: ResponseTemplate,
) -> (Summary, Request) {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(template)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "test-key-0123456789\n").unwrap();
    let e = endpoint(provider, &server.uri(), Some(key.to_str().unwrap()));
    let (s, _d) = run(&scenario(&e, stream, 1, 1)).await;
    let mut reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1, "{provider}");
    (s, reqs.remove(0))
}

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_sends_its_exact_request() {
    for stream in [false, true] {
        // OpenAI: bearer token, /v1/chat/completions, messages with roles.
        let (_, r) = one_request("openai", stream, ok_body("openai")).await;
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.url.path(), "/v1/chat/completions");
        assert_eq!(r.url.query(), None);
        assert_eq!(
            header(&r, "authorization"),
            Some("Bearer test-key-0123456789")
        );
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(header(&r, "api-key"), None);
        let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(b["model"], "gpt-4o");
        assert_eq!(b["max_tokens"], 6);
        assert_eq!(b["stream"], stream);
        let roles: Vec<&str> = b["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "system", "user"]);
        assert_eq!(
            b["stream_options"]["include_usage"],
            if stream {
                serde_json::json!(true)
            } else {
                serde_json::Value::Null
            }
        );

        // Azure OpenAI: the deployment in the path, api-version in the query, api-key.
        let (_, r) = one_request("azure_openai", stream, ok_body("azure_openai")).await;
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(
            r.url.path(),
            "/openai/deployments/gpt4o-prod/chat/completions"
        );
        assert_eq!(r.url.query(), Some("api-version=2024-10-21"));
        assert_eq!(header(&r, "api-key"), Some("test-key-0123456789"));
        assert_eq!(header(&r, "authorization"), None);
        let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(b["stream"], stream);
        assert_eq!(b["messages"].as_array().unwrap().len(), 3);

        // Anthropic: /v1/messages, x-api-key, the version header, system apart.
        let (_, r) = one_request("anthropic", stream, ok_body("anthropic")).await;
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.url.path(), "/v1/messages");
        assert_eq!(header(&r, "x-api-key"), Some("test-key-0123456789"));
        assert_eq!(header(&r, "anthropic-version"), Some("2023-06-01"));
        assert_eq!(header(&r, "authorization"), None);
        let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(b["model"], "claude-sonnet-4-5");
        assert_eq!(b["max_tokens"], 6);
        assert_eq!(b["stream"], stream);
        let system = b["system"].as_array().unwrap();
        assert_eq!(system.len(), 2, "system prompt and context, as text blocks");
        assert!(system.iter().all(|s| s["type"] == "text"));
        let messages = b["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["role"], "user");
    }
}

fn fixture(name: &str) -> ResponseTemplate {
    let path = format!("{}/tests/fixtures/sse/{name}", env!("CARGO_MANIFEST_DIR"));
    ResponseTemplate::new(200).set_body_raw(std::fs::read(path).unwrap(), "text/event-stream")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_streams_parse_to_the_figures_they_carry() {
    // (provider, fixture, content deltas, prompt tokens, answer tokens) as the stream says.
    for (provider, file, deltas, input, output) in [
        ("openai", "openai.txt", 4, 41, 4),
        ("azure_openai", "azure.txt", 2, 38, 2),
        ("anthropic", "anthropic.txt", 4, 52, 6),
    ] {
        let (s, _) = one_request(provider, true, fixture(file)).await;
        assert_eq!(outcome(&s, "ok"), 1, "{provider}: {:?}", s.errors);
        assert_eq!(s.ttft_ms.count, 1, "{provider}: one first token");
        assert_eq!(
            s.itl_ms.count,
            deltas - 1,
            "{provider}: a gap between each delta"
        );
        assert_eq!(s.totals.input_tokens, input, "{provider}");
        assert_eq!(s.totals.output_tokens, output, "{provider}");
        assert_eq!(s.totals.estimated_token_calls, 0, "{provider}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mid_stream_error_and_a_truncated_stream_are_cut_streams() {
    let (s, _) = one_request("anthropic", true, fixture("anthropic_error.txt")).await;
    assert_eq!(outcome(&s, "stream_cut"), 1, "{:?}", s.totals.by_outcome);
    assert!(
        s.errors[0].message.contains("overloaded_error"),
        "{:?}",
        s.errors
    );
    let (s, _) = one_request("openai", true, fixture("openai_truncated.txt")).await;
    assert_eq!(outcome(&s, "stream_cut"), 1, "{:?}", s.totals.by_outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_providers_refusals_are_classified() {
    // Azure's 429: error.code is the string "429", with its retry headers.
    let azure_429 = ResponseTemplate::new(429)
        .insert_header("retry-after", "6")
        .insert_header("retry-after-ms", "6000")
        .insert_header("x-ratelimit-remaining-requests", "0")
        .insert_header("x-ratelimit-remaining-tokens", "0")
        .set_body_raw(
            r#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds."}}"#,
            "application/json",
        );
    let anthropic_429 = ResponseTemplate::new(429)
        .insert_header("retry-after", "3")
        .set_body_raw(
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
            "application/json",
        );
    let anthropic_529 = ResponseTemplate::new(529).set_body_raw(
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        "application/json",
    );
    let openai_429 = ResponseTemplate::new(429).set_body_raw(
        r#"{"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
        "application/json",
    );
    for (provider, template, expected, says) in [
        (
            "azure_openai",
            azure_429,
            "http_429",
            "exceeded token rate limit",
        ),
        ("anthropic", anthropic_429, "http_429", "rate_limit_error"),
        ("anthropic", anthropic_529, "http_5xx", "overloaded_error"),
        ("openai", openai_429, "http_429", "rate_limit_exceeded"),
    ] {
        let (s, _) = one_request(provider, true, template).await;
        assert_eq!(
            outcome(&s, expected),
            1,
            "{provider}: {:?}",
            s.totals.by_outcome
        );
        assert!(
            s.errors[0].message.contains(says),
            "{provider}: {:?}",
            s.errors
        );
    }
}
