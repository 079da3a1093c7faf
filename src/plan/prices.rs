//! Prices per token: inline on an endpoint (`price: {input_per_mtok, output_per_mtok,
//! cached_input_per_mtok}`, USD per million tokens) or by `price_ref` into a table in the
//! format of LiteLLM's `model_prices_and_context_window.json` (USD per token). A small
//! table ships in the repo (`prices.json`); `--prices PATH` adds a user's full file over it.
//!
//! Loading and lookup only; what a call costs is `cost`'s business.

use std::collections::BTreeMap;
use std::path::Path;

/// USD per token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Prompt tokens read from the provider's cache.
    pub cached_input: f64,
    /// Reasoning tokens: output tokens unless a table prices them apart.
    pub reasoning: f64,
}

impl Price {
    pub fn from_per_mtok(input: f64, output: f64, cached: Option<f64>) -> Price {
        Price {
            input: input / 1e6,
            output: output / 1e6,
            cached_input: cached.unwrap_or(input) / 1e6,
            reasoning: output / 1e6,
        }
    }

    /// USD for `input` prompt tokens (of which `cached` came from the cache) and
    /// `output` generated tokens (of which `reasoning` were the model's reasoning).
    pub fn cost(&self, input: u64, cached: u64, output: u64, reasoning: u64) -> f64 {
        let cached = cached.min(input);
        let reasoning = reasoning.min(output);
        (input - cached) as f64 * self.input
            + cached as f64 * self.cached_input
            + (output - reasoning) as f64 * self.output
            + reasoning as f64 * self.reasoning
    }
}

const BUILTIN: &str = include_str!("prices.json");

#[derive(Debug)]
pub struct PriceTable {
    entries: BTreeMap<String, Price>,
    /// Where the entries came from, for messages.
    pub source: String,
}

impl PriceTable {
    /// The table shipped with llm-drill.
    pub fn builtin() -> PriceTable {
        let mut t = PriceTable {
            entries: BTreeMap::new(),
            source: "llm-drill's built-in price table".into(),
        };
        t.add(BUILTIN).expect("the built-in price table parses");
        t
    }

    /// The built-in table with a LiteLLM-format file's entries over it.
    pub fn with_file(path: &Path) -> Result<PriceTable, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the price file {}: {e}", path.display()))?;
        let mut t = PriceTable::builtin();
        t.add(&text)
            .map_err(|e| format!("the price file {} {e}", path.display()))?;
        t.source = format!("{} (and the built-in table)", path.display());
        Ok(t)
    }

    fn add(&mut self, json: &str) -> Result<(), String> {
        let doc: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("is not valid JSON: {e}"))?;
        let map = doc
            .as_object()
            .ok_or("is not a JSON object of model keys (LiteLLM's format)")?;
        for (key, v) in map {
            let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
            // Entries without both token prices (images, embeddings, the sample spec)
            // cannot price a chat call.
            if let (Some(input), Some(output)) =
                (num("input_cost_per_token"), num("output_cost_per_token"))
            {
                self.entries.insert(
                    key.clone(),
                    Price {
                        input,
                        output,
                        cached_input: num("cache_read_input_token_cost").unwrap_or(input),
                        reasoning: num("output_cost_per_reasoning_token").unwrap_or(output),
                    },
                );
            }
        }
        Ok(())
    }

    /// The price of `key`, or an error naming the closest keys.
    pub fn get(&self, key: &str) -> Result<Price, String> {
        if let Some(p) = self.entries.get(key) {
            return Ok(*p);
        }
        let mut close: Vec<(usize, &String)> = self
            .entries
            .keys()
            .map(|k| (strsim::levenshtein(key, k), k))
            .collect();
        close.sort();
        let names: Vec<&str> = close.iter().take(3).map(|(_, k)| k.as_str()).collect();
        Err(format!(
            "`{key}` is not in {} (closest: {})",
            self.source,
            names.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_and_litellm_files() {
        let t = PriceTable::builtin();
        let p = t.get("gpt-4o-mini").unwrap();
        assert_eq!((p.input, p.output), (1.5e-7, 6e-7));
        // 1M prompt tokens, half cached, and 1M answer tokens.
        assert!((p.cost(1_000_000, 500_000, 1_000_000, 0) - (0.075 + 0.0375 + 0.6)).abs() < 1e-9);
        let err = t.get("gpt-4o-minii").unwrap_err();
        assert!(err.contains("closest: gpt-4o-mini"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("prices.json");
        std::fs::write(
            &f,
            r#"{"sample_spec": {"max_tokens": "set to max"}, "acme/llm-1": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "litellm_provider": "acme"}}"#,
        )
        .unwrap();
        let t = PriceTable::with_file(&f).unwrap();
        let p = t.get("acme/llm-1").unwrap();
        assert_eq!((p.input, p.output, p.cached_input), (1e-6, 2e-6, 1e-6));
        assert!(t.get("gpt-4o").is_ok(), "the built-in entries stay");
        assert_eq!(
            p.reasoning, p.output,
            "reasoning at the output price by default"
        );
        // Where LiteLLM prices reasoning apart, it is billed at its own price.
        std::fs::write(
            &f,
            r#"{"acme/thinker": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "output_cost_per_reasoning_token": 3e-06}}"#,
        )
        .unwrap();
        let p = PriceTable::with_file(&f)
            .unwrap()
            .get("acme/thinker")
            .unwrap();
        assert_eq!(p.reasoning, 3e-6);
        // 10 prompt tokens; 100 output tokens of which 60 reasoned.
        assert!((p.cost(10, 0, 100, 60) - (10e-6 + 40.0 * 2e-6 + 60.0 * 3e-6)).abs() < 1e-15);
        std::fs::write(&f, "[1, 2]").unwrap();
        assert!(PriceTable::with_file(&f).unwrap_err().contains("LiteLLM"));
    }
}
