//! Who an endpoint's requests are sent as: a credential from the environment, a file
//! or a command, or an OAuth 2.0 client's tokens; and the keys the embedded mock accepts
//! to rehearse a rotation. Only references are planned: secrets are read at run time.

use super::check::Checker;
use super::provider::{self, AuthKind};
use crate::scenario::model::{self, AuthType};
use crate::scenario::ScenarioError;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum CredentialRef {
    Env(String),
    File(PathBuf),
    /// A command whose output is the secret (or JSON with a token and its expiry, as
    /// `az account get-access-token -o json` prints).
    Exec(String),
    /// AWS keys where the AWS CLI finds them: the environment, or a profile of the
    /// shared credentials file (`aws:` for the default chain, `aws:NAME` for a profile).
    Aws(Option<String>),
    /// A Google service account's key where Google's libraries find it: the file
    /// `GOOGLE_APPLICATION_CREDENTIALS` names (`google:`).
    Google,
}

/// The variable naming a Google service account's key file, as Google's libraries read it.
pub const GOOGLE_CREDENTIALS_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";

impl std::fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialRef::Env(name) => write!(f, "env:{name}"),
            CredentialRef::File(p) => write!(f, "file:{}", p.display()),
            CredentialRef::Exec(cmd) => write!(f, "exec:{cmd}"),
            CredentialRef::Aws(p) => write!(f, "aws:{}", p.as_deref().unwrap_or_default()),
            CredentialRef::Google => f.write_str("google:"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    None,
    /// A credential, sent the way `kind` says.
    With(AuthKind, CredentialRef),
    /// A bearer token from an OAuth 2.0 client-credentials grant.
    OAuth2(OAuth2Plan),
}

/// The client-credentials grant: where tokens come from, and as whom.
#[derive(Clone, Debug, PartialEq)]
pub struct OAuth2Plan {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: CredentialRef,
    pub scope: Option<String>,
}

impl Auth {
    /// The reference to the secret the run reads at its start (an OAuth client's
    /// secret, not a token).
    pub fn credential(&self) -> Option<&CredentialRef> {
        match self {
            Auth::None => None,
            Auth::With(_, r) => Some(r),
            Auth::OAuth2(o) => Some(&o.client_secret),
        }
    }

    /// How a request carries its credential: a static one (`With`) in the provider's
    /// header; an OAuth token as a bearer, set once fetched.
    pub fn kind(&self) -> Option<AuthKind> {
        match self {
            Auth::None => None,
            Auth::With(k, _) => Some(*k),
            Auth::OAuth2(_) => Some(AuthKind::Bearer),
        }
    }

    pub fn oauth2(&self) -> Option<&OAuth2Plan> {
        match self {
            Auth::OAuth2(o) => Some(o),
            _ => None,
        }
    }
}

/// A key the embedded mock accepts, from `from` until `until`.
#[derive(Clone, Debug, PartialEq)]
pub struct MockKey {
    pub key: CredentialRef,
    pub from: Duration,
    pub until: Option<Duration>,
}

/// `auth_type` and `credential_ref` (or the `oauth2:` block), checked against what the
/// provider takes.
pub(super) fn auth(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    e: &model::Endpoint,
    info: &provider::ProviderInfo,
) -> Result<Auth, ScenarioError> {
    Ok(match (e.auth_type, &e.credential_ref) {
        (AuthType::Oauth2, _) => oauth2(c, at, e, info)?,
        (AuthType::None, None) => Auth::None,
        (AuthType::None, Some(_)) => {
            return Err(c.err(
                &at("credential_ref"),
                "is set but auth_type is `none`: set auth_type (bearer or api_key), or remove it",
            ))
        }
        (_, None) => {
            return Err(c.err(
                &at("auth_type"),
                "needs a credential_ref such as env:OPENAI_API_KEY or file:/run/secrets/key",
            ))
        }
        (given, Some(r)) => {
            let kind = match given {
                AuthType::Bearer => AuthKind::Bearer,
                AuthType::AwsSigv4 => AuthKind::AwsSigV4,
                AuthType::ServiceAccount => AuthKind::ServiceAccount,
                _ => AuthKind::ApiKey,
            };
            if !info.auth.contains(&kind) {
                let takes: Vec<String> = info
                    .auth
                    .iter()
                    .map(|k| match (k, info.api_key_header) {
                        (AuthKind::ApiKey, Some(h)) => format!("`api_key` (sent as {h})"),
                        _ => format!("`{}`", k.key()),
                    })
                    .collect();
                return Err(c.err(
                    &at("auth_type"),
                    format!("{} takes {}", info.an_endpoint(), takes.join(" or ")),
                ));
            }
            let r = credential_ref(c, &at("credential_ref"), r)?;
            if matches!(r, CredentialRef::Aws(_)) && kind != AuthKind::AwsSigV4 {
                return Err(c.err(
                    &at("credential_ref"),
                    "aws: gives AWS keys, for auth_type: aws_sigv4 only",
                ));
            }
            if r == CredentialRef::Google && kind != AuthKind::ServiceAccount {
                return Err(c.err(
                    &at("credential_ref"),
                    "google: gives a service account's key, for auth_type: service_account only",
                ));
            }
            Auth::With(kind, r)
        }
    })
}

/// `mock.auth.keys`: each key's reference and its window of the run.
pub(super) fn mock_keys(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    e: &model::Endpoint,
) -> Result<Vec<MockKey>, ScenarioError> {
    let mut mock_keys = Vec::new();
    for (i, k) in e
        .mock
        .as_ref()
        .and_then(|m| m.auth.as_ref())
        .map_or(&[][..], |a| a.keys.as_slice())
        .iter()
        .enumerate()
    {
        let at_key = |k: &str| at(&format!("mock.auth.keys.{i}.{k}"));
        let from = k.from.map_or(Duration::ZERO, |d| d.0);
        let until = k.until.map(|d| d.0);
        if until.is_some_and(|u| u <= from) {
            return Err(c.err(&at_key("until"), "must be later than `from`"));
        }
        mock_keys.push(MockKey {
            key: credential_ref(c, &at_key("key_ref"), &k.key_ref)?,
            from,
            until,
        });
    }
    Ok(mock_keys)
}

/// `auth_type: oauth2` and its `oauth2:` block.
fn oauth2(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    e: &model::Endpoint,
    info: &provider::ProviderInfo,
) -> Result<Auth, ScenarioError> {
    if e.credential_ref.is_some() {
        return Err(c.err(
            &at("credential_ref"),
            "does not apply with auth_type: oauth2 (the token comes from oauth2.token_url)",
        ));
    }
    let o = e.oauth2.as_ref().ok_or_else(|| {
        c.err(
            &at("auth_type"),
            "oauth2 needs an `oauth2: { token_url, client_id, client_secret_ref, scope }` block",
        )
    })?;
    let url = url::Url::parse(&o.token_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    if url.is_none() {
        return Err(c.err(
            &at("oauth2.token_url"),
            format!("expected an http(s) URL, found `{}`", o.token_url),
        ));
    }
    if o.client_id.trim().is_empty() {
        return Err(c.err(&at("oauth2.client_id"), "must not be empty"));
    }
    if !info.auth.contains(&AuthKind::Bearer) {
        return Err(c.err(
            &at("auth_type"),
            format!("{} does not take bearer tokens", info.an_endpoint()),
        ));
    }
    Ok(Auth::OAuth2(OAuth2Plan {
        token_url: o.token_url.clone(),
        client_id: o.client_id.clone(),
        client_secret: credential_ref(c, &at("oauth2.client_secret_ref"), &o.client_secret_ref)?,
        scope: o.scope.clone(),
    }))
}

pub(super) fn credential_ref(
    c: &Checker,
    path: &str,
    r: &str,
) -> Result<CredentialRef, ScenarioError> {
    if let Some(name) = r.strip_prefix("env:") {
        if !name.is_empty()
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            return Ok(CredentialRef::Env(name.to_string()));
        }
    } else if let Some(p) = r.strip_prefix("file:") {
        if !p.is_empty() {
            return Ok(CredentialRef::File(PathBuf::from(p)));
        }
    } else if let Some(cmd) = r.strip_prefix("exec:") {
        if !cmd.trim().is_empty() {
            return Ok(CredentialRef::Exec(cmd.trim().to_string()));
        }
    } else if r == "google:" {
        return Ok(CredentialRef::Google);
    } else if let Some(profile) = r.strip_prefix("aws:") {
        let profile = profile.trim();
        if profile
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            return Ok(CredentialRef::Aws(
                (!profile.is_empty()).then(|| profile.to_string()),
            ));
        }
    }
    // Never echo the value: it may be the secret itself, pasted inline.
    Err(c.err(
        path,
        "expected env:NAME, file:PATH or exec:COMMAND (a reference, never the secret itself), or aws:PROFILE for AWS keys, google: for a service account's key file",
    ))
}
