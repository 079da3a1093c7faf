//! `llm-drill merge DIR... --out DIR`: the results folders of a run's shards (`run
//! --shard I/N`) made into one, identical in form to a single process's. Each shard's
//! `shard.json` holds its recorder's whole state; the states add up exactly (histograms
//! added, counters and costs summed, each second's series from its added histograms,
//! drill windows from their earliest moments), and the summary, thresholds, baseline,
//! pilot verdict and side by side are then made from the whole, by the code `run` uses.
//! The `.hlog` files are merged per second and endpoint.

use crate::report::shard::ShardFile;
use crate::report::{self, RunFacts, Summary};
use crate::run::{self, RunError};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct MergeOptions {
    pub shards: Vec<PathBuf>,
    pub out: PathBuf,
    /// A LiteLLM-format price file, as the shards were run with.
    pub prices: Option<PathBuf>,
    /// A baseline run to compare the whole with.
    pub baseline: Option<PathBuf>,
}

/// The shards' files, checked to be every shard of one run, once each, in order.
pub fn read_shards(dirs: &[PathBuf]) -> Result<Vec<ShardFile>, RunError> {
    if dirs.is_empty() {
        return Err(RunError::Invalid(
            "merge needs the shards' results folders".into(),
        ));
    }
    let files = dirs
        .iter()
        .map(|d| ShardFile::read(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RunError::Invalid)?;
    let first = &files[0];
    for (f, dir) in files.iter().zip(dirs).skip(1) {
        if f.scenario_as_run != first.scenario_as_run || f.seed != first.seed {
            return Err(RunError::Invalid(format!(
                "{} is shard {} of scenario `{}` (seed {}), {} is shard {} of `{}` (seed {}){}: shards of different runs do not merge",
                dirs[0].display(),
                first.shard,
                first.scenario,
                first.seed,
                dir.display(),
                f.shard,
                f.scenario,
                f.seed,
                if f.scenario == first.scenario && f.seed == first.seed {
                    ", with other settings"
                } else {
                    ""
                }
            )));
        }
        if f.shard.count != first.shard.count {
            return Err(RunError::Invalid(format!(
                "{} is shard {} and {} is shard {}: a run split in different numbers of shards",
                dirs[0].display(),
                first.shard,
                dir.display(),
                f.shard
            )));
        }
    }
    let count = first.shard.count;
    let mut by_index: Vec<Option<usize>> = vec![None; count as usize];
    for (n, f) in files.iter().enumerate() {
        let slot = &mut by_index[f.shard.index as usize];
        if let Some(other) = *slot {
            return Err(RunError::Invalid(format!(
                "shard {} is given twice: {} and {}",
                f.shard,
                dirs[other].display(),
                dirs[n].display()
            )));
        }
        *slot = Some(n);
    }
    let missing: Vec<String> = by_index
        .iter()
        .enumerate()
        .filter(|(_, n)| n.is_none())
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(RunError::Invalid(format!(
            "shard{} {} of the run {} missing",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            if missing.len() > 1 { "are" } else { "is" }
        )));
    }
    let mut files: Vec<Option<ShardFile>> = files.into_iter().map(Some).collect();
    Ok(by_index
        .into_iter()
        .map(|n| {
            files[n.expect("every shard is present")]
                .take()
                .expect("each once")
        })
        .collect())
}

/// Merges the shards into `opts.out`: the summary of the whole run, as `run` would
/// have made it.
pub fn merge(opts: &MergeOptions) -> Result<(Summary, PathBuf), RunError> {
    let files = read_shards(&opts.shards)?;
    // The whole run's plan, from the scenario as the shards ran it.
    let first_dir = opts
        .shards
        .iter()
        .zip(&files)
        .find(|(_, f)| f.shard.index == 0)
        .map(|(d, _)| d.clone())
        .expect("shard 0 is present");
    let (plan, _) = run::load_plan(
        &first_dir.join("scenario.yaml"),
        &[],
        opts.prices.as_deref(),
    )?;
    let baseline = run::load_baseline(&run::RunOptions {
        baseline: opts.baseline.clone(),
        ..run::RunOptions::new(first_dir.join("scenario.yaml"))
    })?;
    let pilot_baseline = run::pilot_baseline(&plan)?;
    let start = tokio::time::Instant::now();
    let mut rec = run::recorder_for(&plan, start, Duration::ZERO);
    let mut facts = RunFacts {
        started_at: files[0].started_at.clone(),
        scheduled_calls: 0,
        sessions: 0,
        interrupted: false,
        base_urls: files[0].facts.base_urls.clone(),
        guard_stopped: false,
        mock_server: Default::default(),
        baseline,
        token_stats: Default::default(),
        // Each shard calibrated on its own: its probes are in its own summary.
        calibrations: Default::default(),
        pilot_baseline,
        held: (0, 0.0, 0.0),
        pacing: (0, 0, 0.0),
        cpu_share: None,
        shard: Some(report::summary::ShardSummary {
            index: None,
            count: files[0].shard.count,
            start_at: files[0].start_at.clone(),
            started_late_ms: None,
            max_spend_usd: None,
            max_calls: None,
            merged_from: opts
                .shards
                .iter()
                .map(|d| d.display().to_string())
                .collect(),
        }),
    };
    let mut held_total = 0.0;
    for (f, dir) in files.iter().zip(&opts.shards) {
        rec.absorb(f.recorder.clone())
            .map_err(|e| RunError::Invalid(format!("{}: {e}", dir.display())))?;
        let x = &f.facts;
        facts.started_at = facts.started_at.clone().min(f.started_at.clone());
        facts.scheduled_calls += x.scheduled_calls;
        facts.sessions += x.sessions;
        facts.interrupted |= x.interrupted;
        facts.guard_stopped |= x.guard_stopped;
        held_total += x.held.0 as f64 * x.held.1;
        facts.held = (facts.held.0 + x.held.0, 0.0, facts.held.2.max(x.held.2));
        facts.pacing = (
            facts.pacing.0 + x.pacing.0,
            facts.pacing.1 + x.pacing.1,
            facts.pacing.2.max(x.pacing.2),
        );
        // Any shard short of CPU makes the whole run's figures suspect.
        facts.cpu_share = match (facts.cpu_share, x.cpu_share) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (id, theirs) in &x.token_stats {
            let t = facts.token_stats.entry(id.clone()).or_default();
            let n = t.requests + theirs.requests;
            t.mean_ms = match (t.mean_ms, theirs.mean_ms) {
                (Some(a), Some(b)) if n > 0 => {
                    Some((a * t.requests as f64 + b * theirs.requests as f64) / n as f64)
                }
                (a, b) => a.or(b),
            };
            t.requests = n;
            t.failures += theirs.failures;
        }
        if let (Some(sh), Some(late)) = (facts.shard.as_mut(), f.started_late_ms) {
            sh.started_late_ms = Some(sh.started_late_ms.unwrap_or(0.0).max(late));
        }
    }
    facts.held.1 = held_total / facts.held.0.max(1) as f64;
    rec.finish_merge();
    let summary = Summary::build(&plan, &rec, &facts);
    std::fs::create_dir_all(&opts.out).map_err(|e| {
        RunError::Fatal(format!(
            "cannot create the results folder {}: {e}",
            opts.out.display()
        ))
    })?;
    let written = report::write_all(&opts.out, &summary, &rec, &files[0].scenario_as_run)
        .map_err(|e| e.to_string())
        .and_then(|()| merge_hlogs(&opts.shards, &opts.out));
    if let Err(e) = written {
        return Err(RunError::NotWritten {
            message: format!("cannot write results to {}: {e}", opts.out.display()),
            summary: Box::new(summary),
        });
    }
    Ok((summary, opts.out.clone()))
}

/// Each metric's `.hlog` of the whole run, from the shards' (those a shard lacks add
/// nothing).
fn merge_hlogs(dirs: &[PathBuf], out: &Path) -> Result<(), String> {
    use crate::recorder::hlog::{merge_logs, METRICS};
    for (i, metric) in METRICS.iter().enumerate() {
        let name = format!("{metric}.hlog");
        let logs: Vec<Vec<u8>> = dirs
            .iter()
            .filter_map(|d| std::fs::read(d.join(&name)).ok())
            .collect();
        if logs.is_empty() {
            continue;
        }
        let mut text = Vec::new();
        merge_logs(i, &logs, &mut text)?;
        report::write_file(out, &name, &text).map_err(|e| e.to_string())?;
    }
    Ok(())
}
