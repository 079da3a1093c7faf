//! The binary as a user runs it: the shipped scenarios validate, `report` re-renders a
//! results folder, and Ctrl-C (SIGINT) writes partial results and exits 130.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_llm-drill");

#[test]
fn shipped_scenarios_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let out = Command::new(BIN)
            .arg("validate")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn sigint_writes_partial_results_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("res");
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let mut child = Command::new(BIN)
        .args(["run", "--no-progress", "--set", "duration=60s", "--out"])
        .arg(&out_dir)
        .arg(&quickstart)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("llm-drill did not stop within 60 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true);
    assert!(summary["totals"]["calls"].as_u64().unwrap() > 0);

    let report = Command::new(BIN)
        .arg("report")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&report.stdout).contains("INTERRUPTED"));
}

#[test]
fn results_that_cannot_be_written_still_print_the_summary_and_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("res");
    // A directory where summary.json should go: the final rename cannot replace it.
    std::fs::create_dir_all(out_dir.join("summary.json/occupied")).unwrap();
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let out = Command::new(BIN)
        .args([
            "run",
            "--no-progress",
            "--set",
            "duration=1s",
            "--set",
            "load.rate=5",
            "--out",
        ])
        .arg(&out_dir)
        .arg(&quickstart)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("calls "),
        "the summary is printed"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write results"));
}

#[test]
fn an_unusable_results_folder_stops_the_run_before_sending() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let out = Command::new(BIN)
        .args(["run", "--no-progress", "--out"])
        .arg(file.join("res"))
        .arg(&quickstart)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot create the results folder"));
}

#[test]
fn a_second_sigint_quits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    // Every answer takes 20 s to start: after the first SIGINT the run waits for them.
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--no-progress",
            "--set",
            "duration=60s",
            "--set",
            "endpoints.assistant.mock.ttft=20s",
        ])
        .arg("--out")
        .arg(tmp.path().join("res"))
        .arg(&quickstart)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    std::thread::sleep(Duration::from_millis(2000));
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still waiting for calls in flight"
    );
    let second = Instant::now();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if second.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("a second SIGINT did not quit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
}
