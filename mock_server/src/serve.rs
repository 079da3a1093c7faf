//! The accept loop: the router served by hyper (HTTP/1.1, or h2 by prior knowledge or
//! ALPN) on every connection the listener gives, as `axum::serve` does, with hyper's
//! HTTP/1 read buffer held to its smallest.
//!
//! An open stream keeps its connection, and ten thousand of them open at once is a case
//! the mock is for. hyper's read buffer adapts: a request that fills it doubles it (a
//! prompt of a few KiB took it to 16 KiB), and it stays that size for the connection's
//! life. Capped at hyper's minimum, 8 KiB, a large request is still read whole, in
//! more reads.

use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::Response;
use axum::serve::Listener;
use axum::Router;
use futures_util::TryFutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;

/// hyper's smallest `max_buf_size`: below it, hyper panics. Held there, an open stream
/// keeps 8 KiB of read buffer rather than the 16 KiB hyper's adaptive buffer grew to (2,000
/// streams: 17.9 KB each instead of 31.5). The cost is in large whole requests, read in
/// pieces: 2,814-token prompts 36.6k req/s against 44.1k with hyper's default, short prompts
/// the same (`MOCK_BASE=… benches/loadgen.sh mock`, 3 rounds alternated).
const READ_BUFFER_MAX: usize = 8 * 1024;

/// Serves `router` on `listener` until `stop` completes, then waits for the open
/// connections to finish what they are doing (each is asked to close once idle).
pub(crate) async fn serve<L: Listener>(mut listener: L, router: Router, stop: impl Future) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().max_buf_size(READ_BUFFER_MAX);
    let mut stop = std::pin::pin!(stop);
    loop {
        let io = tokio::select! {
            (io, _addr) = listener.accept() => io,
            _ = &mut stop => break,
        };
        let service = Marked(TowerToHyperService::new(router.clone()));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            // A connection's end (a client gone, a refused connection) is not the
            // server's error: there is no one to tell.
            let _ = watcher.watch(conn).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Every response says the mock answered it (`MOCK_HEADER`, with its version), so that a
/// client can tell an llm-drill mock from the endpoint it stands for. A plain wrapper:
/// axum's `map_response` middleware would box a future per request.
#[derive(Clone)]
struct Marked<S>(S);

impl<S> hyper::service::Service<Request<Incoming>> for Marked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = futures_util::future::MapOk<S::Future, fn(Response) -> Response>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.0.call(req).map_ok(mark as fn(Response) -> Response)
    }
}

/// The mark's name and value, made once rather than checked again for every response.
const MARK_NAME: HeaderName = HeaderName::from_static(crate::MOCK_HEADER);
const MARK_VALUE: HeaderValue = HeaderValue::from_static(env!("CARGO_PKG_VERSION"));

fn mark(mut resp: Response) -> Response {
    resp.headers_mut().insert(MARK_NAME, MARK_VALUE);
    resp
}
