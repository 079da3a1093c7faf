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
    for needle in [SECRET, "0123456789ABCDEFGHIJ"] {
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
