//! `load:` — open mode's stages and arrival process with its in-flight cap, or closed
//! mode's concurrency — and the run's duration.

use super::arrivals::{Arrival, ArrivalSchedule, Stage};
use super::check::{number, Checker};
use super::replay::{LogFormat, ReplayPlan};
use super::MAX_RUN;
use crate::scenario::model::{ArrivalKind, LoadMode};
use crate::scenario::{Scenario, ScenarioError};
use std::time::Duration;

pub const DEFAULT_MAX_IN_FLIGHT: usize = 4096;
const MAX_RATE: f64 = 100_000.0;
const MAX_CONCURRENCY: u64 = 100_000;
const MAX_IN_FLIGHT: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq)]
pub enum LoadPlan {
    Open {
        stages: Vec<Stage>,
        arrival: Arrival,
        max_in_flight: usize,
    },
    Closed {
        concurrency: usize,
    },
    /// One call per row of a log, at its time: open-loop, like `Open`.
    Replay {
        replay: ReplayPlan,
        max_in_flight: usize,
    },
}

impl LoadPlan {
    /// Calls per second the schedule asks for on average (open mode only).
    pub fn target_rps(&self, duration: Duration) -> Option<f64> {
        match self {
            LoadPlan::Open { stages, .. } => {
                Some(ArrivalSchedule::expected_count(stages) / duration.as_secs_f64().max(1e-9))
            }
            LoadPlan::Closed { .. } => None,
            LoadPlan::Replay { replay, .. } => {
                Some(replay.calls.calls as f64 / duration.as_secs_f64().max(1e-9))
            }
        }
    }

    /// Open-loop: each call has an intended start fixed in advance.
    pub fn is_open(&self) -> bool {
        !matches!(self, LoadPlan::Closed { .. })
    }
}

pub(crate) fn load(c: &Checker, sc: &Scenario) -> Result<(LoadPlan, Duration), ScenarioError> {
    let l = &sc.load;
    let mode = l.mode.unwrap_or(LoadMode::Open);
    let duration = match sc.duration {
        Some(d) if d.0.is_zero() => return Err(c.err("duration", "must be more than 0")),
        Some(d) if d.0 > MAX_RUN => return Err(c.err("duration", "is longer than 7 days")),
        d => d.map(|d| d.0),
    };
    match mode {
        LoadMode::Replay => replay(c, sc, duration),
        LoadMode::Closed => {
            c.only_keys(
                "load",
                &[
                    (l.rate.is_some(), "rate"),
                    (l.stages.is_some(), "stages"),
                    (l.arrival.is_some(), "arrival"),
                    (l.max_in_flight.is_some(), "max_in_flight"),
                ],
                &[],
                |_| "applies to open mode only; closed mode takes `concurrency`".into(),
            )?;
            replay_keys_only_in_replay(c, l)?;
            let n = l.concurrency.ok_or_else(|| {
                c.err(
                    "load",
                    "closed mode needs `concurrency` (the number of simultaneous users)",
                )
            })?;
            if n == 0 || n > MAX_CONCURRENCY {
                return Err(c.err(
                    "load.concurrency",
                    format!("must be from 1 to {MAX_CONCURRENCY}, found {n}"),
                ));
            }
            let duration = duration
                .ok_or_else(|| c.err("duration", "closed mode needs a top-level `duration`"))?;
            Ok((
                LoadPlan::Closed {
                    concurrency: n as usize,
                },
                duration,
            ))
        }
        LoadMode::Open => {
            replay_keys_only_in_replay(c, l)?;
            if l.concurrency.is_some() {
                return Err(c.err(
                    "load.concurrency",
                    "applies to closed mode only; open mode takes `rate` or `stages`",
                ));
            }
            let stages = match (&l.rate, &l.stages, duration) {
                (Some(_), Some(_), _) => {
                    return Err(c.err(
                        "load.rate",
                        "give either `rate` (with a top-level duration) or `stages`, not both",
                    ))
                }
                (None, None, _) => {
                    return Err(c.err(
                        "load",
                        "open mode needs `rate` (with a top-level duration) or `stages`",
                    ))
                }
                (Some(_), None, None) => {
                    return Err(c.err("duration", "`load.rate` needs a top-level `duration`"))
                }
                (Some(rate), None, Some(d)) => vec![stage(c, "load.rate", *rate, d)?],
                (None, Some(stages), _) => {
                    if stages.is_empty() {
                        return Err(c.err("load.stages", "needs at least one stage"));
                    }
                    stages
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            if s.duration.0.is_zero() {
                                return Err(c.err(
                                    &format!("load.stages.{i}.duration"),
                                    "must be more than 0",
                                ));
                            }
                            stage(c, &format!("load.stages.{i}.rate"), s.rate, s.duration.0)
                        })
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            let total: Duration = stages.iter().map(|s| s.duration).sum();
            if total > MAX_RUN {
                return Err(c.err("load.stages", "add up to more than 7 days"));
            }
            if let (Some(d), Some(_)) = (duration, &l.stages) {
                if d != total {
                    return Err(c.err("duration", format!("is {d:?} but load.stages add up to {total:?}; give one or make them agree")));
                }
            }
            let max_in_flight = max_in_flight(c, l)?;
            let arrival = match l.arrival.unwrap_or(ArrivalKind::Constant) {
                ArrivalKind::Constant => Arrival::Constant,
                ArrivalKind::Poisson => Arrival::Poisson,
            };
            Ok((
                LoadPlan::Open {
                    stages,
                    arrival,
                    max_in_flight,
                },
                total,
            ))
        }
    }
}

fn stage(c: &Checker, path: &str, rate: f64, duration: Duration) -> Result<Stage, ScenarioError> {
    if !rate.is_finite() || rate <= 0.0 {
        return Err(c.err(
            path,
            format!(
                "must be a positive number of calls per second, found {}",
                number(rate)
            ),
        ));
    }
    if rate > MAX_RATE {
        return Err(c.err(path, format!("{} calls per second is more than the {MAX_RATE} llm-drill can drive from one machine", number(rate))));
    }
    Ok(Stage { duration, rate })
}

fn max_in_flight(c: &Checker, l: &crate::scenario::model::Load) -> Result<usize, ScenarioError> {
    let n = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT as u64);
    if n == 0 || n > MAX_IN_FLIGHT {
        return Err(c.err(
            "load.max_in_flight",
            format!("must be from 1 to {MAX_IN_FLIGHT}, found {n}"),
        ));
    }
    Ok(n as usize)
}

fn replay_keys_only_in_replay(
    c: &Checker,
    l: &crate::scenario::model::Load,
) -> Result<(), ScenarioError> {
    c.only_keys(
        "load",
        &[
            (l.trace.is_some(), "trace"),
            (l.format.is_some(), "format"),
            (l.map.is_some(), "map"),
            (l.feature_key.is_some(), "feature_key"),
            (l.speed.is_some(), "speed"),
        ],
        &[],
        |_| "applies to `mode: replay` only".into(),
    )
}

/// A replay's duration until its log is read: `duration` when given (it then cuts the
/// replay), else a placeholder the log's span replaces.
const REPLAY_UNREAD: Duration = Duration::from_secs(1);
const MAX_SPEED: f64 = 1_000_000.0;

fn replay(
    c: &Checker,
    sc: &Scenario,
    duration: Option<Duration>,
) -> Result<(LoadPlan, Duration), ScenarioError> {
    let l = &sc.load;
    c.only_keys(
        "load",
        &[
            (l.rate.is_some(), "rate"),
            (l.stages.is_some(), "stages"),
            (l.arrival.is_some(), "arrival"),
            (l.concurrency.is_some(), "concurrency"),
        ],
        &[],
        |_| "does not apply to `mode: replay`: the log's timestamps are the schedule".into(),
    )?;
    let trace = l.trace.as_deref().ok_or_else(|| {
        c.err(
            "load",
            "`mode: replay` needs `trace` (the per-call log) and `format`",
        )
    })?;
    let format = l.format.as_deref().ok_or_else(|| {
        c.err(
            "load",
            "`mode: replay` needs `format`: servicenow, litellm, jsonl or csv",
        )
    })?;
    let format = LogFormat::parse(format).map_err(|m| c.err("load.format", m))?;
    let speed = l.speed.unwrap_or(1.0);
    if !speed.is_finite() || speed <= 0.0 || speed > MAX_SPEED {
        return Err(c.err(
            "load.speed",
            format!(
                "must be a positive factor up to {MAX_SPEED} (2 replays twice as fast), found {}",
                number(speed)
            ),
        ));
    }
    if l.feature_key.is_some() && format != LogFormat::Litellm {
        return Err(c.err("load.feature_key", "applies to `format: litellm` only"));
    }
    if l.map.is_some() && !matches!(format, LogFormat::Jsonl | LogFormat::Csv) {
        return Err(c.err("load.map", "applies to `format: jsonl` and `csv` only"));
    }
    Ok((
        LoadPlan::Replay {
            replay: ReplayPlan {
                trace: trace.into(),
                format,
                map: l
                    .map
                    .iter()
                    .flatten()
                    .map(|(f, col)| format!("{f}={col}"))
                    .collect(),
                feature_key: l.feature_key.clone(),
                speed,
                limit: duration,
                calls: Default::default(),
            },
            max_in_flight: max_in_flight(c, l)?,
        },
        duration.unwrap_or(REPLAY_UNREAD),
    ))
}
