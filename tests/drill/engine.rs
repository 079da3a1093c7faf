//! The engine under tokio's paused clock, against a fake endpoint with a fixed service
//! time: exact schedules, no coordinated omission, the in-flight cap, closed mode, and
//! the one shutdown path.

use llm_drill::client::{Attempt, Prepared, Route, Transport, Usage};
use llm_drill::engine::{Engine, Pacer};
use llm_drill::outcome::Outcome;
use llm_drill::plan::Plan;
use llm_drill::recorder::Recorder;
use llm_drill::report::summary::Percentiles;
use llm_drill::scenario;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// An endpoint that answers every request after exactly `service`.
struct FixedDelay {
    service: Duration,
    /// When each request went out.
    sent: std::sync::Mutex<Vec<Instant>>,
}

impl Transport for FixedDelay {
    async fn send(&self, _route: &Route, _req: Prepared, timeout: Duration) -> Attempt {
        let mut a = Attempt::begin(Instant::now());
        self.sent.lock().unwrap().push(a.sent);
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
            cached_input_tokens: 0,
            reasoning_tokens: None,
        });
        a
    }
}

fn plan(load: &str, extra: &str) -> Plan {
    session_plan(load, extra, "")
}

/// A plan whose feature has `session` (e.g. `{ turns: 3, think_time: 2s }`).
fn session_plan(load: &str, extra: &str, session: &str) -> Plan {
    let session = if session.is_empty() {
        String::new()
    } else {
        format!("    session: {session}\n")
    };
    let yaml = format!(
        "name: t\nseed: 3\n{extra}endpoints:\n  e:\n    provider: openai\n    base_url: http://127.0.0.1:9\n    model_name: m\n    timeout: 60s\nfeatures:\n  f:\n    endpoint: e\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 5\n{session}load: {load}\n"
    );
    let (sc, src) = scenario::parse("test.yaml", yaml.into_bytes(), &[]).expect("valid scenario");
    Plan::from_scenario(&sc, &src).expect("valid plan")
}

struct Driven {
    rec: Recorder,
    started: u64,
    sessions: u64,
    interrupted: bool,
    /// When the last call ended, from the start.
    last_end: Duration,
    /// When each request went out, from the start, in order.
    sent: Vec<Duration>,
    /// Replayed turns held for their history: count, mean and max (ms).
    held: (u64, f64, f64),
}

/// The plan's endpoints as routes to a port nothing listens on: the fake transports
/// never dial.
fn routes(plan: &Plan) -> Vec<Route> {
    plan.endpoints
        .iter()
        .map(|e| Route::new(e.clone(), "http://127.0.0.1:9".into(), None).unwrap())
        .collect()
}

async fn drive(plan: Plan, service: Duration, stop: CancellationToken) -> Driven {
    let routes = routes(&plan);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let mut rec = Recorder::new(start, plan.endpoints.len(), plan.features.len());
    let engine = Arc::new(Engine::new(
        Arc::new(plan),
        routes,
        FixedDelay {
            service,
            sent: Default::default(),
        },
        tx,
        Pacer::Tokio,
    ));
    let report = engine.clone().drive(start, stop).await;
    let sent = engine
        .transport
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|t| *t - start)
        .collect();
    // The engine holds the samples' sender: the channel ends with it.
    drop(engine);
    while let Some(s) = rx.recv().await {
        rec.record(&s);
    }
    rec.finish();
    Driven {
        last_end: rec.last_end - start,
        rec,
        started: report.started,
        sessions: report.sessions,
        interrupted: report.interrupted,
        held: report.held,
        sent,
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

#[tokio::test(start_paused = true)]
async fn later_turns_start_after_the_answer_plus_think_time() {
    // 10 sessions of 3 turns, 2 s of thinking between turns, a 100 ms endpoint.
    let p = session_plan(
        "{ rate: 2 }",
        "duration: 5s\n",
        "{ turns: 3, think_time: 2s }",
    );
    let out = drive(p, Duration::from_millis(100), CancellationToken::new()).await;
    assert_eq!((out.sessions, out.started), (10, 30));
    let t = &out.rec.total;
    assert_eq!((t.calls, t.ok()), (30, 30));
    // Each later turn is meant to start at the previous end + 2 s, and does: latency is
    // the service time, with no lag, on every turn.
    let (p50, _, max) = ms(&Percentiles::of(&t.latency));
    assert!(p50 >= 99.9 && max <= 100.2, "{p50} {max}");
    assert!(Percentiles::of(&t.schedule_lag).max <= 0.01);
    let turns = &out.rec.turns[0];
    assert_eq!(turns.len(), 3);
    assert!(turns.iter().all(|row| row.calls == 10));
    // The last session starts at 4.5 s and runs 3 x 100 ms + 2 x 2 s.
    assert_eq!(out.last_end, Duration::from_millis(4500 + 300 + 4000));
}

#[tokio::test(start_paused = true)]
async fn a_later_turn_kept_waiting_counts_the_wait_in_its_latency() {
    // 20 sessions of 2 turns arrive in 1 s; one call at a time, 100 ms each: the 40
    // calls need 4 s, so the queue grows and later turns wait behind new sessions.
    let p = session_plan(
        "{ rate: 20, max_in_flight: 1 }",
        "duration: 1s\ngraceful_stop: 60s\n",
        "{ turns: 2 }",
    );
    let out = drive(p, Duration::from_millis(100), CancellationToken::new()).await;
    let t = &out.rec.total;
    assert_eq!((out.sessions, t.calls, t.ok()), (20, 40, 40));
    assert_eq!(out.last_end, Duration::from_millis(4000));
    let service = Percentiles::of(&t.service_time);
    assert!(service.max <= 100.2, "{service:?}");
    // A second turn is due when its first answer ends, and then waits for the slot
    // behind the new session already waiting for it: 200 ms of wait in its latency.
    let second = Percentiles::of(&out.rec.turns[0][1].latency);
    assert!((299.9..=300.2).contains(&second.max), "{second:?}");
    // So slots alternate between a new session and a second turn: session k's first
    // turn, due at k * 50 ms, starts at 100 + (k - 1) * 200 ms. The last (k = 19) is due
    // at 950 ms, starts at 3.7 s and answers at 3.8 s: 2850 ms of latency.
    let first = Percentiles::of(&out.rec.turns[0][0].latency);
    assert!((2849.0..=2852.0).contains(&first.max), "{first:?}");
}

#[tokio::test(start_paused = true)]
async fn closed_users_finish_the_session_they_began_and_start_no_other() {
    // Each user's session takes 3 x 100 ms + 2 x 500 ms = 1.3 s, past the 1 s run.
    let p = session_plan(
        "{ mode: closed, concurrency: 2 }",
        "duration: 1s\n",
        "{ turns: 3, think_time: 500ms }",
    );
    let out = drive(p, Duration::from_millis(100), CancellationToken::new()).await;
    assert_eq!((out.sessions, out.rec.total.calls), (2, 6));
    assert_eq!(out.last_end, Duration::from_millis(1300));
    assert!(!out.interrupted);
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_think_time_ends_the_session_without_a_call() {
    let p = session_plan(
        "{ rate: 1 }",
        "duration: 1s\n",
        "{ turns: 3, think_time: 10s }",
    );
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        stopper.cancel();
    });
    let out = drive(p, Duration::from_millis(100), stop).await;
    assert!(out.interrupted);
    assert_eq!((out.sessions, out.rec.total.calls), (1, 1));
    assert_eq!(out.rec.total.count(Outcome::Interrupted), 0);
}

#[tokio::test(start_paused = true)]
async fn a_surge_of_calls_trips_the_volume_alert_and_a_steady_load_does_not() {
    use llm_drill::report::{RunFacts, Summary};
    let alerts = |stages: &str| {
        let p = plan(
            &format!("{{ stages: {stages} }}"),
            "cost:\n  alerts: { call_volume_sigma: 3 }\n",
        );
        async move {
            let out = drive(
                p.clone(),
                Duration::from_millis(50),
                CancellationToken::new(),
            )
            .await;
            let facts = RunFacts {
                started_at: String::new(),
                scheduled_calls: out.started,
                sessions: out.sessions,
                interrupted: false,
                base_urls: vec![String::new()],
                ..RunFacts::default()
            };
            Summary::build(&p, &out.rec, &facts).cost.alerts
        }
    };
    // Four minutes at 5 calls a second, then one at 15: minute 4 is out of line.
    let surge = alerts("[ { duration: 4m, rate: 5 }, { duration: 1m, rate: 15 } ]").await;
    assert_eq!(surge.len(), 1, "{surge:?}");
    assert_eq!(surge[0].rule, "call_volume");
    assert!(surge[0].message.starts_with("minute 4"), "{surge:?}");
    let steady = alerts("[ { duration: 5m, rate: 5 } ]").await;
    assert!(steady.is_empty(), "{steady:?}");
}

/// Fails the first attempt of every call (by its body) with a 503, answers the retry.
struct FailsFirst {
    seen: std::sync::Mutex<std::collections::HashSet<bytes::Bytes>>,
}

impl Transport for FailsFirst {
    async fn send(&self, _route: &Route, req: Prepared, _timeout: Duration) -> Attempt {
        let first = self.seen.lock().unwrap().insert(req.body.clone());
        let sent = Instant::now();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut a = if first {
            Attempt::failed(sent, Outcome::Http5xx, "HTTP 503")
        } else {
            Attempt::begin(sent)
        };
        a.end = Instant::now();
        a
    }
}

#[tokio::test(start_paused = true)]
async fn issue_11_the_same_seed_gives_the_same_retry_schedule() {
    async fn latencies(seed: u64) -> Vec<u64> {
        let yaml = format!("name: t\nseed: {seed}\nduration: 2s\nretry: {{ max_attempts: 2, backoff: {{ base: 100ms, max: 1s }} }}\nendpoints:\n  e:\n    provider: openai\n    base_url: http://127.0.0.1:9\n    model_name: m\n    timeout: 60s\nfeatures:\n  f:\n    endpoint: e\n    stream: false\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 5\nload: {{ rate: 5 }}\n");
        let (sc, src) = scenario::parse("t.yaml", yaml.into_bytes(), &[]).unwrap();
        let plan = Plan::from_scenario(&sc, &src).unwrap();
        let routes = routes(&plan);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let transport = FailsFirst {
            seen: Default::default(),
        };
        let engine = Arc::new(Engine::new(
            Arc::new(plan),
            routes,
            transport,
            tx,
            Pacer::Tokio,
        ));
        let start = Instant::now();
        engine.drive(start, CancellationToken::new()).await;
        let mut out = Vec::new();
        while let Some(s) = rx.recv().await {
            assert_eq!((s.outcome, s.attempts), (Outcome::Ok, 2));
            out.push((s.end - s.intended).as_micros() as u64);
        }
        out.sort_unstable();
        out
    }
    let a = latencies(3).await;
    assert_eq!(a.len(), 10);
    assert_eq!(a, latencies(3).await, "same seed, same waits");
    assert_ne!(a, latencies(4).await, "another seed, other waits");
}

/// A replay's plan: feature `f`, its log read from `rows` (ms, session, prompt,
/// completion) at `speed`.
fn replay_plan(rows: &[(i64, &str, u64, u64)], speed: f64, extra: &str) -> Plan {
    use llm_drill::plan::replay::{LoggedCall, Trace};
    let yaml = format!(
        "name: t\n{extra}endpoints:\n  e:\n    provider: openai\n    base_url: http://127.0.0.1:9\n    model_name: m\n    timeout: 60s\nfeatures:\n  f:\n    endpoint: e\nload: {{ mode: replay, trace: log.jsonl, format: jsonl, speed: {speed} }}\n"
    );
    let (sc, src) = scenario::parse("test.yaml", yaml.into_bytes(), &[]).expect("valid scenario");
    let mut plan = Plan::from_scenario(&sc, &src).expect("valid plan");
    let calls = rows.iter().map(|(at, session, p, c)| LoggedCall {
        at_ms: *at,
        feature: "f",
        session: (!session.is_empty()).then_some(*session),
        prompt_tokens: *p,
        completion_tokens: *c,
    });
    plan.set_trace(Trace::build(calls, &["f"], speed, None, 8).expect("a trace"));
    plan
}

#[tokio::test(start_paused = true)]
async fn a_replay_sends_each_row_at_its_time_over_speed() {
    // Single calls and two conversations, out of order in the log; at speed 4 the log's
    // 20 s take 5 s.
    let rows = [
        (1_000_020_000, "", 100, 10),
        (1_000_000_000, "a", 50, 5),
        (1_000_001_000, "", 70, 5),
        (1_000_004_000, "a", 90, 5),
        (1_000_004_000, "b", 40, 5),
        (1_000_010_000, "a", 130, 5),
        (1_000_010_004, "b", 60, 5),
    ];
    let p = replay_plan(&rows, 4.0, "");
    assert_eq!(p.duration, Duration::from_secs(5));
    let out = drive(p, Duration::from_millis(100), CancellationToken::new()).await;
    let t = &out.rec.total;
    assert_eq!((out.started, t.calls, t.ok()), (7, 7, 7));
    assert_eq!(out.sessions, 4, "two conversations and two single calls");
    let mut want: Vec<Duration> = rows
        .iter()
        .map(|r| Duration::from_micros(((r.0 - 1_000_000_000) * 1000 / 4) as u64))
        .collect();
    want.sort();
    assert_eq!(out.sent, want, "every request at its row's time over speed");
    let lag = Percentiles::of(&t.schedule_lag);
    assert!(lag.max <= 0.01, "{lag:?}");
    let latency = Percentiles::of(&t.latency);
    assert!(latency.max <= 100.2, "{latency:?}");
}

#[tokio::test(start_paused = true)]
async fn a_replayed_turn_due_before_its_history_starts_when_the_answer_comes_and_is_counted() {
    // Turn 2 is due 1 s after turn 1, which takes 3 s: it starts when the answer it
    // resends arrives, held 2 s — the conversation's pace, not the generator's lag.
    let rows = [(0, "a", 50, 5), (1000, "a", 90, 5)];
    let p = replay_plan(&rows, 1.0, "graceful_stop: 10s\n");
    let out = drive(p, Duration::from_secs(3), CancellationToken::new()).await;
    assert_eq!(out.sent, vec![Duration::ZERO, Duration::from_secs(3)]);
    assert_eq!(out.held.0, 1);
    assert!((out.held.2 - 2000.0).abs() < 0.01, "{:?}", out.held);
    let lag = Percentiles::of(&out.rec.total.schedule_lag);
    assert!(lag.max <= 0.01, "{lag:?}");
    let latency = Percentiles::of(&out.rec.total.latency);
    assert!((2999.0..=3003.0).contains(&latency.max), "{latency:?}");
}

/// A rate far beyond what one machine can build (2k-token prompts, 50,000 a second for
/// 200 ms, to a port that refuses at once) is flagged as llm-drill's own saturation,
/// with why; a light load to the same place is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_the_generator_cannot_build_is_flagged_as_its_own_saturation() {
    let yaml = |rate: u32, tokens: u32| {
        format!("name: sat\nseed: 1\nduration: 200ms\ngraceful_stop: 5s\nendpoints:\n  nowhere: {{ provider: openai, base_url: \"http://127.0.0.1:9\", model_name: gpt-4o-mini, timeout: 2s, retry: {{ max_attempts: 1 }} }}\nfeatures:\n  big: {{ endpoint: nowhere, stream: false, prompt: {{ user_tokens: {tokens} }}, output_tokens: 10 }}\nload: {{ rate: {rate}, max_in_flight: 1000000 }}\n")
    };
    let (s, _d) = super::support::run(&yaml(50_000, 2_000)).await;
    assert!(s.generator_saturated, "{:?}", s.generator);
    assert!(
        s.generator.late >= 20 && s.generator.reasons[0].contains("could not build calls"),
        "{:?}",
        s.generator
    );
    let (s, _d) = super::support::run(&yaml(100, 50)).await;
    assert!(!s.generator_saturated, "{:?}", s.generator);
    assert_eq!(s.generator.released, 20);
}
