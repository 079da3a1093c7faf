//! A run split into shards (`run --shard I/N --start-at`) and merged (`merge`): the
//! shards send the single process's calls between them, and the merge is the whole.

use super::support::{llm_drill, options, scenario};
use llm_drill::merge::{merge, MergeOptions};
use llm_drill::plan::Shard;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// Open loop, Poisson, streamed, prompts of varied size: every call differs.
fn yaml(base_url: &str, seed: u32) -> String {
    format!(
        "name: split\nseed: {seed}\nduration: 2s\ngraceful_stop: 10s\nendpoints:\n  e:\n    provider: openai\n    base_url: {base_url}\n    model_name: gpt-4o-mini\nfeatures:\n  f:\n    endpoint: e\n    stream: true\n    prompt: {{ user_tokens: {{ mean: 60, stddev: 25 }} }}\n    output_tokens: 6\nload: {{ mode: open, arrival: poisson, rate: 100 }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_send_the_single_processs_calls_and_merge_into_its_figures() {
    let cfg = mock_server::MockConfig::default;
    let (one, split) = (
        mock_server::spawn(cfg()).await.unwrap(),
        mock_server::spawn(cfg()).await.unwrap(),
    );
    let single = scenario(&yaml(&one.base_url(), 5));
    let whole = llm_drill::run(&options(&single), CancellationToken::new())
        .await
        .unwrap()
        .summary;

    let s = scenario(&yaml(&split.base_url(), 5));
    let start_at = SystemTime::now() + Duration::from_millis(300);
    let dirs: Vec<_> = (0..4)
        .map(|i| s.dir.path().join(format!("shard{i}")))
        .collect();
    let runs = (0..4u32).map(|i| {
        let opts = llm_drill::RunOptions {
            out: Some(dirs[i as usize].clone()),
            shard: Some(Shard::new(i, 4).unwrap()),
            start_at: Some(start_at),
            ..options(&s)
        };
        async move { llm_drill::run(&opts, CancellationToken::new()).await }
    });
    let shards: Vec<_> = futures_util::future::join_all(runs).await;
    let mut sent = 0;
    for r in shards {
        let r = r.unwrap().summary;
        let sh = r.shard.clone().unwrap();
        assert_eq!((sh.count, sh.start_at.is_some()), (4, true));
        sent += r.totals.calls;
    }
    let (merged, _) = merge(&MergeOptions {
        shards: dirs.iter().rev().cloned().collect(),
        out: s.dir.path().join("merged"),
        prices: None,
        baseline: None,
    })
    .unwrap();
    let (truth_one, truth_split) = (one.stats(), split.stats());
    one.shutdown().await;
    split.shutdown().await;

    // The same calls: as many, with byte-identical bodies (the digest ignores order).
    let t = &merged.totals;
    assert!(whole.totals.calls > 100, "{:?}", whole.totals);
    assert_eq!(
        (t.calls, t.scheduled_calls, sent, truth_split.requests),
        (
            whole.totals.calls,
            whole.totals.scheduled_calls,
            whole.totals.calls,
            truth_one.requests
        )
    );
    assert_eq!(truth_split.request_digest, truth_one.request_digest);
    assert_eq!(
        (t.input_tokens, t.output_tokens, t.planned_input_tokens),
        (
            whole.totals.input_tokens,
            whole.totals.output_tokens,
            whole.totals.planned_input_tokens
        )
    );
    assert_eq!((t.ok, truth_split.prompt_tokens), (t.calls, t.input_tokens));
    // Every call in the merged histograms, and the rate is the whole run's.
    assert_eq!(merged.latency_ms.count, t.calls);
    assert_eq!(merged.itl_ms.count, truth_split.completion_tokens - t.calls);
    assert_eq!(t.target_rps, whole.totals.target_rps);
    let rate = t.achieved_rps / whole.totals.achieved_rps;
    assert!(
        (0.99..=1.01).contains(&rate),
        "{} against {}",
        t.achieved_rps,
        whole.totals.achieved_rps
    );
    let sh = merged.shard.as_ref().unwrap();
    assert_eq!((sh.index, sh.count, sh.merged_from.len()), (None, 4, 4));
    // The merged folder is a results folder like any other.
    for f in [
        "summary.json",
        "summary.txt",
        "report.html",
        "latency.hlog",
        "latency.hgrm",
    ] {
        assert!(s.dir.path().join("merged").join(f).exists(), "{f}");
    }
    // Each rendering says it is the whole of 4 shards.
    for f in ["summary.txt", "summary.md", "report.html"] {
        let text = std::fs::read_to_string(s.dir.path().join("merged").join(f)).unwrap();
        assert!(text.contains("merged from 4 shards"), "{f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_of_one_shard_is_that_shard() {
    let s = scenario(&yaml("mock", 3));
    let dir = s.dir.path().join("only");
    let opts = llm_drill::RunOptions {
        out: Some(dir.clone()),
        shard: Some(Shard::new(0, 1).unwrap()),
        ..options(&s)
    };
    llm_drill::run(&opts, CancellationToken::new())
        .await
        .unwrap();
    let out = s.dir.path().join("merged");
    merge(&MergeOptions {
        shards: vec![dir.clone()],
        out: out.clone(),
        prices: None,
        baseline: None,
    })
    .unwrap();
    let read = |d: &std::path::Path| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
        // Which shard it is, and the embedded mock's own /stats (a shard's alone).
        for k in ["shard", "mock_server"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let (shard, merged) = (read(&dir), read(&out));
    assert!(shard["totals"]["calls"].as_u64().unwrap() > 100);
    for (k, v) in shard.as_object().unwrap() {
        assert_eq!(&merged[k], v, "{k}");
    }
    for f in ["latency.hlog", "ttft.hlog", "itl.hlog", "latency.hgrm"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(dir.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn merge_refuses_other_runs_twice_given_and_missing_shards_in_one_line() {
    let small = |seed| {
        let y = super::support::replaced(&yaml("mock", seed), "rate: 100 }", "rate: 5 }");
        scenario(&super::support::replaced(
            &y,
            "duration: 2s",
            "duration: 1s",
        ))
    };
    let (s, other) = (small(1), small(2));
    let shard = |sc: &super::support::TempScenario, i: u32, n: u32| {
        let out = sc.dir.path().join(format!("s{i}of{n}"));
        let (code, _, err) = llm_drill(&[
            "run".as_ref(),
            sc.path.as_os_str(),
            "--no-progress".as_ref(),
            "--shard".as_ref(),
            format!("{i}/{n}").as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        assert_eq!(code, Some(0), "{err}");
        out
    };
    let (a0, a1, b1) = (shard(&s, 0, 2), shard(&s, 1, 2), shard(&other, 1, 2));
    let a0of3 = shard(&s, 0, 3);
    let out = s.dir.path().join("merged");
    let refuse = |dirs: &[&std::path::Path], says: &str| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref()];
        args.extend(dirs.iter().map(|d| d.as_os_str()));
        args.extend(["--out".as_ref(), out.as_os_str()]);
        let (code, _, err) = llm_drill(&args);
        assert_eq!(code, Some(2), "{says}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(says),
            "{says}: {err}"
        );
    };
    refuse(&[&a0, &b1], "shards of different runs do not merge");
    refuse(&[&a0, &a0, &a1], "shard 0/2 is given twice");
    refuse(&[&a1], "shard 0/2 of the run is missing");
    refuse(&[&a0, &a0of3], "different numbers of shards");
    refuse(&[s.dir.path()], "no shard.json");
    assert!(
        !out.exists(),
        "nothing is written when the merge is refused"
    );
    // The two shards do merge, and exit as run does.
    let (code, stdout, err) = llm_drill(&[
        "merge".as_ref(),
        a1.as_os_str(),
        a0.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("merged from 2 shards"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_that_starts_late_says_so_and_counts_it_as_schedule_lag() {
    let s = scenario(&super::support::replaced(
        &yaml("mock", 9),
        "arrival: poisson, rate: 100 }",
        "arrival: constant, rate: 20 }",
    ));
    let late = |by: Duration| llm_drill::RunOptions {
        shard: Some(Shard::new(1, 2).unwrap()),
        start_at: Some(SystemTime::now() - by),
        ..options(&s)
    };
    let out = llm_drill::run(&late(Duration::from_millis(700)), CancellationToken::new())
        .await
        .unwrap()
        .summary;
    let sh = out.shard.unwrap();
    assert!(sh.started_late_ms.unwrap() >= 700.0, "{sh:?}");
    // The arrivals of the first 700 ms went at once, late by up to that.
    assert!(
        out.schedule_lag_ms.max >= 600.0,
        "{:?}",
        out.schedule_lag_ms
    );
    assert_eq!(out.totals.scheduled_calls, 20, "every second arrival of 40");
    // Late by more than the whole run: refused before anything is sent.
    let e = llm_drill::run(&late(Duration::from_secs(5)), CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&e, llm_drill::RunError::Invalid(m) if m.contains("past the whole run")),
        "{e}"
    );
}
