//! The mock's clock for the fault schedule, and the gate that refuses connections during
//! a `refuse` outage: a listener whose connections fail at the socket — before any HTTP
//! — while the outage lasts, including connections a client kept alive from before.
//!
//! Admin requests (`GET /stats`, `GET /health`) are never refused: a fault must not hide
//! the ground truth. A connection is told apart by its first bytes, so one that opens
//! with an admin request is an admin connection for its whole life.
//!
//! Owns nothing else about HTTP; `chat` acts out every other fault.

use crate::Shared;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Time into the run, as the fault schedule counts it.
pub(crate) struct Clock {
    base: Instant,
    /// The run's start, in nanoseconds after `base`.
    origin_ns: AtomicU64,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            base: Instant::now(),
            origin_ns: AtomicU64::new(0),
        }
    }

    pub(crate) fn start_at(&self, at: Instant) {
        let ns = at.saturating_duration_since(self.base).as_nanos() as u64;
        self.origin_ns.store(ns, Relaxed);
    }

    pub(crate) fn elapsed(&self) -> Duration {
        let origin = self.base + Duration::from_nanos(self.origin_ns.load(Relaxed));
        Instant::now().saturating_duration_since(origin)
    }
}

pub(crate) struct GatedListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl GatedListener {
    pub(crate) fn new(inner: TcpListener, shared: Arc<Shared>) -> GatedListener {
        GatedListener { inner, shared }
    }
}

impl axum::serve::Listener for GatedListener {
    type Io = GatedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GatedIo, SocketAddr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let _ = io.set_nodelay(true);
        self.shared.stats.connection();
        (
            GatedIo {
                io,
                shared: self.shared.clone(),
                refused: false,
                mid_request: false,
                kind: Kind::Unknown,
                head: Vec::new(),
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

pub(crate) struct GatedIo {
    io: TcpStream,
    shared: Arc<Shared>,
    refused: bool,
    /// Bytes were read since the last write: a request is in, its answer not begun.
    mid_request: bool,
    kind: Kind,
    /// The first bytes, until they say what the connection carries: a request line may
    /// arrive in pieces.
    head: Vec<u8>,
}

/// What a connection carries, known from its first bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unknown,
    Admin,
    Traffic,
}

/// Request lines the gate always lets through.
const ADMIN: [&[u8]; 4] = [
    b"GET /stats ",
    b"GET /stats?",
    b"GET /health ",
    b"GET /health?",
];

/// What the first bytes say; `Unknown` while they could still begin an admin line.
fn classify(first: &[u8]) -> Kind {
    if ADMIN.iter().any(|p| first.starts_with(p)) {
        Kind::Admin
    } else if ADMIN.iter().any(|p| p.starts_with(first)) {
        Kind::Unknown
    } else {
        Kind::Traffic
    }
}

impl GatedIo {
    /// An error when connections are being refused (counted once per connection).
    fn gate(&mut self) -> Option<io::Error> {
        if self.kind == Kind::Admin {
            return None;
        }
        let faults = &self.shared.config.faults;
        if self.refused || (!faults.is_empty() && faults.refusing(self.shared.clock.elapsed())) {
            if !self.refused {
                self.refused = true;
                self.shared.stats.refused(self.mid_request);
            }
            return Some(io::Error::from(io::ErrorKind::ConnectionRefused));
        }
        None
    }

    /// A write that sent a byte began the answer: the request is no longer waiting.
    fn note_write(&mut self, wrote: &Poll<io::Result<usize>>) {
        if matches!(wrote, Poll::Ready(Ok(n)) if *n > 0) {
            self.mid_request = false;
        }
    }
}

impl AsyncRead for GatedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kind == Kind::Unknown {
            // Read the first bytes before judging: they say whether this is an admin
            // connection, which no fault refuses.
            let before = buf.filled().len();
            match Pin::new(&mut self.io).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            let new = &buf.filled()[before..];
            if new.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let (kind, head) = {
                let mut head = std::mem::take(&mut self.head);
                head.extend_from_slice(&new[..new.len().min(16)]);
                (classify(&head), head)
            };
            self.kind = kind;
            if kind == Kind::Unknown {
                // Not enough to judge yet: pass these bytes on and judge with the next.
                self.head = head;
                self.mid_request = true;
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = self.gate() {
                buf.set_filled(before);
                return Poll::Ready(Err(e));
            }
            self.mid_request = true;
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = self.gate() {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.mid_request = true;
        }
        read
    }
}

impl AsyncWrite for GatedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.gate() {
            return Poll::Ready(Err(e));
        }
        let wrote = Pin::new(&mut self.io).poll_write(cx, buf);
        self.note_write(&wrote);
        wrote
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.gate() {
            return Poll::Ready(Err(e));
        }
        let wrote = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.note_write(&wrote);
        wrote
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
