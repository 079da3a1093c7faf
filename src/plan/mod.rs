//! `Plan::from_scenario`: every check and default applied once, into typed, immutable
//! data the engine runs without re-checking anything — prices (`price_ref` against the
//! shipped and `--prices` tables) included.
//!
//! Errors are `ScenarioError`s located at the offending key. Nothing here does I/O or
//! reads the environment: the caller loads the price table, and credentials are resolved
//! when the run starts. Each section has its builder in a file of its own.

pub mod arrivals;
pub mod auth;
pub mod capacity;
mod check;
pub mod cost;
pub mod endpoint;
mod faults;
pub mod feature;
pub mod goodput;
pub mod load;
pub mod metrics;
mod mock;
pub mod pem;
pub mod pilot;
pub mod preflight;
pub mod prices;
pub mod provider;
pub mod proxy;
pub mod regions;
pub mod regression;
pub mod replay;
pub mod retry;
mod sampler;
pub mod shard;
mod side;
pub mod thresholds;
pub mod tls;

/// The quantile keys a distribution may give (`{p10, ..., p99}`), for what writes one.
pub use crate::scenario::value::QUANTILE_KEYS;
pub use arrivals::{Arrival, ArrivalSchedule, Stage};
pub use auth::{Auth, CredentialRef, MockKey, OAuth2Plan};
pub use cost::CostPlan;
pub use endpoint::{
    Calibration, Capabilities, Capability, EndpointPlan, FallbackPolicy, Fit, HttpVersion, Target,
    DEFAULT_TIMEOUT,
};
pub use feature::{ContextPlan, FeaturePlan, SessionPlan, DEFAULT_OUTPUT_TOKENS};
pub use goodput::GoodputPlan;
pub use load::{LoadPlan, DEFAULT_MAX_IN_FLIGHT};
pub use prices::{Price, PriceTable};
pub use provider::{AuthKind, Provider, DEFAULT_AZURE_API_VERSION};
pub use regression::Policy;
pub use retry::{BreakerPlan, RetryPlan};
pub use sampler::Sampler;
pub use shard::Shard;
pub use side::SideBySidePlan;
pub use tls::{Roots, TlsPlan};

use crate::scenario::{Scenario, ScenarioError, Source};
use check::Checker;
use std::time::Duration;

pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
const MAX_RUN: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub seed: u64,
    pub endpoints: Vec<EndpointPlan>,
    pub features: Vec<FeaturePlan>,
    pub load: LoadPlan,
    /// New calls start only within this window.
    pub duration: Duration,
    /// After the window, how long running calls may take to finish before they are cut.
    pub graceful_stop: Duration,
    pub cost: CostPlan,
    pub thresholds: Vec<thresholds::Threshold>,
    pub regression: Policy,
    /// Per-call limits for goodput; `None`: goodput is not measured.
    pub goodput: Option<GoodputPlan>,
    /// How `llm-drill capacity` searches this scenario's load (defaults without a
    /// `capacity:` block).
    pub capacity: capacity::CapacityPlan,
    /// The pilot's assumptions, each a go / no-go on every run.
    pub pilot: Option<pilot::PilotPlan>,
    /// The same traffic to several endpoints, compared.
    pub side_by_side: Option<SideBySidePlan>,
    /// The part of the run this process drives (`--shard`); the whole run by default.
    pub shard: Shard,
}

impl Plan {
    /// Puts a replay's calls, read from its log, into the plan: the run lasts the log's
    /// span over `speed` (or `duration`, when that cuts it shorter).
    pub fn set_trace(&mut self, trace: replay::Trace) {
        if let LoadPlan::Replay { replay, .. } = &mut self.load {
            self.duration = replay
                .limit
                .unwrap_or(trace.span)
                .max(Duration::from_millis(1));
            replay.calls = std::sync::Arc::new(trace);
        }
    }

    /// Builds the plan, resolving `price_ref` against the built-in price table.
    pub fn from_scenario(sc: &Scenario, source: &Source) -> Result<Plan, ScenarioError> {
        Plan::with_prices(sc, source, &PriceTable::builtin())
    }

    /// Builds the plan; `prices` resolves `price_ref` (the built-in table, or it with a
    /// user's file over it).
    pub fn with_prices(
        sc: &Scenario,
        source: &Source,
        prices: &PriceTable,
    ) -> Result<Plan, ScenarioError> {
        let c = Checker { source };
        c.identifier(
            "name",
            &sc.name,
            "-_.",
            "the name (it names the results folder)",
        )?;
        if sc.endpoints.is_empty() {
            return Err(c.err("endpoints", "at least one endpoint is needed"));
        }
        if sc.features.is_empty() {
            return Err(c.err("features", "at least one feature is needed"));
        }
        let mut endpoints = sc
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, (id, e))| {
                endpoint::endpoint(
                    &c,
                    sc.seed.wrapping_add(i as u64),
                    id,
                    e,
                    sc.retry.as_ref(),
                    prices,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        endpoint::fallbacks(&c, sc, &mut endpoints)?;
        faults::faults(&c, sc, &mut endpoints)?;
        let replay = sc.load.mode == Some(crate::scenario::model::LoadMode::Replay);
        let features = sc
            .features
            .iter()
            .map(|(name, f)| feature::feature(&c, &endpoints, name, f, replay))
            .collect::<Result<Vec<_>, _>>()?;
        let (load, duration) = load::load(&c, sc)?;
        let graceful_stop = sc.graceful_stop.map_or(DEFAULT_GRACEFUL_STOP, |d| d.0);
        if graceful_stop > MAX_RUN {
            return Err(c.err("graceful_stop", "is longer than 7 days"));
        }
        let cost = cost::cost_plan(&c, sc, &features)?;
        let ids: Vec<&str> = endpoints.iter().map(|e| e.id.as_str()).collect();
        let names: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
        let thresholds = sc
            .thresholds
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, expr)| {
                thresholds::parse(expr, &ids, &names)
                    .map_err(|m| c.err(&format!("thresholds.{i}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let regression = regression::policy(&c, sc)?;
        let goodput = goodput::goodput(&c, sc.goodput.as_ref())?;
        if let (Some(i), None) = (
            thresholds
                .iter()
                .position(|t| t.metric == metrics::Metric::Goodput),
            goodput,
        ) {
            return Err(c.err(
                &format!("thresholds.{i}"),
                "goodput is measured against per-call limits: add `goodput: { latency: 8s, ttft: 1500ms, itl: 100ms }` (any of them)",
            ));
        }
        let capacity = capacity::capacity(
            &c,
            sc,
            &load,
            features.iter().any(|f| f.session.multi_turn()),
            cost.daily_calls,
        )?;
        let pilot = pilot::pilot(&c, sc.pilot.as_ref())?;
        let side_by_side =
            side::side_by_side(&c, sc.side_by_side.as_ref(), &endpoints, &features, &load)?;
        for (i, t) in thresholds.iter().enumerate() {
            if let thresholds::Scope::SideBySide(id) = &t.scope {
                let compared = side_by_side
                    .as_ref()
                    .is_some_and(|s| s.endpoints[1..].iter().any(|e| endpoints[*e].id == *id));
                if !compared {
                    return Err(c.err(
                        &format!("thresholds.{i}"),
                        format!("`side_by_side:{id}` compares `{id}` with the first of side_by_side.endpoints: list it there, after the first"),
                    ));
                }
            }
        }
        Ok(Plan {
            side_by_side,
            pilot,
            capacity,
            goodput,
            cost,
            thresholds,
            regression,
            name: sc.name.clone(),
            seed: sc.seed,
            endpoints,
            features,
            load,
            duration,
            graceful_stop,
            shard: Shard::WHOLE,
        })
    }

    /// Arrivals per second the schedule asks of this process (open mode only): a
    /// shard's share of the whole run's.
    pub fn target_rps(&self) -> Option<f64> {
        self.load
            .target_rps(self.duration)
            .map(|r| r / self.shard.count as f64)
    }

    /// Makes this the plan of `shard`: it drives that shard's arrivals and users, and
    /// its spend guard holds that shard's part of `max_spend_usd` and `max_calls`.
    pub fn into_shard(mut self, shard: Shard) -> Plan {
        self.shard = shard;
        self.cost.max_spend_usd = self.cost.max_spend_usd.map(|usd| shard.part_usd(usd));
        self.cost.max_calls = self.cost.max_calls.map(|n| shard.part(n));
        self
    }
}
