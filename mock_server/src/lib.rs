//! The llm-drill mock endpoint: a chat server speaking OpenAI's, Azure OpenAI's and
//! Anthropic's wire formats (each at its own path), with a seeded latency model and
//! ground-truth counters at `GET /stats`.
//!
//! It is part of the product, not test scaffolding: llm-drill embeds it for
//! `base_url: mock`, tests start it in-process on port 0, and users run it standalone
//! (`llm-drill mock` or the `llm-drill-mock` binary) to rehearse drills with other tools.
//! This crate must not depend on llm-drill: the harness depends on it.

mod anthropic;
mod auth;
mod bedrock;
mod capacity;
mod chat;
pub mod count;
pub mod eventstream;
pub mod faults;
#[doc(hidden)]
pub mod fuzzing;
mod gate;
mod gemini;
mod lag;
mod latency;
mod limiter;
pub mod listen;
mod openai;
mod sampler;
mod serve;
pub mod sigv4;
mod stats;
mod stream;
mod template;
mod ticker;
mod tls;
pub mod tokens;

pub use auth::AuthKey;
pub use capacity::{CapacityModel, OnFull};
pub use lag::LagSummary;
pub use latency::{LatencyModel, Spread, TokenTimes};
pub use sampler::Sampler;
pub use stats::{Stats, StatsSnapshot};
pub use tls::TlsIdentity;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokens::Encoding;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The header on every response of the mock, with its version: a client that sees it
/// knows it talked to an llm-drill mock, whose `GET /stats` has the ground truth.
pub const MOCK_HEADER: &str = "x-llm-drill-mock";

/// How the mock behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct MockConfig {
    /// Seeds every random choice; request `i` always gets the same timings.
    pub seed: u64,
    pub latency: LatencyModel,
    /// Answer length when the request gives no `max_tokens`.
    pub default_output_tokens: u32,
    /// Hard cap on any answer's length.
    pub max_output_tokens: u32,
    /// Force an encoding for prompt counting; by default it follows the request's model.
    pub encoding: Option<Encoding>,
    /// Tokens a chat template adds to each message beyond OpenAI's chat recipe (Llama's
    /// and Mistral's headers, Claude's turns): counted as prompt, as such a server does.
    pub template_tokens_per_message: u32,
    /// Faults to act out, timed from the clock's start (see `MockHandle::start_clock`).
    pub faults: faults::FaultSchedule,
    /// A token bucket per minute, as Azure OpenAI's deployment quotas work.
    pub rate_limit: Option<RateLimit>,
    /// The chance that an answer ends on its own (`stop`, Anthropic's `end_turn`) when
    /// it reaches the `max_tokens` the request asked for; otherwise it is cut there
    /// (`length`, `max_tokens`). An answer to a request without `max_tokens` always
    /// ends on its own.
    pub stop_probability: f64,
    /// `Reasoning` refuses `max_tokens` on OpenAI's wire, as OpenAI's reasoning models do.
    pub model_family: ModelFamily,
    /// A reasoning phase before each answer.
    pub reasoning: Option<Reasoning>,
    /// The chance it calls an offered tool when the request does not say, in the
    /// `x-llm-drill-tool-rounds-left` header, how many rounds remain.
    pub tool_call_probability: f64,
    /// Regions it says answers came from, with their shares, in the provider's own
    /// header (Azure's `x-ms-region`); none: no header.
    pub served_regions: Vec<(String, f64)>,
    /// The keys it accepts, each in its window of the run; none: any (or no) key.
    pub auth_keys: Vec<AuthKey>,
    /// Serve `POST /oauth2/token` with tokens of this lifetime, and accept only those.
    pub oauth2_token_lifetime: Option<Duration>,
    /// Slots, a queue and a shared decode throughput, as a continuous-batching server
    /// has; none: every request is answered at once, however many.
    pub capacity: Option<CapacityModel>,
    /// The listen backlog asked for (the kernel caps it at `net.core.somaxconn`).
    pub backlog: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModelFamily {
    #[default]
    Chat,
    Reasoning,
}

/// How the mock reasons before it answers: `tokens` of reasoning at `tokens_per_second`
/// (0: the answer's own speed), billed as completion tokens and shown in a stream as
/// `visible` says — on the wire that has that form (OpenAI's for `reasoning_content`,
/// Anthropic's for its `thinking` blocks), hidden elsewhere.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reasoning {
    /// Reasoning tokens per answer (at medium effort).
    pub tokens: Sampler,
    pub visible: ReasoningVisibility,
    pub tokens_per_second: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReasoningVisibility {
    Hidden,
    ReasoningContent,
    AnthropicThinking,
}

/// Requests and tokens per minute. Tokens are counted at admission as the prompt plus
/// the answer's `max_tokens`, as Azure OpenAI does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            seed: 0,
            latency: LatencyModel {
                ttft: Spread::Normal {
                    mean: Duration::from_millis(300),
                    stddev: Duration::from_millis(50),
                    min: Duration::ZERO,
                    max: Duration::MAX,
                },
                tokens_per_second: 60.0,
                jitter: 0.1,
                prefill_tokens_per_second: 0.0,
            },
            default_output_tokens: 128,
            max_output_tokens: 32_768,
            encoding: None,
            faults: faults::FaultSchedule::default(),
            rate_limit: None,
            stop_probability: 1.0,
            model_family: ModelFamily::Chat,
            reasoning: None,
            tool_call_probability: 0.5,
            served_regions: Vec::new(),
            template_tokens_per_message: 0,
            auth_keys: Vec::new(),
            oauth2_token_lifetime: None,
            capacity: None,
            backlog: listen::DEFAULT_BACKLOG,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    pub(crate) stats: Stats,
    pub(crate) clock: gate::Clock,
    pub(crate) limiter: Option<limiter::Limiter>,
    pub(crate) capacity: Option<capacity::Capacity>,
    /// The one timer every stream's tokens wait on.
    pub(crate) ticker: Arc<ticker::Ticker>,
    /// Tokens its OAuth endpoint issued, and when each expires.
    pub(crate) tokens: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// A view of a running mock's counters, valid for as long as the caller keeps it.
#[derive(Clone)]
pub struct StatsHandle(Arc<Shared>);

impl StatsHandle {
    pub fn snapshot(&self) -> StatsSnapshot {
        self.0.stats.snapshot()
    }
    /// Times the fault schedule from `at` (by default, from when the mock started).
    pub fn start_clock(&self, at: std::time::Instant) {
        self.0.clock.start_at(at);
    }
}

/// The router: `POST /v1/chat/completions` (OpenAI),
/// `POST /openai/deployments/{deployment}/chat/completions` (Azure OpenAI), `POST
/// /v1/messages` (Anthropic), `POST /model/{model}/converse` and `/converse-stream`
/// (AWS Bedrock), `POST /v1/projects/…/models/{model}:generateContent` (Vertex AI) and
/// `POST /v1beta/models/{model}:generateContent` (the Gemini API), `GET /stats`, `GET
/// /health`.
pub fn router(config: MockConfig) -> (Router, StatsHandle) {
    let shared = Arc::new(Shared {
        limiter: config.rate_limit.map(limiter::Limiter::new),
        capacity: config
            .capacity
            .map(|m| capacity::Capacity::new(m, config.latency.tokens_per_second)),
        tokens: Default::default(),
        ticker: ticker::Ticker::new(),
        stats: Stats::with_regions(&config.served_regions, config.backlog),
        config,
        clock: gate::Clock::new(),
    });
    let chat = Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/chat/completions", post(openai::chat_completions))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(openai::azure_chat_completions),
        )
        .route("/v1/messages", post(anthropic::messages))
        .route("/model/{model}/converse", post(bedrock::converse))
        .route(
            "/model/{model}/converse-stream",
            post(bedrock::converse_stream),
        )
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{action}",
            post(gemini::vertex),
        )
        .route("/v1beta/models/{action}", post(gemini::gemini))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            count_version,
        ));
    let router = Router::new()
        .merge(chat)
        .route("/stats", get(stats_handler))
        .route("/health", get(|| async { "ok" }))
        .route("/oauth2/token", post(auth::token))
        .fallback(not_found)
        .with_state(shared.clone());
    (router, StatsHandle(shared))
}

/// Counts a chat request by the HTTP it came in.
async fn count_version(
    State(shared): State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    shared
        .stats
        .http_version(req.version() == axum::http::Version::HTTP_2);
    next.run(req).await
}

async fn stats_handler(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats.snapshot()).into_response()
}

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    chat::error(
        &shared.stats,
        &openai::OpenAi,
        StatusCode::NOT_FOUND,
        chat::Failure::NotFound,
        "Unknown request URL",
    )
}

/// A mock server running on a background task; dropping the handle shuts it down.
pub struct MockHandle {
    addr: SocketAddr,
    https: bool,
    stats: StatsHandle,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The mock's own runtime, when it runs on its own thread (`spawn_dedicated`).
    runtime: Option<tokio::runtime::Runtime>,
}

impl MockHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT` (`https://` over TLS), the base URL a client uses.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
    /// Times the fault schedule from `at`: a run calls it with its own start, so that
    /// `from: 20s` means 20 s into the run.
    pub fn start_clock(&self, at: std::time::Instant) {
        self.stats.start_clock(at);
    }
    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Dropping a runtime may block, which an async context forbids.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts the mock on `addr` (use port 0 for any free port) on the current runtime. It
/// speaks HTTP/1.1 and h2c (prior knowledge).
pub async fn spawn_on(addr: SocketAddr, config: MockConfig) -> std::io::Result<MockHandle> {
    spawn_with(addr, config, None).await
}

/// Starts the mock on `addr`, over TLS with `identity` when given (h2 or HTTP/1.1, as
/// the client's ALPN asks), else in plain text.
pub async fn spawn_with(
    addr: SocketAddr,
    config: MockConfig,
    identity: Option<TlsIdentity>,
) -> std::io::Result<MockHandle> {
    let tls = match &identity {
        Some(i) => Some(i.server_config().map_err(std::io::Error::other)?),
        None => None,
    };
    let listener = listen::bind(addr, config.backlog)?;
    let addr = listener.local_addr()?;
    // Loading a tokenizer takes a tenth of a second: done before the first request, not
    // inside its time to first token.
    let encodings = match config.encoding {
        Some(e) => vec![e],
        None => vec![Encoding::Cl100kBase, Encoding::O200kBase],
    };
    let _ = tokio::task::spawn_blocking(move || {
        for e in encodings {
            count::warm_up(e);
        }
    })
    .await;
    let (router, stats) = router(config);
    // Refuse-mode outages close connections at the socket, before HTTP (and TLS).
    let listener = gate::GatedListener::new(listener, stats.0.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let stop = async move {
        let _ = rx.await;
    };
    let https = tls.is_some();
    let task = match tls {
        None => tokio::spawn(serve::serve(listener, router, stop)),
        Some(config) => tokio::spawn(serve::serve(
            tls::TlsListener::new(listener, config),
            router,
            stop,
        )),
    };
    Ok(MockHandle {
        addr,
        https,
        stats,
        shutdown: Some(tx),
        task: Some(task),
        runtime: None,
    })
}

/// Starts the mock on 127.0.0.1 and a free port, on a runtime of its own with one worker
/// thread: serving it (counting a 30k-token prompt, writing thousands of tokens) never
/// delays the tasks of the runtime that calls it, so a run's schedule is its own. Tests
/// that pause tokio's clock use `spawn`, on their own runtime.
pub async fn spawn_dedicated(config: MockConfig) -> std::io::Result<MockHandle> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("llm-drill-mock")
        .enable_all()
        .build()?;
    let mut handle = runtime
        .spawn(spawn(config))
        .await
        .map_err(std::io::Error::other)??;
    handle.runtime = Some(runtime);
    Ok(handle)
}

/// Starts the mock on 127.0.0.1 and a free port.
pub async fn spawn(config: MockConfig) -> std::io::Result<MockHandle> {
    spawn_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
}
