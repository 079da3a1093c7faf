//! HTTP/1.1 to one endpoint: a pool of keep-alive connections driven through hyper's
//! connection API, TCP or TLS (rustls, configured by `tls`; no OpenSSL).
//!
//! Why not reqwest: on the 2-core machines llm-drill is built on, reqwest tops out near
//! 52k requests/s against a zero-delay nginx where oha does 96k; hyper's connection API
//! (reqwest's own engine) with a plain pool does 106k. A load generator must not be the
//! bottleneck it measures. This module moves bytes and reports transport failures; it
//! knows nothing of providers or outcomes.

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName};

pub type Sender = SendRequest<Full<Bytes>>;

/// Where an endpoint lives, parsed once.
#[derive(Clone, Debug)]
pub struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &url::Url) -> Result<Origin, String> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            s => return Err(format!("unsupported scheme `{s}`")),
        };
        let host = url.host_str().ok_or("the URL has no host")?;
        // `[::1]` in a URL is `::1` to a resolver.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

thread_local! {
    static SHARD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Marks this thread as driving its own runtime (closed-mode users, one per core): it
/// reuses only the connections it opened, which its runtime drives.
pub fn set_shard(shard: usize) {
    SHARD.with(|s| s.set(shard));
}

/// Idle keep-alive connections to one origin. A call takes one (or opens one) and gives
/// it back once its response has been read to the end. Connections are kept per shard
/// (the main runtime, or one per-core runtime), so a connection is only used where the
/// runtime that drives it runs.
pub struct Pool {
    origin: Origin,
    /// The proxy connections go through: a `CONNECT` tunnel for https, requests in
    /// absolute form for http.
    proxy: Option<Proxy>,
    /// For https: the configuration and the name verified.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    idle: Vec<Mutex<Vec<Sender>>>,
}

/// A transport failure before any response arrived, and whose it was.
#[derive(Debug)]
pub struct ConnectError {
    pub message: String,
    pub kind: Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed {
    /// The endpoint could not be reached.
    Connect,
    /// Its TLS handshake failed (the message says why).
    Tls,
    /// The proxy could not be reached or refused the tunnel.
    Proxy,
}

/// A proxy between llm-drill and an endpoint, and its `Proxy-Authorization` value.
#[derive(Clone)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    pub authorization: Option<hyper::header::HeaderValue>,
}

impl Pool {
    /// A pool for `origin`; an https origin needs its TLS configuration and the name to
    /// verify (the host, unless the scenario names another).
    pub fn new(
        origin: Origin,
        tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
        proxy: Option<Proxy>,
    ) -> Pool {
        let shards = std::thread::available_parallelism().map_or(1, |n| n.get()) + 1;
        Pool {
            origin,
            tls,
            proxy,
            idle: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    fn shard(&self) -> &Mutex<Vec<Sender>> {
        &self.idle[SHARD.with(|s| s.get()) % self.idle.len()]
    }

    /// An idle connection that is still open, if any.
    pub fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.shard().lock().unwrap_or_else(|p| p.into_inner());
        while let Some(s) = idle.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    /// Returns a connection whose last response was read completely.
    pub fn give_back(&self, sender: Sender) {
        // Not `is_ready()`: just after a response's last byte the connection task may not
        // have marked the connection ready yet, and dropping it then means a new
        // connection per call. The next user waits for `ready()` before sending.
        if !sender.is_closed() {
            self.shard()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(sender);
        }
    }

    /// Opens a new connection (TCP, then TLS for https, then the HTTP/1.1 handshake).
    /// With it comes where its task leaves why it ended, when an error ended it: TLS 1.3
    /// refuses a missing client certificate only after the handshake, and that reason
    /// is the connection's, not the request's.
    pub async fn connect(&self) -> Result<(Sender, Ended), ConnectError> {
        let o = &self.origin;
        let err = |what: &str, e: &dyn std::fmt::Display| ConnectError {
            message: format!("{what} {}:{}: {e}", o.host, o.port),
            kind: Failed::Connect,
        };
        let tcp = match &self.proxy {
            None => TcpStream::connect((o.host.as_str(), o.port))
                .await
                .map_err(|e| err("cannot connect to", &e))?,
            Some(p) => {
                let tcp = TcpStream::connect((p.host.as_str(), p.port))
                    .await
                    .map_err(|e| ConnectError {
                        message: format!("cannot connect to the proxy {}:{}: {e}", p.host, p.port),
                        kind: Failed::Proxy,
                    })?;
                if self.tls.is_some() {
                    tunnel(tcp, p, o).await?
                } else {
                    tcp
                }
            }
        };
        let _ = tcp.set_nodelay(true);
        let (sender, conn_task) = if let Some((config, name)) = &self.tls {
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| match super::tls::failure(&e) {
                    Some(why) => ConnectError {
                        message: format!("TLS handshake with {}:{} failed: {why}", o.host, o.port),
                        kind: Failed::Tls,
                    },
                    None => err("TLS handshake failed with", &e),
                })?;
            let (s, c) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| err("HTTP handshake failed with", &e))?;
            (s, watch(c))
        } else {
            let (s, c) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| err("HTTP handshake failed with", &e))?;
            (s, watch(c))
        };
        Ok((sender, conn_task))
    }
}

/// Opens a `CONNECT` tunnel to `o` through the proxy on `tcp`; TLS then runs end to end
/// with the endpoint inside it.
async fn tunnel(mut tcp: TcpStream, p: &Proxy, o: &Origin) -> Result<TcpStream, ConnectError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let refused = |message: String| ConnectError {
        message,
        kind: Failed::Proxy,
    };
    let target = if o.host.contains(':') {
        format!("[{}]:{}", o.host, o.port)
    } else {
        format!("{}:{}", o.host, o.port)
    };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = p.authorization.as_ref().and_then(|v| v.to_str().ok()) {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| refused(format!("the proxy {}:{} failed: {e}", p.host, p.port)))?;
    // The proxy's answer, up to its blank line; nothing follows until the tunnel is used.
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 << 10 {
            return Err(refused(format!(
                "the proxy {}:{} sent an endless answer to CONNECT",
                p.host, p.port
            )));
        }
        match tcp.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            Ok(_) => {
                return Err(refused(format!(
                    "the proxy {}:{} closed the connection instead of answering CONNECT",
                    p.host, p.port
                )))
            }
            Err(e) => {
                return Err(refused(format!(
                    "the proxy {}:{} failed: {e}",
                    p.host, p.port
                )))
            }
        }
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default();
    match status_line.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(tcp),
        _ => Err(refused(format!(
            "the proxy {}:{} refused CONNECT to {target}: {}",
            p.host,
            p.port,
            status_line.trim()
        ))),
    }
}

/// Why a connection's task ended, once it has: its TLS failure in words, or its error.
pub type Ended = Arc<std::sync::OnceLock<String>>;

/// Runs a connection's task, which ends by itself when its sender is dropped or the
/// peer closes, and keeps why when an error ended it.
fn watch<F>(conn: F) -> Ended
where
    F: std::future::Future<Output = Result<(), hyper::Error>> + Send + 'static,
{
    let ended: Ended = Arc::default();
    let slot = ended.clone();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            let why = match super::tls::failure(&e) {
                Some(tls) => format!("TLS: {tls}"),
                None => error_chain(&e),
            };
            let _ = slot.set(why);
        }
    });
    ended
}

/// The error with its causes, e.g. "connection error: connection reset by peer".
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
