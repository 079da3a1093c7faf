//! The standalone mock's command line: a flag out of its range exits 2 with one line
//! naming the flag, never a panic (issue 11: `--ttft-ms inf` panicked); with
//! `--keys-file`, Bedrock's SigV4 signatures are verified.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

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
        ("--tokenizer", "p50k_base"),
        ("--template-tokens-per-message", "5000"),
        ("--keys-file", "/nonexistent/keys"),
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

/// One HTTP/1.1 POST to `addr`, signed as llm-drill signs it with `secret`: the status
/// line and the body.
fn converse(addr: &str, secret: &str) -> (String, String) {
    let body = br#"{"messages":[{"role":"user","content":[{"text":"Hello there"}]}],"inferenceConfig":{"maxTokens":3}}"#;
    let path = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse";
    let keys = mock_server::sigv4::AwsKeys::parse(&format!("AKIDCLI:{secret}")).unwrap();
    let signed = mock_server::sigv4::sign(
        &mock_server::sigv4::Request {
            method: "POST",
            host: addr,
            path,
            query: None,
            headers: &[("content-type", "application/json")],
            body,
        },
        &keys,
        "eu-west-1",
        "bedrock",
        std::time::SystemTime::now(),
    );
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nx-amz-date: {}\r\nauthorization: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        signed.amz_date,
        signed.authorization,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.lines().next().unwrap_or_default().to_string();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[test]
fn with_a_keys_file_bedrock_signatures_are_verified() {
    let dir = std::env::temp_dir().join(format!("llm-drill-mock-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys");
    std::fs::write(&keys, "# one per line\nAKIDCLI:the-right-secret\n").unwrap();
    let mut mock = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--ttft-ms",
            "1",
            "--ttft-stddev-ms",
            "0",
        ])
        .arg("--keys-file")
        .arg(&keys)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(mock.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let (ok, body) = converse(&addr, "the-right-secret");
    let (refused, why) = converse(&addr, "a-wrong-secret");
    let _ = mock.kill();
    let _ = mock.wait();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(ok.contains(" 200 "), "{ok}: {body}");
    assert!(body.contains("\"stopReason\":\"end_turn\""), "{body}");
    assert!(refused.contains(" 403 "), "{refused}");
    assert!(
        why.contains("The request signature we calculated does not match"),
        "{why}"
    );
}
