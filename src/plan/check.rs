//! The plan's checker: located errors and the few checks every builder repeats — a
//! reference that must name an endpoint or a feature, keys that do not apply to a
//! choice, identifiers, bounded distributions and numbers printed for a person.
//!
//! Only the builders in `plan` use it; nothing here knows a particular section.

use super::Sampler;
use crate::scenario::{Dist, ScenarioError, Source};

pub(crate) struct Checker<'a> {
    pub source: &'a Source,
}

/// How far out an unclamped normal is taken to reach: a draw beyond six standard
/// deviations comes about once in a billion.
const NORMAL_REACH_SIGMAS: f64 = 6.0;

impl Checker<'_> {
    pub fn err(&self, path: &str, msg: impl Into<String>) -> ScenarioError {
        self.source.error(path, msg)
    }

    /// The index of `name` among `defined`, or an error at `path` listing what is
    /// defined (and the closest name). `what` is "endpoint" or "feature".
    pub fn index_of<'n>(
        &self,
        path: &str,
        what: &str,
        name: &str,
        defined: impl Iterator<Item = &'n str> + Clone,
    ) -> Result<usize, ScenarioError> {
        if let Some(i) = defined.clone().position(|d| d == name) {
            return Ok(i);
        }
        let hint = crate::scenario::did_you_mean(name, defined.clone())
            .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
        let all: Vec<&str> = defined.collect();
        Err(self.err(
            path,
            format!(
                "`{name}` names no {what} (defined: {}){hint}",
                all.join(", ")
            ),
        ))
    }

    /// Refuses the first key that is present but not in `allowed`, at `{base}.{key}`,
    /// saying `why` (e.g. "applies to provider azure_openai only").
    pub fn only_keys(
        &self,
        base: &str,
        present: &[(bool, &str)],
        allowed: &[&str],
        why: impl Fn(&str) -> String,
    ) -> Result<(), ScenarioError> {
        match present
            .iter()
            .find(|(is, key)| *is && !allowed.contains(key))
        {
            Some((_, key)) => Err(self.err(&join(base, key), why(key))),
            None => Ok(()),
        }
    }

    /// Refuses an empty name or one with characters outside letters, digits and `extra`.
    pub fn identifier(
        &self,
        path: &str,
        value: &str,
        extra: &str,
        what: &str,
    ) -> Result<(), ScenarioError> {
        if value.is_empty()
            || !value
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || extra.contains(ch))
        {
            let allowed: Vec<String> = extra.chars().map(|c| format!("`{c}`")).collect();
            return Err(self.err(
                path,
                format!(
                    "{what} must be non-empty and use only letters, digits and {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// A sampler whose every reachable value is at most `max`. An unclamped normal
    /// reaches far: with a large `stddev` it needs a `max` of its own, and otherwise it
    /// is clamped at `max`, so that no draw can ever pass the limit.
    pub fn sampler(
        &self,
        dist: &Dist<f64>,
        path: &str,
        max: f64,
    ) -> Result<Sampler, ScenarioError> {
        let s = super::sampler::sampler(dist, 0.0).map_err(|m| self.err(path, m))?;
        match s {
            Sampler::Normal {
                mean,
                stddev,
                min,
                max: hi,
            } if hi.is_infinite() => {
                if mean > max {
                    return Err(self.err(
                        path,
                        format!("{} is too large (at most {max})", number(mean)),
                    ));
                }
                let reach = mean + NORMAL_REACH_SIGMAS * stddev;
                if reach > max {
                    return Err(self.err(
                        path,
                        format!(
                            "with stddev {} the draws can reach {} (more than the limit of {max}): give a `max`",
                            number(stddev),
                            number(reach)
                        ),
                    ));
                }
                Ok(Sampler::Normal {
                    mean,
                    stddev,
                    min,
                    max,
                })
            }
            _ => {
                if s.largest() > max {
                    return Err(self.err(
                        path,
                        format!("{} is too large (at most {max})", number(s.largest())),
                    ));
                }
                Ok(s)
            }
        }
    }

    /// `Some(v)` when absent or positive and finite; an error at `path` otherwise.
    pub fn positive(&self, v: Option<f64>, path: &str) -> Result<Option<f64>, ScenarioError> {
        match v {
            Some(x) if !x.is_finite() || x <= 0.0 => Err(self.err(
                path,
                format!("must be a positive number, found {}", number(x)),
            )),
            v => Ok(v),
        }
    }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

/// A number for an error message: huge ones in scientific notation, so a typo such as
/// `1e300` does not print three hundred digits.
pub fn number(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}
