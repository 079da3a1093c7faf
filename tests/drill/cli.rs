//! The binary as a user runs it: the shipped scenarios validate, `report` re-renders a
//! results folder, Ctrl-C (SIGINT) writes partial results and exits 130 (a second one
//! quits at once), and results that cannot be written still leave the summary printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::support::BIN;

fn quickstart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml")
}

fn sigint(child: &Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits for the process to exit; kills it and fails the test past `limit`.
fn wait_for(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `llm-drill run` on the quickstart with extra arguments, results in `out`.
fn run_quickstart(out: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--no-progress"])
        .args(args)
        .arg("--out")
        .arg(out)
        .arg(quickstart());
    cmd
}

/// The credential variables the shipped templates reference.
const TEMPLATE_VARIABLES: [&str; 8] = [
    "GEMINI_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "PLATFORM_API_KEY",
    "ANTHROPIC_API_KEY",
    "VLLM_API_KEY",
];

#[test]
fn shipped_scenarios_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut templates = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // Scenarios only: `scenarios/rotation/` holds the rotation drill's key files.
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let mut cmd = Command::new(BIN);
        cmd.arg("validate").arg(&path);
        for v in TEMPLATE_VARIABLES {
            cmd.env(v, "dummy-value-for-validate");
        }
        // `google:` reads the key file this names.
        cmd.env(
            "GOOGLE_APPLICATION_CREDENTIALS",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/vertex/service-account.json"),
        );
        let out = cmd.output().unwrap();
        // Without its credential variables, a template says which one is missing.
        let text = std::fs::read_to_string(&path).unwrap();
        if let Some(var) = TEMPLATE_VARIABLES
            .iter()
            .find(|v| text.contains(&format!("env:{v}")))
        {
            templates += 1;
            let mut bare = Command::new(BIN);
            bare.arg("validate").arg(&path);
            for v in TEMPLATE_VARIABLES {
                bare.env_remove(v);
            }
            let bare = bare.output().unwrap();
            assert_eq!(bare.status.code(), Some(2), "{}", path.display());
            let stderr = String::from_utf8_lossy(&bare.stderr);
            assert!(
                stderr.contains(var) || stderr.contains("is not set"),
                "{stderr}"
            );
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("ok: "),
            "{}",
            path.display()
        );
    }
    assert!(
        templates >= 4,
        "azure, anthropic, vllm and openai templates: {templates}"
    );
}

#[test]
fn sigint_writes_partial_results_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("res");
    let mut child = run_quickstart(&out_dir, &["--set", "duration=60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    sigint(&child);
    let status = wait_for(&mut child, Duration::from_secs(60), "after SIGINT");
    assert_eq!(status.code(), Some(130));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true);
    assert!(summary["totals"]["calls"].as_u64().unwrap() > 0);

    // `report` renders the same files again from the stored summary, byte for byte.
    let rendered =
        ["summary.txt", "summary.md", "junit.xml"].map(|f| std::fs::read(out_dir.join(f)).unwrap());
    for f in ["summary.txt", "summary.md", "junit.xml"] {
        std::fs::remove_file(out_dir.join(f)).unwrap();
    }
    let report = Command::new(BIN)
        .arg("report")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&report.stdout).contains("INTERRUPTED"));
    for (f, before) in ["summary.txt", "summary.md", "junit.xml"]
        .iter()
        .zip(rendered)
    {
        assert_eq!(std::fs::read(out_dir.join(f)).unwrap(), before, "{f}");
    }
}

#[test]
fn a_second_sigint_quits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    // Every answer takes 20 s to start: after the first SIGINT the run waits for them.
    let mut child = run_quickstart(
        &tmp.path().join("res"),
        &[
            "--set",
            "duration=60s",
            "--set",
            "endpoints.assistant.mock.ttft=20s",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    sigint(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still waiting for calls in flight"
    );
    sigint(&child);
    let status = wait_for(&mut child, Duration::from_secs(10), "after a second SIGINT");
    assert_eq!(status.code(), Some(130));
}

#[test]
fn results_that_cannot_be_written_still_print_the_summary_and_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("res");
    // A directory where summary.json should go: the final rename cannot replace it.
    std::fs::create_dir_all(out_dir.join("summary.json/occupied")).unwrap();
    let out = run_quickstart(&out_dir, &["--set", "duration=1s", "--set", "load.rate=5"])
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
    let out = run_quickstart(&file.join("res"), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot create the results folder"));
}

/// The `.hlog` files read back with the hdrhistogram crate's interval-log reader: the
/// intervals, merged, are the run's own latency histogram.
#[test]
fn interval_logs_read_back_as_the_runs_histograms() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("res");
    let run = run_quickstart(&out_dir, &["--set", "duration=3s"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    let log = std::fs::read(out_dir.join("latency.hlog")).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("#[Histogram log format version 1.3]"));
    assert!(text.contains(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    ));
    let mut merged = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    let mut intervals = 0;
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&log) {
        if let LogEntry::Interval(h) = entry.expect("a valid log entry") {
            assert_eq!(h.tag().map(|t| t.as_str()), Some("assistant"));
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(h.encoded_histogram())
                .expect("base64");
            let one: hdrhistogram::Histogram<u64> = deserializer
                .deserialize(&mut &bytes[..])
                .expect("a histogram");
            merged.add(&one).unwrap();
            intervals += 1;
        }
    }
    assert!(intervals >= 3, "{intervals} intervals");
    let lat = &summary["latency_ms"];
    assert_eq!(merged.len(), lat["count"].as_u64().unwrap());
    let ms = |q: f64| (merged.value_at_quantile(q) as f64 / 1000.0 * 1000.0).round() / 1000.0;
    assert_eq!(ms(0.5), lat["p50"].as_f64().unwrap());
    assert_eq!(ms(0.99), lat["p99"].as_f64().unwrap());
}

#[test]
fn the_binary_runs_without_transparent_huge_pages() {
    // Linux says per process whether THP may back its memory; elsewhere nothing to check.
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc here");
        return;
    }
    let mut child = Command::new(BIN)
        .args(["mock", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Once it says it listens, main has run.
    let mut line = String::new();
    let out = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("listening"), "{line}");
    // Older kernels do not print the line; where it is printed, it must be off.
    if let Some(l) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
        assert_eq!(l.split_whitespace().nth(1), Some("0"), "{l}");
    }
}
