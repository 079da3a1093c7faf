//! HTTP to one endpoint, 1.1 or 2: connections driven through hyper's connection API,
//! TCP or TLS (rustls, configured by `tls`; no OpenSSL). HTTP/1.1 connections carry one
//! call at a time and wait in a pool when idle; an h2 connection carries many calls at
//! once, each on its own stream, up to `STREAMS_PER_CONNECTION`.
//!
//! Why not reqwest: on the 2-core machines llm-drill is built on, reqwest tops out near
//! 52k requests/s against a zero-delay nginx where oha does 96k; hyper's connection API
//! (reqwest's own engine) with a plain pool does 106k. A load generator must not be the
//! bottleneck it measures. This module moves bytes and reports transport failures; it
//! knows nothing of providers or outcomes.

use crate::plan::HttpVersion;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName};

type H1 = http1::SendRequest<Full<Bytes>>;
type H2 = http2::SendRequest<Full<Bytes>>;

/// Calls one h2 connection carries at once before another is opened. RFC 9113 asks
/// servers to allow at least 100 concurrent streams; nginx allows 128, vLLM's servers
/// 100. A call beyond the server's limit would wait inside the connection, unseen.
pub const STREAMS_PER_CONNECTION: usize = 100;

/// A connection a call sends its request on: its own HTTP/1.1 connection, or a stream
/// of a shared h2 connection (the stream's place is held until this is dropped).
pub enum Sender {
    H1(H1),
    H2 { sender: H2, _stream: Stream },
}

/// A call's place on an h2 connection: counted while it lives.
pub struct Stream(Arc<AtomicUsize>);

impl Drop for Stream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Sender {
    /// Waits until the connection can take a request.
    pub async fn ready(&mut self) -> Result<(), hyper::Error> {
        std::future::poll_fn(|cx| match self {
            Sender::H1(s) => s.poll_ready(cx),
            Sender::H2 { sender: s, .. } => s.poll_ready(cx),
        })
        .await
    }

    /// Sends `req`. Over h2 the request target must be in absolute form (its scheme and
    /// authority are the stream's `:scheme` and `:authority`). Not an `async fn`: the
    /// request moves straight into hyper's future, with no state machine around it to
    /// copy on every call.
    pub fn send(
        &mut self,
        req: hyper::Request<Full<Bytes>>,
    ) -> impl std::future::Future<Output = Result<hyper::Response<Incoming>, hyper::Error>> {
        use futures_util::future::Either;
        match self {
            Sender::H1(s) => Either::Left(s.send_request(req)),
            Sender::H2 { sender: s, .. } => Either::Right(s.send_request(req)),
        }
    }

    /// Whether requests on it go as h2 streams.
    pub fn is_h2(&self) -> bool {
        matches!(self, Sender::H2 { .. })
    }
}

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

/// Connections to one origin. A call takes an idle HTTP/1.1 connection, or a stream on
/// an h2 connection with room, or opens a connection; it gives an HTTP/1.1 connection
/// back once its response has been read to the end. Connections are kept per shard (the
/// main runtime, or one per-core runtime), so a connection is only used where the
/// runtime that drives it runs.
pub struct Pool {
    origin: Origin,
    /// The proxy connections go through: a `CONNECT` tunnel for https (and h2c), requests
    /// in absolute form for plain HTTP/1.1.
    proxy: Option<Proxy>,
    /// For https: the configuration and the name verified.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    version: HttpVersion,
    /// What the endpoint last spoke: `UNKNOWN` until a connection is open.
    spoken: AtomicU8,
    shards: Vec<Shard>,
}

const UNKNOWN: u8 = 0;
const SPOKE_H1: u8 = 1;
const SPOKE_H2: u8 = 2;

#[derive(Default)]
struct Shard {
    idle: Mutex<Idle>,
    /// Held while an h2 connection (or one that may turn out h2) is opened, so that
    /// calls arriving together share it instead of each opening their own.
    opening: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Idle {
    h1: Vec<H1>,
    /// h2 connections and how many streams each carries now.
    h2: Vec<(H2, Arc<AtomicUsize>)>,
}

impl Idle {
    /// A stream on an open h2 connection with room for one more.
    fn stream(&mut self) -> Option<Sender> {
        self.h2.retain(|(s, _)| !s.is_closed());
        let (s, n) = self
            .h2
            .iter()
            .find(|(_, n)| n.load(Ordering::Relaxed) < STREAMS_PER_CONNECTION)?;
        n.fetch_add(1, Ordering::Relaxed);
        Some(Sender::H2 {
            sender: s.clone(),
            _stream: Stream(n.clone()),
        })
    }
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
    /// A pool for `origin`; an https origin needs its TLS configuration (which offers
    /// the protocols `version` allows) and the name to verify (the host, unless the
    /// scenario names another).
    pub fn new(
        origin: Origin,
        tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
        proxy: Option<Proxy>,
        version: HttpVersion,
    ) -> Pool {
        let shards = std::thread::available_parallelism().map_or(1, |n| n.get()) + 1;
        Pool {
            origin,
            tls,
            proxy,
            version,
            spoken: AtomicU8::new(UNKNOWN),
            shards: (0..shards).map(|_| Shard::default()).collect(),
        }
    }

    fn shard(&self) -> &Shard {
        &self.shards[SHARD.with(|s| s.get()) % self.shards.len()]
    }

    /// A stream on an h2 connection with room, or an idle HTTP/1.1 connection that is
    /// still open, if any.
    pub fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.shard().idle.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = idle.stream() {
            return Some(s);
        }
        while let Some(s) = idle.h1.pop() {
            if !s.is_closed() {
                return Some(Sender::H1(s));
            }
        }
        None
    }

    /// A new connection for a call that found none with room: where an h2 connection
    /// may come of it, calls arriving together wait for the one being opened and share
    /// it rather than each opening their own. With it comes where its task leaves why it
    /// ended (see `connect`), or `None` when another call's connection was shared.
    pub async fn open(&self) -> Result<(Sender, Option<Ended>), ConnectError> {
        let shared = match self.version {
            HttpVersion::Http1 => false,
            HttpVersion::Http2 => true,
            // Until the first handshake says, an https endpoint may speak h2.
            HttpVersion::Auto => {
                self.tls.is_some() && self.spoken.load(Ordering::Relaxed) != SPOKE_H1
            }
        };
        let _one = match shared {
            true => Some(self.shard().opening.lock().await),
            false => None,
        };
        if let Some(s) = shared.then(|| self.take_idle()).flatten() {
            return Ok((s, None));
        }
        let (s, e) = self.connect().await?;
        Ok((s, Some(e)))
    }

    /// Returns a connection whose last response was read completely. (An h2 stream's
    /// place is freed when it is dropped: its connection stays shared.)
    pub fn give_back(&self, sender: Sender) {
        // Not `is_ready()`: just after a response's last byte the connection task may not
        // have marked the connection ready yet, and dropping it then means a new
        // connection per call. The next user waits for `ready()` before sending.
        if let Sender::H1(s) = sender {
            if !s.is_closed() {
                self.shard()
                    .idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .h1
                    .push(s);
            }
        }
    }

    /// Opens a new connection (TCP, then TLS for https, then the HTTP handshake: h2 where
    /// ALPN chose it or the scenario asks for it, else HTTP/1.1); an h2 connection is
    /// shared from then on. With it comes where its task leaves why it ended, when an
    /// error ended it: TLS 1.3 refuses a missing client certificate only after the
    /// handshake, and that reason is the connection's, not the request's.
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
                // h2c cannot be forwarded request by request: it goes through a tunnel
                // too.
                if self.tls.is_some() || self.version == HttpVersion::Http2 {
                    tunnel(tcp, p, o).await?
                } else {
                    tcp
                }
            }
        };
        let _ = tcp.set_nodelay(true);
        let (sender, ended) = if let Some((config, name)) = &self.tls {
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
            // `http2` offers h2 alone: a server that answers no ALPN gets h2 anyway.
            let h2 = match self.version {
                HttpVersion::Http2 => true,
                HttpVersion::Http1 => false,
                HttpVersion::Auto => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
            };
            self.speak(tls, h2).await
        } else {
            self.speak(tcp, self.version == HttpVersion::Http2).await
        }
        .map_err(|e| err("HTTP handshake failed with", &e))?;
        let spoke = if sender.is_h2() { SPOKE_H2 } else { SPOKE_H1 };
        self.spoken.store(spoke, Ordering::Relaxed);
        Ok((sender, ended))
    }

    /// The HTTP handshake on an open connection: h2 (then shared) or HTTP/1.1.
    async fn speak<T>(&self, io: T, h2: bool) -> Result<(Sender, Ended), hyper::Error>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        Ok(if h2 {
            let (s, c) = http2::handshake(TokioExecutor::new(), TokioIo::new(io)).await?;
            (self.share(s), watch(c))
        } else {
            let (s, c) = http1::handshake(TokioIo::new(io)).await?;
            (Sender::H1(s), watch(c))
        })
    }

    /// Keeps a new h2 connection for the calls that follow, and a stream on it for this
    /// one.
    fn share(&self, s: H2) -> Sender {
        let n = Arc::new(AtomicUsize::new(1));
        let stream = Sender::H2 {
            sender: s.clone(),
            _stream: Stream(n.clone()),
        };
        self.shard()
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .h2
            .push((s, n));
        stream
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
