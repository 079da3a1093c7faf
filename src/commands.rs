//! The commands behind the CLI: each runs the library and prints for a person, then
//! returns the exit code of SPEC.md ("Exit codes"). `main` only maps it to the process.

use crate::cli::Command;
use crate::plan::{preflight, Auth, AuthKind, FallbackPolicy, HttpVersion, LoadPlan, Plan, Target};
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
        Command::Run(args) => match run_options(args) {
            Ok(opts) => run_command(&opts, stop).await,
            Err(e) => error_exit(&e),
        },
        Command::Capacity(args) => match run_options(args) {
            Ok(opts)
                if opts.shard.is_some()
                    || opts.start_at.is_some()
                    || opts.metrics_listen.is_some() =>
            {
                error_exit(&RunError::Invalid(
                    "capacity searches the whole load step by step: it takes no --shard, --shards, --start-at or --metrics-listen".into(),
                ))
            }
            Ok(opts) => capacity_command(&opts, stop).await,
            Err(e) => error_exit(&e),
        },
        Command::Validate {
            scenario,
            sets,
            prices,
        } => validate(&scenario, &sets, prices.as_deref()),
        Command::Calibrate {
            scenario,
            sets,
            prices,
            endpoint,
        } => calibrate(&scenario, &sets, prices.as_deref(), endpoint.as_deref()).await,
        Command::Mock { listen, scenario } => mock(listen, scenario.as_deref(), stop).await,
        Command::Report { results_dir } => report(&results_dir),
        Command::Merge {
            shards,
            out,
            prices,
            baseline,
        } => merge_command(&crate::merge::MergeOptions {
            shards,
            out,
            prices,
            baseline,
        }),
        Command::Usage {
            action:
                crate::cli::UsageAction::Import {
                    files,
                    format,
                    map,
                    feature_key,
                    prices,
                    out,
                    emit_scenario,
                },
        } => usage_import(
            &files,
            &format,
            &map,
            feature_key.as_deref(),
            prices.as_deref(),
            &out,
            emit_scenario.as_deref(),
        ),
        Command::Compare {
            baseline,
            candidate,
        } => compare(&baseline, &candidate),
    }
}

fn run_options(a: crate::cli::RunArgs) -> Result<RunOptions, RunError> {
    let env = |k: &str| std::env::var(k).ok();
    let shard = crate::plan::Shard::choose(
        a.shard.as_deref(),
        a.shards,
        env("LLM_DRILL_SHARD").as_deref(),
        env("JOB_COMPLETION_INDEX").as_deref(),
    )
    .map_err(RunError::Invalid)?;
    let start_at = a
        .start_at
        .as_deref()
        .map(run::parse_start_at)
        .transpose()
        .map_err(|e| RunError::Invalid(format!("--start-at: {e}")))?;
    let metrics_linger = a
        .metrics_linger
        .as_deref()
        .map(crate::scenario::value::parse_duration)
        .transpose()
        .map_err(|e| RunError::Invalid(format!("--metrics-linger: {e}")))?
        .unwrap_or_default();
    Ok(RunOptions {
        metrics_listen: a.metrics_listen,
        metrics_linger,
        out: a.out,
        sets: a.sets,
        prices: a.prices,
        baseline: a.baseline,
        progress: !a.no_progress && std::io::stderr().is_terminal(),
        shard,
        start_at,
        ..RunOptions::new(a.scenario)
    })
}

/// Exit 0 when a sustainable load was found (and every threshold on the search held),
/// 1 when even the first step broke the SLO, 130 when interrupted (the steps done are
/// written).
async fn capacity_command(opts: &RunOptions, stop: CancellationToken) -> i32 {
    match run::load(opts) {
        Ok(l) => l.warnings.iter().for_each(|w| eprintln!("{w}")),
        Err(e) => return error_exit(&e),
    }
    match crate::capacity::capacity(opts, stop).await {
        Ok(out) => {
            print!("{}", terminal::render(&out.summary));
            println!("\nresults: {}", out.dir.display());
            if out.summary.interrupted {
                eprintln!(
                    "interrupted: the steps done so far are written to {}",
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

/// `usage import`: exit 2 when an option is wrong or a file holds no readable row; rows
/// that cannot be read are skipped, counted and shown (the first three).
fn usage_import(
    files: &[std::path::PathBuf],
    format: &str,
    map: &[String],
    feature_key: Option<&str>,
    prices: Option<&Path>,
    out: &Path,
    emit: Option<&Path>,
) -> i32 {
    use crate::usage;
    let (b, rows) = match usage::read::Format::parse(format)
        .map_err(|e| format!("--format: {e}"))
        .and_then(|f| usage::import(files, f, map, feature_key, prices))
    {
        Ok(got) => got,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    if let Err(e) = std::fs::create_dir_all(out).and_then(|_| {
        let json = serde_json::to_string_pretty(&b).map_err(std::io::Error::other)?;
        std::fs::write(out.join("baseline.json"), json)?;
        std::fs::write(out.join("baseline.md"), usage::markdown(&b))?;
        std::fs::write(out.join("baseline.html"), usage::html(&b))
    }) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return EXIT_FATAL;
    }
    print!("{}", usage::markdown(&b));
    if b.skipped > 0 {
        eprintln!(
            "warning: {} row(s) skipped; the first: {}",
            b.skipped,
            b.problems.join(" · ")
        );
    }
    println!("\nbaseline: {}", out.join("baseline.json").display());
    if let Some(path) = emit {
        let stem = files[0]
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name: String = format!("usage-{stem}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let source = files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if let Err(e) = std::fs::write(path, usage::emit::scenario(&rows, &source, &name)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_FATAL;
        }
        println!(
            "scenario: {} (fill in its endpoint, then `llm-drill run {}`)",
            path.display(),
            path.display()
        );
    }
    EXIT_OK
}

fn merge_command(opts: &crate::merge::MergeOptions) -> i32 {
    match crate::merge::merge(opts) {
        Ok((summary, dir)) => finished(&summary, &dir),
        Err(e) => error_exit(&e),
    }
}

/// The terminal summary of a finished run (or merge), and its exit code.
fn finished(summary: &crate::report::Summary, dir: &Path) -> i32 {
    print!("{}", terminal::render(summary));
    println!("\nresults: {}", dir.display());
    if summary.interrupted {
        eprintln!("interrupted: partial results written to {}", dir.display());
        EXIT_INTERRUPTED
    } else if summary.cost.guard_stopped {
        eprintln!(
            "stopped by the spend guard (cost.max_spend_usd / max_calls): partial results written to {}",
            dir.display()
        );
        EXIT_FATAL
    } else if summary.passed {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

async fn run_command(opts: &RunOptions, stop: CancellationToken) -> i32 {
    let loaded = match run::load(opts) {
        Ok(l) => l,
        Err(e) => return error_exit(&e),
    };
    // Warnings first, where the user sees them before the progress display.
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    match run::run_loaded(opts, loaded, stop.clone()).await {
        Ok(out) => {
            let code = finished(&out.summary, &out.dir);
            if let Some(m) = out.metrics {
                if !m.linger.is_zero() {
                    eprintln!(
                        "metrics: still at http://{}/metrics for {:.0} s (Ctrl-C ends it)",
                        m.addr,
                        m.linger.as_secs_f64()
                    );
                }
                m.linger(&stop).await;
            }
            code
        }
        Err(e) => error_exit(&e),
    }
}

fn compare(baseline: &Path, candidate: &Path) -> i32 {
    use crate::report::compare;
    let (base, cand) = match (compare::load(baseline), compare::load(candidate)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let c = compare::compare(&base, &cand, &baseline.display().to_string());
    print!("{}", compare::render(&c));
    if c.regressed {
        EXIT_FAILED
    } else {
        EXIT_OK
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

/// The pre-flight report: what each endpoint is and where its credential comes from
/// (never its value), each feature's route, then every finding. Errors exit 2.
/// `calibrate`: the scenario checked as `run` checks it, then each endpoint probed.
async fn calibrate(
    path: &Path,
    sets: &[String],
    prices: Option<&Path>,
    endpoint: Option<&str>,
) -> i32 {
    let opts = RunOptions {
        sets: sets.to_vec(),
        prices: prices.map(Path::to_path_buf),
        ..RunOptions::new(path)
    };
    let loaded = match run::load(&opts) {
        Ok(l) => l,
        Err(e) => return error_exit(&e),
    };
    match run::calibrate::standalone(&loaded.plan, endpoint).await {
        Ok(text) => {
            print!("{text}");
            EXIT_OK
        }
        Err(e) => error_exit(&e),
    }
}

fn validate(path: &Path, sets: &[String], prices: Option<&Path>) -> i32 {
    let (plan, source) = match run::load_plan(path, sets, prices) {
        Ok(p) => p,
        Err(e) => return error_exit(&e),
    };
    let findings = preflight::check(&plan, &source, &preflight::System);
    let errors = findings
        .iter()
        .filter(|f| f.severity == preflight::Severity::Error)
        .count();
    // Errors on stderr first (the first line is the first error), as for any invalid input.
    for f in findings
        .iter()
        .filter(|f| f.severity == preflight::Severity::Error)
    {
        eprintln!("{f}");
    }
    print!("{}", report_plan(path, &plan, errors == 0));
    for f in findings
        .iter()
        .filter(|f| f.severity == preflight::Severity::Warning)
    {
        println!("{f}");
    }
    if errors > 0 {
        println!("{errors} error(s): fix them before running; nothing was sent");
        EXIT_INVALID
    } else {
        EXIT_OK
    }
}

fn report_plan(path: &Path, plan: &Plan, ok: bool) -> String {
    use std::fmt::Write;
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
        LoadPlan::Replay { replay, .. } => {
            let t = &replay.calls;
            format!(
                "replay of {} ({} calls in {} conversations, {} prompt tokens) at {}×, over {:?}",
                replay.trace.display(),
                t.calls,
                t.conversations.len(),
                t.prompt_tokens,
                replay.speed,
                plan.duration
            )
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} — scenario `{}`: {} endpoint(s), {} feature(s), {load}",
        if ok { "ok" } else { "not ok" },
        path.display(),
        plan.name,
        plan.endpoints.len(),
        plan.features.len()
    );
    let yes = |b: bool| if b { "yes" } else { "no" };
    for e in &plan.endpoints {
        let target = match &e.target {
            Target::Mock(_) => "the embedded mock".to_string(),
            Target::Url(u) => u.clone(),
        };
        let own: Vec<String> = e.options.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let own = if own.is_empty() {
            String::new()
        } else {
            format!(" ({})", own.join(", "))
        };
        let _ = writeln!(
            out,
            "endpoint {} — {}: {} at {target}{own}",
            e.id,
            e.display_name,
            e.provider.key()
        );
        let context = e
            .max_context_tokens
            .map_or("not declared".to_string(), |m| m.to_string());
        let _ = writeln!(
            out,
            "  model {} (answers capped by {}) · region {} · tools {} · vision {} · streaming {} · max context {context} · timeout {:?}",
            e.model_name,
            e.token_limit.key(),
            e.region.as_deref().unwrap_or("not declared"),
            yes(e.capabilities.tools),
            yes(e.capabilities.vision),
            yes(e.capabilities.streaming),
            e.timeout
        );
        let credential = match &e.auth {
            Auth::None => "none".to_string(),
            Auth::With(AuthKind::Bearer, r) => format!("bearer token from {r}"),
            Auth::With(AuthKind::ApiKey, r) => format!("API key from {r}"),
            Auth::With(AuthKind::AwsSigV4, r) => format!("AWS keys from {r}, SigV4-signed"),
            Auth::With(AuthKind::ServiceAccount, r) => {
                format!("OAuth 2.0 tokens for the service account key from {r}")
            }
            Auth::OAuth2(o) => format!(
                "OAuth 2.0 tokens from {} (client {}, secret from {})",
                o.token_url, o.client_id, o.client_secret
            ),
        };
        let chain: Vec<&str> = e
            .chain(&plan.endpoints)
            .iter()
            .map(|x| x.id.as_str())
            .collect();
        let fallback = match (e.fallback, e.fallback_policy) {
            (_, FallbackPolicy::FailClosed) => {
                "fail_closed (never leaves this endpoint)".to_string()
            }
            (None, _) => "none".to_string(),
            (Some(_), FallbackPolicy::Fallback) => chain.join(" → "),
        };
        let _ = writeln!(out, "  credential {credential} · fallback {fallback}");
        if let Target::Url(u) = &e.target {
            let how = match url::Url::parse(u) {
                Ok(url) => {
                    match crate::plan::proxy::decide(&e.proxy, &url, &|n| std::env::var(n).ok()) {
                        crate::plan::proxy::Route::Direct(why) => format!("direct ({why})"),
                        crate::plan::proxy::Route::Via { proxy, from } => {
                            let auth = match (&e.proxy_credential, proxy.userinfo.is_some()) {
                                (Some(r), _) => format!(", credential from {r}"),
                                (None, true) => ", credential in the URL".to_string(),
                                (None, false) => String::new(),
                            };
                            format!("through {proxy} (from {from}{auth})")
                        }
                    }
                }
                Err(_) => "direct".to_string(),
            };
            let _ = writeln!(out, "  network {how}");
        }
        let https = matches!(&e.target, Target::Url(u) if u.starts_with("https"));
        let protocol = match (e.http_version, https) {
            (HttpVersion::Auto, true) => "h2 where the endpoint offers it (ALPN), else HTTP/1.1",
            (HttpVersion::Auto, false) => "HTTP/1.1 (plain http; http_version: http2 for h2c)",
            (HttpVersion::Http1, _) => "HTTP/1.1",
            (HttpVersion::Http2, true) => "h2",
            (HttpVersion::Http2, false) => "h2c (prior knowledge)",
        };
        let _ = writeln!(out, "  protocol {protocol}");
        if https {
            let t = &e.tls;
            let mut trust = match t.roots {
                crate::plan::Roots::Mozilla => "Mozilla's roots".to_string(),
                crate::plan::Roots::System => "the system's trust store".to_string(),
                crate::plan::Roots::Both => {
                    "Mozilla's roots and the system's trust store".to_string()
                }
            };
            if let Some(ca) = &t.ca_file {
                trust.push_str(&format!(" + {}", ca.display()));
            }
            let client = t.client_cert.as_ref().map_or("none".to_string(), |c| {
                format!(
                    "{} (key from {})",
                    c.display(),
                    t.client_key
                        .as_ref()
                        .map_or(String::new(), |k| k.to_string())
                )
            });
            let name = t
                .server_name
                .as_ref()
                .map_or(String::new(), |n| format!(" · verified as {n}"));
            let _ = writeln!(
                out,
                "  TLS trusts {trust} · client certificate {client}{name}"
            );
        }
    }
    for f in &plan.features {
        let chain: Vec<&str> = plan.endpoints[f.endpoint]
            .chain(&plan.endpoints)
            .iter()
            .map(|x| x.id.as_str())
            .collect();
        let needs: Vec<&str> = f.needs.iter().map(|n| n.key()).collect();
        let residency = f
            .residency
            .as_ref()
            .map_or("any".to_string(), |r| r.join(", "));
        let _ = writeln!(
            out,
            "feature {} → {} · needs {} · residency {}",
            f.name,
            chain.join(" → "),
            if needs.is_empty() {
                "nothing".to_string()
            } else {
                needs.join(", ")
            },
            residency
        );
    }
    out
}

async fn mock(listen: SocketAddr, scenario: Option<&Path>, stop: CancellationToken) -> i32 {
    let configs: Vec<(String, MockConfig)> = match scenario {
        None => vec![("mock".to_string(), MockConfig::default())],
        Some(path) => match run::load_plan(path, &[], None) {
            Ok((plan, _)) => {
                let mut configs = Vec::new();
                for e in &plan.endpoints {
                    match run::mock_config(e) {
                        Ok(Some(cfg)) => configs.push((e.id.clone(), cfg)),
                        Ok(None) => {}
                        Err(err) => return error_exit(&err),
                    }
                }
                configs
            }
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
                    "mock endpoint `{id}` listening on {} (OpenAI, Azure, Anthropic, Bedrock, Vertex and Gemini paths, GET /stats; listen backlog {})",
                    h.base_url(),
                    h.stats().backlog
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
    // Re-render the reports made from the summary alone; the histograms' files stay.
    if let Err(e) = crate::report::write_renderings(dir, &summary) {
        eprintln!("error: cannot write the reports in {}: {e}", dir.display());
        return EXIT_FATAL;
    }
    print!("{}", terminal::render(&summary));
    EXIT_OK
}
