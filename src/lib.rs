//! llm-drill: a load-testing and benchmark harness for bring-your-own LLM endpoints.
//!
//! One way through (STYLE.md): `scenario` → `plan` → `engine` → `client` → endpoint, with
//! samples flowing to `recorder` and on to `report`; `run` ties them together and
//! `commands` prints for a person.
//!
//! The layers, lowest first. A module imports only from layers below its own (a test,
//! `tests/drill/layers.rs`, reads the sources and fails on an import that climbs):
//!
//! | layer | owns |
//! | --- | --- |
//! | `outcome` | the words every layer shares: outcomes, finish reasons |
//! | `scenario` | the serde mirror of the YAML, `--set`, located errors |
//! | `plan` | every check and default, once: typed, immutable data (prices, metrics, policy) |
//! | `workload` | seeded, tokenizer-exact prompts, sessions and turns |
//! | `client` | providers' wire formats, credentials, the HTTP transport, faults injected |
//! | `recorder` | samples folded into histograms and counters |
//! | `cost` | billing each attempt, the multiplier, projection and alerts |
//! | `engine` | the one driver: schedule, sessions, retries, breaker, fallback, shutdown |
//! | `report` | the `Summary`, gates and comparison, and every rendering of it |
//! | `usage` | per-call logs imported into a baseline, a scenario of their mix, a replay's trace |
//! | `run` | one run end to end |
//! | `capacity` | the capacity search: runs, one a step |
//! | `cli`, `commands` | the command line and what each command prints |
//! | `fuzzing` | entry points for the fuzz targets and their property tests |
//!
//! Only `plan` (and `run`, `commands`, `fuzzing`, which load text) read the `scenario` mirror: the
//! runtime works on the plan's own types.
//!
//! Where things go:
//! - a provider: a row in `plan/provider.rs`, a wire format in `client/<name>.rs` with its
//!   line in `client::provider::format`, and its mock in `mock_server/src/<name>.rs`;
//! - a fault kind: a variant of `mock_server::faults::FaultKind`, its keys in
//!   `scenario/model.rs` (`FaultSpec`), its check in `plan/faults.rs`, its injection in
//!   `client/inject.rs`;
//! - a metric: a row in `plan/metrics.rs` and its value in `report::measure`
//!   (`report/gates.rs`); thresholds, `regression:` and `compare` pick it up;
//! - an output format: a file in `report/`, called from `report::write_renderings`.

pub mod outcome;

pub mod scenario;

pub mod plan;

pub mod workload;

pub mod client;

pub mod recorder;

pub mod cost;

pub mod engine;

pub mod report;

pub mod usage;

pub mod merge;
pub mod run;

pub mod capacity;

pub mod cli;
pub mod commands;

#[doc(hidden)]
pub mod fuzzing;

pub use run::{run, RunError, RunOptions, RunOutput};
