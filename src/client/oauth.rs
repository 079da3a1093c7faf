//! OAuth 2.0 tokens, fetched when the run starts, refreshed at 80% of their lifetime,
//! and once more when the endpoint answers 401, by one of two grants:
//! - client credentials (Entra ID for Azure OpenAI): the endpoint's `token_url`, a
//!   client id and secret;
//! - a Google service account's JSON key (Vertex AI): a JWT signed with the account's
//!   RSA key (RS256) sent to its `token_uri` (RFC 7523's JWT bearer grant).
//!
//! Token requests are not calls; each route counts them, their failures and their time.

use super::credentials::Secret;
use super::http::{self, Origin, Pool};
use crate::plan::{HttpVersion, OAuth2Plan, TlsPlan};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;

/// How a token is asked for.
enum Grant {
    ClientCredentials {
        plan: OAuth2Plan,
        client_secret: Secret,
    },
    /// A JWT signed with a service account's key.
    JwtBearer(Box<ServiceAccount>),
}

/// A Google service account, from its JSON key.
struct ServiceAccount {
    email: String,
    key_id: Option<String>,
    key: ring::signature::RsaKeyPair,
}

/// The scope Vertex AI's tokens need.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where a service account's tokens come from when its key does not say.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

#[derive(serde::Deserialize)]
struct ServiceAccountKey {
    #[serde(rename = "type", default)]
    kind: String,
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// A service account's JSON key, read: the account, its RSA key, and its token URI.
/// Errors say what is wrong without quoting the key.
fn service_account(json: &str) -> Result<(ServiceAccount, String), String> {
    let k: ServiceAccountKey = serde_json::from_str(json).map_err(|e| {
        format!("not a service account's JSON key (client_email and private_key): {e}")
    })?;
    if k.kind != "service_account" {
        return Err(format!(
            "a JSON key of type `{}`, not `service_account`",
            k.kind
        ));
    }
    let der = match crate::plan::pem::private_key(&k.private_key)? {
        tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(d) => d,
        _ => return Err("the service account's private_key is not a PKCS#8 RSA key".into()),
    };
    let key = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map_err(|e| format!("the service account's private_key is not an RSA key ({e})"))?;
    Ok((
        ServiceAccount {
            email: k.client_email,
            key_id: k.private_key_id,
            key,
        },
        k.token_uri.unwrap_or_else(|| GOOGLE_TOKEN_URI.to_string()),
    ))
}

/// The signed JWT a service account asks for a token with: RS256, for `scope`, to
/// `audience` (the token URI), valid an hour from `now` (seconds since the epoch).
fn assertion(sa: &ServiceAccount, scope: &str, audience: &str, now: u64) -> Result<String, String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
    if let Some(kid) = &sa.key_id {
        header["kid"] = serde_json::json!(kid);
    }
    let claims = serde_json::json!({
        "iss": sa.email, "scope": scope, "aud": audience, "iat": now, "exp": now + 3600,
    });
    let signing_input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let signature = rs256(&sa.key, signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64.encode(signature)))
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (JWT's RS256): deterministic, so the same key and input
/// give Google's own library's bytes.
fn rs256(key: &ring::signature::RsaKeyPair, input: &[u8]) -> Result<Vec<u8>, String> {
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input,
        &mut signature,
    )
    .map_err(|_| "the service account's key cannot sign".to_string())?;
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const KEY: &str = include_str!("../../tests/fixtures/vertex/service-account.json");
    const JWT: &str = include_str!("../../tests/fixtures/vertex/jwt.json");

    /// google-auth's assertion for the fixture's account (tests/fixtures/vertex/): our
    /// RS256 over its signing input is its signature, byte for byte; and ours carries
    /// the same claims for the same time and audience.
    #[test]
    fn service_account_jwts_are_signed_as_google_auth_signs_them() {
        let (sa, token_uri) = service_account(KEY).unwrap();
        assert_eq!(token_uri, "https://oauth2.googleapis.com/token");
        let fixture: serde_json::Value = serde_json::from_str(JWT).unwrap();
        let theirs = fixture["assertion"].as_str().unwrap();
        let (input, signature) = theirs.rsplit_once('.').unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        assert_eq!(
            b64.encode(rs256(&sa.key, input.as_bytes()).unwrap()),
            signature
        );

        let now = fixture["now"].as_u64().unwrap();
        let ours = assertion(&sa, CLOUD_PLATFORM_SCOPE, &token_uri, now).unwrap();
        let part = |jwt: &str, i: usize| -> serde_json::Value {
            serde_json::from_slice(&b64.decode(jwt.split('.').nth(i).unwrap()).unwrap()).unwrap()
        };
        assert_eq!(part(&ours, 1), fixture["claims"]);
        assert_eq!(part(&ours, 0), part(theirs, 0));
    }

    #[test]
    fn a_key_that_is_not_a_service_accounts_is_refused_without_quoting_it() {
        for (bad, says) in [
            ("not json", "not a service account's JSON key"),
            (
                r#"{"type":"authorized_user","client_email":"a","private_key":"b"}"#,
                "of type `authorized_user`",
            ),
            (
                r#"{"type":"service_account","client_email":"a","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#,
                "private",
            ),
        ] {
            let e = service_account(bad).err().unwrap();
            assert!(e.contains(says) && !e.contains("AAAA"), "{e}");
        }
    }
}

/// A token endpoint, and what asking it cost.
pub struct TokenSource {
    grant: Grant,
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
        let grant = Grant::ClientCredentials {
            plan: plan.clone(),
            client_secret,
        };
        TokenSource::with_grant(grant, url, tls)
    }

    /// Tokens for the service account whose JSON key is `key`, asked of its
    /// `token_uri`, or of `token_url` where given (the embedded mock's).
    pub fn service_account(
        key: &Secret,
        token_url: Option<String>,
        tls: &TlsPlan,
    ) -> Result<TokenSource, String> {
        let (account, uri) = service_account(key.expose())?;
        let raw = token_url.unwrap_or(uri);
        let url = url::Url::parse(&raw).map_err(|e| format!("token_uri {raw}: {e}"))?;
        TokenSource::with_grant(Grant::JwtBearer(Box::new(account)), url, tls)
    }

    fn with_grant(grant: Grant, url: url::Url, tls: &TlsPlan) -> Result<TokenSource, String> {
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
            grant,
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
            match &self.grant {
                Grant::ClientCredentials {
                    plan,
                    client_secret,
                } => {
                    form.append_pair("grant_type", "client_credentials")
                        .append_pair("client_id", &plan.client_id)
                        .append_pair("client_secret", client_secret.expose());
                    if let Some(scope) = &plan.scope {
                        form.append_pair("scope", scope);
                    }
                }
                Grant::JwtBearer(sa) => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    let jwt = assertion(sa, CLOUD_PLATFORM_SCOPE, self.url.as_str(), now)?;
                    form.append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
                        .append_pair("assertion", &jwt);
                }
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
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if let Grant::ClientCredentials { client_secret, .. } = &self.grant {
                text = text.replace(client_secret.expose(), "[redacted]");
            }
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
