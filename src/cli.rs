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
}
