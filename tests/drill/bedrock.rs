//! AWS Bedrock: the Converse API against the mock's own counts with every signature
//! verified, the exact signed request (pinned with wiremock and verified as Bedrock
//! would), event streams recorded in AWS's framing parsed to the figures they carry,
//! Bedrock's exceptions classified, and keys from the AWS CLI's places.

use super::support::{
    assert_failed, assert_throttled_as_the_mock_counted, outcome, run, validate_said, BIN,
};
use llm_drill::report::Summary;
use mock_server::sigv4;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const KEYS: &str = "AKIDTEST0123:s3cr3t/Key+0123";

/// A Bedrock endpoint at `base_url`, signing with the keys in `key_file`; against the
/// mock, the mock accepts the keys in `mock_key_file`.
fn endpoint(base_url: &str, key_file: &str, mock_key_file: Option<&str>) -> String {
    let mut e = format!(
        "  e:\n    provider: bedrock\n    base_url: {base_url}\n    region: us-east-1\n    model_name: {MODEL}\n    timeout: 5s\n    auth_type: aws_sigv4\n    credential_ref: file:{key_file}\n"
    );
    if let Some(k) = mock_key_file {
        e.push_str(&format!(
            "    mock:\n      ttft: 5ms\n      tokens_per_second: 2000\n      jitter: 0\n      auth: {{ keys: [{{ key_ref: file:{k} }}] }}\n"
        ));
    }
    e
}

fn scenario(endpoint: &str, stream: bool, turns: u32, rate: u32) -> String {
    format!(
        "name: bedrock\nseed: 4\nduration: 1s\nendpoints:\n{endpoint}features:\n  f:\n    endpoint: e\n    stream: {stream}\n    session: {{ turns: {turns} }}\n    prompt: {{ system_tokens: 30, context_tokens: 40, user_tokens: 12 }}\n    output_tokens: 6\nload: {{ rate: {rate} }}\n"
    )
}

fn key_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_against_the_mock_matches_its_counts_with_every_signature_verified() {
    let dir = tempfile::tempdir().unwrap();
    let ours = key_file(&dir, "ours", KEYS);
    for stream in [true, false] {
        let e = endpoint("mock", &ours, Some(&ours));
        let (s, _d) = run(&scenario(&e, stream, 2, 5)).await;
        let truth = &s.mock_server["e"];
        let what = format!("stream {stream}");
        assert_eq!(s.totals.calls, 10, "{what}: {:?}", s.errors);
        assert_eq!(outcome(&s, "ok"), 10, "{what}: {:?}", s.errors);
        assert_eq!(truth.by_status[&200], 10, "{what}");
        assert_eq!(truth.auth_refused, 0, "{what}");
        assert_eq!(s.totals.input_tokens, truth.prompt_tokens, "{what}");
        assert_eq!(s.totals.input_token_ratio, Some(1.0), "{what}");
        assert_eq!(s.totals.output_tokens, truth.completion_tokens, "{what}");
        assert_eq!(truth.completion_tokens, 60, "{what}");
        // Bedrock's own latency, from each answer's body.
        let latency = &s.endpoints["e"].server_timing_ms["metrics.latencyMs"];
        assert_eq!(latency.count, 10, "{what}");
        if stream {
            assert_eq!(truth.streams_completed, 10, "{what}");
            assert_eq!(s.ttft_ms.count, 10, "{what}");
            assert_eq!(s.itl_ms.count, 50, "{what}: 5 gaps per 6-token answer");
        }
    }

    // Signed with another secret: Bedrock's 403, never retried, classified `auth`.
    let theirs = key_file(&dir, "theirs", "AKIDTEST0123:another-secret");
    let e = endpoint("mock", &theirs, Some(&ours));
    let (s, _d) = run(&scenario(&e, true, 1, 5)).await;
    assert_failed(&s, "auth", 5, "403 InvalidSignatureException");
    assert_eq!(s.mock_server["e"].auth_refused, 5);
    assert_eq!(s.mock_server["e"].by_status[&403], 5);
    assert_eq!(s.totals.attempts, 5);
    // A key the mock does not know.
    let unknown = key_file(&dir, "unknown", "AKIDOTHER:s3cr3t/Key+0123");
    let e = endpoint("mock", &unknown, Some(&ours));
    let (s, _d) = run(&scenario(&e, false, 1, 3)).await;
    assert_failed(&s, "auth", 3, "403 UnrecognizedClientException");
}

async fn one_request(
    key_text: &str,
    stream: bool,
    template: ResponseTemplate,
) -> (Summary, Request) {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(template)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(&dir, "key", key_text);
    let (s, _d) = run(&scenario(
        &endpoint(&server.uri(), &key, None),
        stream,
        1,
        1,
    ))
    .await;
    let mut reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    (s, reqs.remove(0))
}

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn ok_body() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        r#"{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":1,"totalTokens":6},"metrics":{"latencyMs":412}}"#,
        "application/json",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_sends_its_exact_signed_request() {
    let token = "IQoJb3JpZ2luX2VjEXAMPLE/token+=";
    for (stream, keys) in [(false, KEYS.to_string()), (true, format!("{KEYS}:{token}"))] {
        let template = match stream {
            true => fixture("converse-stream.bin"),
            false => ok_body(),
        };
        let (s, r) = one_request(&keys, stream, template).await;
        assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
        assert_eq!(r.method.as_str(), "POST");
        let path = format!(
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/{}",
            if stream {
                "converse-stream"
            } else {
                "converse"
            }
        );
        assert_eq!(r.url.path(), path);
        assert_eq!(r.url.query(), None);
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        let date = header(&r, "x-amz-date").unwrap();
        let auth = header(&r, "authorization").unwrap();
        let signed = match stream {
            true => "content-type;host;x-amz-date;x-amz-security-token",
            false => "content-type;host;x-amz-date",
        };
        let prefix = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDTEST0123/{}/us-east-1/bedrock/aws4_request, SignedHeaders={signed}, Signature=",
            &date[..8]
        );
        assert!(auth.starts_with(&prefix), "{auth}");
        assert_eq!(header(&r, "x-amz-security-token"), stream.then_some(token));
        // The signature is Bedrock's to check: made again from what arrived, it holds.
        let headers: Vec<(&str, &str)> = r
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        let host = header(&r, "host").unwrap();
        let arrived = |body: &'_ [u8]| {
            sigv4::verify(
                &sigv4::Request {
                    method: "POST",
                    host,
                    path: r.url.path(),
                    query: None,
                    headers: &headers,
                    body,
                },
                "bedrock",
                |id| (id == "AKIDTEST0123").then(|| "s3cr3t/Key+0123".to_string()),
                std::time::SystemTime::now(),
            )
        };
        assert_eq!(arrived(&r.body), Ok(()));
        assert!(arrived(b"{}").is_err(), "the body is signed");

        let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(b["inferenceConfig"]["maxTokens"], 6);
        assert!(b.get("model").is_none() && b.get("stream").is_none(), "{b}");
        let system = b["system"].as_array().unwrap();
        assert_eq!(system.len(), 2, "system prompt and context, as text blocks");
        assert!(system.iter().all(|s| s["text"].is_string()));
        let messages = b["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["role"], "user");
        assert!(messages[0]["content"][0]["text"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bedrock_api_key_goes_as_a_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ok_body())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(&dir, "key", "ABSKQmVkcm9ja0FQSUtleS1test");
    let e = format!(
        "  e:\n    provider: bedrock\n    base_url: {}\n    region: us-east-1\n    model_name: {MODEL}\n    auth_type: bearer\n    credential_ref: file:{key}\n",
        server.uri()
    );
    let (s, _d) = run(&scenario(&e, false, 1, 1)).await;
    assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        header(r, "authorization"),
        Some("Bearer ABSKQmVkcm9ja0FQSUtleS1test")
    );
    assert_eq!(header(r, "x-amz-date"), None);
}

fn fixture(name: &str) -> ResponseTemplate {
    let path = format!(
        "{}/tests/fixtures/eventstream/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    ResponseTemplate::new(200).set_body_raw(
        std::fs::read(path).unwrap(),
        "application/vnd.amazon.eventstream",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_event_streams_parse_to_the_figures_they_carry() {
    // Three text deltas; usage 153 in, 7 out; the server's latency 812 ms.
    let (s, _) = one_request(KEYS, true, fixture("converse-stream.bin")).await;
    assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
    assert_eq!(s.ttft_ms.count, 1);
    assert_eq!(s.itl_ms.count, 2, "a gap between each delta");
    assert_eq!(s.totals.input_tokens, 153);
    assert_eq!(s.totals.output_tokens, 7);
    assert_eq!(s.totals.estimated_token_calls, 0);
    let latency = &s.endpoints["e"].server_timing_ms["metrics.latencyMs"];
    assert_eq!(latency.count, 1);
    assert!((latency.max - 812.0).abs() < 0.5, "{}", latency.max);

    // An exception in place of the answer's end.
    let (s, _) = one_request(KEYS, true, fixture("throttled-mid-stream.bin")).await;
    assert_failed(&s, "stream_cut", 1, "throttlingException: Too many tokens");

    // Cut in the middle of a frame: the stream ends without its end.
    let whole = std::fs::read(format!(
        "{}/tests/fixtures/eventstream/converse-stream.bin",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let cut = ResponseTemplate::new(200).set_body_raw(
        whole[..whole.len() * 2 / 3].to_vec(),
        "application/vnd.amazon.eventstream",
    );
    let (s, _) = one_request(KEYS, true, cut).await;
    assert_failed(&s, "stream_cut", 1, "without a finish reason");

    // A damaged frame is not Bedrock's wire.
    let mut damaged = whole.clone();
    damaged[40] ^= 0xFF;
    let damaged =
        ResponseTemplate::new(200).set_body_raw(damaged, "application/vnd.amazon.eventstream");
    let (s, _) = one_request(KEYS, true, damaged).await;
    assert_failed(&s, "protocol", 1, "CRC");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrocks_exceptions_are_classified_by_name() {
    let error = |status: u16, name: &str, message: &str| {
        ResponseTemplate::new(status)
            .insert_header(
                "x-amzn-errortype",
                format!("{name}:http://internal.amazon.com/coral/com.amazon.bedrock/").as_str(),
            )
            .set_body_raw(format!(r#"{{"message":"{message}"}}"#), "application/json")
    };
    for (template, expected, says) in [
        (
            error(
                429,
                "ThrottlingException",
                "Too many requests, please wait before trying again.",
            ),
            "http_429",
            "ThrottlingException: {\"message\":\"Too many requests",
        ),
        // A 429 that is the model loading, not a rate limit.
        (
            error(
                429,
                "ModelNotReadyException",
                "Model is not ready to serve inference requests.",
            ),
            "http_5xx",
            "ModelNotReadyException",
        ),
        (
            error(
                503,
                "ServiceUnavailableException",
                "Bedrock is unable to process your request.",
            ),
            "http_5xx",
            "ServiceUnavailableException",
        ),
        (
            error(
                400,
                "ValidationException",
                "Input is too long for requested model.",
            ),
            "http_4xx",
            "Input is too long for requested model.",
        ),
        (
            error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            "auth",
            "UnrecognizedClientException",
        ),
    ] {
        let (s, _) = one_request(KEYS, false, template).await;
        assert_failed(&s, expected, 1, says);
    }
}

/// Keys where the AWS CLI keeps them: a profile of the shared credentials file
/// (`aws:NAME`), and the JSON of `aws configure export-credentials` from a command.
#[test]
fn keys_come_from_an_aws_profile_or_the_clis_export() {
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = KEYS.split_once(':').unwrap();
    let credentials = key_file(
        &dir,
        "credentials",
        &format!("[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = x\n\n[drill]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"),
    );
    let mock_keys = key_file(&dir, "mock", KEYS);
    let export = key_file(
        &dir,
        "export.sh",
        &format!("echo '{{\"Version\":1,\"AccessKeyId\":\"{id}\",\"SecretAccessKey\":\"{secret}\",\"Expiration\":\"2099-01-01T00:00:00+00:00\"}}'"),
    );
    for reference in ["aws:drill".to_string(), format!("exec:sh {export}")] {
        let yaml = scenario(
            &format!(
                "  e:\n    provider: bedrock\n    base_url: mock\n    region: eu-west-3\n    model_name: {MODEL}\n    auth_type: aws_sigv4\n    credential_ref: {reference}\n    mock: {{ ttft: 5ms, tokens_per_second: 2000, auth: {{ keys: [{{ key_ref: file:{mock_keys} }}] }} }}\n"
            ),
            false,
            1,
            3,
        );
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, yaml).unwrap();
        let out = std::process::Command::new(BIN)
            .args(["run", path.to_str().unwrap(), "--out"])
            .arg(dir.path().join("out"))
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{reference}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("outcomes: ok 3"), "{reference}: {stdout}");
    }
    // A profile that is not there: one line naming the endpoint and the file.
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        scenario(
            &format!("  e:\n    provider: bedrock\n    base_url: mock\n    region: eu-west-3\n    model_name: {MODEL}\n    auth_type: aws_sigv4\n    credential_ref: aws:nope\n"),
            false,
            1,
            1,
        ),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["validate", path.to_str().unwrap()])
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("endpoints.e.credential_ref")
            && stderr.contains("AWS profile `nope` is not in"),
        "{stderr}"
    );
}

/// What `validate` says of the Bedrock template: the cross-region inference profile may
/// leave the feature's residency; a region the host contradicts is an error; signing
/// needs a region.
#[test]
fn validate_checks_profiles_regions_and_signing() {
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/bedrock-claude.yaml");
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIDVALIDATE"),
        ("AWS_SECRET_ACCESS_KEY", "not-a-secret"),
    ];
    let validate = |extra: &[&str]| validate_said(template, extra, &env);
    let (code, stderr) = validate(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("calls the cross-region inference profile `eu.anthropic.claude-3-7-sonnet-20250219-v1:0`: Bedrock may serve each call from any region of the EU"),
        "{stderr}"
    );
    let (code, stderr) = validate(&["--set", "endpoints.claude-eu.region=us-east-1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("names region eu-central-1"), "{stderr}");
    let (code, stderr) = validate(&[
        "--set",
        "endpoints.claude-eu.base_url=https://gateway.internal",
        "--set",
        "endpoints.claude-eu.region=",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("endpoints.claude-eu: a bedrock endpoint needs `region`"),
        "{stderr}"
    );
}

/// Throttling faults on the mock come back as Bedrock's ThrottlingException, each one
/// `http_429`, as many as the mock counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_faults_are_429s_as_the_mock_counted_them() {
    let dir = tempfile::tempdir().unwrap();
    let ours = key_file(&dir, "ours", KEYS);
    for stream in [true, false] {
        let yaml = scenario(&endpoint("mock", &ours, Some(&ours)), stream, 1, 20);
        assert_throttled_as_the_mock_counted(&yaml, "429 ThrottlingException").await;
    }
}

/// A retry is signed again: its own `x-amz-date`, a signature that verifies for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_signed_at_its_own_time() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "2")
                .insert_header(
                    "x-amzn-errortype",
                    "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                )
                .set_body_raw(
                    r#"{"message":"Too many requests, please wait before trying again."}"#,
                    "application/json",
                ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ok_body())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(&dir, "key", KEYS);
    let yaml = scenario(&endpoint(&server.uri(), &key, None), false, 1, 1).replace(
        "load:",
        "retry: { max_attempts: 2, backoff: { base: 2s, max: 4s } }\nload:",
    );
    let (s, _d) = run(&yaml).await;
    assert_eq!(outcome(&s, "ok"), 1, "{:?}", s.errors);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    let date = |r: &Request| header(r, "x-amz-date").unwrap().to_string();
    assert_ne!(date(&reqs[0]), date(&reqs[1]), "the retry waited 2 s");
    for r in &reqs {
        let headers: Vec<(&str, &str)> = r
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        let verdict = sigv4::verify(
            &sigv4::Request {
                method: "POST",
                host: header(r, "host").unwrap(),
                path: r.url.path(),
                query: None,
                headers: &headers,
                body: &r.body,
            },
            "bedrock",
            |_| Some("s3cr3t/Key+0123".to_string()),
            std::time::SystemTime::now(),
        );
        assert_eq!(verdict, Ok(()));
    }
}

/// Keys from a command (`exec:`, as `aws configure export-credentials` gives them) that
/// the endpoint refuses are fetched again once and the call signed anew: a rotation
/// costs one 403, not a run of failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_keys_from_a_command_are_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let ours = key_file(&dir, "ours", KEYS);
    let flag = dir.path().join("fetched");
    // Stale keys the first time, the good ones after.
    let script = key_file(
        &dir,
        "keys.sh",
        &format!(
            "if [ -f {f} ]; then echo '{KEYS}'; else touch {f}; echo 'AKIDTEST0123:a-stale-secret'; fi\n",
            f = flag.display()
        ),
    );
    let e = endpoint("mock", &ours, Some(&ours)).replace(
        &format!("credential_ref: file:{ours}"),
        &format!("credential_ref: exec:sh {script}"),
    );
    // A call a second, so that each starts after the one before has ended.
    let yaml = scenario(&e, false, 1, 1).replace("duration: 1s", "duration: 3s");
    let (s, _d) = run(&yaml).await;
    assert_eq!(outcome(&s, "ok"), 3, "{:?}", s.errors);
    let truth = &s.mock_server["e"];
    assert_eq!((truth.auth_refused, truth.by_status[&403]), (1, 1));
    assert_eq!((truth.by_status[&200], s.totals.attempts), (3, 4));
}
