//! A run's live `/metrics` endpoint (`--metrics-listen`): the recorder's Prometheus
//! registry, with the calls in flight and the achieved rate read from the engine at
//! each scrape, served by axum until the run's linger ends it.

use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The `/metrics` endpoint of a run, served until `linger` ends it.
pub struct MetricsServer {
    pub addr: std::net::SocketAddr,
    pub linger: Duration,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Serves `live` on `listener`: `GET /metrics`, with the calls in flight and the
    /// achieved rate read at each scrape.
    pub(super) fn start(
        listener: tokio::net::TcpListener,
        linger: Duration,
        live: Arc<crate::recorder::live::Live>,
        progress: Arc<crate::engine::Progress>,
        start: Instant,
    ) -> MetricsServer {
        use axum::http::header::CONTENT_TYPE;
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| ([127, 0, 0, 1], 0).into());
        let scrape = move || {
            let (live, progress) = (live.clone(), progress.clone());
            async move {
                live.in_flight.set(progress.in_flight() as i64);
                let secs = start.elapsed().as_secs_f64();
                if secs > 0.0 {
                    live.achieved_rps.set(progress.started() as f64 / secs);
                }
                (
                    [(CONTENT_TYPE, crate::recorder::live::CONTENT_TYPE)],
                    live.encode(),
                )
            }
        };
        let app = axum::Router::new().route("/metrics", axum::routing::get(scrape));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MetricsServer { addr, linger, task }
    }

    /// Keeps serving for `linger` (or until `stop`), then stops.
    pub async fn linger(self, stop: &CancellationToken) {
        tokio::select! {
            _ = tokio::time::sleep(self.linger) => {}
            _ = stop.cancelled() => {}
        }
        self.task.abort();
    }
}
