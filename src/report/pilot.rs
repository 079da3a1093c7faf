//! The pilot's verdict: each assumption of `pilot:` set against the measured figure
//! (and the baseline run's, when given), overall and per feature; any that fails makes
//! it no-go, with what caused it — the cost multiplier's largest factor, the endpoint
//! with the worst figure, the endpoint that served outside the regions.

use super::gates::measure;
use super::summary::{PilotRow, PilotSummary, Summary};
use crate::plan::metrics::{Metric, ScopeKind};
use crate::plan::pilot::{higher_is_better, Assumption, PilotPlan};
use crate::plan::thresholds::Scope;

pub fn verdict(
    plan: &PilotPlan,
    s: &Summary,
    baseline: Option<&(Summary, String)>,
) -> PilotSummary {
    let mut assumptions = Vec::new();
    let mut causes = Vec::new();
    for a in &plan.assumptions {
        match a {
            // Headroom comes from a capacity search: a single run does not judge it.
            Assumption::Metric { metric, .. } if metric.capacity_only() && s.capacity.is_none() => {
            }
            Assumption::Metric {
                key,
                written,
                metric,
                limit,
            } => {
                let row = row(key, written, *metric, *limit, &Scope::Run, s, baseline);
                if !row.ok {
                    causes.push(cause(key, *metric, &row, s));
                }
                assumptions.push(row);
            }
            Assumption::Residency(regions) => {
                let (outside, who) = outside(regions, s);
                let ok = outside == 0;
                if !ok {
                    causes.push(format!("residency: {}", who.join("; ")));
                }
                assumptions.push(PilotRow {
                    assumption: "residency".into(),
                    assumed: format!("[{}]", regions.join(", ")),
                    limit: 0.0,
                    measured: Some(outside as f64),
                    baseline: baseline.map(|(b, _)| outside_of(regions, b) as f64),
                    ok,
                    by: None,
                });
            }
        }
    }
    let features = s
        .features
        .keys()
        .map(|f| {
            let rows = plan
                .assumptions
                .iter()
                .filter_map(|a| match a {
                    Assumption::Metric {
                        key,
                        written,
                        metric,
                        limit,
                    } if metric.reported_in(ScopeKind::Feature) => Some(row(
                        key,
                        written,
                        *metric,
                        *limit,
                        &Scope::Feature(f.clone()),
                        s,
                        baseline,
                    )),
                    _ => None,
                })
                .collect();
            (f.clone(), rows)
        })
        .collect();
    PilotSummary {
        verdict: if assumptions.iter().all(|r| r.ok) {
            "go".into()
        } else {
            "no-go".into()
        },
        assumptions,
        features,
        causes,
        baseline: baseline.map(|(_, name)| name.clone()),
    }
}

fn row(
    key: &str,
    written: &str,
    metric: Metric,
    limit: f64,
    scope: &Scope,
    s: &Summary,
    baseline: Option<&(Summary, String)>,
) -> PilotRow {
    let measured = measure(metric, scope, s);
    let higher = higher_is_better(metric);
    PilotRow {
        assumption: key.to_string(),
        assumed: written.to_string(),
        limit,
        measured,
        // A figure the baseline does not know (a log without costs) is left out.
        baseline: baseline
            .and_then(|(b, _)| measure(metric, scope, b))
            .filter(|v| v.is_finite()),
        // Not measured is not met: a figure the run could not give cannot pass.
        ok: measured.is_some_and(|m| if higher { m >= limit } else { m <= limit }),
        by: measured.filter(|_| limit > 0.0).map(|m| {
            let r = m / limit - 1.0;
            if higher {
                -r
            } else {
                r
            }
        }),
    }
}

/// What made a metric miss its assumption.
fn cause(key: &str, metric: Metric, row: &PilotRow, s: &Summary) -> String {
    let Some(measured) = row.measured else {
        return format!("{key}: not measured by this run");
    };
    if matches!(metric, Metric::CostPerCall | Metric::CostPerSession) {
        if let Some(b) = &s.cost.breakdown {
            let factors = [
                ("the model's list price over the modeled cost", b.model),
                ("context growth (prompt tokens per call)", b.prompt_growth),
                ("answer length", b.output_length),
                ("reasoning tokens", b.reasoning),
                ("retries that generated tokens", b.retries),
                ("fallback pricing", b.fallback_pricing),
            ];
            if let Some((name, f)) = factors
                .iter()
                .filter(|(_, f)| *f > 1.0)
                .max_by(|a, b| a.1.total_cmp(&b.1))
            {
                return format!(
                    "{key}: ${measured:.4} over the assumed {}; the cost multiplier's largest factor is {name}, {f:.2}×",
                    row.assumed
                );
            }
        }
        return format!("{key}: ${measured:.4} over the assumed {}", row.assumed);
    }
    // The endpoint with the worst figure.
    let higher = higher_is_better(metric);
    let worst = s
        .endpoints
        .keys()
        .filter_map(|id| Some((id, measure(metric, &Scope::Endpoint(id.clone()), s)?)))
        .max_by(|a, b| {
            if higher {
                b.1.total_cmp(&a.1)
            } else {
                a.1.total_cmp(&b.1)
            }
        });
    match worst {
        Some((id, v)) => format!(
            "{key}: {measured:.4} against the assumed {}; worst at endpoint `{id}` ({v:.4})",
            row.assumed
        ),
        None => format!("{key}: {measured:.4} against the assumed {}", row.assumed),
    }
}

/// Calls served outside `regions` — by an endpoint whose declared region is outside,
/// or in a region the endpoint said served them — and who served them.
fn outside(regions: &[String], s: &Summary) -> (u64, Vec<String>) {
    let inside = |r: &str| {
        let r = crate::plan::regions::canonical(r).unwrap_or(r);
        regions.iter().any(|x| x == r)
    };
    let mut n = 0;
    let mut who = Vec::new();
    for (id, e) in &s.endpoints {
        if e.ok == 0 {
            continue;
        }
        match &e.region {
            Some(r) if !inside(r) => {
                n += e.ok;
                who.push(format!("endpoint `{id}` in {r} served {} call(s)", e.ok));
                continue;
            }
            None => {
                n += e.ok;
                who.push(format!(
                    "endpoint `{id}` declares no region and served {} call(s)",
                    e.ok
                ));
                continue;
            }
            _ => {}
        }
        for (r, count) in &e.served_regions {
            if !inside(r) {
                n += count;
                who.push(format!(
                    "endpoint `{id}` said {count} attempt(s) were served in {r}"
                ));
            }
        }
    }
    (n, who)
}

fn outside_of(regions: &[String], s: &Summary) -> u64 {
    outside(regions, s).0
}

/// A figure in its metric's words: `$0.0412`, `3.2 s`, `0.8%`, `12.0/s`, `3 calls`.
pub fn shown(assumption: &str, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "not measured".into();
    };
    let name = match assumption {
        "cost_per_call" => "cost.per_call",
        "cost_per_session" => "cost.per_session",
        "residency" => return format!("{v:.0} outside"),
        other => other,
    };
    match Metric::parse(name).map(|m| m.unit()) {
        Ok(crate::plan::metrics::Unit::Ms) if v >= 1000.0 => format!("{:.2} s", v / 1000.0),
        Ok(crate::plan::metrics::Unit::Ms) => format!("{v:.1} ms"),
        Ok(crate::plan::metrics::Unit::Fraction) => format!("{:.2}%", v * 100.0),
        Ok(crate::plan::metrics::Unit::Usd) => format!("${v:.4}"),
        Ok(crate::plan::metrics::Unit::PerSecond) => format!("{v:.2}/s"),
        _ => format!("{v:.2}"),
    }
}

/// "12% worse", "30% better", or "".
pub fn by(r: &PilotRow) -> String {
    match r.by {
        Some(b) if b > 0.0 => format!("{:.0}% worse", b * 100.0),
        Some(b) if b < 0.0 => format!("{:.0}% better", -b * 100.0),
        Some(_) => "exactly".into(),
        None => String::new(),
    }
}

/// Every row, overall first, then per feature with its `feature: ` prefix.
pub fn rows(p: &PilotSummary) -> Vec<(String, &PilotRow)> {
    let mut rows: Vec<(String, &PilotRow)> =
        p.assumptions.iter().map(|r| (String::new(), r)).collect();
    for (f, rs) in &p.features {
        rows.extend(rs.iter().map(|r| (format!("{f}: "), r)));
    }
    rows
}

/// The verdict as a table (Markdown or plain text), overall then per feature.
pub fn table(p: &PilotSummary, markdown: bool) -> String {
    let mut out = String::new();
    let verdict = if p.verdict == "go" { "GO" } else { "NO-GO" };
    let baseline = p.baseline.as_deref();
    if markdown {
        out.push_str(&format!("### Pilot verdict: **{verdict}**\n\n"));
        out.push_str(&format!(
            "| assumption | assumed | measured |{} verdict |\n|---|---:|---:|{}---|\n",
            if baseline.is_some() {
                " baseline |"
            } else {
                ""
            },
            if baseline.is_some() { "---:|" } else { "" }
        ));
    } else {
        out.push_str(&format!("pilot verdict: {verdict}\n"));
    }
    for (scope, r) in rows(p) {
        let mark = if r.ok { "pass" } else { "FAIL" };
        let base = baseline.map(|_| shown(&r.assumption, r.baseline));
        if markdown {
            out.push_str(&format!(
                "| {scope}{} | {} | {} |{} {} {} |\n",
                r.assumption,
                r.assumed,
                shown(&r.assumption, r.measured),
                base.map_or(String::new(), |b| format!(" {b} |")),
                if r.ok { "✅" } else { "❌" },
                by(r)
            ));
        } else {
            out.push_str(&format!(
                "  {mark} {scope}{}: assumed {}, measured {}{} {}\n",
                r.assumption,
                r.assumed,
                shown(&r.assumption, r.measured),
                base.map_or(String::new(), |b| format!(" (baseline {b})")),
                by(r)
            ));
        }
    }
    for c in &p.causes {
        out.push_str(&if markdown {
            format!("\n- {c}")
        } else {
            format!("  because {c}\n")
        });
    }
    if markdown {
        out.push_str("\n\n");
    }
    out
}
