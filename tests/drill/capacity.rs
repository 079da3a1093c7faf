//! Capacity (issue 13): goodput against per-call limits, the mock's continuous-batching
//! capacity model, and `llm-drill capacity` finding what it sustains. Every figure is
//! checked against the mock's own counts or against arithmetic done by hand.

use super::support::{outcome, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goodput_leaves_out_exactly_the_calls_a_latency_fault_slowed() {
    // 50 ms answers; a fifth of them 400 ms late. Goodput's limit: 300 ms.
    let yaml = "name: goodput\nseed: 4\nduration: 3s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    mock: { ttft: 50ms, tokens_per_second: 1000, jitter: 0 }\nfeatures:\n  f:\n    endpoint: m\n    stream: true\n    prompt: { user_tokens: 10 }\n    output_tokens: 5\nfaults:\n  - { endpoint: m, kind: latency, probability: 0.2, add: 400ms }\nload: { rate: 40 }\ngoodput: { latency: 300ms }\nthresholds:\n  - goodput > 20/s\n";
    let (s, _d) = run(yaml).await;
    let slowed = s.mock_server["m"].faults["latency"];
    assert_eq!((s.totals.calls, outcome(&s, "ok")), (120, 120));
    assert!((10..=40).contains(&slowed), "{slowed}");
    assert_eq!(s.totals.goodput_calls, Some(120 - slowed));
    let expected = (120 - slowed) as f64 / s.duration_s;
    assert!((s.totals.goodput_rps.unwrap() - expected).abs() < 0.01);
    assert_eq!(s.features["f"].goodput_rps, s.totals.goodput_rps);
    assert!(s.thresholds[0].ok, "{:?}", s.thresholds);
}

/// A continuous-batching mock worked out on paper: every call makes 20 tokens and the
/// batch decodes 2000 tokens a second in all, so it sustains 2000 / 20 = 100 calls a
/// second. Alone a sequence makes 200 tokens a second (5 ms gaps); past 100 calls a
/// second the batch's gaps stretch, the 64 slots and 16 places in the queue fill, and
/// calls are refused with 429.
fn batching(extra: &str) -> String {
    format!("name: cap\nseed: 9\nduration: 2s\ngraceful_stop: 3s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: llama-3.1-8b\n    tokenizer: cl100k_base\n    timeout: 20s\n    retry: {{ max_attempts: 1 }}\n    mock:\n      ttft: 20ms\n      tokens_per_second: 200\n      jitter: 0\n      capacity: {{ slots: 64, queue: 16, decode_tokens_per_second: 2000, on_full: \"429\" }}\nfeatures:\n  f:\n    endpoint: m\n    stream: true\n    prompt: {{ user_tokens: 50 }}\n    output_tokens: 20\nload: {{ mode: open, arrival: constant, rate: 25 }}\nthresholds:\n  - itl.p95 < 8ms\n  - rate_429 < 1%\ncost: {{ daily_calls: 1728000, modeled_cost_per_call: 0.001 }}\n{extra}")
}

async fn search(yaml: &str) -> (llm_drill::report::Summary, super::support::TempScenario) {
    let s = super::support::scenario(yaml);
    let out = llm_drill::capacity::capacity(
        &super::support::options(&s),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect("the search finishes");
    (out.summary, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_finds_what_the_batching_mock_sustains_and_where_its_429s_begin() {
    let (s, d) = search(&batching(
        "capacity: { start: 25, max: 400, step_duration: 2s, warmup: 500ms, resolution: 10%, peak_factor: 3 }\n",
    ))
    .await;
    let c = s.capacity.as_ref().expect("a capacity section");
    let found = c.max_sustainable.as_ref().expect("a sustainable load");
    // On paper: 100 calls a second. Within 10%.
    assert!(
        (90.0..=110.0).contains(&found.offered),
        "found {} calls/s: {:#?}",
        found.offered,
        c.steps
    );
    assert!(!found.at_least);
    // Every step's attempts, warm-up included, are the mock's requests for that step.
    for st in &c.steps {
        assert_eq!(
            st.attempts + st.warmup_attempts,
            st.mock_requests["m"],
            "step {}",
            st.step
        );
    }
    // The 429s begin at the first step past the sustainable load, counted as the mock
    // counted them.
    let onset = c.rate_limit_onset.as_ref().expect("429s began");
    assert!(onset.offered > found.offered);
    assert!(c
        .steps
        .iter()
        .filter(|st| st.offered > found.offered && st.offered < onset.offered)
        .all(|st| st.rate_429.unwrap_or(0.0) <= 0.01));
    let step = &c.steps[onset.step as usize - 1];
    let steps_dir = d.dir.path().join("results").join(&step.dir);
    let theirs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(steps_dir.join("summary.json")).unwrap())
            .unwrap();
    let mock_429 = theirs["mock_server"]["m"]["by_status"]["429"]
        .as_u64()
        .unwrap();
    assert_eq!(step.attempts_429 + step.warmup_attempts_429, mock_429);
    assert!(mock_429 > 0);
    // Production's peak: 1,728,000 calls a day is 20 a second, times 3 at the peak.
    let h = c.headroom.as_ref().unwrap();
    assert_eq!(h.production_peak_rps, 60.0);
    let ratio = h.ratio.unwrap();
    assert!((ratio - found.calls_per_second / 60.0).abs() < 0.001);
    assert!(h.sentence.starts_with("sustains 1."), "{}", h.sentence);
    // The summary is the sustainable step's, and the search passed.
    assert_eq!(s.totals.target_rps, Some(found.offered));
    assert!(s.passed, "{:?}", s.thresholds);
    assert!(c.knee.is_some(), "latency turns upward past 100 calls/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_whose_first_step_breaks_fails_and_one_cut_short_keeps_its_steps() {
    use super::support::llm_drill;
    // Starting far past capacity: exit 1, nothing sustainable.
    let bad = super::support::scenario(&batching(
        "capacity: { start: 300, step_duration: 1s, warmup: 0s }\n",
    ));
    let out = bad.dir.path().join("out");
    let (code, stdout, _) = llm_drill(&[
        "capacity".as_ref(),
        bad.path.as_os_str(),
        "--no-progress".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("even the first step, 300 calls/s, broke the SLO"),
        "{stdout}"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(s["capacity"]["max_sustainable"].is_null());
    assert_eq!(s["capacity"]["steps"].as_array().unwrap().len(), 1);
    // Stopped during its second step: the first is kept, the second marked, nothing lost.
    let sc = super::support::scenario(&batching(
        "capacity: { start: 25, step_duration: 2s, warmup: 0s }\n",
    ));
    let stop = tokio_util::sync::CancellationToken::new();
    let cancel = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
        cancel.cancel();
    });
    let out = llm_drill::capacity::capacity(&super::support::options(&sc), stop)
        .await
        .unwrap();
    let c = out.summary.capacity.as_ref().unwrap();
    assert!(out.summary.interrupted && c.interrupted);
    assert_eq!(c.steps.len(), 2, "{:#?}", c.steps);
    assert!(c.steps[0].passed);
    assert!(c.steps[1].limits.iter().any(|l| l.contains("interrupted")));
    assert!(out.dir.join("summary.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steps_fault_windows_are_timed_from_the_end_of_its_warm_up() {
    // 5xx from 2 s to 3 s of a step whose first second is warm-up.
    let s = super::support::scenario("name: w\nseed: 2\nduration: 3s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    retry: { max_attempts: 1 }\n    mock: { ttft: 5ms, tokens_per_second: 2000, jitter: 0 }\nfeatures:\n  f:\n    endpoint: m\n    prompt: { user_tokens: 10 }\n    output_tokens: 5\nload: { mode: open, arrival: constant, rate: 20 }\nfaults:\n  - { endpoint: m, kind: server_error, probability: 1, status: 503, from: 2s, until: 3s }\n  - { endpoint: m, kind: server_error, probability: 1, status: 503, from: 200ms, until: 500ms }\n");
    let llm_drill::run::Loaded { plan, source, .. } =
        llm_drill::run::load(&super::support::options(&s)).unwrap();
    let done = llm_drill::run::execute(
        llm_drill::run::Execution {
            plan: plan.at_load(20.0, std::time::Duration::from_secs(4)),
            warmup: std::time::Duration::from_secs(1),
            dir: s.dir.path().join("step"),
            scenario_as_run: source.as_run(),
            baseline: None,
            progress: None,
            start_at: None,
            shard_state: false,
            metrics: None,
        },
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    // The window inside the warm-up is not measured; the other moves back by a second.
    let w = &done.summary.drill.windows;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!((w[0].from_s, w[0].until_s), (1.0, Some(2.0)));
    // The warm-up's 20 calls (6 of them refused) are apart; the measured 60 hold the other 20.
    assert_eq!((done.warmup_calls, done.summary.totals.calls), (20, 60));
    assert_eq!(super::support::outcome(&done.summary, "http_5xx"), 20);
}
