//! The command line, as clap definitions: raw flags and their types only. Meaning and
//! checks live in the library.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Load-testing and benchmark harness for bring-your-own LLM endpoints.
#[derive(Parser, Debug)]
#[command(name = "llm-drill", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario and write its results folder.
    Run(RunArgs),
    /// Search the highest load the scenario sustains within its thresholds (its SLO):
    /// a run per step, growing then bisecting; results per step under steps/.
    Capacity(RunArgs),
    /// Compare a candidate run with a baseline run; exit 1 on a regression.
    Compare {
        baseline: PathBuf,
        candidate: PathBuf,
    },
    /// Check a scenario without sending anything.
    Validate {
        scenario: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[arg(long)]
        prices: Option<PathBuf>,
    },
    /// Probe each endpoint with a few calls of different sizes and print how it counts
    /// prompt tokens against the plan's tokenizer: a ratio, and overheads per call and
    /// per message (a chat template). `calibrate: true` on an endpoint does this before
    /// every run and plans prompts by it.
    Calibrate {
        scenario: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[arg(long)]
        prices: Option<PathBuf>,
        /// Only this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Serve the mock endpoint standalone (OpenAI-compatible, GET /stats).
    Mock {
        /// Address to listen on; with --scenario, each mock endpoint takes the next port.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Serve the behaviour of this scenario's `base_url: mock` endpoints.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Print the summary of a results folder again.
    Report { results_dir: PathBuf },
    /// Make one result of a run's shards (`run --shard I/N`): their results folders
    /// merged exactly into one, identical in form to a single run's; thresholds,
    /// baseline and pilot verdict are judged on the whole. Exit codes as `run`.
    Merge {
        /// The shards' results folders (each holds the shard.json its run wrote): every
        /// shard of the run, once, in any order.
        #[arg(required = true, value_name = "SHARD_DIR")]
        shards: Vec<PathBuf>,
        /// Where the merged results go.
        #[arg(long)]
        out: PathBuf,
        /// The price file the shards were run with, if any.
        #[arg(long)]
        prices: Option<PathBuf>,
        /// Compare the whole with a baseline run: a regression fails it (exit 1).
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
    /// Per-call logs you already have: import them into a baseline.
    Usage {
        #[command(subcommand)]
        action: UsageAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsageAction {
    /// Read per-call logs and write baseline.json, .md and .html: calls, tokens,
    /// latency, errors and cost, per feature and overall. No prompt or response text
    /// is written anywhere.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// servicenow (the Generative AI Log export, CSV or JSON), litellm (its
        /// /spend/logs), jsonl or csv (with --map).
        #[arg(long)]
        format: String,
        /// Which column holds which field, e.g. --map timestamp=created_at,feature=capability
        /// (fields: timestamp, feature, session, prompt_tokens, completion_tokens, latency
        /// [ms], status, region, cost [USD], model).
        #[arg(long = "map", value_name = "FIELD=COLUMN,...")]
        map: Vec<String>,
        /// LiteLLM: the metadata key that names a call's feature (default: the model).
        #[arg(long)]
        feature_key: Option<String>,
        /// Price rows the log gives no cost for by their model, from this LiteLLM-format
        /// table over the built-in one.
        #[arg(long)]
        prices: Option<PathBuf>,
        /// Where baseline.json, baseline.md and baseline.html go.
        #[arg(long)]
        out: PathBuf,
        /// Also write a scenario that reproduces the log's mix (features, token
        /// quantiles, turns, think times, the peak rate); fill in its endpoint.
        #[arg(long, value_name = "FILE")]
        emit_scenario: Option<PathBuf>,
    },
}

/// What `run` and `capacity` take.
#[derive(Args, Debug)]
pub struct RunArgs {
    pub scenario: PathBuf,
    /// Results folder (default: results/<name>-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override a scenario key by its path, e.g. --set load.stages.0.rate=50.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Do not draw the progress display.
    #[arg(long)]
    pub no_progress: bool,
    /// A price table in LiteLLM's model_prices_and_context_window.json format, over
    /// the built-in one (for `price_ref`).
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Compare with a baseline run (its summary.json or results folder): a
    /// regression fails the run (exit 1).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Run shard I of N (I from 0): every Nth arrival, session and closed-mode user of
    /// the whole run, and its share of the spend guard. Also from LLM_DRILL_SHARD=I/N.
    /// `llm-drill merge` makes one result of the shards' folders.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// The number of shards, this one's number taken from JOB_COMPLETION_INDEX (a
    /// Kubernetes Indexed Job sets it).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Start the schedule at this wall-clock instant (RFC 3339, or Unix seconds), so
    /// that shards start together; a shard that starts later counts the delay as
    /// schedule lag.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics while the run lasts: calls,
    /// attempts, tokens, cost, rates and latency histograms.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Keep serving the metrics this long after the run (e.g. 30s), for a last scrape.
    #[arg(long, value_name = "DURATION", requires = "metrics_listen")]
    pub metrics_linger: Option<String>,
}
