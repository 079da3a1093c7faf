//! Whether llm-drill itself was the bottleneck, as wrk2 warns: the pacer releasing
//! arrivals late while the driver had room for them — building calls slower than the
//! schedule asks — for more than a few of them (a moment descheduled on a busy machine
//! is not saturation). The CPU the process used is the supporting evidence. A run so
//! flagged says so in `summary.json` (`generator_saturated`, `generator.reasons`) and
//! the terminal; a capacity step so flagged is never the endpoint's limit.

use super::schema::GeneratorSummary;
use std::collections::BTreeMap;

/// More than this share of arrivals released late, and at least `LATE_COUNT` of them,
/// is the generator's saturation.
const LATE_SHARE: f64 = 0.05;
const LATE_COUNT: u64 = 20;
/// Using more than this share of every core is CPU at its limit.
const CPU_LIMIT: f64 = 0.90;

pub fn judge(pacing: (u64, u64, f64), cpu_share: Option<f64>) -> GeneratorSummary {
    let (released, late, late_max_ms) = pacing;
    let mut reasons = Vec::new();
    if late >= LATE_COUNT && late as f64 > released as f64 * LATE_SHARE {
        reasons.push(format!(
            "the pacer released {late} of {released} arrivals more than 5 ms late with room to send them (the latest {late_max_ms:.1} ms): llm-drill could not build calls as fast as the schedule asks"
        ));
        if let Some(c) = cpu_share.filter(|c| *c > CPU_LIMIT) {
            reasons.push(format!(
                "it used {:.0}% of the machine's CPU: no room was left to keep the schedule",
                c * 100.0
            ));
        }
    }
    GeneratorSummary {
        saturated: !reasons.is_empty(),
        released,
        late,
        late_max_ms,
        cpu_share,
        reasons,
    }
}

/// Above this lag p99, a mock (embedded or standalone) did not keep its own latency model.
pub const MOCK_LAG_LIMIT_MS: f64 = 5.0;

/// The mock's counterpart of the generator's saturation: each mock that emitted late
/// against its own model (its `/stats` `emit_lag_ms`), said in a sentence.
pub fn mock_lag_warnings(mocks: &BTreeMap<String, mock_server::StatsSnapshot>) -> Vec<String> {
    mocks
        .iter()
        .filter(|(_, m)| m.emit_lag_ms.p99 > MOCK_LAG_LIMIT_MS)
        .map(|(id, m)| {
            let l = &m.emit_lag_ms;
            format!(
                "the mock `{id}` emitted late against its own latency model (lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} emissions): the mock, not the endpoint it stands for, shaped these timings; give it fewer streams or a core of its own",
                l.p50, l.p99, l.max, l.count
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mock_that_lags_its_model_is_named() {
        let mut mocks = BTreeMap::new();
        let lag = |p99| mock_server::StatsSnapshot {
            emit_lag_ms: mock_server::LagSummary {
                count: 1000,
                p50: 0.2,
                p99,
                max: 40.0,
            },
            ..Default::default()
        };
        mocks.insert("fast".to_string(), lag(4.9));
        assert!(mock_lag_warnings(&mocks).is_empty());
        mocks.insert("starved".to_string(), lag(12.5));
        let w = mock_lag_warnings(&mocks);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("`starved`") && w[0].contains("p99 12.5 ms"),
            "{w:?}"
        );
    }

    #[test]
    fn late_arrivals_or_a_full_cpu_flag_the_generator_and_say_why() {
        assert!(!judge((10_000, 400, 9.0), Some(0.4)).saturated, "4% late");
        assert!(
            !judge((100, 10, 9.0), Some(0.4)).saturated,
            "a moment's stall"
        );
        let g = judge((10_000, 600, 120.0), Some(0.4));
        assert!(
            g.saturated && g.reasons[0].contains("600 of 10000"),
            "{g:?}"
        );
        assert_eq!(g.reasons.len(), 1);
        let g = judge((10_000, 600, 120.0), Some(0.97));
        assert!(g.saturated && g.reasons[1].contains("97%"), "{g:?}");
        assert!(
            !judge((10_000, 0, 0.0), Some(0.97)).saturated,
            "busy but on time"
        );
        assert!(!judge((0, 0, 0.0), None).saturated);
    }
}
