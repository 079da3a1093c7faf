//! Credentials: a reference (`env:NAME`, `file:PATH`) resolved into a `Secret` when the
//! run starts, never printed, and stripped from any error message that echoes it.
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
            if !s.0.is_empty() && message.contains(&s.0) {
                message = message.replace(&s.0, "[redacted]");
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
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Resolves an endpoint's credential reference (env:NAME or file:PATH).
pub fn resolve_credential(e: &EndpointPlan) -> Result<Option<Secret>, ClientError> {
    e.auth.credential().map(|r| resolve(r, &e.id)).transpose()
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
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(ClientError::EmptyCredential {
            endpoint: endpoint.to_string(),
        });
    }
    Ok(Secret(value))
}
