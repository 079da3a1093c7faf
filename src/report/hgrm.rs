//! HdrHistogram's text percentile distribution (`.hgrm`), as its Java
//! `outputPercentileDistribution` writes it, values in milliseconds — so the files plot
//! with the HdrHistogram tools people already use.

use hdrhistogram::Histogram;
use std::fmt::Write;

/// Renders `h` (recorded in microseconds) with `ticks` reporting steps per half-distance.
pub fn render(h: &Histogram<u64>, ticks: u32) -> String {
    let scale = 1000.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(ticks) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = h.highest_equivalent(v.value_iterated_to()) as f64 / scale;
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let sub_buckets = 2u64.pow((2.0 * 10f64.powi(h.sigfig() as i32)).log2().ceil() as u32);
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / scale,
        h.stdev() / scale
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / scale,
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_java_layout() {
        let mut h = crate::recorder::new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let s = render(&h, 5);
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].trim_start().starts_with("Value"));
        assert!(lines[1].is_empty());
        let last_data = lines.iter().rev().find(|l| !l.starts_with('#')).unwrap();
        // The 100% line: value ~1000 ms, every sample counted.
        assert!(last_data.contains("1.000000000000"));
        assert!(last_data.trim_end().ends_with("1000"));
        assert!(
            s.contains("#[Max     =     1000.447, Total count    =         1000]"),
            "{s}"
        );
        assert!(s.contains("SubBuckets     =         2048]"));
    }
}
