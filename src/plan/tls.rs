//! TLS to an endpoint: whose roots it trusts, extra CAs, a client certificate, and the
//! name verified instead of the URL's host.

use super::auth::{credential_ref, CredentialRef};
use super::check::Checker;
use crate::scenario::{model, ScenarioError};
use std::path::PathBuf;

/// Whose certificates an endpoint's TLS trusts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Roots {
    /// Mozilla's roots, shipped with llm-drill.
    Mozilla,
    /// The platform's trust store: where corporate CAs and TLS-inspecting proxies live.
    System,
    #[default]
    Both,
}

/// TLS to one endpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsPlan {
    pub roots: Roots,
    /// PEM roots added to them.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) and its key, for endpoints that require one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<CredentialRef>,
    /// The name verified (and sent as SNI) instead of the URL's host.
    pub server_name: Option<String>,
}

impl TlsPlan {
    /// Whether it is anything but the default (Mozilla's and the platform's roots).
    pub fn is_default(&self) -> bool {
        *self == TlsPlan::default()
    }
}

pub(super) fn tls_plan(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    spec: Option<&model::TlsSpec>,
) -> Result<TlsPlan, ScenarioError> {
    let Some(t) = spec else {
        return Ok(TlsPlan::default());
    };
    let path = |p: &Option<String>, key: &str| match p.as_deref().map(str::trim) {
        Some("") => Err(c.err(&at(&format!("tls.{key}")), "must name a file")),
        other => Ok(other.map(PathBuf::from)),
    };
    let client_key = match &t.client_key_ref {
        Some(r) => Some(credential_ref(c, &at("tls.client_key_ref"), r)?),
        None => None,
    };
    if t.client_cert.is_some() != client_key.is_some() {
        return Err(c.err(
            &at("tls"),
            "a client certificate needs both client_cert and client_key_ref",
        ));
    }
    if let Some(name) = &t.server_name {
        if rustls_name(name).is_none() {
            return Err(c.err(
                &at("tls.server_name"),
                format!("`{name}` is not a DNS name or an IP address"),
            ));
        }
    }
    Ok(TlsPlan {
        roots: match t.roots.unwrap_or(model::TlsRoots::Both) {
            model::TlsRoots::Mozilla => Roots::Mozilla,
            model::TlsRoots::System => Roots::System,
            model::TlsRoots::Both => Roots::Both,
        },
        ca_file: path(&t.ca_file, "ca_file")?,
        client_cert: path(&t.client_cert, "client_cert")?,
        client_key,
        server_name: t.server_name.clone(),
    })
}

/// Whether `name` can name a TLS server: a DNS name or an IP address.
fn rustls_name(name: &str) -> Option<()> {
    let ok = name.parse::<std::net::IpAddr>().is_ok()
        || (!name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            }));
    ok.then_some(())
}
