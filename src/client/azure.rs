//! Azure OpenAI: the OpenAI chat-completions body and stream, at
//! `{base_url}/openai/deployments/{deployment}/chat/completions?api-version=…`, with the key
//! in an `api-key` header (or an Entra ID token as `Authorization: Bearer`).
//!
//! Only the address and the credential differ from OpenAI; bodies and streams are
//! OpenAI's (Azure adds `prompt_filter_results` chunks with no choices, which carry no
//! tokens).

use super::attempt::Whole;
use super::openai::OpenAi;
use super::provider::{ProviderFormat, StreamStep};
use crate::plan::EndpointPlan;
use crate::workload::CallSpec;
use bytes::Bytes;
use hyper::header::HeaderMap;

pub struct AzureOpenAi;

impl ProviderFormat for AzureOpenAi {
    fn url(
        &self,
        endpoint: &EndpointPlan,
        base_url: &str,
        _stream: bool,
    ) -> Result<url::Url, String> {
        // The plan requires the deployment and defaults the version.
        let deployment = endpoint
            .options
            .get("deployment")
            .ok_or("an azure_openai endpoint needs a deployment")?;
        let version = endpoint
            .options
            .get("api_version")
            .ok_or("an azure_openai endpoint needs an api_version")?;
        let base = base_url.trim_end_matches('/');
        // Accept the resource URL as the portal shows it, with or without `/openai`.
        let base = base.strip_suffix("/openai").unwrap_or(base);
        let raw = format!(
            "{base}/openai/deployments/{deployment}/chat/completions?api-version={version}"
        );
        url::Url::parse(&raw).map_err(|e| format!("invalid URL {raw}: {e}"))
    }

    fn headers(&self, endpoint: &EndpointPlan) -> HeaderMap {
        OpenAi.headers(endpoint)
    }

    /// Azure OpenAI says which region processed a request; a Global or Data Zone
    /// deployment may answer from another region than its resource's.
    fn served_region(&self, headers: &HeaderMap) -> Option<String> {
        let v = headers.get("x-ms-region")?.to_str().ok()?.trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    fn body(&self, endpoint: &EndpointPlan, call: &CallSpec) -> Bytes {
        OpenAi.body(endpoint, call)
    }

    fn parse_body(&self, body: &[u8], keep_text: bool) -> Result<Whole, String> {
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
