//! Azure OpenAI: the OpenAI chat-completions body and stream, at
//! `{base_url}/openai/deployments/{deployment}/chat/completions?api-version=…`, with the key
//! in an `api-key` header (or an Entra ID token as `Authorization: Bearer`).
//!
//! Only the address and the credential differ from OpenAI; bodies and streams are
//! OpenAI's (Azure adds `prompt_filter_results` chunks with no choices, which carry no
//! tokens).

use super::openai::OpenAi;
use super::{ProviderFormat, Secret, StreamStep, Usage};
use crate::plan::{Auth, EndpointPlan, DEFAULT_AZURE_API_VERSION};
use crate::workload::CallSpec;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, AUTHORIZATION};

pub struct AzureOpenAi;

impl ProviderFormat for AzureOpenAi {
    fn url(&self, endpoint: &EndpointPlan, base_url: &str) -> Result<url::Url, String> {
        let deployment = endpoint
            .deployment
            .as_deref()
            .ok_or("an azure_openai endpoint needs a deployment")?;
        let version = endpoint
            .api_version
            .as_deref()
            .unwrap_or(DEFAULT_AZURE_API_VERSION);
        let base = base_url.trim_end_matches('/');
        // Accept the resource URL as the portal shows it, with or without `/openai`.
        let base = base.strip_suffix("/openai").unwrap_or(base);
        let raw = format!(
            "{base}/openai/deployments/{deployment}/chat/completions?api-version={version}"
        );
        url::Url::parse(&raw).map_err(|e| format!("invalid URL {raw}: {e}"))
    }

    fn headers(&self, endpoint: &EndpointPlan, secret: Option<&Secret>) -> HeaderMap {
        let mut headers = OpenAi.headers(endpoint, None);
        if let Some(secret) = secret {
            let (name, value) = match endpoint.auth {
                Auth::Bearer(_) => (AUTHORIZATION, format!("Bearer {}", secret.expose())),
                _ => (
                    HeaderName::from_static("api-key"),
                    secret.expose().to_string(),
                ),
            };
            super::insert_secret(&mut headers, name, &value);
        }
        headers
    }

    fn body(&self, endpoint: &EndpointPlan, call: &CallSpec) -> Bytes {
        OpenAi.body(endpoint, call)
    }

    fn parse_body(&self, body: &[u8], keep_text: bool) -> Result<(String, Option<Usage>), String> {
        OpenAi.parse_body(body, keep_text)
    }

    fn stream_event<'a>(
        &self,
        event: &str,
        data: &'a str,
        out: &mut Vec<StreamStep<'a>>,
    ) -> Result<(), String> {
        OpenAi.stream_event(event, data, out)
    }
}
