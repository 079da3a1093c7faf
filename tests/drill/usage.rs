//! `usage import` (issue 14): per-call logs in, a baseline out — counts, token sums and
//! costs equal the arithmetic exactly, percentiles within HdrHistogram's precision, no
//! text of a prompt or an answer in any output, bad rows counted and shown.

use super::support::llm_drill;
use std::path::Path;

/// Exact percentile by the nearest-rank rule, as HdrHistogram reports it.
fn exact(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= want.abs() * 0.001 + 1e-9
}

/// Imports `files` with `args`; the exit code, stdout, stderr and baseline.json.
fn import(
    dir: &Path,
    files: &[&Path],
    args: &[&str],
) -> (Option<i32>, String, String, serde_json::Value) {
    let out = dir.join("baseline");
    let mut all: Vec<&std::ffi::OsStr> = vec!["usage".as_ref(), "import".as_ref()];
    all.extend(files.iter().map(|f| f.as_os_str()));
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    all.extend(["--out".as_ref(), out.as_os_str()]);
    let (code, stdout, stderr) = llm_drill(&all);
    let json = std::fs::read_to_string(out.join("baseline.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (code, stdout, stderr, json)
}

const SECRET: &str = "CUSTOMER-SECRET-7731";

#[test]
fn a_jsonl_log_with_a_map_gives_exact_counts_sums_and_costs() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    let mut lines = String::new();
    let (mut prompts, mut latencies, mut cost) = (Vec::new(), Vec::new(), 0.0f64);
    let t0 = 1_767_225_600i64; // 2026-01-01T00:00:00Z
    for i in 0..1000u64 {
        let feature = if i % 4 == 0 { "summarize" } else { "chat" };
        let prompt = 100 + (i * 37) % 900;
        let latency = 150.0 + ((i * 53) % 2000) as f64;
        let status = if i % 50 == 0 {
            429
        } else if i % 97 == 0 {
            500
        } else {
            200
        };
        let c = prompt as f64 * 1e-6 + 0.0001;
        if feature == "chat" {
            prompts.push(prompt as f64);
            latencies.push(latency);
        }
        cost += c;
        lines.push_str(&format!(
            "{{\"ts\": {}, \"capability\": \"{feature}\", \"conv\": \"c{}\", \"in\": {prompt}, \"out\": {}, \"ms\": {latency}, \"code\": {status}, \"usd\": {c}, \"prompt\": \"{SECRET} please summarize\"}}\n",
            t0 + (i as i64) * 30,
            i / 5,
            10 + i % 7
        ));
    }
    std::fs::write(&log, lines).unwrap();
    let (code, stdout, stderr, b) = import(
        dir.path(),
        &[&log],
        &["--format", "jsonl", "--map", "timestamp=ts,feature=capability,session=conv,prompt_tokens=in,completion_tokens=out,latency=ms,status=code,cost=usd"],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(b["rows"], 1000);
    let all = &b["overall"];
    assert_eq!(all["calls"], 1000);
    assert_eq!(
        all["prompt_tokens"]["sum"].as_f64(),
        Some((0..1000u64).map(|i| 100 + (i * 37) % 900).sum::<u64>() as f64)
    );
    assert_eq!(
        all["completion_tokens"]["sum"].as_f64(),
        Some((0..1000u64).map(|i| 10 + i % 7).sum::<u64>() as f64)
    );
    assert!(close(all["cost_usd"].as_f64().unwrap(), cost));
    // 429s where i % 50 == 0; 500s where i % 97 == 0 but not i % 50 == 0.
    let n429 = (0..1000).filter(|i| i % 50 == 0).count() as f64;
    let n500 = (0..1000).filter(|i| i % 97 == 0 && i % 50 != 0).count() as f64;
    assert_eq!(all["rate_429"].as_f64(), Some(n429 / 1000.0));
    assert_eq!(all["error_rate"].as_f64(), Some((n429 + n500) / 1000.0));
    // A call every 30 s: two a minute at most; 200 conversations of 5 calls.
    assert_eq!(all["peak_calls_per_minute"], 2);
    assert_eq!(all["conversations"], 200);
    assert_eq!(all["calls_per_conversation"].as_f64(), Some(5.0));
    let chat = &b["features"]["chat"];
    assert_eq!(chat["calls"], 750);
    for (q, key) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
        let want = exact(prompts.clone(), q);
        assert!(
            close(chat["prompt_tokens"][key].as_f64().unwrap(), want),
            "{key}"
        );
        let want = exact(latencies.clone(), q);
        assert!(
            close(chat["latency_ms"][key].as_f64().unwrap(), want),
            "latency {key}"
        );
    }
    // Nothing of the prompts' text anywhere.
    for f in ["baseline.json", "baseline.md", "baseline.html"] {
        let text = std::fs::read_to_string(dir.path().join("baseline").join(f)).unwrap();
        assert!(!text.contains(SECRET), "{f}");
    }
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
}

#[test]
fn csv_rows_are_priced_by_model_and_litellm_spend_logs_read_their_own_spend() {
    let dir = tempfile::tempdir().unwrap();
    // CSV with quoted text holding commas and a newline, priced from the built-in table.
    let csv = dir.path().join("calls.csv");
    let mut text =
        String::from("created,capability,model,prompt_tokens,completion_tokens,response\n");
    for i in 0..10 {
        text.push_str(&format!(
            "2026-01-01T00:0{i}:00Z,chat,gpt-4o-mini,1000,500,\"{SECRET}, line one\nline two\"\n"
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let (code, out, err, b) = import(
        dir.path(),
        &[&csv],
        &[
            "--format",
            "csv",
            "--map",
            "timestamp=created,feature=capability",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    // gpt-4o-mini: $0.15 / $0.60 per million tokens.
    let want = 10.0 * (1000.0 * 0.15 + 500.0 * 0.60) / 1e6;
    assert!(
        close(b["overall"]["cost_usd"].as_f64().unwrap(), want),
        "{}",
        b["overall"]
    );
    assert!(
        !std::fs::read_to_string(dir.path().join("baseline/baseline.json"))
            .unwrap()
            .contains(SECRET)
    );
    // LiteLLM: startTime/endTime give the latency, spend the cost, metadata the feature.
    let spend = dir.path().join("spend.json");
    let entries: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            serde_json::json!({
                "request_id": format!("r{i}"),
                "startTime": format!("2026-01-01T10:00:{:02}.000Z", i),
                "endTime": format!("2026-01-01T10:00:{:02}.{:03}Z", i, 100 + i * 10),
                "model": "gpt-4o",
                "prompt_tokens": 100 + i,
                "completion_tokens": 20,
                "spend": 0.001 * (i + 1) as f64,
                "status": "success",
                "metadata": { "feature": if i < 5 { "triage" } else { "chat" } },
                "messages": [{"role": "user", "content": SECRET}],
            })
        })
        .collect();
    std::fs::write(&spend, serde_json::to_string(&entries).unwrap()).unwrap();
    let (code, out, err, b) = import(
        dir.path(),
        &[&spend],
        &["--format", "litellm", "--feature-key", "feature"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(b["features"]["triage"]["calls"], 5);
    assert!(close(
        b["overall"]["cost_usd"].as_f64().unwrap(),
        0.001 * 210.0
    ));
    assert_eq!(b["overall"]["latency_ms"]["max"].as_f64(), Some(290.0));
    assert_eq!(b["overall"]["error_rate"].as_f64(), Some(0.0));
    assert!(
        !std::fs::read_to_string(dir.path().join("baseline/baseline.json"))
            .unwrap()
            .contains(SECRET)
    );
}

#[test]
fn bad_rows_are_counted_and_shown_and_an_unreadable_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mixed.jsonl");
    std::fs::write(
        &log,
        "{\"timestamp\": 1767225600, \"prompt_tokens\": 10, \"completion_tokens\": 5}\n\
         not json at all\n\
         {\"timestamp\": 1767225601, \"completion_tokens\": 5}\n\
         {\"timestamp\": \"yesterday\", \"prompt_tokens\": 1, \"completion_tokens\": 5}\n\
         {\"timestamp\": 1767225602, \"prompt_tokens\": -3, \"completion_tokens\": 5}\n\
         {\"timestamp\": 1767225603, \"prompt_tokens\": 20, \"completion_tokens\": 5}\n",
    )
    .unwrap();
    let (code, _, stderr, b) = import(dir.path(), &[&log], &["--format", "jsonl"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        (b["rows"].as_u64(), b["skipped"].as_u64()),
        (Some(2), Some(4))
    );
    let problems: Vec<&str> = b["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 3, "the first three");
    assert!(
        problems[0].ends_with("mixed.jsonl:2: not JSON (expected ident at line 1 column 2)"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("mixed.jsonl:3: no `prompt_tokens`"),
        "{problems:?}"
    );
    assert!(
        problems[2].contains("mixed.jsonl:4: `timestamp` is not a time"),
        "{problems:?}"
    );
    assert!(stderr.contains("4 row(s) skipped"), "{stderr}");
    // Nothing readable, or nothing there: exit 2, one line naming the file.
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "garbage\nmore garbage\n").unwrap();
    let (code, _, stderr, _) = import(dir.path(), &[&junk], &["--format", "jsonl"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("junk.jsonl: no readable row"), "{stderr}");
    let (code, _, stderr, _) = import(
        dir.path(),
        &[&dir.path().join("absent.csv")],
        &["--format", "csv"],
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("cannot read") && stderr.contains("absent.csv"),
        "{stderr}"
    );
    let (code, _, stderr, _) = import(dir.path(), &[&log], &["--format", "xml"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("--format: expected servicenow, litellm, jsonl or csv"),
        "{stderr}"
    );
}

#[test]
fn a_servicenow_export_groups_calls_by_definition_and_conversation_and_counts_missing_tokens() {
    use mock_server::tokens::Encoding;
    let dir = tempfile::tempdir().unwrap();
    // A list export of sys_generative_ai_log, by the columns' labels: some rows carry
    // token counts, two do not (their text is counted), one failed with a 429.
    let csv = dir.path().join("sys_generative_ai_log.csv");
    let mut text = String::from(
        "Created,Started At,Completed At,Time Taken,Definition,Conversation,Prompt,Response,Status,Error,Error Code,Prompt Token Count,Response Token Count,Model Name\n",
    );
    let mut counted = 0u64;
    for i in 0..12u64 {
        let (def, conv) = if i < 8 {
            ("Case summarization", format!("c{}", i / 4))
        } else {
            ("Resolution notes", String::new())
        };
        let prompt = format!("{SECRET} summarize case {i}, please");
        let response = format!("The case {i} was resolved.");
        let (pt, rt) = if i % 6 == 5 {
            counted += (Encoding::Cl100kBase.count(&prompt) + Encoding::Cl100kBase.count(&response))
                as u64;
            (String::new(), String::new())
        } else {
            counted += 300 + i + 40;
            ((300 + i).to_string(), "40".to_string())
        };
        let (status, err, code) = if i == 3 {
            ("Error", "Too many requests", "429")
        } else {
            ("Success", "", "")
        };
        text.push_str(&format!(
            "2026-01-05 09:00:0{},2026-01-05 09:{:02}:00,2026-01-05 09:{:02}:01,{},{def},{conv},\"{prompt}\",\"{response}\",{status},{err},{code},{pt},{rt},gpt_large\n",
            i % 10, i, i, 1000 + i * 100
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let emitted = dir.path().join("emitted.yaml");
    let (code, stdout, stderr, b) = import(
        dir.path(),
        &[&csv],
        &[
            "--format",
            "servicenow",
            "--emit-scenario",
            emitted.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let all = &b["overall"];
    assert_eq!(all["calls"], 12);
    assert_eq!(b["tokens_counted_rows"], 2);
    let sum = all["prompt_tokens"]["sum"].as_f64().unwrap()
        + all["completion_tokens"]["sum"].as_f64().unwrap();
    assert_eq!(sum, counted as f64);
    assert_eq!(b["features"]["Case summarization"]["calls"], 8);
    assert_eq!(b["features"]["Case summarization"]["conversations"], 2);
    assert_eq!(
        b["features"]["Case summarization"]["calls_per_conversation"].as_f64(),
        Some(4.0)
    );
    assert_eq!(all["rate_429"].as_f64(), Some(1.0 / 12.0));
    assert_eq!(all["latency_ms"]["max"].as_f64(), Some(2100.0));
    // One call a minute, from 09:00 to 09:11.
    assert_eq!(all["peak_calls_per_minute"], 1);
    assert!(stdout.contains("2 row(s) had no token counts"), "{stdout}");
    for f in [
        "baseline.json",
        "baseline.md",
        "baseline.html",
        "../emitted.yaml",
    ] {
        let t = std::fs::read_to_string(dir.path().join("baseline").join(f)).unwrap();
        assert!(!t.contains(SECRET) && !t.contains("was resolved"), "{f}");
    }
    // The emitted scenario names the definitions as features (quoted) and runs as it
    // stands, against the embedded mock until its endpoint is filled in.
    let scenario = std::fs::read_to_string(&emitted).unwrap();
    assert!(
        scenario.contains(
            "  \"Case summarization\":\n    endpoint: target\n    weight: 2   # conversations"
        ),
        "{scenario}"
    );
    let (code, out, err) = llm_drill(&["validate".as_ref(), emitted.as_os_str()]);
    assert_eq!(code, Some(0), "{out}{err}\n{scenario}");
    // The same table exported as JSON, with references as display values.
    let json = dir.path().join("export.json");
    let records: Vec<serde_json::Value> = (0..3)
        .map(|i| {
            serde_json::json!({
                "sys_created_on": format!("2026-01-05 10:0{i}:00"),
                "definition": {"display_value": "Chat reply", "value": "a1b2"},
                "conversation": "conv-9",
                "prompt": SECRET,
                "prompt_token_count": "120",
                "response_token_count": "30",
                "time_taken": "850",
                "status": "Success",
            })
        })
        .collect();
    std::fs::write(&json, serde_json::json!({ "records": records }).to_string()).unwrap();
    let (code, _, stderr, b) = import(dir.path(), &[&json], &["--format", "servicenow"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(b["features"]["Chat reply"]["calls"], 3);
    assert_eq!(b["overall"]["prompt_tokens"]["sum"].as_f64(), Some(360.0));
    assert_eq!(b["overall"]["calls_per_conversation"].as_f64(), Some(3.0));
}
