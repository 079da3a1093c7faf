//! Gemini on Vertex AI and on the Gemini API: against the mock's own counts (Vertex's
//! tokens issued by the mock for a service account's JWT it verifies), the exact
//! requests and the token grant (pinned with wiremock), streams recorded in Vertex's
//! SSE parsed to the figures they carry, and Google's errors classified.

use super::support::{
    assert_failed, assert_throttled_as_the_mock_counted, outcome, run, scenario as temp_scenario,
};
use llm_drill::report::Summary;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/vertex/service-account.json"
);

/// A Vertex endpoint signing in as the fixture's service account, or a Gemini API
/// endpoint with the key in `key_file`.
fn endpoint(provider: &str, base_url: &str, key_file: &str) -> String {
    let mut e = format!(
        "  e:\n    provider: {provider}\n    base_url: {base_url}\n    model_name: gemini-2.5-flash\n    timeout: 5s\n    credential_ref: file:{key_file}\n"
    );
    e.push_str(match provider {
        "vertex" => "    project: llm-drill-test\n    location: europe-west4\n    region: europe-west4\n    auth_type: service_account\n",
        _ => "    auth_type: api_key\n",
    });
    if base_url == "mock" {
        e.push_str(&format!(
            "    mock: {{ ttft: 5ms, tokens_per_second: 2000, jitter: 0, auth: {{ keys: [{{ key_ref: file:{key_file} }}] }} }}\n"
        ));
    }
    e
}

fn scenario(endpoint: &str, stream: bool, turns: u32, rate: u32) -> String {
    format!(
        "name: vertex\nseed: 4\nduration: 1s\nendpoints:\n{endpoint}features:\n  f:\n    endpoint: e\n    stream: {stream}\n    session: {{ turns: {turns} }}\n    prompt: {{ system_tokens: 30, context_tokens: 40, user_tokens: 12 }}\n    output_tokens: 6\nload: {{ rate: {rate} }}\n"
    )
}

fn key_file(dir: &tempfile::TempDir, text: &str) -> String {
    let p = dir.path().join("key");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_and_gemini_against_the_mock_match_its_counts() {
    let dir = tempfile::tempdir().unwrap();
    let api_key = key_file(&dir, "AIzaSy-test-key-0123456789");
    for provider in ["vertex", "gemini"] {
        let key = if provider == "vertex" { KEY } else { &api_key };
        for stream in [true, false] {
            let (s, _d) = run(&scenario(&endpoint(provider, "mock", key), stream, 2, 5)).await;
            let truth = &s.mock_server["e"];
            let what = format!("{provider} stream {stream}");
            assert_eq!(s.totals.calls, 10, "{what}: {:?}", s.errors);
            assert_eq!(outcome(&s, "ok"), 10, "{what}: {:?}", s.errors);
            assert_eq!(truth.by_status[&200], 10, "{what}");
            assert_eq!(truth.auth_refused, 0, "{what}");
            assert_eq!(s.totals.input_tokens, truth.prompt_tokens, "{what}");
            assert_eq!(s.totals.input_token_ratio, Some(1.0), "{what}");
            assert_eq!(s.totals.output_tokens, truth.completion_tokens, "{what}");
            assert_eq!(truth.completion_tokens, 60, "{what}");
            if provider == "vertex" {
                // One token for the run, from the mock's JWT grant, and every call
                // carried it.
                assert_eq!(truth.tokens_issued, 1, "{what}");
                let auth = s.endpoints["e"].auth.as_ref().unwrap();
                assert_eq!((auth.token_requests, auth.token_failures), (1, 0), "{what}");
            }
            if stream {
                assert_eq!(truth.streams_completed, 10, "{what}");
                assert_eq!(s.ttft_ms.count, 10, "{what}");
                assert_eq!(s.itl_ms.count, 50, "{what}: 5 gaps per 6-token answer");
            }
        }
    }
}

/// A service account the mock does not know: its JWT is refused, and the run stops
/// before sending anything, saying why in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_the_mock_does_not_know_gets_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let other = key_file(
        &dir,
        &std::fs::read_to_string(KEY)
            .unwrap()
            .replace("llm-drill-test@", "someone-else@"),
    );
    let yaml = scenario(&endpoint("vertex", "mock", KEY), false, 1, 2).replace(
        &format!("credential_ref: file:{KEY}"),
        &format!("credential_ref: file:{other}"),
    );
    let s = temp_scenario(&yaml);
    let err = llm_drill::run(
        &super::support::options(&s),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .err()
    .expect("no token, no run");
    let msg = err.to_string();
    assert!(
        msg.contains("endpoint `e`") && msg.contains("400") && msg.contains("invalid_grant"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
}

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn ok_body() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"totalTokenCount":6},"modelVersion":"gemini-2.5-flash"}"#,
        "application/json",
    )
}

/// Sends one call to `provider` at a wiremock that also serves Google's token endpoint
/// (at `/token`, named by the service account's key); returns the chat request and,
/// for Vertex, the token request.
async fn one_request(
    provider: &str,
    stream: bool,
    template: ResponseTemplate,
) -> (Summary, Request, Option<Request>) {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token":"ya29.test-token","expires_in":3599,"token_type":"Bearer"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(template)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key = match provider {
        "vertex" => key_file(
            &dir,
            &std::fs::read_to_string(KEY).unwrap().replace(
                "https://oauth2.googleapis.com/token",
                &format!("{}/token", server.uri()),
            ),
        ),
        _ => key_file(&dir, "AIzaSy-test-key-0123456789"),
    };
    let (s, _d) = run(&scenario(
        &endpoint(provider, &server.uri(), &key),
        stream,
        1,
        1,
    ))
    .await;
    let reqs = server.received_requests().await.unwrap();
    let (token, chat): (Vec<Request>, Vec<Request>) =
        reqs.into_iter().partition(|r| r.url.path() == "/token");
    // One call; a 401 is sent once more after a fresh token.
    assert!(!chat.is_empty(), "{provider}");
    (
        s,
        chat.into_iter().next().unwrap(),
        token.into_iter().next(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_and_gemini_send_their_exact_requests() {
    use base64::Engine;
    for stream in [false, true] {
        let template = match stream {
            true => fixture("stream.txt"),
            false => ok_body(),
        };
        // Vertex: the project and location in the path, a bearer token from the grant.
        let (s, r, token) = one_request("vertex", stream, template.clone()).await;
        assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
        assert_eq!(
            r.url.path(),
            format!(
                "/v1/projects/llm-drill-test/locations/europe-west4/publishers/google/models/gemini-2.5-flash:{}",
                if stream { "streamGenerateContent" } else { "generateContent" }
            )
        );
        assert_eq!(r.url.query(), stream.then_some("alt=sse"));
        assert_eq!(header(&r, "authorization"), Some("Bearer ya29.test-token"));
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        // The grant: RFC 7523's JWT bearer, the assertion for the account, the scope,
        // and the token URI as its audience.
        let token = token.expect("a token request");
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(&token.body)
                .into_owned()
                .collect();
        assert_eq!(
            form["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        let claims = form["assertion"].split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims["iss"],
            "llm-drill-test@llm-drill-test.iam.gserviceaccount.com"
        );
        assert_eq!(
            claims["scope"],
            "https://www.googleapis.com/auth/cloud-platform"
        );
        // The audience is the token URI the key names (the wiremock's here).
        let aud = claims["aud"].as_str().unwrap();
        assert!(
            aud.starts_with("http://127.0.0.1:") && aud.ends_with("/token"),
            "{aud}"
        );
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            3600
        );
        let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 6);
        assert_eq!(b["systemInstruction"]["parts"].as_array().unwrap().len(), 2);
        let contents = b["contents"].as_array().unwrap();
        assert_eq!(contents.len(), 1);
        assert_eq!(contents[0]["role"], "user");
        assert!(contents[0]["parts"][0]["text"].is_string());

        // The Gemini API: the model in the path, the key in x-goog-api-key.
        let (s, r, token) = one_request("gemini", stream, template).await;
        assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
        assert!(token.is_none());
        assert_eq!(
            r.url.path(),
            format!(
                "/v1beta/models/gemini-2.5-flash:{}",
                if stream {
                    "streamGenerateContent"
                } else {
                    "generateContent"
                }
            )
        );
        assert_eq!(
            header(&r, "x-goog-api-key"),
            Some("AIzaSy-test-key-0123456789")
        );
        assert_eq!(header(&r, "authorization"), None);
    }
}

fn fixture(name: &str) -> ResponseTemplate {
    let path = format!(
        "{}/tests/fixtures/vertex/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    ResponseTemplate::new(200).set_body_raw(std::fs::read(path).unwrap(), "text/event-stream")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_vertex_streams_parse_to_the_figures_they_carry() {
    // Three text chunks; 61 prompt tokens; 9 answer and 42 thinking tokens, both output.
    let (s, _, _) = one_request("vertex", true, fixture("stream.txt")).await;
    assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
    assert_eq!(s.ttft_ms.count, 1);
    assert_eq!(s.itl_ms.count, 2, "a gap between each chunk");
    assert_eq!(s.totals.input_tokens, 61);
    assert_eq!(s.totals.output_tokens, 51);
    assert_eq!(s.totals.estimated_token_calls, 0);

    let (s, _, _) = one_request("vertex", true, fixture("stream_error.txt")).await;
    assert_failed(&s, "stream_cut", 1, "UNAVAILABLE: The model is overloaded");
    let (s, _, _) = one_request("gemini", true, fixture("stream_truncated.txt")).await;
    assert_failed(&s, "stream_cut", 1, "without a finish reason");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn googles_errors_are_classified() {
    let error = |code: u16, status: &str, message: &str| {
        ResponseTemplate::new(code).set_body_raw(
            format!(r#"{{"error":{{"code":{code},"message":"{message}","status":"{status}"}}}}"#),
            "application/json",
        )
    };
    let bad_key = ResponseTemplate::new(400).set_body_raw(
        r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#,
        "application/json",
    );
    for (provider, template, expected, says) in [
        ("vertex", error(429, "RESOURCE_EXHAUSTED", "Resource exhausted. Please try again later."), "http_429", "RESOURCE_EXHAUSTED"),
        ("vertex", error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."), "http_5xx", "UNAVAILABLE"),
        ("vertex", error(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."), "http_4xx", "exceeds the maximum number of tokens"),
        ("vertex", error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), "auth", "UNAUTHENTICATED"),
        ("gemini", bad_key, "auth", "API_KEY_INVALID"),
        ("gemini", error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota."), "http_429", "RESOURCE_EXHAUSTED"),
    ] {
        let (s, _, _) = one_request(provider, false, template).await;
        assert_failed(&s, expected, 1, says);
    }
}

/// What `validate` says of the Vertex template: the fallback without a region leaves the
/// residency; a location that is not the declared region is an error; `global` warns.
#[test]
fn validate_checks_the_location_against_the_region_and_residency() {
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/vertex-gemini.yaml");
    let env = [
        ("GOOGLE_APPLICATION_CREDENTIALS", KEY),
        ("GEMINI_API_KEY", "AIzaSy-validate"),
    ];
    let validate = |extra: &[&str]| super::support::validate_said(template, extra, &env);
    let (code, said) = validate(&[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(
            "document-qa would be served in an undeclared region (endpoint `gemini-api`)"
        ),
        "{said}"
    );
    let (code, said) = validate(&["--set", "endpoints.gemini-eu.location=us-central1"]);
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.contains("endpoints.gemini-eu.location: `us-central1` is where Vertex AI serves these calls, but the endpoint declares region: europe-west4"),
        "{said}"
    );
    let (code, said) = validate(&[
        "--set",
        "endpoints.gemini-eu.location=global",
        "--set",
        "endpoints.gemini-eu.base_url=https://aiplatform.googleapis.com",
    ]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("calls Vertex AI's `global` location"),
        "{said}"
    );
}

/// Throttling faults on the mock come back as RESOURCE_EXHAUSTED, each one `http_429`,
/// as many as the mock counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_faults_are_429s_as_the_mock_counted_them() {
    let dir = tempfile::tempdir().unwrap();
    let api_key = key_file(&dir, "AIzaSy-test-key-0123456789");
    for provider in ["vertex", "gemini"] {
        let key = if provider == "vertex" { KEY } else { &api_key };
        for stream in [true, false] {
            let yaml = scenario(&endpoint(provider, "mock", key), stream, 1, 20);
            assert_throttled_as_the_mock_counted(&yaml, "429 RESOURCE_EXHAUSTED").await;
        }
    }
}

/// A Vertex endpoint without its project is refused where it is written.
#[test]
fn validate_refuses_a_vertex_endpoint_without_its_project() {
    let s = super::support::scenario(
        &scenario(&endpoint("vertex", "mock", KEY), false, 1, 1)
            .replace("    project: llm-drill-test\n", ""),
    );
    let out = std::process::Command::new(super::support::BIN)
        .arg("validate")
        .arg(&s.path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("scenario.yaml:6:5:")
            && stderr.contains(
                "endpoints.e: a vertex endpoint needs `project` (the Google Cloud project id)"
            ),
        "{stderr}"
    );
}
