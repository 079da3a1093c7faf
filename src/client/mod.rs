//! The client: turns a `CallSpec` into an HTTP request for its provider, sends it, and
//! classifies what comes back into an `Attempt` (timings, tokens, outcome).
//!
//! Request bodies are built by `Route::prepare`, before the timed region; `send` only
//! takes timestamps while bytes move. A misbehaving endpoint — invalid JSON, a truncated
//! stream, a 50 MB body, a hang — ends as a classified outcome, never a stall or panic.
//!
//! Files: `attempt` (what goes in and comes out), `credentials`, `provider` (the seam
//! each wire format implements, and its one registration), `openai` / `azure` /
//! `anthropic` / `bedrock` / `gemini` (the formats), `route` (an endpoint ready to send to), `inject`
//! (client-side faults), `exchange` and `stream` (the wire), `sse`, `retry_after`,
//! `http` (connections).

mod anthropic;
mod attempt;
mod azure;
mod bedrock;
mod credentials;
pub mod eventstream;
mod exchange;
mod gemini;
mod http;
mod inject;
mod oauth;
mod openai;
mod provider;
mod retry_after;
mod route;
pub use mock_server::sigv4;
pub mod sse;
mod stream;
pub mod timing;
mod tls;

pub use attempt::{Attempt, Prepared, Spoken, Usage, Whole};
pub use credentials::{resolve, resolve_credential, ClientError, Credential, Secret};
pub use oauth::TokenStats;
pub use provider::{format, Framing, ProviderFormat, StreamStep};
pub use retry_after::retry_after;
pub use route::Route;

use crate::outcome::Outcome;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Largest non-streaming body read; anything larger is a protocol error.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Largest single SSE event.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Largest answer text kept for counting tokens when the endpoint reports no usage.
const MAX_TEXT_BYTES: usize = 4 << 20;

/// Sends attempts. The engine sees only this trait: the HTTP client implements it, and
/// tests implement it with a fake endpoint that runs under tokio's paused clock. The
/// engine is generic over it, so an attempt's future is not boxed: at tens of thousands
/// of calls a second, a heap copy of every attempt's state shows in the profile.
pub trait Transport: Send + Sync + 'static {
    fn send(
        &self,
        route: &Route,
        req: Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Attempt> + Send;

    /// Called on each thread that runs a runtime of its own (closed-mode users, one per
    /// core), with its number from 1, before it sends anything.
    fn worker_thread(&self, _worker: usize) {}
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The HTTP transport. Connections live in each `Route`'s pool.
#[derive(Clone, Default)]
pub struct Client;

impl Transport for Client {
    fn send(
        &self,
        route: &Route,
        req: Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Attempt> + Send {
        Client::send(self, route, req, timeout)
    }

    /// A connection is only used where the runtime that drives it runs: each worker
    /// keeps its own idle connections.
    fn worker_thread(&self, worker: usize) {
        http::set_shard(worker);
    }
}

impl Client {
    /// Sends one attempt and classifies it; never returns an error.
    pub async fn send(&self, route: &Route, req: Prepared, timeout: Duration) -> Attempt {
        if let Some(f) = &route.faults {
            if let Some(a) = f.before_send(timeout).await {
                return a;
            }
        }
        let mut a = Attempt::begin(Instant::now());
        let mut answered = None;
        let result = tokio::time::timeout(
            timeout,
            exchange::exchange(route, req, &mut a, &mut answered),
        )
        .await;
        a.end = answered.unwrap_or_else(Instant::now);
        match result {
            Ok(Ok(())) => {}
            Ok(Err((outcome, msg))) => {
                a.outcome = outcome;
                a.error = Some(route.redact(msg));
            }
            // The answer was complete; only the clean-up after it (reading the end of a
            // stream's body) ran into the timeout.
            Err(_) if answered.is_some() => {}
            Err(_) => {
                a.outcome = Outcome::Timeout;
                a.error = Some(format!("no complete answer within {timeout:?}"));
            }
        }
        a
    }
}
