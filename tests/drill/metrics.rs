//! `--metrics-listen`: Prometheus metrics while the run lasts and for `--metrics-linger`
//! after it, scraped and parsed here, and by a real Prometheus server where one is
//! installed (.ci/run installs Debian's `prometheus`).

use super::support::{options, scenario};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A free port on loopback.
fn free_addr() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn scrape(addr: std::net::SocketAddr) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    Some(body.to_string())
}

/// Each series' value by its name and labels; checks the text is well formed.
fn parse(text: &str) -> BTreeMap<String, f64> {
    assert!(
        text.ends_with("# EOF\n"),
        "an OpenMetrics exposition ends with # EOF"
    );
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("`series value`");
            assert!(series.starts_with("llm_drill_"), "{l}");
            assert!(
                series.contains("scenario=\"m\"") && series.contains("shard=\"0/1\""),
                "{l}"
            );
            (series.to_string(), value.parse::<f64>().expect("a number"))
        })
        .collect()
}

fn sum(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    m.iter()
        .filter(|(k, _)| k.split('{').next() == Some(name))
        .map(|(_, v)| v)
        .sum()
}

const SCENARIO: &str = "name: m\nseed: 4\nduration: 3s\nendpoints:\n  e:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o-mini\n    mock: { ttft: 20ms, tokens_per_second: 200, jitter: 0 }\nfeatures:\n  f:\n    endpoint: e\n    stream: true\n    prompt: { user_tokens: 30 }\n    output_tokens: 8\n  g:\n    endpoint: e\n    prompt: { user_tokens: 10 }\n    output_tokens: 2\nload: { mode: open, rate: 40 }\nfaults:\n  - { endpoint: e, kind: rate_limit, probability: 0.2 }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scraped_during_and_after_the_run_add_up_to_its_summary() {
    let s = scenario(SCENARIO);
    let addr = free_addr();
    let opts = llm_drill::RunOptions {
        metrics_listen: Some(addr),
        metrics_linger: Duration::from_secs(30),
        ..options(&s)
    };
    let run = tokio::spawn(async move { llm_drill::run(&opts, CancellationToken::new()).await });
    // During: counting up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = parse(&scrape(addr).await.expect("served while the run lasts"));
    let calls_during = sum(&during, "llm_drill_calls_total");
    assert!(calls_during > 0.0 && calls_during < 120.0, "{calls_during}");
    assert_eq!(sum(&during, "llm_drill_target_rps"), 40.0);
    let out = run.await.unwrap().unwrap();
    // After: the same totals as the summary.
    let after = parse(&scrape(addr).await.expect("served while it lingers"));
    let t = &out.summary.totals;
    assert_eq!(sum(&after, "llm_drill_calls_total"), t.calls as f64);
    assert_eq!(sum(&after, "llm_drill_attempts_total"), t.attempts as f64);
    assert!(t.by_outcome["http_429"] > 0);
    assert_eq!(
        after[r#"llm_drill_calls_total{scenario="m",shard="0/1",outcome="ok",endpoint="e",feature="f"}"#]
            + after[r#"llm_drill_calls_total{scenario="m",shard="0/1",outcome="ok",endpoint="e",feature="g"}"#],
        t.ok as f64
    );
    assert_eq!(
        sum(&after, "llm_drill_latency_seconds_count"),
        out.summary.latency_ms.count as f64
    );
    assert_eq!(
        sum(&after, "llm_drill_ttft_seconds_count"),
        out.summary.ttft_ms.count as f64
    );
    assert_eq!(
        sum(&after, "llm_drill_itl_seconds_count"),
        out.summary.itl_ms.count as f64
    );
    assert_eq!(
        after[r#"llm_drill_tokens_total{scenario="m",shard="0/1",direction="output",endpoint="e"}"#],
        t.output_tokens as f64
    );
    // Buckets count up to +Inf, which is the count.
    let f = r#"scenario="m",shard="0/1",endpoint="e",feature="f""#;
    let bucket = |le: &str| {
        after[&format!(
            r#"llm_drill_latency_seconds_bucket{{scenario="m",shard="0/1",le="{le}",endpoint="e",feature="f"}}"#
        )]
    };
    let inf = bucket("+Inf");
    assert_eq!(
        inf,
        after[&format!("llm_drill_latency_seconds_count{{{f}}}")]
    );
    assert!(inf > 0.0 && bucket("0.05") <= bucket("0.1") && bucket("0.1") <= inf);
    let under_5ms = bucket("0.005");
    assert_eq!(under_5ms, 0.0, "a 20 ms TTFT: no call under 5 ms");
    assert_eq!(sum(&after, "llm_drill_in_flight"), 0.0);
    out.metrics
        .expect("still serving")
        .linger(&{
            let c = CancellationToken::new();
            c.cancel();
            c
        })
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        scrape(addr).await.is_none(),
        "no longer served once the linger ends"
    );
}

/// A real Prometheus server scrapes the run every 500 ms and its query API returns the
/// run's totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_run_and_its_api_returns_the_totals() {
    let found = std::process::Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is not installed: .ci/run installs it (apt-get install prometheus)"
        );
        eprintln!("skipped: prometheus is not installed");
        return;
    }
    let s = scenario(SCENARIO);
    let (target, web) = (free_addr(), free_addr());
    let config = s.dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("scrape_configs:\n  - job_name: llm-drill\n    scrape_interval: 500ms\n    scrape_timeout: 500ms\n    static_configs:\n      - targets: ['{target}']\n"),
    )
    .unwrap();
    let mut server = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            s.dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(std::mem::replace(
        &mut server,
        std::process::Command::new("true").spawn().unwrap(),
    ));
    let opts = llm_drill::RunOptions {
        metrics_listen: Some(target),
        metrics_linger: Duration::from_secs(60),
        ..options(&s)
    };
    let out = llm_drill::run(&opts, CancellationToken::new())
        .await
        .unwrap();
    let want = out.summary.totals.calls as f64;
    let query = |q: &str| {
        let url = format!("http://{web}/api/v1/query");
        let body = std::process::Command::new("curl")
            .args(["-s", "-m", "2", "-G", &url, "--data-urlencode"])
            .arg(format!("query={q}"))
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&body.stdout).ok()?;
        v["data"]["result"][0]["value"][1]
            .as_str()?
            .parse::<f64>()
            .ok()
    };
    // Up to 20 s for Prometheus to start and scrape the final figures.
    let mut seen = None;
    for _ in 0..100 {
        seen = query("sum(llm_drill_calls_total)");
        if seen == Some(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen, Some(want), "Prometheus' sum of llm_drill_calls_total");
    assert_eq!(
        query("sum(llm_drill_latency_seconds_count)"),
        Some(out.summary.latency_ms.count as f64)
    );
    assert_eq!(
        query(r#"sum(llm_drill_attempts_total{outcome="http_429"})"#),
        Some(out.summary.totals.by_outcome["http_429"] as f64)
    );
    out.metrics
        .unwrap()
        .linger(&{
            let c = CancellationToken::new();
            c.cancel();
            c
        })
        .await;
}
