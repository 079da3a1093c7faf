//! llm-drill: a load-testing and benchmark harness for bring-your-own LLM endpoints.
//!
//! One way through (STYLE.md): `scenario` → `plan` → `engine` → `client` → endpoint, with
//! samples flowing to `recorder` and on to `report`. Each module imports only from those
//! to its left; `run` ties them together, `commands` prints for a person.

pub mod cli;
pub mod client;
pub mod commands;
pub mod cost;
pub mod engine;
pub mod plan;
pub mod recorder;
pub mod report;
pub mod run;
pub mod scenario;
pub mod workload;

pub use run::{run, RunError, RunOptions, RunOutput};
