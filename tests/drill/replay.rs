//! Replay (issue 14): a per-call log sent again, one call per row, checked against the
//! mock's own counts — requests equal rows, prompt tokens equal the log's sum exactly —
//! and compared with the log's own figures per feature. Timing under the paused clock
//! is in `engine.rs`.

use super::support::{llm_drill, options, outcome, scenario};
use mock_server::{LatencyModel, MockConfig, Spread};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A log of `rows` rows over about 200 s: single `summarize` calls and `chat`
/// conversations of up to 4 turns whose prompts grow as a product's history does.
/// Returns its JSON Lines and its prompt and completion sums.
fn trace(rows: usize) -> (String, u64, u64) {
    let mut lines = Vec::new();
    let (mut prompt_sum, mut completion_sum) = (0u64, 0u64);
    let t0 = 1_767_225_600_000i64;
    let mut i = 0u64;
    let mut conversation = 0;
    while lines.len() < rows {
        conversation += 1;
        let start = t0 + ((i * 7919) % 190_000) as i64;
        let chat = conversation % 3 != 0;
        let turns = if chat { 1 + conversation % 4 } else { 1 };
        let mut prompt = 60 + (i * 37) % 500;
        for turn in 0..turns {
            if lines.len() == rows {
                break;
            }
            let completion = 5 + (i * 13) % 40;
            let (feature, session) = if chat {
                ("chat", format!(",\"conversation\":\"c{conversation}\""))
            } else {
                ("summarize", String::new())
            };
            lines.push(format!(
                "{{\"at\":{},\"feature\":\"{feature}\"{session},\"in\":{prompt},\"out\":{completion},\"latency\":{},\"status\":200,\"cost\":0.001}}",
                start + turn as i64 * 2500,
                400 + (i * 31) % 900
            ));
            prompt_sum += prompt;
            completion_sum += completion;
            prompt += 80 + (i * 11) % 120;
            i += 1;
        }
    }
    (lines.join("\n") + "\n", prompt_sum, completion_sum)
}

fn paced() -> MockConfig {
    MockConfig {
        latency: LatencyModel {
            ttft: Spread::fixed(Duration::from_millis(5)),
            tokens_per_second: 2000.0,
            jitter: 0.0,
            prefill_tokens_per_second: 0.0,
        },
        ..MockConfig::default()
    }
}

fn yaml(base_url: &str, log: &std::path::Path, speed: f64) -> String {
    format!(
        "name: replay\nendpoints:\n  e: {{ provider: openai, base_url: {base_url}, model_name: gpt-4o-mini, timeout: 10s }}\nfeatures:\n  chat: {{ endpoint: e, stream: true }}\n  summarize: {{ endpoint: e, stream: false }}\nload: {{ mode: replay, trace: {}, format: jsonl, speed: {speed}, map: {{ timestamp: at, session: conversation, prompt_tokens: in, completion_tokens: out }} }}\n",
        log.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_row_replay_sends_every_row_with_its_exact_prompt() {
    let (text, prompt_sum, completion_sum) = trace(1000);
    let h = mock_server::spawn(paced()).await.unwrap();
    let s = scenario("placeholder");
    let log = s.dir.path().join("log.jsonl");
    std::fs::write(&log, text).unwrap();
    std::fs::write(&s.path, yaml(&h.base_url(), &log, 100.0)).unwrap();
    let out = llm_drill::run(&options(&s), CancellationToken::new())
        .await
        .expect("the replay runs");
    let truth = h.stats();
    h.shutdown().await;
    let sum = &out.summary;
    assert_eq!(outcome(sum, "ok"), 1000, "{:?}", sum.errors);
    // The mock's own counts: one request per row, the log's prompt tokens exactly, and
    // each answer as long as the row's.
    assert_eq!(truth.requests, 1000);
    assert_eq!(truth.prompt_tokens, prompt_sum);
    assert_eq!(truth.completion_tokens, completion_sum);
    let r = sum.replay.as_ref().expect("a replay section");
    assert_eq!((r.rows, r.prompt_tokens, r.raised), (1000, prompt_sum, 0));
    for (name, f) in &r.features {
        assert_eq!(f.then.calls, f.now.calls, "{name}");
        assert!(
            (f.then.mean_prompt_tokens - f.now.mean_prompt_tokens).abs() < 1e-3,
            "{name}: {f:?}"
        );
        assert!(f.then.latency_p50_ms.is_some() && f.now.latency_p50_ms.is_some());
        assert!(
            (f.then.cost_per_call_usd.unwrap() - 0.001).abs() < 1e-12,
            "{name}: the log's cost"
        );
    }
    assert_eq!(
        r.features["chat"].now.calls + r.features["summarize"].now.calls,
        1000
    );
    let md = std::fs::read_to_string(out.dir.join("summary.md")).unwrap();
    assert!(md.contains("### Then and now"), "{md}");
}

#[test]
fn a_replay_with_a_bad_trace_exits_2_naming_it() {
    let s = scenario("placeholder");
    let log = s.dir.path().join("log.jsonl");
    let run = |yaml: &str| {
        std::fs::write(&s.path, yaml).unwrap();
        llm_drill(&["run".as_ref(), s.path.as_os_str()])
    };
    let base = yaml("mock", &log, 1.0);
    // No such file.
    let (code, _, err) = run(&base);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("load.trace") && err.contains("cannot read"),
        "{err}"
    );
    // A feature the scenario does not have.
    std::fs::write(
        &log,
        "{\"at\":0,\"feature\":\"translate\",\"in\":50,\"out\":5}\n",
    )
    .unwrap();
    let (code, _, err) = run(&base);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`translate` (1 rows)"), "{err}");
    // A replay key in open mode, and `capacity` on a replay.
    let open = base.replace("mode: replay, ", "rate: 1, ");
    let prompted = open
        .replace(
            "stream: true }",
            "stream: true, prompt: { user_tokens: 5 } }",
        )
        .replace(
            "stream: false }",
            "stream: false, prompt: { user_tokens: 5 } }",
        );
    let (code, _, err) = run(&format!("duration: 1s\n{prompted}"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("load.trace: applies to `mode: replay` only"),
        "{err}"
    );
    std::fs::write(
        &log,
        "{\"at\":0,\"feature\":\"chat\",\"in\":50,\"out\":5}\n",
    )
    .unwrap();
    std::fs::write(&s.path, &base).unwrap();
    let (code, _, err) = llm_drill(&["capacity".as_ref(), s.path.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("load.mode"), "{err}");
    // A feature with no prompt outside a replay.
    let (code, _, err) = run(&format!("duration: 1s\n{open}"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("features.chat.prompt: is needed"), "{err}");
}

/// A product's log: `chat` conversations of 1 to 4 turns whose prompts are a system
/// prompt and the history so far plus a new message, and single `summarize` calls.
fn product_log(conversations: u64) -> String {
    let mut lines = Vec::new();
    let t0 = 1_767_225_600_000i64;
    for c in 0..conversations {
        let start = t0 + (c as i64) * 900;
        let h = c.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        if c % 3 == 2 {
            lines.push(format!(
                "{{\"at\":{start},\"feature\":\"summarize\",\"in\":{},\"out\":{}}}",
                200 + h % 1800,
                40 + h % 260
            ));
            continue;
        }
        let turns = 1 + h % 4;
        // System prompt, then the user's message (framed: 3 priming, 4 a message).
        let mut prompt = 3 + 4 + (300 + h % 400) + 4 + (20 + (h >> 3) % 100);
        let mut at = start;
        for t in 0..turns {
            let out = 30 + (h >> (t + 2)) % 200;
            lines.push(format!(
                "{{\"at\":{at},\"feature\":\"chat\",\"conversation\":\"c{c}\",\"in\":{prompt},\"out\":{out},\"latency\":400}}"
            ));
            // The next turn resends this one's answer and adds a message.
            prompt += 4 + out + 4 + (20 + (h >> (t + 5)) % 100);
            at += 400 + 300 + ((h >> t) % 700) as i64;
        }
    }
    lines.join("\n") + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emitted_scenario_runs_once_its_endpoint_is_filled_in_with_the_logs_token_means() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    std::fs::write(&log, product_log(3000)).unwrap();
    let emitted = dir.path().join("emitted.yaml");
    let base = dir.path().join("baseline");
    let (code, out, err) = llm_drill(&[
        "usage".as_ref(),
        "import".as_ref(),
        log.as_os_str(),
        "--format".as_ref(),
        "jsonl".as_ref(),
        "--map".as_ref(),
        "timestamp=at,session=conversation,prompt_tokens=in,completion_tokens=out".as_ref(),
        "--out".as_ref(),
        base.as_os_str(),
        "--emit-scenario".as_ref(),
        emitted.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let text = std::fs::read_to_string(&emitted).unwrap();
    assert!(text.contains("# ENDPOINTS: fill in your own"), "{text}");
    assert!(
        text.contains("weight: 2000   # conversations in the log"),
        "{text}"
    );
    assert!(text.contains("weight: 1000   # calls in the log"), "{text}");
    // The busiest minute: a conversation began every 0.9 s, so 67 in a minute.
    assert!(text.contains("rate: 1.117"), "{text}");
    let baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("baseline.json")).unwrap())
            .unwrap();

    // The endpoint filled in: a mock of our own; the load raised so the means settle.
    let h = mock_server::spawn(paced()).await.unwrap();
    std::fs::write(
        &emitted,
        text.replace("base_url: mock", &format!("base_url: {}", h.base_url())),
    )
    .unwrap();
    let opts = llm_drill::RunOptions {
        out: Some(dir.path().join("run")),
        sets: vec!["duration=8s".into(), "load.rate=150".into()],
        ..llm_drill::RunOptions::new(&emitted)
    };
    let run = llm_drill::run(&opts, CancellationToken::new())
        .await
        .expect("the emitted scenario runs");
    h.shutdown().await;
    let s = &run.summary;
    assert_eq!(s.totals.failed, 0, "{:?}", s.errors);
    for feature in ["chat", "summarize"] {
        let then = &baseline["features"][feature];
        let now = &s.features[feature];
        for (what, log_mean, run_mean) in [
            (
                "prompt",
                then["prompt_tokens"]["mean"].as_f64().unwrap(),
                now.mean_input_tokens,
            ),
            (
                "completion",
                then["completion_tokens"]["mean"].as_f64().unwrap(),
                now.mean_output_tokens,
            ),
        ] {
            eprintln!(
                "{feature} {what}: the log's mean {log_mean:.1}, the run's {run_mean:.1} ({:+.2}%, {} calls)",
                (run_mean / log_mean - 1.0) * 100.0,
                now.calls
            );
            assert!(
                (run_mean / log_mean - 1.0).abs() < 0.05,
                "{feature} {what}: the log's mean {log_mean:.1}, the run's {run_mean:.1} ({} calls)",
                now.calls
            );
        }
    }
}
