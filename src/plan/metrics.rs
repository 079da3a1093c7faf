//! The one catalogue of metrics a user can name: in thresholds (`latency.p99 < 8s`), in
//! `regression.per_metric`, and in the baseline comparison. Each metric's name, unit,
//! the scopes it is reported in, and — for the ones compared with a baseline — the
//! absolute floor below which a change is noise.
//!
//! Names and units only; `report::measure` reads a metric's value from a summary.

/// A latency-like histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Histo {
    Latency,
    Ttft,
    /// To the first visible token (reasoning models).
    Ttfvt,
    Itl,
    ScheduleLag,
    ServiceTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Milliseconds.
    Percentile(Histo, Stat),
    /// Fractions from 0 to 1.
    Rate429,
    ErrorRate,
    FallbackRate,
    ResidencyViolations,
    AchievedRps,
    /// Calls a second within every `goodput` limit.
    Goodput,
    /// The sustainable load over production's peak (`llm-drill capacity` only).
    Headroom,
    /// USD.
    CostPerCall,
    CostPerSession,
    CostProjectedDaily,
}

/// What a metric's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Fraction,
    Count,
    PerSecond,
    Usd,
}

/// Where a metric is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    Run,
    Endpoint,
    Feature,
    SideBySide,
}

const HISTOS: [(Histo, &str); 6] = [
    (Histo::Latency, "latency"),
    (Histo::Ttft, "ttft"),
    (Histo::Ttfvt, "ttfvt"),
    (Histo::Itl, "itl"),
    (Histo::ScheduleLag, "schedule_lag"),
    (Histo::ServiceTime, "service_time"),
];

const STATS: [(Stat, &str); 7] = [
    (Stat::P50, "p50"),
    (Stat::P90, "p90"),
    (Stat::P95, "p95"),
    (Stat::P99, "p99"),
    (Stat::P999, "p999"),
    (Stat::Max, "max"),
    (Stat::Mean, "mean"),
];

const PLAIN: [(Metric, &str); 10] = [
    (Metric::Rate429, "rate_429"),
    (Metric::ErrorRate, "error_rate"),
    (Metric::FallbackRate, "fallback_rate"),
    (Metric::ResidencyViolations, "residency_violations"),
    (Metric::AchievedRps, "achieved_rps"),
    (Metric::Goodput, "goodput"),
    (Metric::Headroom, "headroom"),
    (Metric::CostPerCall, "cost.per_call"),
    (Metric::CostPerSession, "cost.per_session"),
    (Metric::CostProjectedDaily, "cost.projected_daily"),
];

/// The metrics compared with a baseline, in the order they are reported; lower is
/// better for all of them.
pub const COMPARED: [Metric; 12] = [
    Metric::Percentile(Histo::Latency, Stat::P50),
    Metric::Percentile(Histo::Latency, Stat::P95),
    Metric::Percentile(Histo::Latency, Stat::P99),
    Metric::Percentile(Histo::Ttft, Stat::P50),
    Metric::Percentile(Histo::Ttft, Stat::P95),
    Metric::Percentile(Histo::Ttft, Stat::P99),
    Metric::Percentile(Histo::Itl, Stat::P50),
    Metric::Percentile(Histo::Itl, Stat::P95),
    Metric::Percentile(Histo::Itl, Stat::P99),
    Metric::ErrorRate,
    Metric::Rate429,
    Metric::CostPerCall,
];

impl Metric {
    /// As users write it: `latency.p99`, `rate_429`, `cost.per_call`.
    pub fn name(self) -> String {
        match self {
            Metric::Percentile(h, s) => {
                let h = HISTOS.iter().find(|(x, _)| *x == h).map_or("", |x| x.1);
                let s = STATS.iter().find(|(x, _)| *x == s).map_or("", |x| x.1);
                format!("{h}.{s}")
            }
            m => PLAIN
                .iter()
                .find(|(x, _)| *x == m)
                .map_or(String::new(), |x| x.1.to_string()),
        }
    }

    pub fn parse(name: &str) -> Result<Metric, String> {
        if let Some((m, _)) = PLAIN.iter().find(|(_, n)| *n == name) {
            return Ok(*m);
        }
        let unknown = || {
            let histos: Vec<&str> = HISTOS.iter().map(|h| h.1).collect();
            let stats: Vec<&str> = STATS.iter().map(|s| s.1).collect();
            let plain: Vec<&str> = PLAIN.iter().map(|p| p.1).collect();
            format!(
                "unknown metric `{name}` (known: {}.{}, {})",
                histos.join("|"),
                stats.join("|"),
                plain.join(", ")
            )
        };
        let (h, s) = name.split_once('.').ok_or_else(unknown)?;
        let h = HISTOS.iter().find(|(_, n)| *n == h).ok_or_else(unknown)?.0;
        let s = STATS.iter().find(|(_, n)| *n == s).ok_or_else(|| {
            let stats: Vec<&str> = STATS.iter().map(|s| s.1).collect();
            format!("unknown statistic `{s}` (known: {})", stats.join(", "))
        })?;
        Ok(Metric::Percentile(h, s.0))
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::Percentile(..) => Unit::Ms,
            Metric::Rate429 | Metric::ErrorRate | Metric::FallbackRate => Unit::Fraction,
            Metric::ResidencyViolations | Metric::Headroom => Unit::Count,
            Metric::AchievedRps | Metric::Goodput => Unit::PerSecond,
            Metric::CostPerCall | Metric::CostPerSession | Metric::CostProjectedDaily => Unit::Usd,
        }
    }

    /// Whether the summary reports it in this scope.
    pub fn reported_in(self, scope: ScopeKind) -> bool {
        match scope {
            ScopeKind::Run => true,
            _ if self == Metric::Headroom => false,
            ScopeKind::SideBySide => matches!(
                self,
                Metric::Percentile(
                    Histo::Latency | Histo::Ttft | Histo::Itl,
                    Stat::P50 | Stat::P95 | Stat::P99
                ) | Metric::CostPerCall
                    | Metric::ErrorRate
                    | Metric::Rate429
            ),
            ScopeKind::Endpoint => matches!(
                self,
                Metric::Percentile(
                    Histo::Latency | Histo::Ttft | Histo::Itl | Histo::ServiceTime,
                    _
                ) | Metric::Rate429
                    | Metric::ErrorRate
                    | Metric::ResidencyViolations
                    | Metric::CostPerCall
            ),
            ScopeKind::Feature => matches!(
                self,
                Metric::Percentile(Histo::Latency | Histo::Ttft | Histo::Ttfvt, _)
                    | Metric::ErrorRate
                    | Metric::FallbackRate
                    | Metric::ResidencyViolations
                    | Metric::CostPerCall
                    | Metric::CostPerSession
                    | Metric::Goodput
            ),
        }
    }

    /// Measured by a capacity search, not by a single run: a run leaves its thresholds
    /// to `llm-drill capacity`.
    pub fn capacity_only(self) -> bool {
        self == Metric::Headroom
    }

    /// The smallest worsening that can count as a regression, in the metric's unit.
    pub fn regression_floor(self) -> f64 {
        match self.unit() {
            Unit::Ms => 2.0,
            Unit::Fraction => 0.005,
            Unit::Usd => 0.0001,
            Unit::Count | Unit::PerSecond => 0.0,
        }
    }

    /// A limit written for this metric, in its unit: durations in ms (`8s`, `1500ms`, or
    /// a bare number of ms), fractions (`1%` or `0.01`), money in USD (`$0.10` or `0.10`).
    pub fn value(self, v: &str) -> Result<f64, String> {
        let bad = || format!("cannot read `{v}` as a value for this metric");
        let number = |s: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(bad)
        };
        match self.unit() {
            Unit::Ms => {
                if v.chars().last().is_some_and(|c| c.is_ascii_alphabetic()) {
                    let d = crate::scenario::parse_duration(v)?;
                    Ok(d.as_secs_f64() * 1000.0)
                } else {
                    number(v)
                }
            }
            Unit::Fraction => match v.strip_suffix('%') {
                Some(p) => Ok(number(p)? / 100.0),
                None => number(v),
            },
            Unit::Usd => number(v.strip_prefix('$').unwrap_or(v)),
            Unit::PerSecond => number(v.strip_suffix("/s").unwrap_or(v)),
            Unit::Count => number(v.strip_suffix('x').unwrap_or(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_metric() {
        for m in COMPARED
            .iter()
            .copied()
            .chain(PLAIN.iter().map(|p| p.0))
            .chain(
                HISTOS
                    .iter()
                    .flat_map(|h| STATS.iter().map(move |s| Metric::Percentile(h.0, s.0))),
            )
        {
            assert_eq!(Metric::parse(&m.name()), Ok(m), "{}", m.name());
        }
        assert_eq!(
            Metric::parse("latency.p99"),
            Ok(Metric::Percentile(Histo::Latency, Stat::P99))
        );
        assert!(Metric::parse("latencyy.p99")
            .unwrap_err()
            .contains("unknown metric"));
        assert!(Metric::parse("latency.p98")
            .unwrap_err()
            .contains("statistic"));
    }

    #[test]
    fn units_read_their_forms() {
        let p99 = Metric::Percentile(Histo::Latency, Stat::P99);
        assert_eq!(p99.value("8s"), Ok(8000.0));
        assert_eq!(p99.value("250"), Ok(250.0));
        assert_eq!(Metric::Rate429.value("1%"), Ok(0.01));
        assert_eq!(Metric::CostPerCall.value("$0.10"), Ok(0.10));
        assert!(p99.value("eight").is_err());
        assert_eq!(p99.regression_floor(), 2.0);
        assert_eq!(Metric::Rate429.regression_floor(), 0.005);
    }
}
