//! `usage import --emit-scenario FILE`: a scenario that reproduces a log's mix — its
//! features weighted by their conversations, prompt and answer sizes by their measured
//! quantiles, conversations' turns and think times, and the peak minute's rate.
//!
//! A log's prompt of a later turn holds the whole conversation so far, where llm-drill
//! resends the history itself and adds one new message a turn. So a multi-turn
//! feature's `user_tokens` are what each turn *added* (its prompt less the previous
//! prompt, answer and their framing), and its `system_tokens` the first turn's prompt
//! beyond a typical new message: the run's prompts then grow as the log's did.

use super::read::Row;
use crate::plan::QUANTILE_KEYS;
use mock_server::tokens::{Encoding, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE};
use std::collections::BTreeMap;
use std::fmt::Write;

/// `{ min, p10, ..., p99, max }` of `values` (exact, by the nearest rank), each shown
/// by `show`; a single value when they are all the same.
fn quantiles(mut values: Vec<f64>, show: impl Fn(f64) -> String) -> Option<String> {
    values.sort_by(f64::total_cmp);
    let (first, last) = (*values.first()?, *values.last()?);
    if first == last {
        return Some(show(first));
    }
    let at = |q: f64| {
        let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[rank - 1]
    };
    let mut parts = vec![format!("min: {}", show(first))];
    parts.extend(
        QUANTILE_KEYS
            .iter()
            .map(|(k, q)| format!("{k}: {}", show(at(*q)))),
    );
    parts.push(format!("max: {}", show(last)));
    Some(format!("{{ {} }}", parts.join(", ")))
}

fn tokens(v: f64) -> String {
    format!("{}", v.round().max(0.0) as u64)
}

fn seconds(v: f64) -> String {
    format!("{}ms", (v * 1000.0).round().max(0.0) as u64)
}

/// A YAML key: plain when it is safe, else quoted.
fn key(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        && !name.starts_with('-');
    if plain {
        name.to_string()
    } else {
        serde_json::to_string(name).unwrap_or_else(|_| "\"feature\"".into())
    }
}

/// One feature's conversations, each its rows in order.
struct Mix<'a> {
    conversations: Vec<Vec<&'a Row>>,
}

/// The scenario, as YAML text with comments. `source` names the log in its header.
pub fn scenario(rows: &[Row], source: &str, name: &str) -> String {
    let encoding = Encoding::O200kBase;
    let framing = |role: &str| (TOKENS_PER_MESSAGE + encoding.count(role)) as f64;
    let (system, user, assistant) = (framing("system"), framing("user"), framing("assistant"));
    let priming = REPLY_PRIMING_TOKENS as f64;

    let mut by_feature: BTreeMap<&str, Mix> = BTreeMap::new();
    let mut sessions: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.at_ms, r.line));
    for r in &sorted {
        let mix = by_feature.entry(r.feature.as_str()).or_insert(Mix {
            conversations: Vec::new(),
        });
        let index = match &r.session {
            Some(s) => *sessions
                .entry((r.feature.as_str(), s.as_str()))
                .or_insert(mix.conversations.len()),
            None => mix.conversations.len(),
        };
        if index == mix.conversations.len() {
            mix.conversations.push(Vec::new());
        }
        mix.conversations[index].push(r);
    }
    // The peak minute of conversations beginning, over all features.
    let mut minutes: BTreeMap<i64, u64> = BTreeMap::new();
    for mix in by_feature.values() {
        for c in &mix.conversations {
            *minutes.entry(c[0].at_ms.div_euclid(60_000)).or_default() += 1;
        }
    }
    let peak = minutes.values().copied().max().unwrap_or(1);
    let model =
        most_common(rows.iter().filter_map(|r| r.model.as_deref())).unwrap_or("gpt-4o-mini".into());
    let multi_any = by_feature
        .values()
        .any(|m| m.conversations.iter().any(|c| c.len() > 1));

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `llm-drill usage import --emit-scenario` from {source} ({} calls).\n# It reproduces the log's mix: features weighted by their {}, prompt and answer\n# sizes by their measured quantiles, turns and think times from its conversations,\n# and its busiest minute as the load. Only counts were read: no prompt or answer text.\nname: {}\nseed: 1\nduration: 5m\n",
        rows.len(),
        if multi_any { "conversations" } else { "calls" },
        key(name)
    );
    let _ = writeln!(
        out,
        "# ENDPOINTS: fill in your own. As written this runs against the built-in mock, so\n# that the mix can be tried at once; replace `base_url: mock` (and the model, and a\n# `credential_ref`) with your endpoint's — see the README's \"Bring your own endpoint\".\nendpoints:\n  target:\n    provider: openai\n    base_url: mock\n    model_name: {}\n",
        key(&model)
    );
    out.push_str("features:\n");
    for (name, mix) in &by_feature {
        let firsts: Vec<&Row> = mix.conversations.iter().map(|c| c[0]).collect();
        let multi = mix.conversations.iter().any(|c| c.len() > 1);
        let mut added = Vec::new();
        let mut think = Vec::new();
        for c in &mix.conversations {
            for w in c.windows(2) {
                let (a, b) = (w[0], w[1]);
                added.push(
                    (b.prompt_tokens as f64
                        - a.prompt_tokens as f64
                        - a.completion_tokens as f64
                        - assistant
                        - user)
                        .max(1.0),
                );
                let end = a.at_ms as f64 + a.latency_ms.unwrap_or(0.0);
                think.push(((b.at_ms as f64 - end) / 1000.0).max(0.0));
            }
        }
        let _ = writeln!(
            out,
            "  {}:\n    endpoint: target\n    weight: {}   # {} in the log",
            key(name),
            mix.conversations.len(),
            if multi { "conversations" } else { "calls" }
        );
        out.push_str("    prompt:\n");
        if multi {
            // Each turn adds a message of what the log's turns added; the first turn's
            // prompt beyond a typical such message is the system prompt.
            let typical_added = added.iter().sum::<f64>() / added.len().max(1) as f64;
            let firsts_beyond: Vec<f64> = firsts
                .iter()
                .map(|r| r.prompt_tokens as f64 - priming - system - user - typical_added)
                .map(|v| v.max(0.0))
                .collect();
            if let Some(q) = quantiles(firsts_beyond, tokens).filter(|q| q != "0") {
                let _ = writeln!(
                    out,
                    "      system_tokens: {q}   # the first turn's prompt beyond its new message"
                );
            }
            if let Some(q) = quantiles(added, tokens) {
                let _ = writeln!(
                    out,
                    "      user_tokens: {q}   # what each turn added to the prompt"
                );
            }
        } else {
            let prompts = firsts
                .iter()
                .map(|r| (r.prompt_tokens as f64 - priming - user).max(1.0))
                .collect();
            if let Some(q) = quantiles(prompts, tokens) {
                let _ = writeln!(out, "      user_tokens: {q}");
            }
        }
        let answers = mix
            .conversations
            .iter()
            .flatten()
            .map(|r| (r.completion_tokens as f64).max(1.0))
            .collect();
        if let Some(q) = quantiles(answers, tokens) {
            let _ = writeln!(out, "    output_tokens: {q}");
        }
        if multi {
            let turns = mix.conversations.iter().map(|c| c.len() as f64).collect();
            out.push_str("    session:\n");
            if let Some(q) = quantiles(turns, tokens) {
                let _ = writeln!(out, "      turns: {q}");
            }
            if let Some(q) = quantiles(think, seconds) {
                let _ = writeln!(
                    out,
                    "      think_time: {q}   # from an answer to the next turn"
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n# The busiest minute of the log: {peak} {} began in it.\nload:\n  rate: {}",
        if multi_any { "conversations" } else { "calls" },
        round3(peak as f64 / 60.0)
    );
    out
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn most_common<'a>(items: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(m, _)| m.to_string())
}
