//! The mock over TLS: the same server behind rustls, offering h2 and HTTP/1.1 by ALPN,
//! so that a drill can rehearse an https endpoint (an internal CA, h2 negotiated the way
//! a real gateway negotiates it) with the mock's ground truth behind it.
//!
//! Handshakes run on their own tasks: a slow or silent client never holds up the
//! others. The fault gate stays outside TLS, so a `refuse` outage still fails
//! connections at the socket, as a dead host would.

use axum::serve::Listener;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The certificate (chain) and private key the mock presents, as PEM text.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_chain_pem: String,
    pub key_pem: String,
}

impl TlsIdentity {
    /// Reads both from PEM files; errors name the file and what is wrong with it.
    pub fn from_files(
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<TlsIdentity, String> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {}", p.display(), e.kind()))
        };
        let identity = TlsIdentity {
            cert_chain_pem: read(cert)?,
            key_pem: read(key)?,
        };
        identity
            .server_config()
            .map_err(|e| format!("{} and {}: {e}", cert.display(), key.display()))?;
        Ok(identity)
    }

    /// The rustls configuration: this identity, h2 preferred over HTTP/1.1.
    pub(crate) fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        let chain = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("the certificate is not PEM: {e}"))?;
        if chain.is_empty() {
            return Err("no PEM certificate found".into());
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|_| "no PEM private key found (PKCS#8, PKCS#1 or SEC1)".to_string())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("the key does not fit the certificate: {e}"))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener whose connections are TLS streams, handshaken off the accept loop.
pub(crate) struct TlsListener<L: Listener> {
    inner: L,
    acceptor: TlsAcceptor,
    done_tx: mpsc::Sender<(TlsStream<L::Io>, L::Addr)>,
    done_rx: mpsc::Receiver<(TlsStream<L::Io>, L::Addr)>,
}

impl<L: Listener> TlsListener<L> {
    pub(crate) fn new(inner: L, config: Arc<ServerConfig>) -> TlsListener<L> {
        let (done_tx, done_rx) = mpsc::channel(1024);
        TlsListener {
            inner,
            acceptor: TlsAcceptor::from(config),
            done_tx,
            done_rx,
        }
    }
}

impl<L> Listener for TlsListener<L>
where
    L: Listener,
    L::Addr: Send + 'static,
{
    type Io = TlsStream<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                (io, addr) = self.inner.accept() => {
                    let (acceptor, done) = (self.acceptor.clone(), self.done_tx.clone());
                    tokio::spawn(async move {
                        // A failed handshake is the client's problem: its connection ends.
                        if let Ok(Ok(tls)) =
                            tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await
                        {
                            let _ = done.send((tls, addr)).await;
                        }
                    });
                }
                Some(ready) = self.done_rx.recv() => return ready,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
