//! The side-by-side section: each endpoint after the first against the first — paired
//! differences (mirror) or differences of percentiles (alternate), the ratios of
//! tokens and cost, the error rates, and one sentence a person reads.

use super::schema::{Diff, EndpointSummary, PairSummary, SideBySideSummary};
use crate::plan::Plan;
use crate::recorder::side::{CopyStats, SideBySide, Signed};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

const QS: [f64; 3] = [0.50, 0.95, 0.99];
/// Where the report draws the difference's distribution.
const DRAWN: [f64; 9] = [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99];

fn ms(us: f64) -> f64 {
    (us / 1000.0 * 1000.0).round() / 1000.0
}

fn paired(s: &Signed) -> Diff {
    let q = |p: f64| s.quantile(p).map(ms);
    Diff {
        p50: q(QS[0]),
        p95: q(QS[1]),
        p99: q(QS[2]),
    }
}

fn of_percentiles(b: &Histogram<u64>, a: &Histogram<u64>) -> Diff {
    let q = |p: f64| {
        (!a.is_empty() && !b.is_empty())
            .then(|| ms(b.value_at_quantile(p) as f64 - a.value_at_quantile(p) as f64))
    };
    Diff {
        p50: q(QS[0]),
        p95: q(QS[1]),
        p99: q(QS[2]),
    }
}

fn per_call(total: f64, calls: u64) -> Option<f64> {
    (calls > 0).then(|| total / calls as f64)
}

fn ratio(b: Option<f64>, a: Option<f64>) -> Option<f64> {
    match (b, a) {
        (Some(b), Some(a)) if a > 0.0 => Some((b / a * 10_000.0).round() / 10_000.0),
        _ => None,
    }
}

fn rate(n: u64, calls: u64) -> Option<f64> {
    (calls > 0).then(|| n as f64 / calls as f64)
}

fn pp(b: Option<f64>, a: Option<f64>) -> Option<f64> {
    Some(((b? - a?) * 100.0 * 1000.0).round() / 1000.0)
}

pub fn summary(
    plan: &Plan,
    side: &SideBySide,
    endpoints: &BTreeMap<String, EndpointSummary>,
) -> Option<SideBySideSummary> {
    let sp = plan.side_by_side.as_ref()?;
    let ids: Vec<String> = sp
        .endpoints
        .iter()
        .map(|e| plan.endpoints[*e].id.clone())
        .collect();
    let a: &CopyStats = side.copies.first()?;
    let mut pairs = BTreeMap::new();
    for (i, b) in side.copies.iter().enumerate().skip(1) {
        let distribution: Vec<[f64; 2]> = DRAWN
            .iter()
            .filter_map(|q| {
                let d = if side.mirror {
                    side.paired[i - 1].latency.quantile(*q)?
                } else if a.latency.is_empty() || b.latency.is_empty() {
                    return None;
                } else {
                    b.latency.value_at_quantile(*q) as f64 - a.latency.value_at_quantile(*q) as f64
                };
                Some([q * 100.0, ms(d)])
            })
            .collect();
        let (latency, ttft, itl, paired_calls, slower) = if side.mirror {
            let p = &side.paired[i - 1];
            (
                paired(&p.latency),
                paired(&p.ttft),
                paired(&p.itl),
                p.latency.len(),
                p.latency.slower_share(),
            )
        } else {
            (
                of_percentiles(&b.latency, &a.latency),
                of_percentiles(&b.ttft, &a.ttft),
                of_percentiles(&b.itl, &a.itl),
                0,
                None,
            )
        };
        let reported: BTreeMap<String, f64> = endpoints
            .get(&ids[i])
            .map(|e| {
                e.server_timing_ms
                    .iter()
                    .filter(|(_, p)| p.count > 0)
                    .map(|(k, p)| (k.clone(), p.p50))
                    .collect()
            })
            .unwrap_or_default();
        let mut x = PairSummary {
            against: ids[0].clone(),
            calls: b.calls,
            against_calls: a.calls,
            paired_calls,
            latency_ms: latency,
            ttft_ms: ttft,
            itl_ms: itl,
            slower_share: slower,
            latency_distribution: distribution,
            output_tokens_ratio: ratio(
                per_call(b.output_tokens as f64, b.ok),
                per_call(a.output_tokens as f64, a.ok),
            ),
            prompt_tokens_ratio: ratio(
                per_call(b.input_tokens as f64, b.ok),
                per_call(a.input_tokens as f64, a.ok),
            ),
            cost_ratio: ratio(per_call(b.cost_usd, b.calls), per_call(a.cost_usd, a.calls)),
            error_rate_pp: pp(rate(b.calls - b.ok, b.calls), rate(a.calls - a.ok, a.calls)),
            rate_429_pp: pp(rate(b.http_429, b.calls), rate(a.http_429, a.calls)),
            reported_p50_ms: reported,
            sentence: String::new(),
        };
        x.sentence = sentence(&ids[i], side.mirror, &x);
        pairs.insert(ids[i].clone(), x);
    }
    Some(SideBySideSummary {
        mode: if side.mirror { "mirror" } else { "alternate" }.into(),
        endpoints: ids,
        pairs,
    })
}

/// "through `gateway`: +2.3 ms p50, +9.8 ms p99 (slower on 97% of calls); tokens billed
/// ×1.00; cost ×1.00".
fn sentence(id: &str, mirror: bool, x: &PairSummary) -> String {
    let signed = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:+.1} ms"));
    let times = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("×{v:.2}"));
    let mut s = format!(
        "through `{id}`: {} p50, {} p99",
        signed(x.latency_ms.p50),
        signed(x.latency_ms.p99)
    );
    if mirror {
        if let Some(share) = x.slower_share {
            s.push_str(&format!(
                " (slower on {:.0}% of {} paired calls)",
                share * 100.0,
                x.paired_calls
            ));
        }
    } else {
        s.push_str(" (differences of the percentiles, alternate calls)");
    }
    if let Some(r) = x.reported_p50_ms.get("x-litellm-overhead-duration-ms") {
        s.push_str(&format!("; the gateway reports {r:+.1} ms p50"));
    }
    s.push_str(&format!(
        "; tokens billed {}; answers {}; cost {}",
        times(x.prompt_tokens_ratio),
        times(x.output_tokens_ratio),
        times(x.cost_ratio)
    ));
    if let Some(e) = x.error_rate_pp.filter(|e| *e != 0.0) {
        s.push_str(&format!("; errors {e:+.2} pp"));
    }
    s
}

/// The pairs' sentences under a heading: Markdown (`summary.md`) or text.
pub fn sentences(x: &SideBySideSummary, markdown: bool) -> String {
    let head = format!("side by side ({}), against `{}`", x.mode, x.endpoints[0]);
    let mut out = if markdown {
        format!("### {}\n\n", capitalized(&head))
    } else {
        format!("{head}:\n")
    };
    for p in x.pairs.values() {
        out.push_str(if markdown { "- " } else { "  " });
        out.push_str(&p.sentence);
        out.push('\n');
    }
    if markdown {
        out.push('\n');
    }
    out
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Each pair's latency difference by percentile as bars either side of zero, for
/// `report.html`, with its sentence.
pub fn html(x: &SideBySideSummary) -> String {
    use super::chart::COLORS;
    use super::html::esc;
    use std::fmt::Write;
    let mut out = format!(
        "<h2>Side by side ({}), against {}</h2>",
        esc(&x.mode),
        esc(&x.endpoints[0])
    );
    for (id, p) in &x.pairs {
        let _ = write!(out, "<p>{}</p>", esc(&p.sentence));
        if p.latency_distribution.is_empty() {
            continue;
        }
        let reach = p
            .latency_distribution
            .iter()
            .map(|d| d[1].abs())
            .fold(0.0, f64::max)
            .max(1e-9);
        let (w, row) = (760.0, 22.0);
        let h = row * p.latency_distribution.len() as f64 + 30.0;
        let zero = 460.0;
        let half = 250.0;
        let _ = write!(
            out,
            r##"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img"><title>{} − {}: latency difference by percentile</title><line x1="{zero}" y1="4" x2="{zero}" y2="{}" stroke="#555"/><text class="legend" x="{zero}" y="{}" font-size="10" text-anchor="middle">0 ms: {} slower to the right, faster to the left</text>"##,
            esc(id),
            esc(&p.against),
            h - 22.0,
            h - 8.0,
            esc(id)
        );
        for (k, [pct, d]) in p.latency_distribution.iter().enumerate() {
            let y = 6.0 + row * k as f64;
            let len = d.abs() / reach * half;
            let x0 = if *d >= 0.0 { zero } else { zero - len };
            let color = if *d >= 0.0 { COLORS[1] } else { COLORS[2] };
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">p{pct}</text><rect class="diff" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="14" fill="{color}"><title>p{pct}: {d:+.3} ms</title></rect><text x="{:.1}" y="{:.1}" font-size="11">{d:+.1} ms</text>"##,
                zero - half - 60.0,
                y + 11.0,
                len.max(1.0),
                if *d >= 0.0 {
                    zero + len + 4.0
                } else {
                    zero + 4.0
                },
                y + 11.0
            );
        }
        out.push_str("</svg>");
    }
    out
}
