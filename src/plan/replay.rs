//! `load: { mode: replay, trace, format, speed }` — a per-call log sent again, one call
//! per row: at the row's time over `speed` as its intended start, with the row's prompt
//! tokens exactly and its completion tokens as `max_tokens`, in its feature and its
//! conversation.
//!
//! The plan holds where the log is and how to read it; the rows themselves are read
//! when the run loads (`Trace::build`, from what `usage` reads), since the plan does no
//! I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The formats `usage import` reads, and a replay's `format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Jsonl,
    Csv,
    Litellm,
    /// ServiceNow's Generative AI Log (`sys_generative_ai_log`), exported as CSV or JSON.
    Servicenow,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Jsonl => "jsonl",
            LogFormat::Csv => "csv",
            LogFormat::Litellm => "litellm",
            LogFormat::Servicenow => "servicenow",
        }
    }

    pub fn parse(s: &str) -> Result<LogFormat, String> {
        match s {
            "jsonl" => Ok(LogFormat::Jsonl),
            "csv" => Ok(LogFormat::Csv),
            "litellm" => Ok(LogFormat::Litellm),
            "servicenow" => Ok(LogFormat::Servicenow),
            other => Err(format!(
                "expected servicenow, litellm, jsonl or csv, found `{other}`"
            )),
        }
    }
}

/// A replay: the log and how to read it, and (once loaded) its calls.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayPlan {
    pub trace: PathBuf,
    pub format: LogFormat,
    /// `field=column` pairs, as `usage import --map` takes them.
    pub map: Vec<String>,
    pub feature_key: Option<String>,
    pub speed: f64,
    /// Only rows up to this far into the log (scaled by `speed`), when `duration` is set.
    pub limit: Option<Duration>,
    /// The calls, filled in when the run loads the log.
    pub calls: Arc<Trace>,
}

/// A log's calls grouped into conversations, each in its feature, in order of their
/// first call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub conversations: Vec<Conversation>,
    /// Calls in all (the rows replayed).
    pub calls: u64,
    /// Their prompt tokens, summed: what the endpoint should count.
    pub prompt_tokens: u64,
    /// From the first call's intended start to the last's.
    pub span: Duration,
    /// Rows whose prompt is smaller than the smallest chat request (a user message of
    /// one token and its framing): they are sent at that size.
    pub raised: u64,
    /// Rows left out: beyond `duration`.
    pub beyond: u64,
    /// The log's own figures per feature (index as in the plan), to compare the replay
    /// with: then against now.
    pub then: Vec<Then>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    pub feature: usize,
    pub turns: Vec<TraceTurn>,
}

/// One row: when it starts (from the trace's first call, over `speed`), its prompt as
/// the endpoint counts it, and the answer's size it got.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceTurn {
    pub at: Duration,
    pub prompt_tokens: u32,
    pub max_tokens: u32,
}

/// What the log says one feature's calls were like.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Then {
    pub calls: u64,
    pub mean_prompt_tokens: f64,
    pub mean_completion_tokens: f64,
    /// Milliseconds, where the log has latency.
    pub latency_p50: Option<f64>,
    pub latency_p95: Option<f64>,
    pub latency_p99: Option<f64>,
    pub error_rate: Option<f64>,
    pub cost_per_call_usd: Option<f64>,
}

/// One call as the log has it, for `Trace::build`.
pub struct LoggedCall<'a> {
    pub at_ms: i64,
    pub feature: &'a str,
    pub session: Option<&'a str>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Trace {
    /// Groups `calls` into conversations (a call with no session is one of its own),
    /// each in the feature of the same name — or, when the scenario has one feature, in
    /// that one. `min_prompt` is the smallest prompt a request can have.
    pub fn build<'a>(
        calls: impl Iterator<Item = LoggedCall<'a>>,
        features: &[&str],
        speed: f64,
        limit: Option<Duration>,
        min_prompt: u32,
    ) -> Result<Trace, String> {
        let mut calls: Vec<LoggedCall> = calls.collect();
        // By time; rows of the same instant keep the log's order.
        calls.sort_by_key(|c| c.at_ms);
        let first = calls.first().map_or(0, |c| c.at_ms);
        let mut trace = Trace::default();
        let mut open: BTreeMap<(usize, &str), usize> = BTreeMap::new();
        let mut unknown: BTreeMap<&str, u64> = BTreeMap::new();
        for c in &calls {
            let feature = match features.iter().position(|f| *f == c.feature) {
                Some(i) => i,
                None if features.len() == 1 => 0,
                None => {
                    *unknown.entry(c.feature).or_default() += 1;
                    continue;
                }
            };
            let at = Duration::from_secs_f64((c.at_ms - first) as f64 / 1000.0 / speed);
            if limit.is_some_and(|l| at > l) {
                trace.beyond += 1;
                continue;
            }
            let prompt = c.prompt_tokens.min(u32::MAX as u64) as u32;
            if prompt < min_prompt {
                trace.raised += 1;
            }
            let turn = TraceTurn {
                at,
                prompt_tokens: prompt.max(min_prompt),
                max_tokens: c.completion_tokens.clamp(1, u32::MAX as u64) as u32,
            };
            trace.calls += 1;
            trace.prompt_tokens += turn.prompt_tokens as u64;
            trace.span = trace.span.max(at);
            let next = trace.conversations.len();
            let index = match c.session {
                Some(s) => *open.entry((feature, s)).or_insert(next),
                None => next,
            };
            if index == next {
                trace.conversations.push(Conversation {
                    feature,
                    turns: Vec::new(),
                });
            }
            trace.conversations[index].turns.push(turn);
        }
        if !unknown.is_empty() {
            let named: Vec<String> = unknown
                .iter()
                .take(5)
                .map(|(f, n)| format!("`{f}` ({n} rows)"))
                .collect();
            return Err(format!(
                "the trace's features {} are not features of the scenario (defined: {}); name them under `features`, or map another column to feature",
                named.join(", "),
                features.join(", ")
            ));
        }
        if trace.calls == 0 {
            return Err("the trace has no call to replay".into());
        }
        Ok(trace)
    }

    /// When each conversation starts, in order.
    pub fn arrivals(&self) -> Vec<Duration> {
        self.conversations.iter().map(|c| c.turns[0].at).collect()
    }
}
