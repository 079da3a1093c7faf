//! `llm-drill usage import`: per-call logs you already have, turned into a baseline —
//! per feature and overall, how many calls, how big, how slow, how often they failed,
//! what they cost. Only counts leave the import: no prompt or response text is written
//! anywhere.

pub mod emit;
pub mod read;

use crate::plan::PriceTable;
use crate::report::summary::{Percentiles, Summary};
use hdrhistogram::Histogram;
use read::Row;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The baseline, as `baseline.json` holds it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Baseline {
    pub schema: String,
    pub format: String,
    pub files: Vec<String>,
    /// Rows read, and rows skipped (unreadable), with the first problems.
    pub rows: u64,
    pub skipped: u64,
    pub problems: Vec<String>,
    /// Where the cost comes from: the log's own figures, a price table, or nowhere.
    pub cost_from: String,
    /// Rows whose tokens llm-drill counted from their text (cl100k), the export having
    /// no counts.
    pub tokens_counted_rows: u64,
    pub overall: UsageStats,
    pub features: BTreeMap<String, UsageStats>,
}

/// One scope's figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageStats {
    pub calls: u64,
    /// From the first call's start to the last's, in days (at least one minute).
    pub span_days: f64,
    pub calls_per_day: f64,
    /// The most calls that started in one calendar minute.
    pub peak_calls_per_minute: u64,
    pub prompt_tokens: Spread,
    pub completion_tokens: Spread,
    /// Where the log gives latency.
    pub latency_ms: Option<Spread>,
    /// Where the log gives a status: failed calls (any status but 2xx), and 429s.
    pub error_rate: Option<f64>,
    pub rate_429: Option<f64>,
    pub cost_usd: Option<f64>,
    pub cost_per_call_usd: Option<f64>,
    /// Where the log groups calls into conversations.
    pub conversations: Option<u64>,
    pub calls_per_conversation: Option<f64>,
    pub tokens_per_conversation: Option<f64>,
}

/// A distribution: its sum, mean and max, exact; its percentiles, within
/// HdrHistogram's three significant figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Spread {
    pub sum: f64,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    /// Of whole numbers (tokens; latency in microseconds, scaled by `scale`).
    fn of(values: impl Iterator<Item = u64>, scale: f64) -> Spread {
        let mut h = Histogram::<u64>::new(3).expect("3 significant figures are valid");
        let (mut sum, mut n, mut max) = (0u128, 0u64, 0u64);
        for v in values {
            let _ = h.record(v);
            sum += v as u128;
            n += 1;
            max = max.max(v);
        }
        if n == 0 {
            return Spread::default();
        }
        let q = |p: f64| h.value_at_quantile(p) as f64 / scale;
        Spread {
            sum: sum as f64 / scale,
            mean: sum as f64 / n as f64 / scale,
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
            max: max as f64 / scale,
        }
    }
}

/// How a call is priced when the log does not say.
pub enum Pricing<'a> {
    /// The log's own cost column only.
    Log,
    /// Each row's model in this table (the log's own cost first, where it has one).
    Table(&'a PriceTable),
}

/// The baseline of `rows`.
pub fn baseline(rows: &[Row], pricing: &Pricing) -> (UsageStats, BTreeMap<String, UsageStats>) {
    let overall = stats(rows.iter(), pricing);
    let mut by_feature: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by_feature.entry(r.feature.as_str()).or_default().push(r);
    }
    let features = by_feature
        .into_iter()
        .map(|(f, rs)| (f.to_string(), stats(rs.into_iter(), pricing)))
        .collect();
    (overall, features)
}

/// A row's cost: the log's figure, else its model's price, else unknown.
fn cost(r: &Row, pricing: &Pricing) -> Option<f64> {
    r.cost_usd.or_else(|| match pricing {
        Pricing::Table(t) => {
            let price = t.get(r.model.as_deref()?).ok()?;
            Some(price.cost(r.prompt_tokens, 0, r.completion_tokens, 0))
        }
        Pricing::Log => None,
    })
}

fn stats<'a>(rows: impl Iterator<Item = &'a Row> + Clone, pricing: &Pricing) -> UsageStats {
    let rows: Vec<&Row> = rows.collect();
    let calls = rows.len() as u64;
    if calls == 0 {
        return UsageStats::default();
    }
    let first = rows.iter().map(|r| r.at_ms).min().unwrap_or(0);
    let last = rows.iter().map(|r| r.at_ms).max().unwrap_or(0);
    let span_days = ((last - first) as f64 / 86_400_000.0).max(1.0 / 1440.0);
    let mut minutes: BTreeMap<i64, u64> = BTreeMap::new();
    for r in &rows {
        *minutes.entry(r.at_ms.div_euclid(60_000)).or_default() += 1;
    }
    let with_latency: Vec<f64> = rows.iter().filter_map(|r| r.latency_ms).collect();
    let with_status: Vec<u16> = rows.iter().filter_map(|r| r.status).collect();
    let share = |n: usize| (!with_status.is_empty()).then(|| n as f64 / with_status.len() as f64);
    let costs: Vec<f64> = rows.iter().filter_map(|r| cost(r, pricing)).collect();
    // Cost only when every call has one: a partial sum would pass for the whole.
    let cost_usd = (costs.len() == rows.len()).then(|| costs.iter().sum::<f64>());
    let mut conversations: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in &rows {
        if let Some(s) = &r.session {
            let e = conversations.entry(s.as_str()).or_default();
            e.0 += 1;
            e.1 += r.prompt_tokens + r.completion_tokens;
        }
    }
    let grouped: u64 = conversations.values().map(|c| c.0).sum();
    let n_conv = conversations.len() as u64;
    UsageStats {
        calls,
        span_days,
        calls_per_day: calls as f64 / span_days,
        peak_calls_per_minute: minutes.values().copied().max().unwrap_or(0),
        prompt_tokens: Spread::of(rows.iter().map(|r| r.prompt_tokens), 1.0),
        completion_tokens: Spread::of(rows.iter().map(|r| r.completion_tokens), 1.0),
        latency_ms: (!with_latency.is_empty()).then(|| {
            Spread::of(
                with_latency
                    .iter()
                    .map(|ms| (ms.max(0.0) * 1000.0).round() as u64),
                1000.0,
            )
        }),
        error_rate: share(
            with_status
                .iter()
                .filter(|s| !(200..300).contains(*s))
                .count(),
        ),
        rate_429: share(with_status.iter().filter(|s| **s == 429).count()),
        cost_usd,
        cost_per_call_usd: cost_usd.map(|c| c / calls as f64),
        conversations: (n_conv > 0).then_some(n_conv),
        calls_per_conversation: (n_conv > 0).then(|| grouped as f64 / n_conv as f64),
        tokens_per_conversation: (n_conv > 0)
            .then(|| conversations.values().map(|c| c.1).sum::<u64>() as f64 / n_conv as f64),
    }
}

impl Baseline {
    /// Reads a `baseline.json`; `None` when the file is something else.
    pub fn read(text: &str) -> Option<Baseline> {
        let b: Baseline = serde_json::from_str(text).ok()?;
        (b.schema == SCHEMA).then_some(b)
    }

    /// The baseline's figures where a run's summary holds them, so that whatever reads
    /// a run (the pilot's baseline column) reads these alike: calls, failures and 429s,
    /// latency, cost per call, overall and per feature. What a log does not say stays
    /// unmeasured.
    pub fn as_summary(&self) -> Summary {
        let latency = |s: &UsageStats| match &s.latency_ms {
            Some(l) => Percentiles {
                count: s.calls,
                mean: l.mean,
                p50: l.p50,
                p95: l.p95,
                p99: l.p99,
                max: l.max,
                ..Percentiles::default()
            },
            None => Percentiles::default(),
        };
        let failed = |s: &UsageStats| (s.error_rate.unwrap_or(0.0) * s.calls as f64).round() as u64;
        let mut summary = Summary {
            scenario: format!("usage baseline of {}", self.files.join(", ")),
            latency_ms: latency(&self.overall),
            ..Summary::default()
        };
        summary.totals.calls = self.overall.calls;
        summary.totals.attempts = self.overall.calls;
        summary.totals.failed = failed(&self.overall);
        summary.totals.ok = self.overall.calls - summary.totals.failed;
        summary.cost.per_call_usd = self.overall.cost_per_call_usd.unwrap_or(f64::NAN);
        if let Some(r) = self.overall.rate_429 {
            let mut e = crate::report::summary::EndpointSummary::default();
            e.by_outcome.insert(
                "http_429".into(),
                (r * self.overall.calls as f64).round() as u64,
            );
            summary.endpoints.insert("baseline".into(), e);
        }
        for (name, s) in &self.features {
            let f = crate::report::summary::FeatureSummary {
                calls: s.calls,
                ok: s.calls - failed(s),
                latency_ms: latency(s),
                cost_usd: s.cost_usd.unwrap_or(f64::NAN),
                ..Default::default()
            };
            summary.features.insert(name.clone(), f);
        }
        summary
    }
}

/// Reads `files` in `format` (`map`: `--map` pairs; `feature_key`: LiteLLM's) and
/// makes their baseline, priced by the log's own figures, else `prices` over the
/// built-in table. The rows come back too, for a replay or a scenario. An error is one
/// line naming the file or the option.
pub fn import(
    files: &[std::path::PathBuf],
    format: read::Format,
    map: &[String],
    feature_key: Option<&str>,
    prices: Option<&std::path::Path>,
) -> Result<(Baseline, Vec<Row>), String> {
    let columns = read::column_map(map)?;
    let table = prices
        .map(PriceTable::with_file)
        .transpose()
        .map_err(|e| format!("--prices: {e}"))?;
    let mut got = read::Read::default();
    for f in files {
        read::read_file(f, format, &columns, feature_key, &mut got)?;
    }
    let builtin = PriceTable::builtin();
    let pricing = Pricing::Table(table.as_ref().unwrap_or(&builtin));
    let (overall, features) = baseline(&got.rows, &pricing);
    let logged = got.rows.iter().all(|r| r.cost_usd.is_some());
    let b = Baseline {
        schema: SCHEMA.into(),
        format: format.name().to_string(),
        files: files.iter().map(|f| f.display().to_string()).collect(),
        rows: got.rows.len() as u64,
        skipped: got.skipped,
        problems: got.problems,
        tokens_counted_rows: got.rows.iter().filter(|r| r.tokens_counted).count() as u64,
        cost_from: match (overall.cost_usd.is_some(), logged) {
            (true, true) => "from the log".into(),
            (true, false) => match prices {
                Some(p) => format!(
                    "at the prices of {} (the log's where it has them)",
                    p.display()
                ),
                None => "at the built-in list prices (the log's where it has them)".into(),
            },
            (false, _) => {
                "unknown: the log has no cost for some calls and their model has no price".into()
            }
        },
        overall,
        features,
    };
    Ok((b, got.rows))
}

/// Reads a replay's log into its plan: the calls grouped into conversations, in the
/// scenario's features, with the log's own figures per feature to compare with.
pub fn load_trace(
    plan: &mut crate::plan::Plan,
    prices: Option<&std::path::Path>,
) -> Result<(), String> {
    use crate::plan::replay::{LoggedCall, Then, Trace};
    let crate::plan::LoadPlan::Replay { replay, .. } = &plan.load else {
        return Ok(());
    };
    let (b, rows) = import(
        std::slice::from_ref(&replay.trace),
        replay.format,
        &replay.map,
        replay.feature_key.as_deref(),
        prices,
    )?;
    let names: Vec<&str> = plan.features.iter().map(|f| f.name.as_str()).collect();
    let min_prompt = plan
        .features
        .iter()
        .map(|f| crate::workload::Workload::min_prompt(plan.endpoints[f.endpoint].encoding))
        .max()
        .unwrap_or(0);
    let calls = rows.iter().map(|r| LoggedCall {
        at_ms: r.at_ms,
        feature: &r.feature,
        session: r.session.as_deref(),
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
    });
    let mut trace = Trace::build(calls, &names, replay.speed, replay.limit, min_prompt)?;
    // The log's figures, by the feature each row replays in.
    let single = names.len() == 1;
    trace.then = names
        .iter()
        .map(|n| {
            // One feature replays every row: the log's overall figures are its.
            let s = if single {
                Some(&b.overall)
            } else {
                b.features.get(*n)
            };
            s.map_or_else(Then::default, |s| Then {
                calls: s.calls,
                mean_prompt_tokens: s.prompt_tokens.mean,
                mean_completion_tokens: s.completion_tokens.mean,
                latency_p50: s.latency_ms.as_ref().map(|l| l.p50),
                latency_p95: s.latency_ms.as_ref().map(|l| l.p95),
                latency_p99: s.latency_ms.as_ref().map(|l| l.p99),
                error_rate: s.error_rate,
                cost_per_call_usd: s.cost_per_call_usd,
            })
        })
        .collect();
    plan.set_trace(trace);
    Ok(())
}

/// What `baseline.json` says it is.
pub const SCHEMA: &str = "llm-drill usage baseline 1";

/// The baseline as a page in the report's style: the table, then bars per feature.
pub fn html(b: &Baseline) -> String {
    use crate::report::chart::bar_chart;
    use crate::report::html::{esc, page};
    let md = markdown(b);
    let mut body = format!(
        "<h1>Usage baseline</h1><p>{} rows from {} ({} format); cost {}</p><table><tr><th>scope</th><th>calls</th><th>calls/day</th><th>peak/min</th><th>prompt p50 / p95 / max</th><th>completion p50 / p95 / max</th><th>latency p50 / p95 / p99 ms</th><th>errors</th><th>429</th><th>$/call</th><th>calls/conversation</th></tr>",
        b.rows,
        esc(&b.files.join(", ")),
        esc(&b.format),
        esc(&b.cost_from)
    );
    // The Markdown table's rows, cell by cell: one source for both renderings.
    for line in md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| scope"))
    {
        body.push_str("<tr>");
        for cell in line.trim_matches('|').split(" | ") {
            body.push_str(&format!("<td>{}</td>", esc(cell.trim())));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table>");
    let per = |f: &dyn Fn(&UsageStats) -> Option<f64>| -> Vec<(String, f64)> {
        b.features
            .iter()
            .filter_map(|(n, s)| Some((n.clone(), f(s)?)))
            .collect()
    };
    body.push_str(&bar_chart(
        "Calls per day, by feature",
        "calls",
        &per(&|s| Some(s.calls_per_day)),
    ));
    body.push_str(&bar_chart(
        "Prompt tokens p95, by feature",
        "tokens",
        &per(&|s| Some(s.prompt_tokens.p95)),
    ));
    let latency = per(&|s| s.latency_ms.as_ref().map(|l| l.p95));
    if !latency.is_empty() {
        body.push_str(&bar_chart("Latency p95, by feature", "ms", &latency));
    }
    let cost = per(&|s| s.cost_per_call_usd);
    if !cost.is_empty() {
        body.push_str(&bar_chart("Cost per call, by feature", "USD", &cost));
    }
    for note in md.lines().filter(|l| l.starts_with("- ")) {
        body.push_str(&format!("<p>{}</p>", esc(&note[2..])));
    }
    page("usage baseline", &body)
}

/// The baseline as Markdown: a table per scope.
pub fn markdown(b: &Baseline) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Usage baseline\n\n{} rows from {} ({} format){}; cost {}\n",
        b.rows,
        b.files.join(", "),
        b.format,
        if b.skipped > 0 {
            format!(", {} skipped", b.skipped)
        } else {
            String::new()
        },
        b.cost_from
    );
    let _ = writeln!(
        out,
        "| scope | calls | calls/day | peak/min | prompt p50 / p95 / max | completion p50 / p95 / max | latency p50 / p95 / p99 ms | errors | 429 | $/call | calls/conversation |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}%", v * 100.0));
    let rows =
        std::iter::once(("all", &b.overall)).chain(b.features.iter().map(|(f, s)| (f.as_str(), s)));
    for (name, s) in rows {
        let _ = writeln!(
            out,
            "| {name} | {} | {:.1} | {} | {:.0} / {:.0} / {:.0} | {:.0} / {:.0} / {:.0} | {} | {} | {} | {} | {} |",
            s.calls,
            s.calls_per_day,
            s.peak_calls_per_minute,
            s.prompt_tokens.p50,
            s.prompt_tokens.p95,
            s.prompt_tokens.max,
            s.completion_tokens.p50,
            s.completion_tokens.p95,
            s.completion_tokens.max,
            s.latency_ms
                .as_ref()
                .map_or("-".into(), |l| format!("{:.0} / {:.0} / {:.0}", l.p50, l.p95, l.p99)),
            pct(s.error_rate),
            pct(s.rate_429),
            s.cost_per_call_usd.map_or("-".into(), |c| format!("${c:.5}")),
            s.calls_per_conversation
                .map_or("-".into(), |c| format!("{c:.2}")),
        );
    }
    if b.tokens_counted_rows > 0 {
        let _ = writeln!(
            out,
            "\n- {} row(s) had no token counts: their prompt and response were counted with cl100k_base (then dropped)",
            b.tokens_counted_rows
        );
    }
    for p in &b.problems {
        let _ = writeln!(out, "\n- skipped {p}");
    }
    out
}
