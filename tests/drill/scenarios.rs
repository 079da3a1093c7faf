//! Bad input: every malformed scenario exits 2 with a located, one-line-first error and
//! sends nothing; overrides and credentials are checked before any traffic.

use super::support::{options, replaced, scenario};
use llm_drill::RunError;
use std::path::Path;
use std::process::Command;
use tokio_util::sync::CancellationToken;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::support::BIN;

/// Each file's first line says what to expect: `# expect: LINE:COL PATH | MESSAGE`
/// (`-` where a part is not checked).
fn expectation(path: &Path) -> (Option<String>, Option<String>, String) {
    let bytes = std::fs::read(path).unwrap();
    let first = String::from_utf8_lossy(bytes.split(|b| *b == b'\n').next().unwrap()).to_string();
    let spec = first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{} lacks an expect line", path.display()));
    let (head, message) = spec.split_once(" | ").unwrap_or((spec, ""));
    let mut parts = head.split_whitespace();
    let loc = parts.next().filter(|p| *p != "-").map(str::to_string);
    let key = parts.next().filter(|p| *p != "-").map(str::to_string);
    (loc, key, message.trim().to_string())
}

#[test]
fn every_malformed_scenario_exits_2_with_a_located_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the corpus has {} files", files.len());
    let out_dir = tempfile::tempdir().unwrap();
    for file in files {
        let (loc, key, message) = expectation(&file);
        for args in [
            vec!["validate"],
            vec!["run", "--out", out_dir.path().to_str().unwrap()],
        ] {
            let out = Command::new(BIN).args(&args).arg(&file).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let name = file.display();
            assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {stderr}");
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
            let first = stderr.lines().next().unwrap_or_default();
            let prefix = format!("error: {}:", file.display());
            assert!(first.starts_with(&prefix), "{name}: first line `{first}`");
            let rest = &first[prefix.len()..];
            let (line, col) = {
                let mut it = rest.splitn(3, ':');
                (it.next().unwrap_or(""), it.next().unwrap_or(""))
            };
            assert!(
                line.parse::<usize>().is_ok_and(|l| l >= 1),
                "{name}: no line in `{first}`"
            );
            assert!(
                col.parse::<usize>().is_ok_and(|c| c >= 1),
                "{name}: no column in `{first}`"
            );
            if let Some(loc) = &loc {
                assert!(
                    rest.starts_with(&format!("{loc}: ")),
                    "{name}: expected {loc} in `{first}`"
                );
            }
            if let Some(key) = &key {
                assert!(
                    first.contains(&format!(": {key}: ")),
                    "{name}: expected key {key} in `{first}`"
                );
            }
            assert!(
                first.contains(&message),
                "{name}: expected `{message}` in `{first}`"
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        0,
        "an invalid run wrote results"
    );
}

/// Runs a scenario against a wiremock server after `edit`, and checks that the run is
/// refused as invalid with a message containing `expected`, and that nothing was sent.
async fn refused_before_sending(edit: impl FnOnce(String) -> String, expected: &str) {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let s = scenario(&edit(super::support::simple(
        &server.uri(),
        false,
        "2s",
        5,
        1,
    )));
    let err = llm_drill::run(&options(&s), CancellationToken::new())
        .await
        .err()
        .expect("invalid");
    assert!(
        matches!(err, RunError::Invalid(ref m) if m.contains(expected)),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_invalid_scenario_sends_nothing() {
    refused_before_sending(
        |y| replaced(&y, "seed: 7", "seed: 7\nthreshold: 3"),
        "unknown field `threshold`",
    )
    .await;
}

#[tokio::test]
async fn a_missing_credential_variable_stops_the_run_before_sending() {
    refused_before_sending(
        |y| {
            replaced(
                &y,
                "    model_name: gpt-4o-mini\n",
                "    model_name: gpt-4o-mini\n    auth_type: bearer\n    credential_ref: env:LLM_DRILL_TEST_NEVER_SET\n",
            )
        },
        "LLM_DRILL_TEST_NEVER_SET",
    )
    .await;
}

#[test]
fn set_overrides_are_checked_and_located() {
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let cases = [
        ("load.rate=-3", "load.rate: must be a positive number"),
        ("load.rate=lots", "load.rate: invalid type"),
        (
            "features.chat.endpoint=nowhere",
            "features.chat.endpoint: `nowhere` names no endpoint",
        ),
        ("load.stages.4.rate=1", "load.stages: invalid type"),
        ("nonsense", "expected KEY=VALUE"),
    ];
    for (set, expected) in cases {
        let out = Command::new(BIN)
            .args(["validate", "--set", set])
            .arg(&quickstart)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--set {set}: {stderr}");
        assert!(
            stderr.lines().next().unwrap_or_default().contains(expected)
                || stderr.contains(expected),
            "--set {set}: {stderr}"
        );
    }
    let ok = Command::new(BIN)
        .args(["validate", "--set", "load.rate=50", "--set", "duration=3s"])
        .arg(&quickstart)
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("about 150 sessions"));
}
