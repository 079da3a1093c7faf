//! Loading a scenario file: bytes → serde mirror, with `--set` overrides applied, and every
//! failure turned into one located error (`file:line:col: key.path: what was expected`).
//!
//! This module checks shape only (types, unknown keys). Meaning — references, ranges,
//! defaults — is checked once in `plan`, which uses [`Source::locate`] to point at the key.

mod locate;
pub mod model;
mod overrides;
pub mod secrets;
pub mod value;

pub use model::Scenario;
pub use value::{parse_duration, Dist, DurationStr, Percent};

use std::fmt;
use std::path::Path;

/// A scenario error, always naming where: file, line, column and key path.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted key path (`endpoints.primary.timeout`), empty for the document itself.
    pub path: String,
    pub message: String,
    /// Optional lines after the first: a source snippet or a hint.
    pub detail: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        } else {
            write!(f, "{}: ", self.file)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The scenario's text and what was done to it, kept to locate later errors and to write
/// the scenario as run.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: String,
    pub text: String,
    /// `--set` overrides in the order given, as (dotted path, raw value).
    pub overrides: Vec<(String, String)>,
}

impl Source {
    /// A located error for a key path found invalid after parsing.
    pub fn error(&self, path: &str, message: impl Into<String>) -> ScenarioError {
        let mut message = message.into();
        // `a.b` is within `a` (not within `a2`).
        let within = |inner: &str, outer: &str| {
            outer.is_empty()
                || inner == outer
                || inner.starts_with(outer) && inner[outer.len()..].starts_with('.')
        };
        // The override of this key or one around it; or one inside it that the message
        // names (`unknown field `http_versoin``), not any override below the key.
        let overridden = self.overrides.iter().rev().find(|(k, _)| {
            within(path, k)
                || (!path.is_empty()
                    && within(k, path)
                    && message.contains(k.rsplit('.').next().unwrap_or(k)))
        });
        // A key set by --set may not be in the file at all: then no line is claimed.
        let fallback = match overridden {
            Some((key, raw)) => {
                let last = key.rsplit('.').next().unwrap_or(key);
                let shown = if secrets::looks_secret(last, raw) {
                    "…"
                } else {
                    raw.as_str()
                };
                message = format!("{message} (set by --set {key}={shown})");
                (0, 0)
            }
            None => (1, 1),
        };
        let (line, column) = self.locate(path).unwrap_or(fallback);
        ScenarioError {
            file: self.file.clone(),
            line,
            column,
            path: path.to_string(),
            message,
            detail: None,
        }
    }

    fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let parts: Vec<&str> = if path.is_empty() {
            vec![]
        } else {
            path.split('.').collect()
        };
        locate::locate(&self.text, &parts)
    }

    /// The scenario as it ran: the file itself, or with overrides, the effective document.
    pub fn as_run(&self) -> String {
        if self.overrides.is_empty() {
            return self.text.clone();
        }
        let mut out = String::from("# scenario as run, after these overrides:\n");
        for (k, v) in &self.overrides {
            out.push_str(&format!("#   --set {k}={v}\n"));
        }
        match overrides::effective_yaml(&self.text, &self.overrides) {
            Ok(y) => out.push_str(&y),
            Err(_) => out.push_str(&self.text),
        }
        out
    }
}

/// Reads and parses a scenario file, applying `--set KEY=VALUE` overrides.
pub fn load(path: &Path, sets: &[String]) -> Result<(Scenario, Source), ScenarioError> {
    let file = path.display().to_string();
    let at_start = |message: String| ScenarioError {
        file: file.clone(),
        line: 1,
        column: 1,
        path: String::new(),
        message,
        detail: None,
    };
    let bytes =
        std::fs::read(path).map_err(|e| at_start(format!("cannot read the scenario: {e}")))?;
    parse(&file, bytes, sets)
}

/// Parses scenario bytes (the file's name is only used in errors).
pub fn parse(
    file: &str,
    bytes: Vec<u8>,
    sets: &[String],
) -> Result<(Scenario, Source), ScenarioError> {
    let err = |line, column, message: String| ScenarioError {
        file: file.to_string(),
        line,
        column,
        path: String::new(),
        message,
        detail: None,
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        err(line, column, "the scenario is not valid UTF-8 text".into())
    })?;
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(err(
            1,
            1,
            "the scenario is empty: it needs at least name, endpoints, features and load".into(),
        ));
    }
    let mut overrides_given = Vec::with_capacity(sets.len());
    for s in sets {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            err(
                0,
                0,
                format!("--set {s}: expected KEY=VALUE, e.g. --set load.rate=50"),
            )
        })?;
        if k.trim().is_empty() {
            return Err(err(0, 0, format!("--set {s}: the key is empty")));
        }
        overrides_given.push((k.trim().to_string(), v.to_string()));
    }
    let source = Source {
        file: file.to_string(),
        text,
        overrides: overrides_given,
    };
    secrets::refuse_inline(&source)?;
    let scenario = parse_typed(&source)?;
    if source.overrides.is_empty() {
        return Ok((scenario, source));
    }
    let scenario = overrides::apply(&source)?;
    Ok((scenario, source))
}

/// The YAML parser's limits. A scenario is a few thousand parser events, nested a handful
/// of levels, with few aliases. The parser's defaults (a million events and as many
/// replayed from aliases, 255 levels of flow collections) let an alias bomb of 600 bytes
/// or 8 KB of `{a: {a: ...` take a quarter to half a second to refuse (found by
/// fuzzing); these limits refuse them in milliseconds.
pub(super) fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.flow_nesting_limit = 32;
    budget.max_depth = 32;
    budget.max_events = 100_000;
    budget.max_nodes = 100_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 20_000;
    options
}

/// Deserializes the text as written, with saphyr's location and serde's key path.
fn parse_typed(source: &Source) -> Result<Scenario, ScenarioError> {
    let mut path = None;
    let options = yaml_options();
    let result =
        serde_saphyr::with_deserializer_from_str_with_options(&source.text, options, |de| {
            serde_path_to_error::deserialize::<_, Scenario>(de).map_err(|e| {
                path = Some(e.path().to_string());
                e.into_inner()
            })
        });
    result.map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
        let bare = e.without_snippet().to_string();
        let message = strip_location_suffix(&bare).to_string();
        let rendered = e.to_string();
        let detail = rendered
            .split_once('\n')
            .map(|(_, snippet)| snippet.replace("<input>", &source.file));
        let message = match unknown_field_hint(&message) {
            Some(hint) => format!("{message} (did you mean `{hint}`?)"),
            None => message,
        };
        let path = path
            .filter(|p| p != "." && !p.contains('?'))
            .map(|p| unknown_field_path(dotted(&p), &message))
            .map(shorten_path)
            .unwrap_or_default();
        ScenarioError {
            file: source.file.clone(),
            line,
            column,
            path,
            message,
            detail,
        }
    })
}

/// serde's `faults[0].mode` as the dotted form `--set` and the plan's errors use:
/// `faults.0.mode`.
fn dotted(p: &str) -> String {
    p.replace("][", ".").replace('[', ".").replace(']', "")
}

/// An unknown key's path ends with the key. serde names it in the message but leaves it
/// out of the path when the map was read ahead (a fault, whose `kind` says which keys
/// it takes).
fn unknown_field_path(path: String, message: &str) -> String {
    let key = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(key, _)| key);
    match key {
        Some(k) if !path.ends_with(&format!(".{k}")) && path != k => {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        }
        _ => path,
    }
}

/// A pathological document can nest thousands deep; its path is cut to stay one line.
fn shorten_path(p: String) -> String {
    const MAX: usize = 80;
    if p.len() <= MAX {
        return p;
    }
    let cut = (0..=MAX)
        .rev()
        .find(|i| p.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}…", &p[..cut])
}

/// For "unknown field `timout`, expected one of a, timeout, ...": the closest expected name.
fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (given, rest) = rest.split_once('`')?;
    let list = rest.split_once("expected one of ")?.1;
    did_you_mean(given, list.split(", ").map(|c| c.trim_matches('`')))
}

/// The candidate within two edits of `given`, closest first: a typo's likely meaning.
pub fn did_you_mean<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|c| (strsim::levenshtein(given, c), c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min()
        .map(|(_, c)| c.to_string())
}

/// saphyr appends " at line N, column M" to its messages; we print the location first.
fn strip_location_suffix(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => &msg[..i],
        _ => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::Source;

    fn source(overrides: &[(&str, &str)]) -> Source {
        Source {
            file: "s.yaml".into(),
            text: "endpoints:\n  fast:\n    provider: openai\n  fast2:\n    provider: openai\n"
                .into(),
            overrides: overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn an_override_is_blamed_only_for_what_it_set() {
        let s = source(&[("endpoints.fast.http_version", "http2")]);
        // A finding about the endpoint that the override did not cause.
        let e = s.error("endpoints.fast", "has no price or price_ref");
        assert!(!e.message.contains("--set"), "{}", e.message);
        // The override's own key, and a parent's error naming it.
        let e = s.error("endpoints.fast.http_version", "unknown variant `h3`");
        assert!(e
            .message
            .contains("(set by --set endpoints.fast.http_version=http2)"));
        let e = s.error("endpoints.fast", "unknown field `http_version`");
        assert!(e.message.contains("--set"), "{}", e.message);
        // `fast2` is not within `fast`.
        let s = source(&[("endpoints.fast", "null")]);
        let e = s.error("endpoints.fast2.provider", "unknown provider");
        assert!(!e.message.contains("--set"), "{}", e.message);
        let e = s.error("endpoints.fast.provider", "unknown provider");
        assert!(e.message.contains("--set"), "{}", e.message);
    }
}
