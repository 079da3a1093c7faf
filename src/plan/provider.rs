//! The providers llm-drill speaks, as data: each one's name in a scenario, the
//! credentials it takes and how they are sent, and the keys of its own that an endpoint
//! may or must give (Azure's `deployment` and `api_version`).
//!
//! Adding a provider is a row here, a wire format in `client/` (one file and its line in
//! `client::provider::format`) and the mock's side in `mock_server/`. Nothing else
//! matches on a provider.

use super::check::Checker;
use crate::scenario::model;
use crate::scenario::ScenarioError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    AzureOpenAi,
    Anthropic,
    /// AWS Bedrock's Converse API.
    Bedrock,
    /// Gemini on Google Vertex AI (`generateContent`), with a project and a location.
    Vertex,
    /// The Gemini API with an API key (`generativelanguage.googleapis.com`).
    Gemini,
}

/// How a credential is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// The provider's own key header.
    ApiKey,
    /// AWS Signature Version 4: each request signed with an access key pair.
    AwsSigV4,
    /// A Google service account's key, exchanged for bearer tokens.
    ServiceAccount,
}

impl AuthKind {
    pub fn key(self) -> &'static str {
        match self {
            AuthKind::Bearer => "bearer",
            AuthKind::ApiKey => "api_key",
            AuthKind::AwsSigV4 => "aws_sigv4",
            AuthKind::ServiceAccount => "service_account",
        }
    }
}

/// A key of a provider's own, and the value it takes when not given (`None`: required).
pub struct OptionKey {
    pub key: &'static str,
    pub default: Option<&'static str>,
    /// Characters allowed besides letters and digits.
    pub extra_chars: &'static str,
    /// What it is, for the error when it is missing.
    pub what: &'static str,
}

/// The request field that caps an answer's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenLimit {
    MaxTokens,
    /// OpenAI's and Azure's reasoning models (gpt-5*, o1*, o3*, o4*) refuse `max_tokens`.
    MaxCompletionTokens,
}

impl TokenLimit {
    pub fn key(self) -> &'static str {
        match self {
            TokenLimit::MaxTokens => "max_tokens",
            TokenLimit::MaxCompletionTokens => "max_completion_tokens",
        }
    }

    /// What a model of this name takes on a provider that has both.
    pub fn for_model(model: &str) -> TokenLimit {
        let m = model.to_ascii_lowercase();
        // Names as deployed: `gpt-5-mini`, `o3-2025-04-16`, `openai/o4-mini`.
        let name = m.rsplit('/').next().unwrap_or(&m);
        let reasoning = name.starts_with("gpt-5")
            || ["o1", "o3", "o4"].iter().any(|p| {
                name == *p
                    || name
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.starts_with('-'))
            });
        if reasoning {
            TokenLimit::MaxCompletionTokens
        } else {
            TokenLimit::MaxTokens
        }
    }
}

pub struct ProviderInfo {
    pub provider: Provider,
    /// As written in a scenario.
    pub key: &'static str,
    /// The ways it accepts a credential, the first the usual one.
    pub auth: &'static [AuthKind],
    /// The header `api_key` is sent in, for messages.
    pub api_key_header: Option<&'static str>,
    pub options: &'static [OptionKey],
    /// Whether it takes `max_completion_tokens` besides `max_tokens`.
    pub max_completion_tokens: bool,
    /// Whether it takes `reasoning_effort`, and Anthropic's `thinking` budget.
    pub reasoning_effort: bool,
    pub thinking_budget: bool,
    /// The role a tool's result is sent as.
    pub tool_result_role: &'static str,
}

/// The Azure OpenAI API version used when a scenario gives none (GA, with streamed usage).
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

pub const PROVIDERS: &[ProviderInfo] = &[
    ProviderInfo {
        provider: Provider::OpenAi,
        key: "openai",
        auth: &[AuthKind::Bearer],
        api_key_header: None,
        options: &[],
        max_completion_tokens: true,
        reasoning_effort: true,
        thinking_budget: false,
        tool_result_role: "tool",
    },
    ProviderInfo {
        provider: Provider::AzureOpenAi,
        key: "azure_openai",
        auth: &[AuthKind::ApiKey, AuthKind::Bearer],
        api_key_header: Some("api-key"),
        options: &[
            OptionKey {
                key: "deployment",
                default: None,
                extra_chars: "-_.",
                what: "the deployment name in the Azure portal",
            },
            OptionKey {
                key: "api_version",
                default: Some(DEFAULT_AZURE_API_VERSION),
                extra_chars: "-",
                what: "a version such as 2024-10-21",
            },
        ],
        max_completion_tokens: true,
        reasoning_effort: true,
        thinking_budget: false,
        tool_result_role: "tool",
    },
    ProviderInfo {
        provider: Provider::Anthropic,
        key: "anthropic",
        auth: &[AuthKind::ApiKey],
        api_key_header: Some("x-api-key"),
        options: &[],
        max_completion_tokens: false,
        reasoning_effort: false,
        thinking_budget: true,
        tool_result_role: "user",
    },
    ProviderInfo {
        provider: Provider::Bedrock,
        key: "bedrock",
        // SigV4 with an access key pair, or a Bedrock API key as a bearer token.
        auth: &[AuthKind::AwsSigV4, AuthKind::Bearer],
        api_key_header: None,
        options: &[],
        max_completion_tokens: false,
        reasoning_effort: false,
        // Claude's thinking, through `additionalModelRequestFields`.
        thinking_budget: true,
        tool_result_role: "user",
    },
    ProviderInfo {
        provider: Provider::Vertex,
        key: "vertex",
        // A service account's key, or a token (`exec:gcloud auth print-access-token`).
        auth: &[AuthKind::ServiceAccount, AuthKind::Bearer],
        api_key_header: None,
        options: &[
            OptionKey {
                key: "project",
                default: None,
                extra_chars: "-",
                what: "the Google Cloud project id",
            },
            OptionKey {
                key: "location",
                default: None,
                extra_chars: "-",
                what: "a Vertex AI location such as europe-west4, or global",
            },
        ],
        max_completion_tokens: false,
        reasoning_effort: false,
        // Gemini 2.5's `thinkingConfig.thinkingBudget`.
        thinking_budget: true,
        tool_result_role: "user",
    },
    ProviderInfo {
        provider: Provider::Gemini,
        key: "gemini",
        auth: &[AuthKind::ApiKey],
        api_key_header: Some("x-goog-api-key"),
        options: &[],
        max_completion_tokens: false,
        reasoning_effort: false,
        thinking_budget: true,
        tool_result_role: "user",
    },
];

impl Provider {
    pub fn info(self) -> &'static ProviderInfo {
        PROVIDERS
            .iter()
            .find(|p| p.provider == self)
            .expect("every provider has a row")
    }

    pub fn key(self) -> &'static str {
        self.info().key
    }
}

impl ProviderInfo {
    /// "an azure_openai endpoint", "a bedrock endpoint": for messages.
    pub fn an_endpoint(&self) -> String {
        let article = match self.key.as_bytes().first() {
            Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
            _ => "a",
        };
        format!("{article} {} endpoint", self.key)
    }
}

/// A provider's own keys as given (or defaulted), in the order of its `options`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderOptions(Vec<(&'static str, String)>);

impl ProviderOptions {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

/// The endpoint's provider, and the keys of its own, checked against its row.
pub(crate) fn resolve(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    e: &model::Endpoint,
) -> Result<(&'static ProviderInfo, ProviderOptions), ScenarioError> {
    let info = PROVIDERS
        .iter()
        .find(|p| p.key == e.provider)
        .ok_or_else(|| {
            let keys = PROVIDERS.iter().map(|p| p.key);
            let hint = crate::scenario::did_you_mean(&e.provider, keys.clone())
                .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
            let all: Vec<&str> = keys.collect();
            c.err(
                &at("provider"),
                format!(
                    "unknown provider `{}`: expected one of {}{hint}",
                    e.provider,
                    all.join(", ")
                ),
            )
        })?;
    let given = [
        ("deployment", e.deployment.as_deref()),
        ("api_version", e.api_version.as_deref()),
        ("project", e.project.as_deref()),
        ("location", e.location.as_deref()),
    ];
    let allowed: Vec<&str> = info.options.iter().map(|o| o.key).collect();
    let present: Vec<(bool, &str)> = given.iter().map(|(k, v)| (v.is_some(), *k)).collect();
    c.only_keys(at("").trim_end_matches('.'), &present, &allowed, |_| {
        let owners: Vec<&str> = PROVIDERS
            .iter()
            .filter(|p| !p.options.is_empty())
            .map(|p| p.key)
            .collect();
        format!("applies to provider {} only", owners.join(", "))
    })?;
    let mut options = Vec::new();
    for o in info.options {
        let value = given
            .iter()
            .find(|(k, _)| *k == o.key)
            .and_then(|(_, v)| *v)
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let value = match (value, o.default) {
            (Some(v), _) => v.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => {
                return Err(c.err(
                    at("").trim_end_matches('.'),
                    format!("{} needs `{}` ({})", info.an_endpoint(), o.key, o.what),
                ))
            }
        };
        if !value
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || o.extra_chars.contains(ch))
        {
            return Err(c.err(&at(o.key), format!("expected {}, found `{value}`", o.what)));
        }
        options.push((o.key, value));
    }
    Ok((info, ProviderOptions(options)))
}

#[cfg(test)]
mod tests {
    use super::TokenLimit::{self, *};

    #[test]
    fn reasoning_model_names_take_max_completion_tokens() {
        for m in [
            "gpt-5",
            "gpt-5-mini",
            "GPT-5.1",
            "o1",
            "o3-mini",
            "o4-mini-2025-04-16",
            "openai/o3",
        ] {
            assert_eq!(TokenLimit::for_model(m), MaxCompletionTokens, "{m}");
        }
        for m in [
            "gpt-4o",
            "gpt-4.1-mini",
            "o1x",
            "omni",
            "llama-3.1-70b",
            "claude-sonnet-4-5",
        ] {
            assert_eq!(TokenLimit::for_model(m), MaxTokens, "{m}");
        }
    }
}
