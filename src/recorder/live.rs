//! Live metrics for Prometheus (`--metrics-listen`): what the run has done so far, fed
//! by the recorder with each finished call and encoded in the OpenMetrics text format
//! (which Prometheus scrapes) by the Prometheus project's `prometheus-client`.
//!
//! Every series carries the scenario's name and the shard (`0/1` when unsplit). The
//! series of every outcome, endpoint and feature exist from the start, at 0, so that
//! rates and sums never miss a series that appears late. Histograms (seconds, of
//! successful calls):
//! - latency and TTFT: 5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5, 5, 10, 30, 60, 120,
//!   300 s;
//! - ITL: 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5 s.

use super::CallSample;
use crate::outcome::Outcome;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::borrow::Cow;
use std::sync::atomic::AtomicU64;

pub const LATENCY_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
pub const ITL_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    outcome: String,
    endpoint: String,
    feature: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    outcome: String,
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Scope {
    endpoint: String,
    feature: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeatureLabels {
    feature: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    direction: String,
    endpoint: String,
}

type Money = Counter<f64, AtomicU64>;

/// One endpoint and feature's handles, made once: a call finds its series by index.
struct Cell {
    latency: Histogram,
    ttft: Histogram,
}

pub struct Live {
    registry: Registry,
    n_features: usize,
    /// [outcome][endpoint][feature]
    calls: Vec<Counter>,
    /// [outcome][endpoint]
    attempts: Vec<Counter>,
    retries: Vec<Counter>,
    fallbacks: Vec<Counter>,
    residency: Vec<Counter>,
    tokens_in: Vec<Counter>,
    tokens_out: Vec<Counter>,
    cost: Vec<Money>,
    /// [endpoint][feature]
    cells: Vec<Cell>,
    itl: Vec<Histogram>,
    pub in_flight: Gauge,
    pub target_rps: Gauge<f64, AtomicU64>,
    pub achieved_rps: Gauge<f64, AtomicU64>,
}

impl Live {
    pub fn new(scenario: &str, shard: &str, endpoints: &[String], features: &[String]) -> Live {
        let mut registry = Registry::with_prefix_and_labels(
            "llm_drill",
            [
                (Cow::Borrowed("scenario"), Cow::Owned(scenario.to_string())),
                (Cow::Borrowed("shard"), Cow::Owned(shard.to_string())),
            ]
            .into_iter(),
        );
        let calls = Family::<CallLabels, Counter>::default();
        let attempts = Family::<AttemptLabels, Counter>::default();
        let retries = Family::<EndpointLabels, Counter>::default();
        let fallbacks = Family::<FeatureLabels, Counter>::default();
        let residency = Family::<EndpointLabels, Counter>::default();
        let tokens = Family::<TokenLabels, Counter>::default();
        let cost = Family::<EndpointLabels, Money>::default();
        let latency = Family::<Scope, Histogram>::new_with_constructor(
            (|| Histogram::new(LATENCY_BUCKETS)) as fn() -> Histogram,
        );
        let ttft = Family::<Scope, Histogram>::new_with_constructor(
            (|| Histogram::new(LATENCY_BUCKETS)) as fn() -> Histogram,
        );
        let itl = Family::<EndpointLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(ITL_BUCKETS)) as fn() -> Histogram,
        );
        let in_flight = Gauge::default();
        let target_rps = Gauge::<f64, AtomicU64>::default();
        let achieved_rps = Gauge::<f64, AtomicU64>::default();
        let scope = |e: &String, f: &str| Scope {
            endpoint: e.clone(),
            feature: f.to_string(),
        };
        let mut live_calls = Vec::new();
        let mut live_attempts = Vec::new();
        for o in Outcome::ALL {
            for e in endpoints {
                for f in features {
                    live_calls.push(
                        calls
                            .get_or_create(&CallLabels {
                                outcome: o.key().into(),
                                endpoint: e.clone(),
                                feature: f.clone(),
                            })
                            .clone(),
                    );
                }
                live_attempts.push(
                    attempts
                        .get_or_create(&AttemptLabels {
                            outcome: o.key().into(),
                            endpoint: e.clone(),
                        })
                        .clone(),
                );
            }
        }
        let endpoint = |e: &String| EndpointLabels {
            endpoint: e.clone(),
        };
        let per_endpoint = |fam: &Family<EndpointLabels, Counter>| -> Vec<Counter> {
            endpoints
                .iter()
                .map(|e| fam.get_or_create(&endpoint(e)).clone())
                .collect()
        };
        let token = |direction: &str| -> Vec<Counter> {
            endpoints
                .iter()
                .map(|e| {
                    tokens
                        .get_or_create(&TokenLabels {
                            direction: direction.into(),
                            endpoint: e.clone(),
                        })
                        .clone()
                })
                .collect()
        };
        let live = Live {
            n_features: features.len(),
            calls: live_calls,
            attempts: live_attempts,
            retries: per_endpoint(&retries),
            fallbacks: features
                .iter()
                .map(|f| {
                    fallbacks
                        .get_or_create(&FeatureLabels { feature: f.clone() })
                        .clone()
                })
                .collect(),
            residency: per_endpoint(&residency),
            tokens_in: token("input"),
            tokens_out: token("output"),
            cost: endpoints
                .iter()
                .map(|e| cost.get_or_create(&endpoint(e)).clone())
                .collect(),
            cells: endpoints
                .iter()
                .flat_map(|e| features.iter().map(move |f| (e, f)))
                .map(|(e, f)| Cell {
                    latency: latency.get_or_create(&scope(e, f)).clone(),
                    ttft: ttft.get_or_create(&scope(e, f)).clone(),
                })
                .collect(),
            itl: endpoints
                .iter()
                .map(|e| itl.get_or_create(&endpoint(e)).clone())
                .collect(),
            in_flight: in_flight.clone(),
            target_rps: target_rps.clone(),
            achieved_rps: achieved_rps.clone(),
            registry: Registry::default(),
        };
        registry.register(
            "calls",
            "Calls finished, by outcome, the endpoint that ended them and feature",
            calls,
        );
        registry.register("attempts", "Attempts, by outcome and endpoint", attempts);
        registry.register("retries", "Attempts after a call's first on the same endpoint, by the endpoint that served the call", retries);
        registry.register(
            "fallbacks",
            "Moves of a call to a fallback endpoint, by feature",
            fallbacks,
        );
        registry.register(
            "residency_violations",
            "Calls served outside their feature's residency, by endpoint",
            residency,
        );
        registry.register(
            "tokens",
            "Tokens, input (prompt) and output (reasoning included), by endpoint",
            tokens,
        );
        registry.register_with_unit(
            "cost",
            "Cost of the attempts so far, by endpoint",
            Unit::Other("usd".into()),
            cost,
        );
        registry.register_with_unit(
            "latency",
            "Latency of successful calls from their intended start",
            Unit::Seconds,
            latency,
        );
        registry.register_with_unit(
            "ttft",
            "Time to first token of successful streamed calls",
            Unit::Seconds,
            ttft,
        );
        registry.register_with_unit(
            "itl",
            "Gaps between tokens of successful streamed calls",
            Unit::Seconds,
            itl,
        );
        registry.register("in_flight", "Calls started and not yet finished", in_flight);
        registry.register(
            "target_rps",
            "Calls per second the schedule asks for (open mode)",
            target_rps,
        );
        registry.register(
            "achieved_rps",
            "Calls started per second so far",
            achieved_rps,
        );
        Live { registry, ..live }
    }

    /// Counts a finished call.
    pub fn observe(&self, s: &CallSample) {
        let (ne, nf) = (self.itl.len(), self.n_features);
        let (e, f) = (
            s.endpoint.min(ne.saturating_sub(1)),
            s.feature.min(nf.saturating_sub(1)),
        );
        if ne == 0 || nf == 0 {
            return;
        }
        self.calls[(s.outcome.index() * ne + e) * nf + f].inc();
        for t in &s.tried {
            if t.endpoint < ne {
                self.attempts[t.outcome.index() * ne + t.endpoint].inc();
                self.cost[t.endpoint].inc_by(t.cost_usd);
            }
        }
        self.retries[e].inc_by((s.attempts as u64).saturating_sub(1 + s.fallbacks as u64));
        self.fallbacks[f].inc_by(s.fallbacks as u64);
        self.residency[e].inc_by(s.residency_violation as u64);
        self.tokens_in[e].inc_by(s.input_tokens);
        self.tokens_out[e].inc_by(s.output_tokens);
        if s.outcome == Outcome::Ok {
            let cell = &self.cells[e * nf + f];
            cell.latency
                .observe(s.end.saturating_duration_since(s.intended).as_secs_f64());
            if let Some(ft) = s.first_token {
                cell.ttft
                    .observe(ft.saturating_duration_since(s.intended).as_secs_f64());
            }
            for gap in &s.itl_us {
                self.itl[e].observe(*gap as f64 / 1e6);
            }
        }
    }

    /// The exposition, OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The exposition's content type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
