//! `--set KEY=VALUE`: overrides any scenario key by its dotted path
//! (`load.stages.0.rate=50`). The value is read as YAML, so `50` is a number, `true` a
//! boolean and `8s` a string.
//!
//! Works on a generic document, then re-checks the whole result against the serde mirror.

use super::{Scenario, ScenarioError, Source};
use serde_json::Value;

pub(super) fn document(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str_with_options::<Value>(text, super::yaml_options())
        .map_err(|e| e.without_snippet().to_string())
}

fn set(doc: &mut Value, key: &str, raw: &str) -> Result<(), String> {
    let value = serde_saphyr::from_str_with_options::<Value>(raw, super::yaml_options())
        .unwrap_or_else(|_| Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = doc;
    for (i, part) in parts.iter().enumerate() {
        let here = parts[..i].join(".");
        let last = i + 1 == parts.len();
        node = match node {
            Value::Object(map) => {
                if last {
                    map.insert(part.to_string(), value);
                    return Ok(());
                }
                map.entry(part.to_string())
                    .or_insert_with(|| Value::Object(Default::default()))
            }
            Value::Array(items) => {
                let len = items.len();
                let idx: usize = part.parse().map_err(|_| {
                    format!(
                        "`{here}` is a list: `{part}` must be an index from 0 to {}",
                        len.saturating_sub(1)
                    )
                })?;
                let slot = items.get_mut(idx).ok_or_else(|| {
                    format!("`{here}` has {len} items: index {idx} is out of range")
                })?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => return Err(format!("`{here}` is a single value, not a map or list")),
        };
    }
    Ok(())
}

fn effective(text: &str, overrides: &[(String, String)]) -> Result<Value, String> {
    let mut doc = document(text)?;
    for (k, v) in overrides {
        set(&mut doc, k, v).map_err(|m| format!("--set {k}={v}: {m}"))?;
    }
    Ok(doc)
}

pub(super) fn effective_yaml(text: &str, overrides: &[(String, String)]) -> Result<String, String> {
    let doc = effective(text, overrides)?;
    serde_saphyr::to_string(&doc).map_err(|e| e.to_string())
}

pub(super) fn apply(source: &Source) -> Result<Scenario, ScenarioError> {
    let doc = effective(&source.text, &source.overrides).map_err(|m| ScenarioError {
        file: source.file.clone(),
        line: 0,
        column: 0,
        path: String::new(),
        message: m,
        detail: None,
    })?;
    serde_path_to_error::deserialize::<_, Scenario>(doc).map_err(|e| {
        let message = e.inner().to_string();
        let path = super::unknown_field_path(super::dotted(&e.path().to_string()), &message);
        source.error(&path, message)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_alias_bomb_is_refused_before_it_expands() {
        // 9^6 strings from 300 bytes: the parser's default limits let it expand to half
        // a million events (a quarter of a second) before anything refused it.
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e"]
            .iter()
            .zip(["b", "c", "d", "e", "f"])
        {
            let list = vec![format!("*{prev}"); 9].join(",");
            text.push_str(&format!("{name}: &{name} [{list}]\n"));
        }
        let err = document(&text).expect_err("refused");
        assert!(err.contains("alias") || err.contains("budget"), "{err}");
        let nested = format!("a: {}1{}", "{a: ".repeat(40), "}".repeat(40));
        let err = document(&nested).expect_err("refused");
        assert!(
            err.contains("nest") || err.contains("depth") || err.contains("budget"),
            "{err}"
        );
    }

    use super::*;

    #[test]
    fn sets_nested_values_and_list_items() {
        let mut doc = document("load:\n  stages:\n    - { duration: 1s, rate: 2 }\n").unwrap();
        set(&mut doc, "load.stages.0.rate", "50").unwrap();
        set(&mut doc, "load.max_in_flight", "8").unwrap();
        assert_eq!(doc["load"]["stages"][0]["rate"], 50);
        assert_eq!(doc["load"]["max_in_flight"], 8);
        assert!(set(&mut doc, "load.stages.3.rate", "1")
            .unwrap_err()
            .contains("out of range"));
        assert!(set(&mut doc, "load.stages.0.rate.x", "1")
            .unwrap_err()
            .contains("single value"));
    }
}
