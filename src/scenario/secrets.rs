//! Refuses secrets written into a scenario or a `--set` value: an API key belongs in the
//! environment or a file (`credential_ref: env:NAME` / `file:PATH`), never in a file
//! people commit and share. Runs before the typed parse, so that no error message —
//! an unknown `api_key:` field with its source line, say — can echo the key.
//!
//! Errors name where the key is, never the key.

use super::{ScenarioError, Source};
use serde_json::Value;

/// Key names whose values are credentials.
const CREDENTIAL_WORDS: [&str; 7] = [
    "key",
    "token",
    "secret",
    "password",
    "credential",
    "bearer",
    "authorization",
];

/// The first string in the scenario (or a `--set` value) that looks like a secret.
pub(super) fn refuse_inline(source: &Source) -> Result<(), ScenarioError> {
    let refuse = |path: &str| {
        source.error(
            path,
            "looks like a secret written inline (an API key or token): keep it out of the scenario and reference it with credential_ref: env:NAME or file:PATH",
        )
    };
    if let Ok(doc) = super::overrides::document(&source.text) {
        let mut found = None;
        walk(&doc, &mut Vec::new(), &mut found);
        if let Some(path) = found {
            return Err(refuse(&path));
        }
    }
    for (key, raw) in &source.overrides {
        let last = key.rsplit('.').next().unwrap_or(key);
        if looks_secret(last, raw) {
            return Err(refuse(key));
        }
    }
    Ok(())
}

fn walk(v: &Value, path: &mut Vec<String>, found: &mut Option<String>) {
    if found.is_some() {
        return;
    }
    match v {
        Value::String(s) => {
            let last = path.last().map_or("", String::as_str);
            if looks_secret(last, s) {
                *found = Some(path.join("."));
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                path.push(k.clone());
                walk(v, path, found);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(i.to_string());
                walk(v, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Whether `value`, under the key `key`, looks like a secret: an `sk-…` key anywhere, a
/// long token-like string under a credential-like key, or a credential in a URL.
pub fn looks_secret(key: &str, value: &str) -> bool {
    let v = value.trim();
    if v.starts_with("env:") || v.starts_with("file:") {
        return false;
    }
    if has_sk_key(v) {
        return true;
    }
    let key = key.to_ascii_lowercase();
    let credential_key = key != "auth_type" && CREDENTIAL_WORDS.iter().any(|w| key.contains(w));
    if credential_key && token_like(v, 20) {
        return true;
    }
    // https://user:pass@host, or ?api-key=…&sig=… in a URL.
    if let Ok(url) = url::Url::parse(v) {
        if url.password().is_some() {
            return true;
        }
        return url.query_pairs().any(|(k, val)| {
            let k = k.to_ascii_lowercase();
            (CREDENTIAL_WORDS.iter().any(|w| k.contains(w)) || k == "sig" || k == "code")
                && token_like(&val, 16)
        });
    }
    false
}

/// OpenAI (`sk-`, `sk-proj-`) and Anthropic (`sk-ant-`) keys: `sk-` then 16 or more
/// key characters.
fn has_sk_key(v: &str) -> bool {
    v.match_indices("sk-").any(|(i, _)| {
        let before_ok = i == 0 || !v.as_bytes()[i - 1].is_ascii_alphanumeric();
        let run = v[i + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .count();
        before_ok && run >= 16
    })
}

/// At least `min` characters of hex, base64 or URL-safe token alphabet, no spaces, with
/// a digit in it (so that a long plain word is not taken for a key).
fn token_like(v: &str, min: usize) -> bool {
    v.len() >= min
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=_-.".contains(c))
        && v.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn recognises_keys_and_leaves_references_alone() {
        assert!(looks_secret(
            "credential_ref",
            "sk-proj-abcdefghijklmnop1234"
        ));
        assert!(looks_secret(
            "display_name",
            "prod sk-ant-api03-abcdefghijklmnopqrst"
        ));
        assert!(looks_secret("api_key", "0123456789abcdef0123456789abcdef"));
        assert!(looks_secret(
            "credential_ref",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="
        ));
        assert!(looks_secret(
            "base_url",
            "https://x.openai.azure.com/?api-key=0123456789abcdef0123"
        ));
        assert!(looks_secret("base_url", "https://user:hunter2@example.com"));
        assert!(!looks_secret("credential_ref", "env:OPENAI_API_KEY"));
        assert!(!looks_secret("credential_ref", "file:/run/secrets/openai"));
        assert!(!looks_secret("model_name", "gpt-4o-2024-08-06"));
        assert!(!looks_secret("deployment", "gpt-4o-prod"));
        assert!(!looks_secret(
            "base_url",
            "https://contoso-weu.openai.azure.com"
        ));
        assert!(!looks_secret("display_name", "task-runner"));
        assert!(!looks_secret("auth_type", "api_key"));
    }
}
