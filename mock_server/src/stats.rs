//! Ground-truth counters the mock keeps about what it actually served, exposed at
//! `GET /stats` so tests and users can check llm-drill's figures against the server's.
//!
//! Plain atomics: the mock's hot path never takes a lock.

use crate::lag::{LagRecorder, LagSummary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const STATUS_SLOTS: usize = 600;

#[derive(Debug)]
pub struct Stats {
    requests: AtomicU64,
    by_status: Vec<AtomicU64>,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    reasoning_tokens: AtomicU64,
    auth_refused: AtomicU64,
    auth_overlap: AtomicU64,
    tokens_issued: AtomicU64,
    streams_started: AtomicU64,
    streams_completed: AtomicU64,
    streams_aborted: AtomicU64,
    in_flight: AtomicU64,
    request_digest: AtomicU64,
    streams_cut: AtomicU64,
    refused: AtomicU64,
    refused_mid_request: AtomicU64,
    connections: AtomicU64,
    /// By fault kind (`FAULT_KINDS`), plus the rate limiter's refusals.
    faults: [AtomicU64; FAULT_KINDS.len()],
    /// Answers by the region they said served them (`mock.served_regions`).
    served_regions: Vec<(String, AtomicU64)>,
    /// Chat requests by the HTTP they came in: HTTP/1.x, h2.
    http_versions: [AtomicU64; 2],
    /// `openai-processing-ms` headers sent, and their values summed (microseconds).
    processing_reported: AtomicU64,
    processing_us: AtomicU64,
    /// How late it emitted against its latency model.
    pub(crate) lag: LagRecorder,
    /// The listen backlog the kernel granted, and the machine's listen-queue overflow
    /// count when the mock started (see `listen`).
    backlog: u32,
    overflows_at_start: Option<u64>,
}

/// Fault kinds counted in `faults`, as scenarios name them; `rate_limiter` is the
/// token bucket of `mock.rate_limit`, `capacity` the refusals of a full `mock.capacity`.
pub const FAULT_KINDS: [&str; 8] = [
    "rate_limit",
    "server_error",
    "outage",
    "latency",
    "stream_cut",
    "deprecated",
    "rate_limiter",
    "capacity",
];

/// A point-in-time copy of [`Stats`], the body of `GET /stats`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    /// Chat requests received (any status).
    pub requests: u64,
    /// Responses by HTTP status code (a whole answer is counted when it is ready, so a
    /// request whose client gave up first has none).
    pub by_status: BTreeMap<u16, u64>,
    /// Prompt tokens of every request answered 200, counted from the request text.
    pub prompt_tokens: u64,
    /// Visible completion tokens actually sent (for streams: chunks that left the server).
    pub completion_tokens: u64,
    /// Reasoning tokens of the answers that got past their reasoning (billed as
    /// completion tokens, shown or not).
    #[serde(default)]
    pub reasoning_tokens: u64,
    /// Requests refused for their key (401), with `mock.auth`.
    #[serde(default)]
    pub auth_refused: u64,
    /// Requests accepted with an old key only because its window overlaps the new
    /// one's: without the overlap, they would have been refused.
    #[serde(default)]
    pub auth_overlap: u64,
    /// Tokens its OAuth endpoint issued (`mock.oauth2`).
    #[serde(default)]
    pub tokens_issued: u64,
    pub streams_started: u64,
    /// Streams that reached `data: [DONE]`.
    pub streams_completed: u64,
    /// Streams the client dropped before the end.
    pub streams_aborted: u64,
    /// Requests being answered right now.
    pub in_flight: u64,
    /// Streams the mock stopped mid-answer on purpose (a `stream_cut` fault).
    #[serde(default)]
    pub streams_cut: u64,
    /// Connections closed without an answer during a `refuse` outage.
    #[serde(default)]
    pub refused: u64,
    /// Of those, the ones closed between a request and its answer: the request's bytes
    /// were read (so it is counted in `requests` once its body was whole), no byte of
    /// its answer left. The client got no answer, as from any refused connection.
    #[serde(default)]
    pub refused_mid_request: u64,
    /// TCP connections accepted (admin ones included): over h2 many requests share one.
    #[serde(default)]
    pub connections: u64,
    /// Requests each fault kind hit (and the rate limiter's 429s, as `rate_limiter`).
    #[serde(default)]
    pub faults: BTreeMap<String, u64>,
    /// A digest of every request body received, whatever their order (hex): two runs
    /// that sent byte-identical requests have the same digest.
    #[serde(default)]
    pub request_digest: String,
    /// Answers by the region the mock said served them (Azure's `x-ms-region`).
    #[serde(default)]
    pub served_regions: BTreeMap<String, u64>,
    /// Chat requests by the HTTP they came in (`http1`, `http2`).
    #[serde(default)]
    pub http_versions: BTreeMap<String, u64>,
    /// Answers that carried the mock's processing time (`openai-processing-ms`), and
    /// the values it sent, summed in milliseconds.
    #[serde(default)]
    pub processing_reported: u64,
    #[serde(default)]
    pub processing_ms_sum: f64,
    /// How late the mock emitted first tokens, later tokens and whole answers against
    /// its own latency model: above a few milliseconds, the mock (not the endpoint under
    /// test) shaped the timings.
    #[serde(default)]
    pub emit_lag_ms: LagSummary,
    /// The listen backlog the kernel granted (the one asked for, capped by
    /// `net.core.somaxconn`).
    #[serde(default)]
    pub backlog: u32,
    /// Connections the kernel dropped for a full listen queue since the mock started
    /// (Linux's TcpExt ListenOverflows: machine-wide, so other listeners count too);
    /// absent where the platform does not say.
    #[serde(default)]
    pub listen_overflows: Option<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            requests: AtomicU64::new(0),
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            prompt_tokens: AtomicU64::new(0),
            completion_tokens: AtomicU64::new(0),
            reasoning_tokens: AtomicU64::new(0),
            auth_refused: AtomicU64::new(0),
            auth_overlap: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
            streams_started: AtomicU64::new(0),
            streams_completed: AtomicU64::new(0),
            streams_aborted: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            request_digest: AtomicU64::new(0),
            streams_cut: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            refused_mid_request: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            faults: Default::default(),
            served_regions: Vec::new(),
            http_versions: Default::default(),
            processing_reported: AtomicU64::new(0),
            processing_us: AtomicU64::new(0),
            lag: LagRecorder::default(),
            backlog: 0,
            overflows_at_start: None,
        }
    }
}

impl Stats {
    /// Counters for the regions the mock says it serves from.
    pub(crate) fn with_regions(regions: &[(String, f64)], backlog: u32) -> Stats {
        Stats {
            served_regions: regions
                .iter()
                .map(|(r, _)| (r.clone(), AtomicU64::new(0)))
                .collect(),
            backlog: crate::listen::granted_backlog(backlog),
            overflows_at_start: crate::listen::listen_overflows(),
            ..Stats::default()
        }
    }
    pub(crate) fn served_from(&self, region: usize) {
        if let Some((_, n)) = self.served_regions.get(region) {
            n.fetch_add(1, Relaxed);
        }
    }
    /// An answer said it took `ms` (its `openai-processing-ms`).
    pub(crate) fn processing(&self, ms: f64) {
        self.processing_reported.fetch_add(1, Relaxed);
        self.processing_us
            .fetch_add((ms * 1000.0).round().max(0.0) as u64, Relaxed);
    }
    /// A chat request arrived over h2 (`true`) or HTTP/1.x.
    pub(crate) fn http_version(&self, h2: bool) {
        self.http_versions[h2 as usize].fetch_add(1, Relaxed);
    }
    pub(crate) fn request_received(&self) -> u64 {
        self.in_flight.fetch_add(1, Relaxed);
        self.requests.fetch_add(1, Relaxed)
    }
    /// Adds a request body to the digest: a sum of per-body hashes, so the order in
    /// which concurrent requests arrive does not change it.
    pub(crate) fn request_body(&self, body: &[u8]) {
        use std::hash::{DefaultHasher, Hasher};
        let mut h = DefaultHasher::new();
        h.write(body);
        self.request_digest.fetch_add(h.finish(), Relaxed);
    }
    pub(crate) fn fault(&self, kind: &str) {
        if let Some(i) = FAULT_KINDS.iter().position(|k| *k == kind) {
            self.faults[i].fetch_add(1, Relaxed);
        }
    }
    pub(crate) fn stream_cut(&self) {
        self.streams_cut.fetch_add(1, Relaxed);
    }
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Relaxed);
    }
    pub(crate) fn refused(&self, mid_request: bool) {
        self.refused.fetch_add(1, Relaxed);
        if mid_request {
            self.refused_mid_request.fetch_add(1, Relaxed);
        }
    }
    pub(crate) fn request_done(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }
    pub(crate) fn status(&self, code: u16) {
        if let Some(slot) = self.by_status.get(code as usize) {
            slot.fetch_add(1, Relaxed);
        }
    }
    pub(crate) fn prompt_tokens(&self, n: u64) {
        self.prompt_tokens.fetch_add(n, Relaxed);
    }
    pub(crate) fn completion_tokens(&self, n: u64) {
        self.completion_tokens.fetch_add(n, Relaxed);
    }
    pub(crate) fn reasoning_tokens(&self, n: u64) {
        self.reasoning_tokens.fetch_add(n, Relaxed);
    }
    /// A request's key: refused, or accepted only thanks to an overlap of key windows.
    pub(crate) fn auth(&self, accepted: bool, overlap: bool) {
        if !accepted {
            self.auth_refused.fetch_add(1, Relaxed);
        } else if overlap {
            self.auth_overlap.fetch_add(1, Relaxed);
        }
    }
    /// A token issued; returns its number.
    pub(crate) fn token_issued(&self) -> u64 {
        self.tokens_issued.fetch_add(1, Relaxed)
    }
    pub(crate) fn stream_started(&self) {
        self.streams_started.fetch_add(1, Relaxed);
    }
    pub(crate) fn stream_ended(&self, completed: bool) {
        let c = if completed {
            &self.streams_completed
        } else {
            &self.streams_aborted
        };
        c.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Relaxed),
            by_status: self
                .by_status
                .iter()
                .enumerate()
                .filter_map(|(code, n)| {
                    let n = n.load(Relaxed);
                    (n > 0).then_some((code as u16, n))
                })
                .collect(),
            prompt_tokens: self.prompt_tokens.load(Relaxed),
            completion_tokens: self.completion_tokens.load(Relaxed),
            reasoning_tokens: self.reasoning_tokens.load(Relaxed),
            auth_refused: self.auth_refused.load(Relaxed),
            auth_overlap: self.auth_overlap.load(Relaxed),
            tokens_issued: self.tokens_issued.load(Relaxed),
            streams_started: self.streams_started.load(Relaxed),
            streams_completed: self.streams_completed.load(Relaxed),
            streams_aborted: self.streams_aborted.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            request_digest: format!("{:016x}", self.request_digest.load(Relaxed)),
            streams_cut: self.streams_cut.load(Relaxed),
            refused: self.refused.load(Relaxed),
            refused_mid_request: self.refused_mid_request.load(Relaxed),
            connections: self.connections.load(Relaxed),
            served_regions: self
                .served_regions
                .iter()
                .filter_map(|(r, n)| {
                    let n = n.load(Relaxed);
                    (n > 0).then(|| (r.clone(), n))
                })
                .collect(),
            http_versions: nonzero(&["http1", "http2"], &self.http_versions),
            faults: nonzero(&FAULT_KINDS, &self.faults),
            processing_reported: self.processing_reported.load(Relaxed),
            processing_ms_sum: self.processing_us.load(Relaxed) as f64 / 1000.0,
            emit_lag_ms: self.lag.summary(),
            backlog: self.backlog,
            listen_overflows: self
                .overflows_at_start
                .and_then(|at| Some(crate::listen::listen_overflows()?.saturating_sub(at))),
        }
    }
}

/// The counters above zero, by name.
fn nonzero(names: &[&str], counts: &[AtomicU64]) -> BTreeMap<String, u64> {
    names
        .iter()
        .zip(counts)
        .filter_map(|(k, n)| {
            let n = n.load(Relaxed);
            (n > 0).then(|| (k.to_string(), n))
        })
        .collect()
}
