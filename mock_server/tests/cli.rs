//! The standalone mock's command line: a flag out of its range exits 2 with one line
//! naming the flag, never a panic (issue 11: `--ttft-ms inf` panicked).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_llm-drill-mock");

#[test]
fn issue_11_flags_out_of_range_exit_2_with_one_line_naming_the_flag() {
    for (flag, value) in [
        ("--ttft-ms", "inf"),
        ("--ttft-ms", "-5"),
        ("--ttft-stddev-ms", "NaN"),
        ("--tokens-per-second", "0"),
        ("--jitter", "2"),
        ("--prefill-tokens-per-second", "-1"),
        ("--stop-probability", "1.5"),
        ("--output-tokens", "0"),
    ] {
        let out = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", &format!("{flag}={value}")])
            .output()
            .expect("the mock binary runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{flag} {value}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(flag),
            "{flag} {value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
