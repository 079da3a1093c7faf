//! Reading per-call logs into rows: JSON Lines and CSV with a column map, and LiteLLM's
//! spend logs. Only counts, times and labels are kept: prompt and response text never
//! leaves this module (it is counted with the tokenizer when a log has no token counts,
//! then dropped).

use std::collections::BTreeMap;
use std::path::Path;

/// One call, as a log recorded it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// Where it came from: the file's name and the row's line.
    pub line: usize,
    /// Its start, in milliseconds since 1970.
    pub at_ms: i64,
    pub feature: String,
    pub session: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: Option<f64>,
    /// The HTTP status, when the log says (a success without one is 200).
    pub status: Option<u16>,
    pub region: Option<String>,
    /// What the log says the call cost.
    pub cost_usd: Option<f64>,
    pub model: Option<String>,
    /// Its tokens were counted from its text: the log had no counts.
    pub tokens_counted: bool,
}

/// The formats `usage import` reads (also a replay's `format`).
pub use crate::plan::replay::LogFormat as Format;

/// The fields a row is made of, and the column each comes from.
pub const FIELDS: [&str; 10] = [
    "timestamp",
    "feature",
    "session",
    "prompt_tokens",
    "completion_tokens",
    "latency",
    "status",
    "region",
    "cost",
    "model",
];

/// `--map timestamp=created_at,feature=capability,...`: field → column.
pub fn column_map(spec: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut map: BTreeMap<String, String> = FIELDS
        .iter()
        .map(|f| (f.to_string(), f.to_string()))
        .collect();
    for part in spec.iter().flat_map(|s| s.split(',')) {
        let (field, column) = part
            .split_once('=')
            .ok_or_else(|| format!("--map: expected FIELD=COLUMN, found `{part}`"))?;
        if !FIELDS.contains(&field.trim()) {
            return Err(format!(
                "--map: unknown field `{}` (known: {})",
                field.trim(),
                FIELDS.join(", ")
            ));
        }
        map.insert(field.trim().to_string(), column.trim().to_string());
    }
    Ok(map)
}

/// What reading files gave: the rows, and the ones that could not be read.
#[derive(Debug, Default)]
pub struct Read {
    pub rows: Vec<Row>,
    pub skipped: u64,
    /// The first few problems, each with its file and line.
    pub problems: Vec<String>,
}

impl Read {
    fn skip(&mut self, at: String, why: String) {
        self.skipped += 1;
        if self.problems.len() < 3 {
            self.problems.push(format!("{at}: {why}"));
        }
    }
}

/// Reads `path` in `format`. A file that cannot be opened, or holds no readable row at
/// all, is an error; a row that cannot be read is skipped and counted.
pub fn read_file(
    path: &Path,
    format: Format,
    map: &BTreeMap<String, String>,
    feature_key: Option<&str>,
    out: &mut Read,
) -> Result<(), String> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {name}: {}", e.kind()))?;
    read_text(&name, &text, format, map, feature_key, out)
}

/// Reads the text of a log called `name` (as errors and skipped rows name it).
pub fn read_text(
    name: &str,
    text: &str,
    format: Format,
    map: &BTreeMap<String, String>,
    feature_key: Option<&str>,
    out: &mut Read,
) -> Result<(), String> {
    let before = out.rows.len();
    match format {
        Format::Jsonl => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let at = format!("{name}:{}", i + 1);
                match serde_json::from_str::<serde_json::Value>(line)
                    .map_err(|e| format!("not JSON ({e})"))
                    .and_then(|v| row_of(&v, map, i + 1))
                {
                    Ok(r) => out.rows.push(r),
                    Err(why) => out.skip(at, why),
                }
            }
        }
        Format::Csv => {
            for (line, object) in csv_records(text, name, out)? {
                match row_of(&object, map, line) {
                    Ok(r) => out.rows.push(r),
                    Err(why) => out.skip(format!("{name}:{line}"), why),
                }
            }
        }
        Format::Servicenow => {
            // A CSV export, or a JSON one (`{"records": [...]}` or an array).
            let records: Vec<(String, serde_json::Value)> = match text.trim_start().chars().next() {
                Some('{') | Some('[') => {
                    let v: serde_json::Value = serde_json::from_str(text)
                        .map_err(|e| format!("{name}: not a JSON export: {e}"))?;
                    let items = match v {
                        serde_json::Value::Array(a) => a,
                        serde_json::Value::Object(mut o) => {
                            match o.remove("records").or_else(|| o.remove("result")) {
                                Some(serde_json::Value::Array(a)) => a,
                                _ => {
                                    return Err(format!(
                                        "{name}: expected `records`, an array of log rows"
                                    ))
                                }
                            }
                        }
                        _ => return Err(format!("{name}: expected an array of log rows")),
                    };
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (format!("{name}: record {}", i + 1), v))
                        .collect()
                }
                _ => csv_records(text, name, out)?
                    .into_iter()
                    .map(|(line, v)| (format!("{name}:{line}"), v))
                    .collect(),
            };
            for (i, (at, v)) in records.into_iter().enumerate() {
                match servicenow_row(&v, i + 1) {
                    Ok(r) => out.rows.push(r),
                    Err(why) => out.skip(at, why),
                }
            }
        }
        Format::Litellm => {
            let v: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| format!("{name}: not LiteLLM spend logs (a JSON array): {e}"))?;
            let items = match &v {
                serde_json::Value::Array(a) => a.as_slice(),
                // `/spend/logs` pages may come wrapped: `{"data": [...]}`.
                serde_json::Value::Object(o) => o
                    .get("data")
                    .and_then(|d| d.as_array())
                    .map(|a| a.as_slice())
                    .ok_or_else(|| format!("{name}: expected a JSON array of spend logs"))?,
                _ => return Err(format!("{name}: expected a JSON array of spend logs")),
            };
            for (i, item) in items.iter().enumerate() {
                match litellm_row(item, feature_key, i + 1) {
                    Ok(r) => out.rows.push(r),
                    Err(why) => out.skip(format!("{name}: entry {}", i + 1), why),
                }
            }
        }
    }
    if out.rows.len() == before {
        return Err(match out.problems.first() {
            Some(p) => format!("{name}: no readable row (first problem: {p})"),
            None => format!("{name}: no rows"),
        });
    }
    Ok(())
}

/// A CSV text's records as JSON objects of text, with their lines; unreadable records
/// are skipped and counted.
fn csv_records(
    text: &str,
    name: &str,
    out: &mut Read,
) -> Result<Vec<(usize, serde_json::Value)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("{name}: cannot read the header row: {e}"))?
        .clone();
    let mut records = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line() as usize);
                let object: serde_json::Map<String, serde_json::Value> = headers
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.to_string())))
                    .collect();
                records.push((line, serde_json::Value::Object(object)));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.skip(format!("{name}:{line}"), format!("not CSV ({e})"));
            }
        }
    }
    Ok(records)
}

/// A row of ServiceNow's Generative AI Log, by the columns' labels as a list export
/// writes them (`Started At`, `Time Taken`, `Prompt Token Count`) or their element names
/// (`started_at`, `sys_created_on`). Times are read as UTC. Where the export has no
/// token counts, the prompt and response are counted with cl100k (then dropped).
fn servicenow_row(v: &serde_json::Value, line: usize) -> Result<Row, String> {
    let obj = v.as_object().ok_or("not a record")?;
    let norm = |k: &str| k.trim().to_ascii_lowercase().replace([' ', '.'], "_");
    let get = |names: &[&str]| -> Option<&serde_json::Value> {
        obj.iter()
            .find(|(k, _)| names.contains(&norm(k).as_str()))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
    };
    // A reference exported as JSON may be `{"display_value": .., "value": ..}`.
    let plain = |v: &serde_json::Value| match v.get("display_value").or_else(|| v.get("value")) {
        Some(x) => text(x),
        None => text(v),
    };
    let started = get(&["started_at"]).and_then(timestamp);
    let created = get(&["created", "sys_created_on"]).and_then(timestamp);
    let at_ms = started
        .or(created)
        .ok_or("no readable `Started At` or `Created`")?;
    let completed = get(&["completed_at"]).and_then(timestamp);
    let latency_ms = get(&["time_taken"])
        .and_then(number)
        .or_else(|| completed.map(|c| (c - at_ms) as f64));
    let error_code = get(&["error_code"]).and_then(number).map(|c| c as u16);
    let failed = get(&["status"]).is_some_and(|s| plain(s).eq_ignore_ascii_case("error"))
        || get(&["error"]).is_some();
    let status = match (error_code, failed) {
        (Some(c), _) if c >= 400 => Some(c),
        (_, true) => Some(500),
        _ => Some(200),
    };
    let counted = |count: &[&str], text_col: &[&str]| -> (Option<u64>, bool) {
        match get(count).and_then(number) {
            Some(n) => (Some(n.max(0.0) as u64), false),
            None => (
                get(text_col)
                    .map(|t| mock_server::tokens::Encoding::Cl100kBase.count(&plain(t)) as u64),
                true,
            ),
        }
    };
    let (prompt, p_counted) = counted(&["prompt_token_count"], &["prompt"]);
    let (response, r_counted) = counted(&["response_token_count"], &["response"]);
    let prompt = prompt.ok_or("no `Prompt Token Count` and no `Prompt` to count")?;
    Ok(Row {
        line,
        at_ms,
        feature: get(&["definition", "source"]).map_or_else(|| "all".into(), plain),
        session: get(&["conversation"]).map(plain),
        prompt_tokens: prompt,
        completion_tokens: response.unwrap_or(0),
        latency_ms,
        status,
        region: None,
        cost_usd: None,
        model: get(&["model_name"]).map(plain),
        tokens_counted: p_counted || r_counted,
    })
}

/// A field of `v` by its column, as text or number.
fn field<'a>(v: &'a serde_json::Value, column: &str) -> Option<&'a serde_json::Value> {
    v.get(column)
        .filter(|x| !x.is_null() && x.as_str() != Some(""))
}

fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A time as milliseconds since 1970: RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff]` (UTC), or
/// a number of seconds (milliseconds when it is that large).
pub fn timestamp(v: &serde_json::Value) -> Option<i64> {
    if let Some(n) = number(v) {
        return Some(if n.abs() >= 1e11 {
            n as i64
        } else {
            (n * 1000.0) as i64
        });
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// A status: an HTTP code, or words (`success`, `failure`, `error`).
fn status(v: &serde_json::Value) -> Option<u16> {
    if let Some(n) = number(v) {
        return Some(n as u16);
    }
    match v.as_str()?.trim().to_ascii_lowercase().as_str() {
        "success" | "ok" | "succeeded" | "complete" | "completed" => Some(200),
        "failure" | "failed" | "error" => Some(500),
        _ => None,
    }
}

fn row_of(
    v: &serde_json::Value,
    map: &BTreeMap<String, String>,
    line: usize,
) -> Result<Row, String> {
    fn column<'a>(map: &'a BTreeMap<String, String>, f: &'a str) -> &'a str {
        map.get(f).map(String::as_str).unwrap_or(f)
    }
    let col = |f: &'static str| column(map, f);
    let need = |f: &'static str| {
        field(v, col(f))
            .ok_or_else(|| format!("no `{}` (the {f}; --map {f}=COLUMN names another)", col(f)))
    };
    let at_ms = timestamp(need("timestamp")?)
        .ok_or_else(|| format!("`{}` is not a time", col("timestamp")))?;
    let tokens = |f: &'static str| -> Result<u64, String> {
        number(need(f)?)
            .filter(|n| *n >= 0.0)
            .map(|n| n as u64)
            .ok_or_else(|| format!("`{}` is not a token count", col(f)))
    };
    Ok(Row {
        line,
        at_ms,
        feature: field(v, col("feature")).map_or_else(|| "all".to_string(), text),
        session: field(v, col("session")).map(text),
        prompt_tokens: tokens("prompt_tokens")?,
        completion_tokens: tokens("completion_tokens")?,
        latency_ms: field(v, col("latency")).and_then(number),
        status: field(v, col("status")).and_then(status),
        region: field(v, col("region")).map(text),
        cost_usd: field(v, col("cost")).and_then(number),
        model: field(v, col("model")).map(text),
        tokens_counted: false,
    })
}

/// A LiteLLM spend-log entry: `startTime`, `endTime`, `model`, `prompt_tokens`,
/// `completion_tokens`, `spend`, `status`, `metadata`, `session_id`.
fn litellm_row(
    v: &serde_json::Value,
    feature_key: Option<&str>,
    line: usize,
) -> Result<Row, String> {
    let start = field(v, "startTime")
        .and_then(timestamp)
        .ok_or("no readable `startTime`")?;
    let end = field(v, "endTime").and_then(timestamp);
    let model = field(v, "model").map(text);
    let metadata = v.get("metadata");
    let feature = match feature_key {
        Some(k) => metadata
            .and_then(|m| m.get(k))
            .map(text)
            .ok_or_else(|| format!("no `metadata.{k}` (--feature-key)"))?,
        None => model.clone().unwrap_or_else(|| "all".into()),
    };
    let tokens = |k: &str| {
        field(v, k)
            .and_then(number)
            .map(|n| n as u64)
            .ok_or_else(|| format!("no `{k}`"))
    };
    Ok(Row {
        line,
        at_ms: start,
        feature,
        session: field(v, "session_id").map(text),
        prompt_tokens: tokens("prompt_tokens")?,
        completion_tokens: tokens("completion_tokens")?,
        latency_ms: end.map(|e| (e - start) as f64),
        status: field(v, "status").and_then(status).or(Some(200)),
        region: None,
        cost_usd: field(v, "spend").and_then(number),
        model,
        tokens_counted: false,
    })
}
