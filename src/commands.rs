//! The commands behind the CLI: each runs the library and prints for a person, then
//! returns the exit code of SPEC.md ("Exit codes"). `main` only maps it to the process.

use crate::cli::Command;
use crate::client::resolve_credential;
use crate::plan::{LoadPlan, Target};
use crate::report::{terminal, Summary};
use crate::run::{self, RunError, RunOptions};
use mock_server::MockConfig;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use tokio_util::sync::CancellationToken;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
pub const EXIT_FATAL: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

pub async fn dispatch(command: Command, stop: CancellationToken) -> i32 {
    match command {
        Command::Run {
            scenario,
            out,
            sets,
            no_progress,
        } => {
            let opts = RunOptions {
                out,
                sets,
                progress: !no_progress && std::io::stderr().is_terminal(),
                ..RunOptions::new(scenario)
            };
            run_command(&opts, stop).await
        }
        Command::Validate { scenario, sets } => validate(&scenario, &sets),
        Command::Mock { listen, scenario } => mock(listen, scenario.as_deref(), stop).await,
        Command::Report { results_dir } => report(&results_dir),
    }
}

async fn run_command(opts: &RunOptions, stop: CancellationToken) -> i32 {
    match run::run(opts, stop).await {
        Ok(out) => {
            print!("{}", terminal::render(&out.summary));
            println!("\nresults: {}", out.dir.display());
            if out.summary.interrupted {
                eprintln!(
                    "interrupted: partial results written to {}",
                    out.dir.display()
                );
                EXIT_INTERRUPTED
            } else if out.summary.passed {
                EXIT_OK
            } else {
                EXIT_FAILED
            }
        }
        Err(e) => error_exit(&e),
    }
}

fn error_exit(e: &RunError) -> i32 {
    if let RunError::NotWritten { summary, .. } = e {
        print!("{}", terminal::render(summary));
    }
    eprintln!("error: {e}");
    match e {
        RunError::Invalid(_) => EXIT_INVALID,
        RunError::Fatal(_) | RunError::NotWritten { .. } => EXIT_FATAL,
    }
}

fn validate(path: &Path, sets: &[String]) -> i32 {
    let plan = match run::load_plan(path, sets) {
        Ok((plan, _)) => plan,
        Err(e) => return error_exit(&e),
    };
    let load = match &plan.load {
        LoadPlan::Open { stages, .. } => {
            let arrivals: f64 = crate::plan::ArrivalSchedule::expected_count(stages);
            let what = if plan.features.iter().any(|f| f.session.multi_turn()) {
                "sessions"
            } else {
                "calls"
            };
            format!(
                "open load, about {arrivals:.0} {what} over {:?}",
                plan.duration
            )
        }
        LoadPlan::Closed { concurrency } => {
            format!("closed load, {concurrency} users for {:?}", plan.duration)
        }
    };
    println!(
        "ok: {} — scenario `{}`: {} endpoint(s), {} feature(s), {load}",
        path.display(),
        plan.name,
        plan.endpoints.len(),
        plan.features.len()
    );
    for e in &plan.endpoints {
        if let Err(err) = resolve_credential(e) {
            println!("warning: {err} (needed when the scenario runs)");
        }
    }
    EXIT_OK
}

async fn mock(listen: SocketAddr, scenario: Option<&Path>, stop: CancellationToken) -> i32 {
    let configs: Vec<(String, MockConfig)> = match scenario {
        None => vec![("mock".to_string(), MockConfig::default())],
        Some(path) => match run::load_plan(path, &[]) {
            Ok((plan, _)) => plan
                .endpoints
                .iter()
                .filter_map(|e| match &e.target {
                    Target::Mock(cfg) => Some((e.id.clone(), cfg.clone())),
                    Target::Url(_) => None,
                })
                .collect(),
            Err(e) => return error_exit(&e),
        },
    };
    if configs.is_empty() {
        eprintln!("error: the scenario has no endpoint with base_url: mock");
        return EXIT_INVALID;
    }
    let mut handles = Vec::new();
    for (i, (id, cfg)) in configs.into_iter().enumerate() {
        let addr = SocketAddr::new(
            listen.ip(),
            if listen.port() == 0 {
                0
            } else {
                listen.port().saturating_add(i as u16)
            },
        );
        match mock_server::spawn_on(addr, cfg).await {
            Ok(h) => {
                println!(
                    "mock endpoint `{id}` listening on {} (POST /v1/chat/completions, GET /stats)",
                    h.base_url()
                );
                handles.push(h);
            }
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return EXIT_FATAL;
            }
        }
    }
    stop.cancelled().await;
    for h in handles {
        h.shutdown().await;
    }
    EXIT_OK
}

fn report(dir: &Path) -> i32 {
    let path = dir.join("summary.json");
    let summary: Summary = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return EXIT_INVALID;
        }
    };
    print!("{}", terminal::render(&summary));
    EXIT_OK
}
