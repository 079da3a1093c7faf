//! The engine under tokio's paused clock, against a fake endpoint with a fixed service
//! time: exact schedules, no coordinated omission, the in-flight cap, closed mode, and
//! the one shutdown path.

use llm_drill::client::{Attempt, Outcome, Prepared, Route, Transport, Usage};
use llm_drill::engine::{Engine, Pacer, Progress};
use llm_drill::plan::Plan;
use llm_drill::recorder::Recorder;
use llm_drill::report::summary::Percentiles;
use llm_drill::scenario;
use llm_drill::workload::Workload;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// An endpoint that answers every request after exactly `service`.
struct FixedDelay {
    service: Duration,
}

impl Transport for FixedDelay {
    async fn send(&self, _route: &Route, _req: Prepared, timeout: Duration) -> Attempt {
        let mut a = Attempt::begin(Instant::now());
        if self.service > timeout {
            tokio::time::sleep(timeout).await;
            return Attempt {
                end: Instant::now(),
                ..Attempt::failed(a.sent, Outcome::Timeout, "timeout")
            };
        }
        tokio::time::sleep(self.service).await;
        a.end = Instant::now();
        a.usage = Some(Usage {
            input_tokens: 10,
            output_tokens: 5,
        });
        a
    }
}

fn plan(load: &str, extra: &str) -> Plan {
    let yaml = format!(
        "name: t\nseed: 3\n{extra}endpoints:\n  e:\n    provider: openai\n    base_url: http://127.0.0.1:9\n    model_name: m\n    timeout: 60s\nfeatures:\n  f:\n    endpoint: e\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 5\nload: {load}\n"
    );
    let (sc, src) = scenario::parse("test.yaml", yaml.into_bytes(), &[]).expect("valid scenario");
    Plan::from_scenario(&sc, &src).expect("valid plan")
}

struct Driven {
    rec: Recorder,
    started: u64,
    interrupted: bool,
}

async fn drive(plan: Plan, service: Duration, stop: CancellationToken) -> Driven {
    let routes = plan
        .endpoints
        .iter()
        .map(|e| Route::new(e.clone(), "http://127.0.0.1:9".into(), None).unwrap())
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let mut rec = Recorder::new(start, plan.endpoints.len(), plan.features.len());
    let engine = Arc::new(Engine {
        workload: Arc::new(Workload::new(&plan)),
        plan: Arc::new(plan),
        routes: Arc::new(routes),
        transport: FixedDelay { service },
        samples: tx,
        progress: Arc::new(Progress::default()),
        pacer: Pacer::Tokio,
    });
    let report = engine.drive(start, stop).await;
    while let Some(s) = rx.recv().await {
        rec.record(&s);
    }
    rec.finish();
    Driven {
        rec,
        started: report.started,
        interrupted: report.interrupted,
    }
}

fn ms(p: &Percentiles) -> (f64, f64, f64) {
    (p.p50, p.p99, p.max)
}

#[tokio::test(start_paused = true)]
async fn latency_grows_with_the_queue_while_service_time_does_not() {
    // The endpoint takes 100 ms and only one call may be in flight: capacity 10/s.
    // The schedule asks for 20/s for 5 s: call k is meant to start at k*50 ms but can
    // only start at k*100 ms, so its latency is k*50 ms + 100 ms.
    let p = plan(
        "{ rate: 20, max_in_flight: 1 }",
        "duration: 5s\ngraceful_stop: 60s\n",
    );
    let out = drive(p, Duration::from_millis(100), CancellationToken::new()).await;
    let t = &out.rec.total;
    assert_eq!(out.started, 100, "every scheduled call is made");
    assert_eq!(t.calls, 100);
    assert_eq!(t.ok(), 100);
    let service = Percentiles::of(&t.service_time);
    let latency = Percentiles::of(&t.latency);
    let lag = Percentiles::of(&t.schedule_lag);
    // Service time stays at the endpoint's 100 ms (to HdrHistogram's 3 significant digits).
    assert!(
        (99.9..=100.2).contains(&service.p50) && service.max <= 100.2,
        "{service:?}"
    );
    // Latency covers the wait: the last call waited 99 * 50 ms.
    assert!((5040.0..=5060.0).contains(&latency.max), "{latency:?}");
    assert!((2540.0..=2660.0).contains(&latency.p50), "{latency:?}");
    assert!((4940.0..=4960.0).contains(&lag.max), "{lag:?}");
}

#[tokio::test(start_paused = true)]
async fn with_enough_capacity_latency_is_the_service_time() {
    let p = plan("{ rate: 20, max_in_flight: 100 }", "duration: 5s\n");
    let out = drive(p, Duration::from_millis(100), CancellationToken::new()).await;
    let t = &out.rec.total;
    assert_eq!(t.calls, 100);
    let (p50, p99, max) = ms(&Percentiles::of(&t.latency));
    assert!(
        p50 >= 99.9 && p99 <= 100.2 && max <= 100.2,
        "{p50} {p99} {max}"
    );
}

#[tokio::test(start_paused = true)]
async fn stages_set_the_number_of_calls() {
    let p = plan(
        "{ stages: [ { duration: 2s, rate: 5 }, { duration: 3s, rate: 10 } ] }",
        "",
    );
    let out = drive(p, Duration::from_millis(10), CancellationToken::new()).await;
    assert_eq!(out.rec.total.calls, 40);
}

#[tokio::test(start_paused = true)]
async fn closed_mode_users_call_back_to_back() {
    // 4 users, 100 ms per call, 2 s: each user starts calls at 0, 100, ..., 1900 ms.
    let p = plan("{ mode: closed, concurrency: 4 }", "duration: 2s\n");
    let out = drive(p, Duration::from_millis(100), CancellationToken::new()).await;
    assert_eq!(out.rec.total.calls, 80);
    assert_eq!(out.started, 80);
    let lag = Percentiles::of(&out.rec.total.schedule_lag);
    assert!(lag.max <= 0.01, "closed mode has no schedule: {lag:?}");
}

#[tokio::test(start_paused = true)]
async fn calls_past_graceful_stop_are_interrupted_and_counted() {
    // Calls take 10 s; the schedule makes 3 (at 0, 1, 2 s); 1 s after the 3 s window
    // every one of them is still running and is cut.
    let p = plan("{ rate: 1 }", "duration: 3s\ngraceful_stop: 1s\n");
    let out = drive(p, Duration::from_secs(10), CancellationToken::new()).await;
    let t = &out.rec.total;
    assert_eq!(t.calls, 3);
    assert_eq!(t.count(Outcome::Interrupted), 3);
    assert!(!out.interrupted, "the schedule ran to its end");
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_the_schedule_and_lets_calls_in_flight_finish() {
    let p = plan("{ rate: 1 }", "duration: 60s\n");
    let stop = CancellationToken::new();
    let s2 = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        s2.cancel();
    });
    let out = drive(p, Duration::from_millis(700), stop).await;
    assert!(out.interrupted);
    assert_eq!(out.started, 3, "calls at 0, 1 and 2 s");
    assert_eq!(
        out.rec.total.ok(),
        3,
        "the call in flight at the stop finished"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_the_grace_period_shortens_it_to_the_timeout() {
    // The schedule ends at 3 s; calls take 50 s; graceful_stop would wait 1000 s. A stop
    // at 5 s leaves the calls their 60 s timeout from then: they all finish (at 50-52 s).
    let p = plan("{ rate: 1 }", "duration: 3s\ngraceful_stop: 1000s\n");
    let stop = CancellationToken::new();
    let s2 = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        s2.cancel();
    });
    let began = Instant::now();
    let out = drive(p, Duration::from_secs(50), stop).await;
    assert!(
        out.interrupted,
        "a stop in the grace period is an interruption"
    );
    assert_eq!(out.rec.total.ok(), 3);
    assert!(
        began.elapsed() < Duration::from_secs(65),
        "{:?}",
        began.elapsed()
    );
}
