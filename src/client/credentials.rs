//! Credentials: a reference (`env:NAME`, `file:PATH`, `exec:COMMAND`) resolved into a
//! `Secret` when the run starts, never printed, and stripped from any error message that
//! echoes it.
//!
//! A credential that expires during a run (an OAuth token) is a `Credential` whose
//! secret changes: routes ask it for the current header on every request that needs it.

use crate::plan::{CredentialRef, EndpointPlan};
use std::fmt;
use std::sync::{Arc, RwLock};

/// A secret, resolved from a credential reference at run start. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What of it must never show, each on its own, for an endpoint that echoes a part:
    /// the whole; for AWS keys, the secret key and the session token too; for a service
    /// account's JSON key, each line of its private key.
    fn parts(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if let Ok(k) = mock_server::sigv4::AwsKeys::parse(&self.0) {
            parts.push(k.secret_access_key);
            parts.extend(k.session_token);
        } else if let Ok(v) = serde_json::from_str::<serde_json::Value>(&self.0) {
            if let Some(pem) = v.get("private_key").and_then(|k| k.as_str()) {
                parts.push(pem.to_string());
                parts.extend(
                    pem.lines()
                        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
                        .map(str::to_string),
                );
            }
        }
        // A short part would redact ordinary words; the whole secret always goes.
        parts.retain(|p| p.len() >= 8);
        parts.insert(0, self.0.clone());
        parts.retain(|p| !p.is_empty());
        parts
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An endpoint's credential for the run: the secret it holds now, and every one it held
/// (to keep them all out of messages). Cloning shares it, so a rotation is seen by every
/// route and call at once.
#[derive(Clone, Debug)]
pub struct Credential(Arc<RwLock<(Secret, Vec<Secret>)>>);

impl Credential {
    pub fn new(secret: Secret) -> Credential {
        Credential(Arc::new(RwLock::new((secret, Vec::new()))))
    }

    pub fn current(&self) -> Secret {
        self.0.read().unwrap_or_else(|p| p.into_inner()).0.clone()
    }

    /// Replaces the secret (a rotated key, a refreshed token); requests built from now
    /// on carry it.
    pub fn replace(&self, secret: Secret) {
        let mut g = self.0.write().unwrap_or_else(|p| p.into_inner());
        let old = std::mem::replace(&mut g.0, secret);
        g.1.push(old);
    }

    /// `message` with every secret this credential has held replaced by `[redacted]`.
    pub fn redact(&self, mut message: String) -> String {
        let g = self.0.read().unwrap_or_else(|p| p.into_inner());
        for s in std::iter::once(&g.0).chain(&g.1) {
            for part in s.parts() {
                if message.contains(&part) {
                    message = message.replace(&part, "[redacted]");
                }
            }
        }
        message
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("endpoint `{endpoint}`: environment variable {name} (from credential_ref) is not set")]
    MissingEnv { endpoint: String, name: String },
    #[error("endpoint `{endpoint}`: cannot read the credential file {path}: {reason}")]
    CredentialFile {
        endpoint: String,
        path: String,
        reason: String,
    },
    #[error("endpoint `{endpoint}`: the credential is empty")]
    EmptyCredential { endpoint: String },
    #[error("endpoint `{endpoint}`: the credential command {why}")]
    Exec { endpoint: String, why: String },
    #[error("endpoint `{endpoint}`: credential_ref {reference}: {why}")]
    Aws {
        endpoint: String,
        reference: String,
        why: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Resolves an endpoint's credential reference (env:NAME or file:PATH). An `exec:`
/// command is run when the run starts (`Route::refresh_token`), not here.
/// Keys for SigV4 must read as an AWS key pair.
pub fn resolve_credential(e: &EndpointPlan) -> Result<Option<Secret>, ClientError> {
    let secret = match e.auth.credential() {
        Some(CredentialRef::Exec(_)) | None => return Ok(None),
        Some(r) => resolve(r, &e.id)?,
    };
    if let (Some(crate::plan::AuthKind::AwsSigV4), Some(r)) = (e.auth.kind(), e.auth.credential()) {
        mock_server::sigv4::AwsKeys::parse(secret.expose()).map_err(|why| ClientError::Aws {
            endpoint: e.id.clone(),
            reference: r.to_string(),
            why,
        })?;
    }
    Ok(Some(secret))
}

/// The secret a reference points at, for endpoint `endpoint`.
pub fn resolve(r: &CredentialRef, endpoint: &str) -> Result<Secret, ClientError> {
    let value = match r {
        CredentialRef::Env(name) => std::env::var(name).map_err(|_| ClientError::MissingEnv {
            endpoint: endpoint.to_string(),
            name: name.clone(),
        })?,
        CredentialRef::File(p) => {
            std::fs::read_to_string(p).map_err(|err| ClientError::CredentialFile {
                endpoint: endpoint.to_string(),
                path: p.display().to_string(),
                reason: err.kind().to_string(),
            })?
        }
        CredentialRef::Google => {
            let var = crate::plan::auth::GOOGLE_CREDENTIALS_VAR;
            let path = std::env::var(var).map_err(|_| ClientError::MissingEnv {
                endpoint: endpoint.to_string(),
                name: var.to_string(),
            })?;
            std::fs::read_to_string(&path).map_err(|err| ClientError::CredentialFile {
                endpoint: endpoint.to_string(),
                path,
                reason: err.kind().to_string(),
            })?
        }
        CredentialRef::Aws(profile) => {
            let env = |k: &str| std::env::var(k).ok();
            mock_server::sigv4::AwsKeys::from_aws_config(profile.as_deref(), &env)
                .map_err(|why| ClientError::Aws {
                    endpoint: endpoint.to_string(),
                    reference: r.to_string(),
                    why,
                })?
                .to_text()
        }
        CredentialRef::Exec(cmd) => {
            return run_command(cmd)
                .map(|(s, _)| s)
                .map_err(|why| ClientError::Exec {
                    endpoint: endpoint.to_string(),
                    why,
                })
        }
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(ClientError::EmptyCredential {
            endpoint: endpoint.to_string(),
        });
    }
    Ok(Secret(value))
}

/// Runs a credential command (`sh -c`): its output is the secret, or — when it is JSON
/// with a token, as `az account get-access-token -o json` prints — the token and how
/// long it lives. The output never appears in an error.
pub fn run_command(cmd: &str) -> Result<(Secret, Option<std::time::Duration>), String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("`{cmd}` cannot start: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{cmd}` failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let json = serde_json::from_str::<serde_json::Value>(&text).ok();
    let (token, lifetime) = match json.as_ref().and_then(|j| j.as_object()) {
        // AWS keys, as `aws configure export-credentials` prints them: the whole JSON
        // is the credential, and it lives until its `Expiration`.
        Some(o) if o.contains_key("AccessKeyId") => {
            let keys = mock_server::sigv4::AwsKeys::parse(&text)
                .map_err(|why| format!("`{cmd}` printed {why}"))?;
            let lifetime = keys
                .expires
                .and_then(|at| at.duration_since(std::time::SystemTime::now()).ok());
            (text.clone(), lifetime)
        }
        Some(o) => {
            let token = ["accessToken", "access_token", "token"]
                .iter()
                .find_map(|k| o.get(*k)?.as_str())
                .ok_or_else(|| {
                    format!("`{cmd}` printed JSON without accessToken, access_token or token")
                })?;
            // `expires_on` (epoch seconds, as a number or a string) or `expires_in`.
            let number = |k: &str| match o.get(k)? {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let lifetime = number("expires_on")
                .map(|at| at - now)
                .or_else(|| number("expires_in"))
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(|s| std::time::Duration::from_secs_f64(s.min(365.0 * 86_400.0)));
            (token.to_string(), lifetime)
        }
        None => (text, None),
    };
    if token.is_empty() {
        return Err(format!("`{cmd}` printed nothing"));
    }
    Ok((Secret(token), lifetime))
}
