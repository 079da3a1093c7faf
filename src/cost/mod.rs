//! What a run costs and what production will: the cost of each billed attempt (`bill`),
//! the multiplier over the modeled cost per call and the factors it is made of, the
//! daily projection and its alerts. Prices themselves are plan data (`plan::prices`).

mod bill;

pub use bill::{bill, modeled};

use crate::recorder::{Metrics, Recorder};
use serde::{Deserialize, Serialize};

/// The cost section of the summary (SPEC.md: `cost.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CostSummary {
    pub total_usd: f64,
    pub per_call_usd: f64,
    /// Per-call cost percentiles, USD.
    pub per_call_p50_usd: f64,
    pub per_call_p95_usd: f64,
    pub per_call_p99_usd: f64,
    pub per_session_usd: f64,
    pub calls_per_session: f64,
    /// `cost.modeled_cost_per_call`, or, when the scenario gives none, a typical first
    /// turn at list price (`breakdown.first_turn_usd`).
    pub modeled_per_call_usd: f64,
    pub modeled_from_scenario: bool,
    /// Measured per call over modeled per call.
    pub multiplier: Option<f64>,
    pub breakdown: Option<Breakdown>,
    pub projected_daily_usd: Option<f64>,
    pub projected_monthly_usd: Option<f64>,
    pub per_feature: std::collections::BTreeMap<String, FeatureCost>,
    pub alerts: Vec<Alert>,
    /// Endpoints that served calls with no price: their calls count as free.
    pub unpriced_endpoints: Vec<String>,
    /// The spend guard stopped the run.
    pub guard_stopped: bool,
}

/// The factors the multiplier is made of; they multiply to it exactly:
/// `model × prompt_growth × output_length × reasoning × retries × fallback_pricing`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Breakdown {
    /// A typical first turn (system, first context, user; typical answer) at the first
    /// endpoint's list price: what a sampled test would have measured.
    pub first_turn_usd: f64,
    /// That first turn over the modeled cost (1 when the model is the first turn).
    pub model: f64,
    /// Prompt tokens actually sent per billed attempt over the first turn's.
    pub prompt_growth: f64,
    /// Visible answer tokens actually generated per billed attempt over the typical
    /// answer's.
    pub output_length: f64,
    /// What the billed attempts cost over what they would have cost without their
    /// reasoning tokens (1 for a model that does not reason).
    #[serde(default = "one")]
    pub reasoning: f64,
    /// Billed attempts per call (retries of cut streams, failovers that generated tokens).
    pub retries: f64,
    /// The actual cost over all billed tokens priced at each call's first endpoint
    /// (fallback prices, cached-input discounts).
    pub fallback_pricing: f64,
}

/// One step of the cost waterfall: a factor of the multiplier, and where it takes the
/// cost per call from and to.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub label: &'static str,
    pub factor: f64,
    pub from_usd: f64,
    pub to_usd: f64,
}

impl Step {
    /// What the step adds, in cents, to four decimals (a rounding of nothing is +0).
    pub fn cents(&self) -> f64 {
        let c = ((self.to_usd - self.from_usd) * 1e6).round() / 1e4;
        if c == 0.0 {
            0.0
        } else {
            c
        }
    }
}

impl CostSummary {
    /// From the modeled cost per call (or a typical first turn at list price) to the
    /// measured one, a step per factor of the breakdown in the order they compound;
    /// `None` when the run was not priced.
    pub fn waterfall(&self) -> Option<(f64, Vec<Step>)> {
        let b = self.breakdown.as_ref()?;
        let start = if self.modeled_from_scenario {
            self.modeled_per_call_usd
        } else {
            b.first_turn_usd
        };
        if start.is_nan() || start <= 0.0 {
            return None;
        }
        let mut factors = vec![];
        if self.modeled_from_scenario {
            factors.push(("first turn vs model", b.model));
        }
        factors.extend([
            ("context growth", b.prompt_growth),
            ("output length", b.output_length),
            ("reasoning", b.reasoning),
            ("retries", b.retries),
            ("fallback pricing", b.fallback_pricing),
        ]);
        let mut at = start;
        let steps = factors
            .into_iter()
            .map(|(label, factor)| {
                let from = at;
                at *= factor;
                Step {
                    label,
                    factor,
                    from_usd: from,
                    to_usd: at,
                }
            })
            .collect();
        Some((start, steps))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureCost {
    pub cost_usd: f64,
    pub per_call_usd: f64,
    pub projected_daily_usd: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `per_day_usd`, `per_feature_usd` or `call_volume`.
    pub rule: String,
    pub message: String,
}

fn one() -> f64 {
    1.0
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite()).then(|| a / b)
}

/// The multiplier's factors from a scope's sums (see `Breakdown`), or `None` when there
/// is nothing priced to decompose.
pub fn breakdown(m: &Metrics, modeled: Option<f64>) -> Option<(f64, Breakdown)> {
    let (calls, billed) = (m.calls as f64, m.billed_attempts as f64);
    if calls == 0.0 || billed == 0.0 {
        return None;
    }
    let a0 = (m.modeled_input_usd + m.modeled_output_usd) / calls;
    let a1 = m.primary_input_usd / billed + m.modeled_output_usd / calls;
    let visible = (m.primary_input_usd + m.primary_visible_output_usd) / billed;
    let a2 = (m.primary_input_usd + m.primary_output_usd) / billed;
    let per_call = m.cost_usd / calls;
    let retries = billed / calls;
    let model = modeled.unwrap_or(a0);
    let b = Breakdown {
        first_turn_usd: a0,
        model: ratio(a0, model)?,
        prompt_growth: ratio(a1, a0)?,
        output_length: ratio(visible, a1)?,
        reasoning: ratio(a2, visible)?,
        retries,
        fallback_pricing: ratio(per_call, a2 * retries)?,
    };
    Some((per_call / model, b))
}

/// The cost section: totals, the multiplier and its factors, the projection, alerts.
pub fn summarize(
    plan: &crate::plan::Plan,
    rec: &Recorder,
    sessions: u64,
    run_seconds: f64,
) -> CostSummary {
    let t = &rec.total;
    let calls = t.calls.max(1) as f64;
    let per_call = t.cost_usd / calls;
    let usd = |micro: u64| micro as f64 / 1e6;
    let q = |p: f64| {
        if t.call_cost.is_empty() {
            0.0
        } else {
            usd(t.call_cost.value_at_quantile(p))
        }
    };
    let c = &plan.cost;
    let decomposed = breakdown(t, c.modeled_cost_per_call);
    let modeled = c
        .modeled_cost_per_call
        .or(decomposed.as_ref().map(|(_, b)| b.first_turn_usd))
        .unwrap_or(0.0);
    let projected = c.daily_calls.map(|d| d * per_call);
    let mut per_feature = std::collections::BTreeMap::new();
    for (f, m) in plan.features.iter().zip(&rec.features) {
        let share = m.calls as f64 / calls;
        let per = if m.calls > 0 {
            m.cost_usd / m.calls as f64
        } else {
            0.0
        };
        per_feature.insert(
            f.name.clone(),
            FeatureCost {
                cost_usd: m.cost_usd,
                per_call_usd: per,
                projected_daily_usd: c.daily_calls.map(|d| d * share * per),
            },
        );
    }
    let mut alerts = Vec::new();
    if let Some(limit) = c.per_day_usd {
        if let Some(p) = projected.filter(|p| *p > limit) {
            alerts.push(Alert {
                rule: "per_day_usd".into(),
                message: format!(
                    "projected ${p:.2}/day at {:.0} calls/day is over the ${limit:.2} alert",
                    c.daily_calls.unwrap_or(0.0)
                ),
            });
        }
        let at_run_rate = if run_seconds > 0.0 {
            t.cost_usd / run_seconds * 86_400.0
        } else {
            0.0
        };
        if at_run_rate > limit {
            alerts.push(Alert {
                rule: "per_day_usd".into(),
                message: format!(
                    "the run spent at ${at_run_rate:.2}/day, over the ${limit:.2} alert"
                ),
            });
        }
    }
    for (fi, limit) in &c.per_feature_usd {
        let name = &plan.features[*fi].name;
        if let Some(p) = per_feature.get(name).and_then(|f| f.projected_daily_usd) {
            if p > *limit {
                alerts.push(Alert {
                    rule: "per_feature_usd".into(),
                    message: format!("{name}: projected ${p:.2}/day is over its ${limit:.2} alert"),
                });
            }
        }
    }
    if let Some(k) = c.call_volume_sigma {
        alerts.extend(volume_anomalies(&rec.series.seconds, k));
    }
    let unpriced_endpoints = plan
        .endpoints
        .iter()
        .zip(&rec.endpoints)
        .filter(|(e, m)| e.price.is_none() && m.attempts > 0)
        .map(|(e, _)| e.id.clone())
        .collect();
    CostSummary {
        total_usd: t.cost_usd,
        per_call_usd: per_call,
        per_call_p50_usd: q(0.5),
        per_call_p95_usd: q(0.95),
        per_call_p99_usd: q(0.99),
        per_session_usd: t.cost_usd / sessions.max(1) as f64,
        calls_per_session: t.calls as f64 / sessions.max(1) as f64,
        modeled_per_call_usd: modeled,
        modeled_from_scenario: c.modeled_cost_per_call.is_some(),
        multiplier: decomposed.as_ref().map(|(m, _)| *m),
        breakdown: decomposed.map(|(_, b)| b),
        projected_daily_usd: projected,
        projected_monthly_usd: projected.map(|d| d * 30.0),
        per_feature,
        alerts,
        unpriced_endpoints,
        guard_stopped: false,
    }
}

/// Minutes whose call count departs from the mean of the minutes before them by more
/// than `k` standard deviations (from the third minute on).
fn volume_anomalies(seconds: &[crate::recorder::SecondStats], k: f64) -> Vec<Alert> {
    let mut minutes: Vec<u64> = Vec::new();
    for s in seconds {
        let m = (s.second / 60) as usize;
        if minutes.len() <= m {
            minutes.resize(m + 1, 0);
        }
        minutes[m] += s.calls;
    }
    let mut out = Vec::new();
    for i in 3..minutes.len() {
        let before = &minutes[..i];
        let mean = before.iter().sum::<u64>() as f64 / i as f64;
        let var = before
            .iter()
            .map(|x| (*x as f64 - mean).powi(2))
            .sum::<f64>()
            / i as f64;
        let sd = var.sqrt().max(mean.sqrt().max(1.0) * 0.1);
        let x = minutes[i] as f64;
        if (x - mean).abs() > k * sd {
            out.push(Alert {
                rule: "call_volume".into(),
                message: format!(
                    "minute {i}: {x:.0} calls against {mean:.0} ± {sd:.1} before it ({:.1} standard deviations)",
                    (x - mean) / sd
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `llm-drill report` renders again from summary.json: every figure must read back
    /// to the bits it was written with, or a cent can flip at a rounding edge
    /// ($120.84 re-rendered where the run printed $120.83). serde_json's default float
    /// parsing is off by one ulp for about one value in ten; `float_roundtrip` is exact.
    #[test]
    fn stored_figures_read_back_to_the_same_bits() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = Some((x % 100_000_000) as f64 / 997.0 * 30.0);
            let text = serde_json::to_string(&v).unwrap();
            let back: Option<f64> = serde_json::from_str(&text).unwrap();
            assert_eq!(back.map(f64::to_bits), v.map(f64::to_bits), "{text}");
        }
    }

    #[test]
    fn factors_multiply_to_the_multiplier() {
        let m = Metrics {
            calls: 10,
            billed_attempts: 12,
            cost_usd: 0.9,
            primary_input_usd: 0.4,
            primary_output_usd: 0.3,
            primary_visible_output_usd: 0.2,
            modeled_input_usd: 0.1,
            modeled_output_usd: 0.15,
            ..Metrics::default()
        };
        let (mult, b) = breakdown(&m, Some(0.02)).unwrap();
        let product = b.model
            * b.prompt_growth
            * b.output_length
            * b.reasoning
            * b.retries
            * b.fallback_pricing;
        assert!((product - mult).abs() < 1e-12, "{product} vs {mult}");
        // By hand: per call 0.09; first turn 0.025; model 0.025/0.02 = 1.25;
        // a1 = 0.4/12 + 0.15/10 = 0.048333; visible = 0.6/12 = 0.05; a2 = 0.7/12 =
        // 0.058333 (a third of the output was reasoning); retries 1.2;
        // fallback 0.09 / (0.058333 * 1.2) = 1.285714.
        assert!((mult - 4.5).abs() < 1e-12);
        assert!((b.first_turn_usd - 0.025).abs() < 1e-12);
        assert!((b.model - 1.25).abs() < 1e-12);
        assert!((b.prompt_growth - 0.048_333_333 / 0.025).abs() < 1e-6);
        assert!((b.output_length - 0.05 / 0.048_333_333).abs() < 1e-6);
        assert!((b.reasoning - 0.058_333_333 / 0.05).abs() < 1e-6);
        assert!((b.retries - 1.2).abs() < 1e-12);
        assert!((b.fallback_pricing - 1.285_714_286).abs() < 1e-6);
    }

    #[test]
    fn a_minute_out_of_line_is_an_anomaly() {
        let seconds = |per_minute: &[u64]| -> Vec<crate::recorder::SecondStats> {
            per_minute
                .iter()
                .enumerate()
                .map(|(m, n)| crate::recorder::SecondStats {
                    second: m as u64 * 60,
                    calls: *n,
                    ..Default::default()
                })
                .collect()
        };
        assert!(volume_anomalies(&seconds(&[600, 610, 590, 605, 598]), 3.0).is_empty());
        let spike = volume_anomalies(&seconds(&[600, 610, 590, 1800]), 3.0);
        assert_eq!(spike.len(), 1, "{spike:?}");
        assert!(spike[0].message.starts_with("minute 3"));
    }
}
