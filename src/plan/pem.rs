//! PEM files of an endpoint's TLS settings: certificates (a CA, a client chain) and a
//! private key. Read by the pre-flight checks, to refuse a bad file before anything is
//! sent, and by the client when the run starts. Errors say what is wrong with the file,
//! for the caller to locate.

use std::path::Path;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Every certificate in a PEM file; an error if it cannot be read or holds none.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text =
        std::fs::read(path).map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// The private key in a PEM text (PKCS#8, PKCS#1 or SEC1). The text is a secret: it
/// never appears in the error.
pub fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".to_string())
}
