//! Bring-your-own endpoint registrations: a corpus of the mistakes people make (wrong
//! region, missing credential, inline key, fallback cycles, capabilities, residency,
//! insecure http, context) each found by `validate` and located; and a known secret that
//! never appears in anything a run writes, whether it succeeds, fails or is interrupted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::support::BIN;

fn validate(file: &Path) -> Output {
    Command::new(BIN)
        .arg("validate")
        .arg(file)
        .env("LLM_DRILL_TEST_KEY", "not-a-real-key")
        .env_remove("LLM_DRILL_TEST_UNSET_VARIABLE")
        .output()
        .unwrap()
}

#[test]
fn every_wrong_registration_is_found_and_located() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_registrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 12, "{} files", files.len());
    let out_dir = tempfile::tempdir().unwrap();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // `# expect: SEVERITY LINE:COL PATH | MESSAGE`
        let spec = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .unwrap();
        let (head, message) = spec.split_once(" | ").unwrap();
        let mut parts = head.split_whitespace();
        let (severity, loc, key) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let name = file.display().to_string();
        let out = validate(&file);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        let line = format!("{severity}: {name}:{loc}: {key}: ");
        let found = all
            .lines()
            .find(|l| l.starts_with(&line))
            .unwrap_or_else(|| panic!("{name}: no `{line}…` in\n{all}"));
        assert!(
            found.contains(message),
            "{name}: `{message}` not in `{found}`"
        );
        assert!(!all.contains("panicked"), "{name}");
        match severity {
            "error" => {
                assert_eq!(out.status.code(), Some(2), "{name}");
                let first = String::from_utf8_lossy(&out.stderr);
                assert!(
                    first.starts_with(&format!("error: {name}:")),
                    "{name}: {first}"
                );
                // `run` refuses it too, before sending or writing anything.
                let run = Command::new(BIN)
                    .args(["run", "--no-progress", "--out"])
                    .arg(out_dir.path().join("r"))
                    .arg(&file)
                    .env("LLM_DRILL_TEST_KEY", "not-a-real-key")
                    .env_remove("LLM_DRILL_TEST_UNSET_VARIABLE")
                    .output()
                    .unwrap();
                assert_eq!(run.status.code(), Some(2), "{name} run");
                assert!(
                    !out_dir.path().join("r").exists(),
                    "{name}: run wrote results"
                );
            }
            _ => assert_eq!(out.status.code(), Some(0), "{name}: warnings alone pass"),
        }
    }
}

#[test]
fn a_key_given_with_set_is_refused_without_being_echoed() {
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let key = "sk-proj-Zz9Yy8Xx7Ww6Vv5Uu4Tt3";
    let out = Command::new(BIN)
        .arg("validate")
        .arg(&quickstart)
        .arg("--set")
        .arg(format!("endpoints.assistant.display_name={key}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("looks like a secret written inline"),
        "{stderr}"
    );
    assert!(!stderr.contains(key) && !String::from_utf8_lossy(&out.stdout).contains(key));
}

const SECRET: &str = "sk-leaktest-0123456789ABCDEFGHIJ-secret";

/// A scenario at `url` whose key is `SECRET`, from the environment.
fn leak_scenario(dir: &Path, url: &str, stream: bool) -> PathBuf {
    let yaml = format!(
        "name: leak\nseed: 1\nduration: 1s\ngraceful_stop: 10s\nendpoints:\n  e:\n    provider: openai\n    base_url: {url}\n    auth_type: bearer\n    credential_ref: env:LEAK_TEST_KEY\n    model_name: gpt-4o-mini\n    timeout: 3s\nfeatures:\n  f:\n    endpoint: e\n    stream: {stream}\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 4 }}\n"
    );
    let p = dir.join("leak.yaml");
    std::fs::write(&p, yaml).unwrap();
    p
}

/// Every byte the run wrote: stdout, stderr and each file of the results folder.
fn assert_no_secret(out: &Output, results: &Path, what: &str) {
    assert_none_of(out, results, what, &[SECRET, "0123456789ABCDEFGHIJ"]);
}

/// Every byte the run wrote holds none of `needles`.
fn assert_none_of(out: &Output, results: &Path, what: &str, needles: &[&str]) {
    let mut texts = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    let mut files = 0;
    for entry in std::fs::read_dir(results).unwrap() {
        let p = entry.unwrap().path();
        files += 1;
        texts.push((p.display().to_string(), std::fs::read(&p).unwrap()));
    }
    assert!(files >= 3, "{what}: the results folder has {files} files");
    // The whole key, and its distinctive middle, which a partial echo would contain.
    for needle in needles {
        for (name, bytes) in &texts {
            let hit = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!hit, "{what}: the secret is in {name}");
        }
    }
}

fn run_leak(scenario: &Path, results: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--no-progress", "--out"])
        .arg(results)
        .arg(scenario)
        .env("LEAK_TEST_KEY", SECRET)
        .env("RUST_BACKTRACE", "1");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_never_appears_in_what_a_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    // 1. A run that succeeds; the endpoint checks it got the key.
    let ok = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1}}"#,
            "application/json",
        ))
        .mount(&ok)
        .await;
    let results = dir.path().join("ok");
    let out = run_leak(&leak_scenario(dir.path(), &ok.uri(), false), &results)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok 4"));
    assert_no_secret(&out, &results, "a run that succeeds");

    // 2. A run that fails: the endpoint refuses the key and echoes it in its error body,
    // as a careless gateway does.
    let echo = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            format!(r#"{{"error":{{"message":"Incorrect API key provided: {SECRET}","type":"invalid_request_error"}}}}"#),
            "application/json",
        ))
        .mount(&echo)
        .await;
    let results = dir.path().join("fail");
    let out = run_leak(&leak_scenario(dir.path(), &echo.uri(), true), &results)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("auth 4"), "{stdout}");
    assert!(
        stdout.contains("[redacted]"),
        "the echo is kept, the key is not: {stdout}"
    );
    assert_no_secret(&out, &results, "a run that fails");

    // 3. A run interrupted with Ctrl-C while its calls hang.
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&slow)
        .await;
    let results = dir.path().join("interrupted");
    let child = run_leak(&leak_scenario(dir.path(), &slow.uri(), true), &results)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SAFETY: kill(2) on our own child's pid; no memory is touched.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_secret(&out, &results, "an interrupted run");
}

/// AWS keys and a service account's key and tokens: an endpoint that echoes a part of
/// them (the secret key, the session token, a line of the private key, the token it was
/// given) never gets it into what the run writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_secrets_never_appear_in_what_a_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    const AWS_SECRET: &str = "leakSecretKey0123456789ABCDEFGHIJklmnopq";
    const AWS_TOKEN: &str = "IQoJleakSessionToken9876543210ZYXWVUTSRQ";
    let echo = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-amzn-errortype", "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/")
                .set_body_raw(
                    format!(r#"{{"message":"The request signature we calculated does not match. Secret {AWS_SECRET}, token {AWS_TOKEN}"}}"#),
                    "application/json",
                ),
        )
        .mount(&echo)
        .await;
    let yaml = format!(
        "name: leak\nseed: 1\nduration: 1s\nendpoints:\n  e:\n    provider: bedrock\n    base_url: {}\n    region: eu-west-1\n    auth_type: aws_sigv4\n    credential_ref: env:LEAK_AWS_KEYS\n    model_name: anthropic.claude-3-5-haiku-20241022-v1:0\n    timeout: 3s\nfeatures:\n  f:\n    endpoint: e\n    stream: true\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 4 }}\n",
        echo.uri()
    );
    let scenario = dir.path().join("bedrock.yaml");
    std::fs::write(&scenario, yaml).unwrap();
    let results = dir.path().join("bedrock");
    let out = run_leak(&scenario, &results)
        .env(
            "LEAK_AWS_KEYS",
            format!("AKIDLEAKTEST:{AWS_SECRET}:{AWS_TOKEN}"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("auth 4") && stdout.contains("[redacted]"),
        "{stdout}"
    );
    assert_none_of(&out, &results, "bedrock", &[AWS_SECRET, AWS_TOKEN]);

    // Vertex: the token endpoint hands out a token; the chat endpoint refuses it,
    // echoing it and a line of the account's private key.
    const TOKEN: &str = "ya29.leakAccessToken0123456789abcdefghij";
    let key: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/vertex/service-account.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let pem_line = key["private_key"]
        .as_str()
        .unwrap()
        .lines()
        .nth(3)
        .unwrap()
        .to_string();
    let google = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"access_token":"{TOKEN}","expires_in":3599}}"#),
            "application/json",
        ))
        .mount(&google)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            format!(r#"{{"error":{{"code":401,"message":"Bearer {TOKEN} is not valid for key {pem_line}","status":"UNAUTHENTICATED"}}}}"#),
            "application/json",
        ))
        .mount(&google)
        .await;
    let mut account = key.clone();
    account["token_uri"] = serde_json::json!(format!("{}/token", google.uri()));
    let account_file = dir.path().join("sa.json");
    std::fs::write(&account_file, account.to_string()).unwrap();
    let yaml = format!(
        "name: leak\nseed: 1\nduration: 1s\nendpoints:\n  e:\n    provider: vertex\n    base_url: {}\n    project: p\n    location: europe-west4\n    auth_type: service_account\n    credential_ref: file:{}\n    model_name: gemini-2.5-flash\n    timeout: 3s\nfeatures:\n  f:\n    endpoint: e\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 4 }}\n",
        google.uri(),
        account_file.display()
    );
    let scenario = dir.path().join("vertex.yaml");
    std::fs::write(&scenario, yaml).unwrap();
    let results = dir.path().join("vertex");
    let out = run_leak(&scenario, &results).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("auth 4") && stdout.contains("[redacted]"),
        "{stdout}"
    );
    assert_none_of(&out, &results, "vertex", &[TOKEN, &pem_line]);
}
