//! Helpers shared by the test modules: scenario files in temp folders, in-process runs.

use llm_drill::report::Summary;
use llm_drill::{RunOptions, RunOutput};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

pub struct TempScenario {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn scenario(yaml: &str) -> TempScenario {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, yaml).expect("write scenario");
    TempScenario { dir, path }
}

pub fn options(s: &TempScenario) -> RunOptions {
    RunOptions {
        out: Some(s.dir.path().join("results")),
        ..RunOptions::new(&s.path)
    }
}

pub async fn run(yaml: &str) -> (Summary, TempScenario) {
    let s = scenario(yaml);
    let out: RunOutput = llm_drill::run(&options(&s), CancellationToken::new())
        .await
        .expect("the run finishes");
    (out.summary, s)
}

pub fn outcome(s: &Summary, key: &str) -> u64 {
    s.totals.by_outcome.get(key).copied().unwrap_or(0)
}

/// Asserts that `n` calls ended as `key` and that the first error recorded says `says`.
#[track_caller]
pub fn assert_failed(s: &Summary, key: &str, n: u64, says: &str) {
    assert_eq!(
        outcome(s, key),
        n,
        "{:?} {:?}",
        s.totals.by_outcome,
        s.errors
    );
    assert!(
        s.errors.first().is_some_and(|e| e.message.contains(says)),
        "expected the first error to say `{says}`: {:?}",
        s.errors
    );
}

/// A one-endpoint scenario against `base_url`: `rate` calls per second for `secs`.
pub fn simple(base_url: &str, stream: bool, timeout: &str, rate: u32, secs: u32) -> String {
    format!(
        "name: t\nseed: 7\nduration: {secs}s\ngraceful_stop: 10s\nendpoints:\n  e:\n    provider: openai\n    base_url: {base_url}\n    model_name: gpt-4o-mini\n    timeout: {timeout}\nfeatures:\n  f:\n    endpoint: e\n    stream: {stream}\n    prompt: {{ system_tokens: 20, user_tokens: 30 }}\n    output_tokens: 5\nload: {{ rate: {rate} }}\n"
    )
}

/// The `llm-drill` binary, for tests that run it as a user would.
pub const BIN: &str = env!("CARGO_BIN_EXE_llm-drill");

/// `text` with `from` replaced by `to`; fails the test if `from` is not there, so a
/// variant never silently equals its original when the text it edits changes.
pub fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the scenario no longer contains `{from}`: update the test"
    );
    text.replace(from, to)
}

/// Runs `llm-drill` with `args` and returns its exit code, stdout and stderr.
pub fn llm_drill(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `llm-drill validate SCENARIO ARGS` with `env` set: its exit code and all it said
/// (warnings come with the plan on stdout, errors on stderr).
pub fn validate_said(scenario: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = std::process::Command::new(BIN)
        .arg("validate")
        .arg(scenario)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), said)
}

/// Runs `yaml` (whose one endpoint is `e`, on the embedded mock) with a rate-limit fault
/// on 30% of its requests: every 429 comes back `http_429`, as many as the mock counted,
/// and an error says `says` (the provider's own name for it).
pub async fn assert_throttled_as_the_mock_counted(yaml: &str, says: &str) {
    let yaml = yaml.replace(
        "load:",
        "faults:\n  - { endpoint: e, kind: rate_limit, probability: 0.3 }\nload:",
    );
    let (s, _d) = run(&yaml).await;
    let e = &s.endpoints["e"];
    let n429 = e.by_outcome.get("http_429").copied().unwrap_or(0);
    assert!(n429 > 0, "{says}: {:?}", e.by_outcome);
    assert_eq!(n429, s.mock_server["e"].by_status[&429], "{says}");
    assert!(
        s.errors.iter().any(|x| x.message.contains(says)),
        "{says}: {:?}",
        s.errors
    );
}
