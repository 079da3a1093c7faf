//! One run, end to end: load and plan the scenario, resolve credentials, start the
//! embedded mock for `base_url: mock` endpoints, drive the engine, collect the recorder,
//! write the results folder. Tests call this in-process, exactly as the CLI does.
//!
//! Nothing is sent before the scenario, the plan and every credential have passed.

use crate::client::{resolve_credential, Client};
use crate::engine::{Engine, Pacer};
use crate::plan::preflight::{self, Finding, Severity};
use crate::plan::{Plan, PriceTable, Shard};
use crate::recorder::drill::{Drill, Window};
use crate::recorder::Recorder;
use crate::report::{self, terminal::ProgressDisplay, RunFacts, Summary};
use crate::scenario;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub mod calibrate;
mod metrics;
mod mocks;
pub use metrics::MetricsServer;
pub use mocks::{mock_config, route_to};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub scenario: PathBuf,
    /// Results folder; by default `<results_root>/<name>-<UTC timestamp>`.
    pub out: Option<PathBuf>,
    pub results_root: PathBuf,
    pub sets: Vec<String>,
    /// Draw the progress display (it only appears on a terminal anyway).
    pub progress: bool,
    /// A LiteLLM-format price file, over the built-in table.
    pub prices: Option<PathBuf>,
    /// A baseline run to compare with.
    pub baseline: Option<PathBuf>,
    /// The part of the run this process drives (`--shard`): it then also writes the
    /// state `merge` adds up.
    pub shard: Option<Shard>,
    /// When the schedule starts, on the wall clock (`--start-at`); now by default.
    pub start_at: Option<SystemTime>,
    /// Serve Prometheus metrics here while the run lasts (`--metrics-listen`), and for
    /// `metrics_linger` after it.
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub metrics_linger: Duration,
}

impl RunOptions {
    pub fn new(scenario: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            scenario: scenario.into(),
            out: None,
            results_root: PathBuf::from("results"),
            sets: Vec::new(),
            progress: false,
            prices: None,
            baseline: None,
            shard: None,
            start_at: None,
            metrics_listen: None,
            metrics_linger: Duration::ZERO,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario or the command line is invalid; nothing was sent (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// The run could not go on (exit 3).
    #[error("{0}")]
    Fatal(String),
    /// The run finished but its results folder could not be written (exit 3); the
    /// summary is kept so it can at least be printed.
    #[error("{message}")]
    NotWritten {
        message: String,
        summary: Box<Summary>,
    },
}

pub struct RunOutput {
    pub summary: Summary,
    pub dir: PathBuf,
    /// The live metrics endpoint, still serving (`--metrics-listen`).
    pub metrics: Option<MetricsServer>,
}

/// A scenario loaded, planned once and checked against the environment: what `run`
/// drives, and what `validate` and the CLI's warnings read.
pub struct Loaded {
    pub plan: Plan,
    pub source: scenario::Source,
    /// Pre-flight warnings (errors make loading fail).
    pub warnings: Vec<Finding>,
}

/// Loads a scenario and builds its plan, once: prices from the built-in table, with
/// `prices` (a LiteLLM-format file) over it when given.
pub fn load_plan(
    path: &Path,
    sets: &[String],
    prices: Option<&Path>,
) -> Result<(Plan, scenario::Source), RunError> {
    let invalid = |e: scenario::ScenarioError| RunError::Invalid(e.to_string());
    let (sc, source) = scenario::load(path, sets).map_err(invalid)?;
    let table = match prices {
        Some(p) => PriceTable::with_file(p).map_err(|m| invalid(source.error("", m)))?,
        None => PriceTable::builtin(),
    };
    let mut plan = Plan::with_prices(&sc, &source, &table).map_err(invalid)?;
    crate::usage::load_trace(&mut plan, prices)
        .map_err(|m| invalid(source.error("load.trace", m)))?;
    Ok((plan, source))
}

/// The pre-flight checks (`plan::preflight`) against the real environment: the warnings,
/// or every error as one `Invalid` (each on its own line, the first one first).
pub fn preflight(plan: &Plan, source: &scenario::Source) -> Result<Vec<Finding>, RunError> {
    let (errors, warnings): (Vec<Finding>, Vec<Finding>) =
        preflight::check(plan, source, &preflight::System)
            .into_iter()
            .partition(|f| f.severity == Severity::Error);
    if errors.is_empty() {
        return Ok(warnings);
    }
    let lines: Vec<String> = errors.iter().map(|f| f.at.to_string()).collect();
    Err(RunError::Invalid(lines.join("\nerror: ")))
}

/// Everything `run` checks before it sends anything: the scenario, the plan and the
/// pre-flight checks.
pub fn load(opts: &RunOptions) -> Result<Loaded, RunError> {
    let (plan, source) = load_plan(&opts.scenario, &opts.sets, opts.prices.as_deref())?;
    let plan = plan.into_shard(opts.shard.unwrap_or(Shard::WHOLE));
    let warnings = preflight(&plan, &source)?;
    Ok(Loaded {
        plan,
        source,
        warnings,
    })
}

/// The recorder of `plan`'s measured part (after `warmup`), from `start`: its
/// endpoints and features, its fault windows (timed from the end of the warm-up; a
/// window inside it is not measured), goodput limits and side by side.
pub fn recorder_for(plan: &Plan, start: Instant, warmup: Duration) -> Recorder {
    let n_endpoints = plan.endpoints.len();
    let windows: Vec<Window> = plan
        .endpoints
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            e.faults
                .faults
                .iter()
                .filter(|f| !f.from.is_zero() || f.until.is_some())
                .filter(|f| f.until.is_none_or(|u| u > warmup))
                .map(move |f| Window {
                    endpoint: i,
                    kind: f.kind.key(),
                    from: f.from.saturating_sub(warmup),
                    until: f.until.map(|u| u - warmup),
                })
        })
        .collect();
    let mut rec = Recorder::new(start, n_endpoints, plan.features.len());
    rec.drill = Drill::new(windows, n_endpoints);
    rec.goodput = plan.goodput;
    rec.side = plan
        .side_by_side
        .as_ref()
        .map(|s| crate::recorder::side::SideBySide::new(s.endpoints.len(), s.mirror));
    rec
}

/// `--start-at`: RFC 3339 (`2026-12-02T10:00:00Z`) or Unix seconds (`1796205600`).
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (0.0..1e11)
            .contains(&secs)
            .then(|| UNIX_EPOCH + Duration::from_secs_f64(secs))
            .ok_or_else(|| format!("`{text}` is not a time in Unix seconds"));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(SystemTime::from)
        .map_err(|e| {
            format!("`{text}` is neither RFC 3339 (2026-12-02T10:00:00Z) nor Unix seconds: {e}")
        })
}

pub async fn run(opts: &RunOptions, stop: CancellationToken) -> Result<RunOutput, RunError> {
    let loaded = load(opts)?;
    run_loaded(opts, loaded, stop).await
}

/// Runs a scenario `load` has already loaded and checked.
pub async fn run_loaded(
    opts: &RunOptions,
    loaded: Loaded,
    stop: CancellationToken,
) -> Result<RunOutput, RunError> {
    let Loaded { plan, source, .. } = loaded;
    let baseline = load_baseline(opts)?;
    let dir = results_folder(opts, &plan.name)?;
    let done = execute(
        Execution {
            plan,
            warmup: Duration::ZERO,
            dir,
            scenario_as_run: source.as_run(),
            baseline,
            progress: opts.progress.then(String::new),
            start_at: opts.start_at,
            shard_state: opts.shard.is_some(),
            metrics: opts.metrics_listen.map(|a| (a, opts.metrics_linger)),
        },
        stop,
    )
    .await?;
    Ok(RunOutput {
        summary: done.summary,
        dir: done.dir,
        metrics: done.metrics,
    })
}

/// The baseline to compare with, read before anything is sent.
pub fn load_baseline(opts: &RunOptions) -> Result<Option<(Summary, String)>, RunError> {
    Ok(match &opts.baseline {
        Some(p) => Some((
            crate::report::compare::load(p).map_err(RunError::Invalid)?,
            p.display().to_string(),
        )),
        None => None,
    })
}

/// `--out`, or `<results_root>/<name>-<UTC timestamp>`, created.
pub fn results_folder(opts: &RunOptions, name: &str) -> Result<PathBuf, RunError> {
    match &opts.out {
        Some(d) => std::fs::create_dir_all(d).map(|_| d.clone()),
        None => report::results_dir(
            &opts.results_root,
            name,
            &chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string(),
        ),
    }
    .map_err(|e| RunError::Fatal(format!("cannot create the results folder: {e}")))
}

/// The run `pilot.baseline` names, read before anything is sent.
pub fn pilot_baseline(plan: &Plan) -> Result<Option<(Summary, String)>, RunError> {
    let Some(path) = plan.pilot.as_ref().and_then(|p| p.baseline.as_ref()) else {
        return Ok(None);
    };
    // A usage baseline (`usage import`), or a run's summary.
    let file = if path.is_dir() {
        path.join("baseline.json")
    } else {
        path.clone()
    };
    if let Some(b) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| crate::usage::Baseline::read(&t))
    {
        return Ok(Some((b.as_summary(), path.display().to_string())));
    }
    Ok(Some((
        crate::report::compare::load(path)
            .map_err(|e| RunError::Invalid(format!("pilot.baseline: {e}")))?,
        path.display().to_string(),
    )))
}

/// One drive of a plan against its endpoints, and where its results go.
pub struct Execution {
    /// What the engine drives, warm-up included.
    pub plan: Plan,
    /// The first part of the load, recorded apart: the summary measures what follows.
    pub warmup: Duration,
    pub dir: PathBuf,
    pub scenario_as_run: String,
    pub baseline: Option<(Summary, String)>,
    /// Draw a progress bar, named so (it only appears on a terminal anyway).
    pub progress: Option<String>,
    /// `--start-at`: when the schedule begins, on the wall clock.
    pub start_at: Option<SystemTime>,
    /// Write `shard.json`, the state `merge` adds up (a `--shard` run).
    pub shard_state: bool,
    /// `--metrics-listen` and `--metrics-linger`.
    pub metrics: Option<(std::net::SocketAddr, Duration)>,
}

/// What an execution measured, and what its warm-up did.
pub struct Executed {
    pub summary: Summary,
    pub dir: PathBuf,
    /// Calls and attempts of the warm-up (not in the summary's figures).
    pub warmup_calls: u64,
    pub warmup_attempts: u64,
    /// Of those attempts, the ones answered 429.
    pub warmup_429: u64,
    /// Wall-clock start and end, in milliseconds since 1970: to find the run in a
    /// server's access log.
    pub started_unix_ms: u64,
    pub ended_unix_ms: u64,
    /// The live metrics endpoint, still serving.
    pub metrics: Option<MetricsServer>,
}

/// CPU time this process has used, user and system, over all its threads; `None` where
/// the clock is not there.
fn process_cpu_seconds() -> Option<f64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the one timespec it is given, which lives on this
    // stack for the call; CLOCK_PROCESS_CPUTIME_ID is every thread's CPU time, in
    // nanoseconds, whatever the kernel's tick rate.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0;
    ok.then(|| t.tv_sec as f64 + t.tv_nsec as f64 / 1e9)
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Drives `x.plan` and writes its results: credentials resolved, embedded mocks started,
/// the engine run to its end (or `stop`), the recorder collected, the folder written.
pub async fn execute(x: Execution, stop: CancellationToken) -> Result<Executed, RunError> {
    let Execution {
        plan,
        warmup,
        dir,
        scenario_as_run,
        baseline,
        progress,
        start_at,
        shard_state,
        metrics,
    } = x;
    // A shard started after `--start-at` runs the schedule from that instant: the
    // arrivals it missed go at once and carry their lateness as schedule lag. One late
    // by the whole run would send nothing on time: refused before anything is sent.
    let late = start_at.and_then(|at| SystemTime::now().duration_since(at).ok());
    if let Some(late) = late.filter(|l| *l >= plan.duration) {
        return Err(RunError::Invalid(format!(
            "--start-at was {:.1} s ago, past the whole run ({} s): nothing would start on time",
            late.as_secs_f64(),
            plan.duration.as_secs()
        )));
    }
    // The metrics address is taken before anything is sent: one in use is the
    // command line's error.
    let metrics = match metrics {
        Some((addr, linger)) => Some((
            tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                RunError::Invalid(format!("--metrics-listen {addr}: cannot listen there: {e}"))
            })?,
            linger,
        )),
        None => None,
    };
    let secrets = plan
        .endpoints
        .iter()
        .map(resolve_credential)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Invalid(e.to_string()))?;
    let pilot_baseline = pilot_baseline(&plan)?;
    std::fs::create_dir_all(&dir).map_err(|e| {
        RunError::Fatal(format!(
            "cannot create the results folder {}: {e}",
            dir.display()
        ))
    })?;
    let started_at = chrono::Utc::now();
    let started_unix_ms = unix_ms();
    let mut mocks = Vec::new();
    let mut routes = Vec::new();
    for (e, secret) in plan.endpoints.iter().zip(secrets) {
        let (route, mock) = route_to(e, secret).await?;
        if let Some(h) = mock {
            mocks.push((e.id.clone(), h));
        }
        routes.push(route);
    }
    let base_urls: Vec<String> = routes.iter().map(|r| r.base_url.clone()).collect();
    // Credentials that expire (OAuth tokens, `exec:` output with an expiry) are fetched
    // before anything is sent.
    let mut lifetimes = Vec::with_capacity(routes.len());
    for r in &routes {
        if !r.fetches_credential() {
            lifetimes.push(None);
            continue;
        }
        let lifetime = r.refresh_token().await.map_err(|m| {
            RunError::Fatal(format!(
                "endpoint `{}`: cannot get its credential: {}",
                r.endpoint.id,
                r.redact(m)
            ))
        })?;
        // A credential that never says when it expires is fetched once.
        lifetimes.push(lifetime.map(|l| (l, Instant::now())));
    }
    // Calibrated endpoints are probed now, and their prompts planned by what was found.
    let mut calibrations = std::collections::BTreeMap::new();
    let mut plan = plan;
    for (i, r) in routes.iter().enumerate() {
        if !r.endpoint.calibrate {
            continue;
        }
        let c = calibrate::calibrate(r, i).await.map_err(|m| {
            RunError::Fatal(format!(
                "endpoint `{}`: cannot calibrate: {}",
                r.endpoint.id,
                r.redact(m)
            ))
        })?;
        plan.endpoints[i].calibration = Some(c.fit);
        calibrations.insert(r.endpoint.id.clone(), c);
    }
    let plan = Arc::new(plan);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let engine = Arc::new(Engine::new(plan.clone(), routes, Client, tx, Pacer::Thread));
    let start = match start_at {
        None => Instant::now(),
        Some(at) => match at.duration_since(SystemTime::now()) {
            // Early: wait for it (a Ctrl-C meanwhile ends the run before it starts).
            Ok(wait) => {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => {}
                }
                Instant::now()
            }
            Err(late) => Instant::now()
                .checked_sub(late.duration())
                .unwrap_or_else(Instant::now),
        },
    };
    // Fault windows count from the run's start, on the mock and in the client alike.
    for (_, h) in &mocks {
        h.start_clock(start.into_std());
    }
    // Credentials that expire are fetched again at 80% of their life.
    for (i, fetched) in lifetimes.into_iter().enumerate() {
        let Some((lifetime, at)) = fetched else {
            continue;
        };
        let routes = engine.routes.clone();
        tokio::spawn(async move {
            let mut wait = lifetime.mul_f64(0.8).saturating_sub(at.elapsed());
            loop {
                tokio::time::sleep(wait).await;
                // Ends with the run (this task holds the last reference).
                if Arc::strong_count(&routes) == 1 {
                    break;
                }
                wait = match routes[i].refresh_token().await {
                    Ok(Some(l)) => l.mul_f64(0.8),
                    Ok(None) => break,
                    Err(_) => Duration::from_secs(1),
                };
            }
        });
    }
    for r in engine.routes.iter() {
        r.start_faults(start);
        // A key rotated on disk during the run takes effect without a restart.
        if let Some(watch) = r.watch_credential() {
            tokio::spawn(watch);
        }
    }
    let (n_endpoints, n_features) = (plan.endpoints.len(), plan.features.len());
    let endpoint_ids: Vec<String> = plan.endpoints.iter().map(|e| e.id.clone()).collect();
    // Calls meant to start in the warm-up are recorded apart; the rest are measured.
    let measured_from = start + warmup;
    let mut rec = recorder_for(&plan, measured_from, warmup);
    rec.intervals = Some(crate::recorder::hlog::IntervalLogs::new(
        &endpoint_ids,
        Some(&dir),
    ));
    // A shard keeps each second's histograms, for `merge`.
    rec.series.keep = shard_state;
    let live = metrics.as_ref().map(|_| {
        let features: Vec<String> = plan.features.iter().map(|f| f.name.clone()).collect();
        let live = crate::recorder::live::Live::new(
            &plan.name,
            &plan.shard.to_string(),
            &endpoint_ids,
            &features,
        );
        live.target_rps.set(plan.target_rps().unwrap_or(0.0));
        Arc::new(live)
    });
    let metrics = metrics.map(|(listener, linger)| {
        let live = live.clone().expect("made with the listener");
        MetricsServer::start(listener, linger, live, engine.progress.clone(), start)
    });
    let recorder = tokio::spawn(async move {
        let mut rec = rec;
        let mut warm = Recorder::new(start, n_endpoints, n_features);
        // Drain on a short tick instead of awaiting each sample: a parked receiver would
        // make every finished call wake this task (a context switch per call at 80k
        // calls/s); with no waker registered, a send is just a queue push.
        loop {
            let sample = rx.try_recv();
            if let (Ok(s), Some(live)) = (&sample, &live) {
                live.observe(s);
            }
            match sample {
                Ok(sample) if sample.intended < measured_from => warm.record(&sample),
                Ok(sample) => rec.record(&sample),
                Err(TryRecvError::Empty) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(TryRecvError::Disconnected) => break,
            }
        }
        rec.finish();
        warm.finish();
        (rec, warm)
    });
    let display = progress.map(|name| {
        let name = if name.is_empty() {
            plan.name.clone()
        } else {
            name
        };
        ProgressDisplay::start(&name, plan.duration, engine.progress.clone())
    });
    let cpu_before = process_cpu_seconds();
    let report = engine.clone().drive(start, stop).await;
    let cpu_share = match (cpu_before, process_cpu_seconds()) {
        (Some(a), Some(b)) => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let wall = start.elapsed().as_secs_f64();
            (wall > 0.5).then(|| ((b - a) / (wall * cores) * 1000.0).round() / 1000.0)
        }
        _ => None,
    };
    // OAuth endpoints' token requests, read before the routes go.
    let token_stats: std::collections::BTreeMap<String, crate::client::TokenStats> = engine
        .routes
        .iter()
        .filter_map(|r| Some((r.endpoint.id.clone(), r.token_stats()?)))
        .collect();
    // An llm-drill mock running on its own answered some endpoints: its ground truth and
    // its own lag, as for an embedded one.
    let standalone = mocks::standalone_stats(&engine.routes).await;
    // Dropping the engine drops the last sample sender (every call has finished) and the
    // HTTP client's idle connections, so the recorder and the mocks can wind down.
    drop(engine);
    let (rec, warm) = recorder
        .await
        .map_err(|e| RunError::Fatal(format!("the recorder failed: {e}")))?;
    // Sessions the warm-up started: its first turns.
    let warm_sessions: u64 = warm
        .turns
        .iter()
        .filter_map(|rows| rows.first())
        .map(|t| t.calls)
        .sum();
    if let Some(d) = display {
        d.finish();
    }
    let mut mock_stats: std::collections::BTreeMap<_, _> = standalone.into_iter().collect();
    for (id, h) in mocks {
        mock_stats.insert(id, h.stats());
        let _ = tokio::time::timeout(Duration::from_secs(2), h.shutdown()).await;
    }
    let shard = (shard_state || start_at.is_some()).then(|| crate::report::summary::ShardSummary {
        index: Some(plan.shard.index),
        count: plan.shard.count,
        start_at: start_at.map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        }),
        started_late_ms: start_at.map(|_| late.map_or(0.0, |l| l.as_secs_f64() * 1000.0)),
        max_spend_usd: plan.cost.max_spend_usd.filter(|_| !plan.shard.is_whole()),
        max_calls: plan.cost.max_calls.filter(|_| !plan.shard.is_whole()),
        merged_from: Vec::new(),
    });
    let facts = RunFacts {
        shard,
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        scheduled_calls: report.started.saturating_sub(warm.total.calls),
        sessions: report.sessions.saturating_sub(warm_sessions),
        interrupted: report.interrupted,
        base_urls,
        guard_stopped: report.guard_stopped,
        held: report.held,
        pacing: report.pacing,
        cpu_share,
        mock_server: mock_stats,
        baseline,
        token_stats,
        pilot_baseline,
        calibrations,
    };
    let summary = Summary::build(&plan.after(warmup), &rec, &facts);
    let written = report::write_all(&dir, &summary, &rec, &scenario_as_run).and_then(|()| {
        if !shard_state {
            return Ok(());
        }
        let sh = facts.shard.clone().unwrap_or_default();
        report::shard::ShardFile::new(
            plan.shard,
            &plan.name,
            plan.seed,
            &scenario_as_run,
            facts.started_at.clone(),
            sh.start_at,
            sh.started_late_ms,
            report::shard::ShardFacts {
                scheduled_calls: facts.scheduled_calls,
                sessions: facts.sessions,
                interrupted: facts.interrupted,
                guard_stopped: facts.guard_stopped,
                held: facts.held,
                pacing: facts.pacing,
                cpu_share: facts.cpu_share,
                base_urls: facts.base_urls.clone(),
                token_stats: facts.token_stats.clone(),
            },
            rec.state(),
        )
        .write(&dir)
    });
    if let Err(e) = written {
        let message = format!("cannot write results to {}: {e}", dir.display());
        return Err(RunError::NotWritten {
            message,
            summary: Box::new(summary),
        });
    }
    Ok(Executed {
        summary,
        dir,
        warmup_calls: warm.total.calls,
        warmup_attempts: warm.total.attempts,
        warmup_429: warm
            .endpoints
            .iter()
            .map(|m| m.count(crate::outcome::Outcome::Http429))
            .sum(),
        started_unix_ms,
        ended_unix_ms: unix_ms(),
        metrics,
    })
}
