//! OAuth 2.0 client credentials (Entra ID for Azure OpenAI): a token fetched from the
//! endpoint's `token_url` when the run starts, refreshed at 80% of its lifetime, and
//! once more when the endpoint answers 401. Token requests are not calls; each route
//! counts them, their failures and their time.

use super::credentials::Secret;
use super::http::{self, Origin, Pool};
use crate::plan::{HttpVersion, OAuth2Plan, TlsPlan};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;

/// A token endpoint, and what asking it cost.
pub struct TokenSource {
    plan: OAuth2Plan,
    client_secret: Secret,
    url: url::Url,
    pool: Pool,
    pub requests: AtomicU64,
    pub failures: AtomicU64,
    /// Total time of token requests, in microseconds.
    pub micros: AtomicU64,
    /// One refresh at a time: callers that find one running wait for it.
    refreshing: tokio::sync::Mutex<()>,
}

/// Token requests of one endpoint, for the summary (and a shard's state).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenStats {
    pub requests: u64,
    pub failures: u64,
    pub mean_ms: Option<f64>,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenSource {
    pub fn new(
        plan: &OAuth2Plan,
        client_secret: Secret,
        tls: &TlsPlan,
    ) -> Result<TokenSource, String> {
        let url = url::Url::parse(&plan.token_url).map_err(|e| format!("oauth2.token_url: {e}"))?;
        let origin = Origin::of(&url)?;
        let tls = match origin.https {
            false => None,
            true => {
                let config = super::tls::client_config(tls, None, HttpVersion::Http1)?;
                let name =
                    tokio_rustls::rustls::pki_types::ServerName::try_from(origin.host.clone())
                        .map_err(|e| format!("oauth2.token_url: {e}"))?;
                Some((config, name))
            }
        };
        Ok(TokenSource {
            plan: plan.clone(),
            client_secret,
            url,
            pool: Pool::new(origin, tls, None, HttpVersion::Http1),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn stats(&self) -> TokenStats {
        let requests = self.requests.load(Relaxed);
        TokenStats {
            requests,
            failures: self.failures.load(Relaxed),
            mean_ms: (requests > 0)
                .then(|| self.micros.load(Relaxed) as f64 / requests as f64 / 1000.0),
        }
    }

    /// The lock a refresher holds, so concurrent 401s refresh once.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.refreshing.lock().await
    }

    /// A new token and how long it lives (an hour when the answer does not say).
    pub async fn fetch(&self) -> Result<(Secret, Duration), String> {
        let started = Instant::now();
        let result = self.ask().await;
        self.requests.fetch_add(1, Relaxed);
        self.micros
            .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        if result.is_err() {
            self.failures.fetch_add(1, Relaxed);
        }
        result
    }

    async fn ask(&self) -> Result<(Secret, Duration), String> {
        // Built before any await: the serializer is not Send.
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials")
                .append_pair("client_id", &self.plan.client_id)
                .append_pair("client_secret", self.client_secret.expose());
            if let Some(scope) = &self.plan.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let (mut sender, _) = self.pool.connect().await.map_err(|e| e.message)?;
        let host = match self.url.port() {
            Some(p) => format!("{}:{p}", self.url.host_str().unwrap_or_default()),
            None => self.url.host_str().unwrap_or_default().to_string(),
        };
        let target = match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_string(),
        };
        let req = hyper::Request::post(target)
            .header(hyper::header::HOST, host)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| http::error_chain(&e))?;
        let resp = tokio::time::timeout(Duration::from_secs(30), sender.send(req))
            .await
            .map_err(|_| "the token endpoint did not answer within 30 s".to_string())?
            .map_err(|e| http::error_chain(&e))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| http::error_chain(&e))?
            .to_bytes();
        if !status.is_success() {
            // The body may echo the request: keep only what the endpoint's error says.
            let text =
                String::from_utf8_lossy(&bytes).replace(self.client_secret.expose(), "[redacted]");
            let head: String = text.chars().take(200).collect();
            return Err(format!("the token endpoint answered {status}: {head}"));
        }
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| format!("the token endpoint's answer has no access_token: {e}"))?;
        // `expires_in` is a number of seconds, sometimes written as a string.
        let secs = match answer.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(3600.0)
        .min(365.0 * 86_400.0);
        Ok((
            Secret::new(answer.access_token),
            Duration::from_secs_f64(secs),
        ))
    }
}
