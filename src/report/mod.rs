//! Reports: one `Summary` rendered into each format — the terminal table, `summary.json`,
//! `summary.txt`, `.hgrm` percentile distributions — and the results folder that holds
//! them. Renders only; never measures.

pub mod chart;
pub mod ci;
pub mod compare;
pub mod gates;
pub mod generator;
pub mod hgrm;
pub mod html;
pub mod pilot;
pub mod replay;
mod schema;
pub mod shard;
pub mod side;
pub mod summary;
pub mod terminal;

pub use gates::measure;
pub use summary::{RunFacts, Summary};

use crate::recorder::Recorder;
use std::io;
use std::path::{Path, PathBuf};

/// `results/<name>-<UTC timestamp>`, made unique if a run of the same second exists.
pub fn results_dir(root: &Path, name: &str, stamp: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(root)?;
    for n in 0..1000 {
        let dir = if n == 0 {
            root.join(format!("{name}-{stamp}"))
        } else {
            root.join(format!("{name}-{stamp}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "too many results folders with the same name and time",
    ))
}

/// Writes every report of a run into `dir`.
/// The reports rendered from the summary alone (`llm-drill report` writes them again).
pub fn write_renderings(dir: &Path, summary: &Summary) -> io::Result<()> {
    write(dir, "summary.txt", terminal::render(summary).as_bytes())?;
    write(dir, "summary.md", ci::markdown(summary).as_bytes())?;
    write(dir, "junit.xml", ci::junit(summary).as_bytes())?;
    write(dir, "report.html", html::render(summary).as_bytes())?;
    Ok(())
}

/// Writes a capacity search's own files: its summary, the scenario and the renderings
/// (each step's folder holds that step's histograms).
pub fn write_search(dir: &Path, summary: &Summary, scenario_as_run: &str) -> io::Result<()> {
    let json = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
    write(dir, "summary.json", json.as_bytes())?;
    write(dir, "scenario.yaml", scenario_as_run.as_bytes())?;
    write_renderings(dir, summary)
}

pub fn write_all(
    dir: &Path,
    summary: &Summary,
    rec: &Recorder,
    scenario_as_run: &str,
) -> io::Result<()> {
    let json = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
    write(dir, "summary.json", json.as_bytes())?;
    write(dir, "scenario.yaml", scenario_as_run.as_bytes())?;
    write_renderings(dir, summary)?;
    write(
        dir,
        "latency.hgrm",
        hgrm::render(&rec.total.latency, 5).as_bytes(),
    )?;
    write(
        dir,
        "service_time.hgrm",
        hgrm::render(&rec.total.service_time, 5).as_bytes(),
    )?;
    if let Some(logs) = &rec.intervals {
        let started = std::time::SystemTime::now()
            .checked_sub(rec.last_end.saturating_duration_since(rec.start))
            .unwrap_or(std::time::UNIX_EPOCH);
        for (i, metric) in crate::recorder::hlog::METRICS.iter().enumerate() {
            if logs.has(i) {
                write_with(dir, &format!("{metric}.hlog"), |w| {
                    logs.write(i, started, w)
                })?;
            }
        }
    }
    if !rec.total.ttft.is_empty() {
        write(
            dir,
            "ttft.hgrm",
            hgrm::render(&rec.total.ttft, 5).as_bytes(),
        )?;
        write(dir, "itl.hgrm", hgrm::render(&rec.total.itl, 5).as_bytes())?;
    }
    Ok(())
}

/// [`write`], for other modules' files in a results folder.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write(dir, name, bytes)
}

/// Writes through a temporary file and a rename, so a file is never left half-written.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write_with(dir, name, |w| w.write_all(bytes))
}

/// [`write`], for contents streamed by `fill` rather than held whole.
fn write_with(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut w = io::BufWriter::new(std::fs::File::create(&tmp)?);
    fill(&mut w)?;
    w.into_inner().map_err(io::IntoInnerError::into_error)?;
    std::fs::rename(&tmp, dir.join(name))
}
