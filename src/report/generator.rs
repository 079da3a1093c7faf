//! Whether llm-drill itself was the bottleneck, as wrk2 warns: the pacer releasing
//! arrivals late while the driver had room for them — building calls slower than the
//! schedule asks — for more than a few of them (a moment descheduled on a busy machine
//! is not saturation). The CPU the process used is the supporting evidence. A run so
//! flagged says so in `summary.json` (`generator_saturated`, `generator.reasons`) and
//! the terminal; a capacity step so flagged is never the endpoint's limit.

use super::schema::GeneratorSummary;

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

#[cfg(test)]
mod tests {
    use super::*;

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
