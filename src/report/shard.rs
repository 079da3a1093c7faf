//! `shard.json`: what a shard's run leaves beside its ordinary results for
//! `llm-drill merge` — which shard of which run it is, the facts of its run, and its
//! recorder's whole state (every histogram in HdrHistogram V2, every counter), so that
//! the shards add up to exactly what one process would have recorded.

use crate::plan::Shard;
use crate::recorder::state::RecorderState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const FILE: &str = "shard.json";
const FORMAT: &str = "llm-drill shard state";
const VERSION: u32 = 1;

#[derive(Clone, Serialize, Deserialize)]
pub struct ShardFile {
    pub format: String,
    pub version: u32,
    pub llm_drill_version: String,
    pub shard: Shard,
    pub scenario: String,
    pub seed: u64,
    /// The scenario as run (`--set`s applied): shards of one run have the same.
    pub scenario_as_run: String,
    pub started_at: String,
    pub start_at: Option<String>,
    pub started_late_ms: Option<f64>,
    pub facts: ShardFacts,
    pub recorder: RecorderState,
}

/// What the run knew besides its recorder.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ShardFacts {
    pub scheduled_calls: u64,
    pub sessions: u64,
    pub interrupted: bool,
    pub guard_stopped: bool,
    /// Replayed turns held: how many, mean and longest (ms).
    pub held: (u64, f64, f64),
    /// The pacer: arrivals released, released late, the latest (ms).
    pub pacing: (u64, u64, f64),
    pub cpu_share: Option<f64>,
    pub base_urls: Vec<String>,
    /// OAuth token requests by endpoint.
    pub token_stats: BTreeMap<String, crate::client::TokenStats>,
}

impl ShardFile {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shard: Shard,
        scenario: &str,
        seed: u64,
        scenario_as_run: &str,
        started_at: String,
        start_at: Option<String>,
        started_late_ms: Option<f64>,
        facts: ShardFacts,
        recorder: RecorderState,
    ) -> ShardFile {
        ShardFile {
            format: FORMAT.into(),
            version: VERSION,
            llm_drill_version: env!("CARGO_PKG_VERSION").into(),
            shard,
            scenario: scenario.into(),
            seed,
            scenario_as_run: scenario_as_run.into(),
            started_at,
            start_at,
            started_late_ms,
            facts,
            recorder,
        }
    }

    /// `dir`'s shard state, or why there is none to read.
    pub fn read(dir: &Path) -> Result<ShardFile, String> {
        let path = dir.join(FILE);
        let text = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{}: no {FILE}: not the results of a run with --shard",
                dir.display()
            ),
            _ => format!("{}: {e}", path.display()),
        })?;
        let file: ShardFile = serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not a shard's state: {e}", path.display()))?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(format!(
                "{}: shard state version {} of `{}`; this llm-drill reads version {VERSION}",
                path.display(),
                file.version,
                file.format
            ));
        }
        Ok(file)
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        super::write_file(dir, FILE, &json)
    }
}
