//! TLS to an endpoint as its scenario says: Mozilla's roots, the platform's trust store
//! (corporate CAs, TLS-inspecting proxies) or both, a CA file of its own, a client
//! certificate for gateways that require one, and the name to verify. There is no way
//! to skip verification. A handshake that fails says why, in words a person can act on.

use super::credentials::Secret;
use crate::plan::{pem, HttpVersion, Roots, TlsPlan};
use std::sync::{Arc, OnceLock};
use tokio_rustls::rustls::{self, pki_types::CertificateDer};

/// The client configuration for an endpoint's TLS, with its client key resolved, offering
/// the protocols `version` allows by ALPN.
pub fn client_config(
    tls: &TlsPlan,
    key: Option<&Secret>,
    version: HttpVersion,
) -> Result<Arc<rustls::ClientConfig>, String> {
    if tls.ca_file.is_none() && tls.client_cert.is_none() {
        // The common cases are built once and shared: one per roots and protocol offer.
        static COMMON: [OnceLock<Arc<rustls::ClientConfig>>; 9] = [const { OnceLock::new() }; 9];
        let roots = match tls.roots {
            Roots::Mozilla => 0,
            Roots::Both => 1,
            Roots::System => 2,
        };
        let offer = match version {
            HttpVersion::Auto => 0,
            HttpVersion::Http1 => 1,
            HttpVersion::Http2 => 2,
        };
        let cell = &COMMON[roots * 3 + offer];
        if let Some(c) = cell.get() {
            return Ok(c.clone());
        }
        let c = build(tls, None, version)?;
        return Ok(cell.get_or_init(|| c).clone());
    }
    build(tls, key, version)
}

fn build(
    tls: &TlsPlan,
    key: Option<&Secret>,
    version: HttpVersion,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    if matches!(tls.roots, Roots::Mozilla | Roots::Both) {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if matches!(tls.roots, Roots::System | Roots::Both) {
        for c in system_roots() {
            // A platform certificate rustls cannot use is skipped, as curl skips it.
            let _ = roots.add(c.clone());
        }
    }
    if let Some(path) = &tls.ca_file {
        for c in pem::certificates(path).map_err(|e| format!("tls.ca_file: {e}"))? {
            roots
                .add(c)
                .map_err(|e| format!("tls.ca_file: {}: {e}", path.display()))?;
        }
    }
    if roots.is_empty() {
        return Err("no trusted roots: the platform's trust store is empty; use tls.roots: both or a ca_file".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut cfg = match (&tls.client_cert, key) {
        (Some(path), Some(key)) => {
            let chain = pem::certificates(path).map_err(|e| format!("tls.client_cert: {e}"))?;
            let key =
                pem::private_key(key.expose()).map_err(|e| format!("tls.client_key_ref {e}"))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!("tls.client_cert: the key does not fit the certificate: {e}")
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = match version {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    };
    Ok(Arc::new(cfg))
}

/// The platform's trust store, read once.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// Why a TLS handshake failed, in a person's words, when the failure is TLS's: walks the
/// error's causes for rustls' own error.
pub fn failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error};
    let mut cur = Some(e);
    while let Some(err) = cur {
        let tls = err.downcast_ref::<Error>().or_else(|| {
            err.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<Error>())
        });
        if let Some(tls) = tls {
            return Some(match tls {
                Error::InvalidCertificate(Cert::UnknownIssuer) => {
                    "unknown issuer: the endpoint's certificate is not signed by a trusted root (add its CA with tls.ca_file)".into()
                }
                Error::InvalidCertificate(Cert::NotValidForName)
                | Error::InvalidCertificate(Cert::NotValidForNameContext { .. }) => {
                    "name mismatch: the certificate is not for this host (tls.server_name names another)".into()
                }
                Error::InvalidCertificate(Cert::Expired)
                | Error::InvalidCertificate(Cert::ExpiredContext { .. }) => {
                    "expired: the endpoint's certificate is out of date".into()
                }
                Error::AlertReceived(Alert::CertificateRequired)
                | Error::AlertReceived(Alert::BadCertificate)
                | Error::AlertReceived(Alert::UnknownCA) => format!(
                    "client certificate required or refused by the endpoint ({tls}): set tls.client_cert and tls.client_key_ref"
                ),
                other => other.to_string(),
            });
        }
        cur = err.source();
    }
    None
}
