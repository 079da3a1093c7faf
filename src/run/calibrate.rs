//! Calibration: a few probe calls of different sizes, sent to an endpoint before the
//! run, from which the endpoint's own prompt-token count is fitted against what was
//! sent — `reported = ratio × text tokens (the plan's tokenizer) + per_call +
//! per_message × messages` — so that the run can plan prompts the endpoint counts at
//! the scenario's sizes (`Fit`, applied by the workload). Another tokenizer (Claude's,
//! Llama's) shows in the ratio, a chat template in the overheads.
//!
//! Probes are counted and priced apart, never recorded with the run's calls.

use crate::client::{Client, Route};
use crate::outcome::Outcome;
use crate::plan::{Calibration, Fit};
use crate::workload::text::PromptText;
use crate::workload::{CallSpec, Message, Role};
use rand::SeedableRng;
use std::time::Duration;

/// Text sizes of the probes, in the plan's tokens: small to large, so that the ratio is
/// read from the large ones and the fixed overheads from the small.
const SIZES: [u32; 3] = [64, 512, 2048];

/// One probe: `messages` messages (system ones, then a user message) holding `tokens`
/// tokens of text between them.
fn probe(endpoint: usize, text: &PromptText, tokens: u32, messages: usize, k: u64) -> CallSpec {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0xCA11_B8A7 ^ k);
    let each = tokens / messages as u32;
    let msgs = (0..messages)
        .map(|i| {
            let role = if i + 1 == messages {
                Role::User
            } else {
                Role::System
            };
            let n = if i + 1 == messages {
                tokens - each * (messages as u32 - 1)
            } else {
                each
            };
            Message::text(role, text.text(n as usize, &mut rng).into())
        })
        .collect();
    CallSpec {
        feature: 0,
        endpoint,
        turn: 1,
        messages: msgs,
        max_tokens: 1,
        stream: false,
        input_tokens: 0,
        keep_answer: false,
        budget_left: None,
        retry_seed: k,
        reasoning: Default::default(),
        round: 1,
        rounds_left: 0,
        tools: None,
        pair: None,
    }
}

/// Sends the probes to `route` (endpoint `index` of the plan) and fits its count.
pub async fn calibrate(route: &Route, index: usize) -> Result<Calibration, String> {
    let e = &route.endpoint;
    let text = PromptText::get(e.encoding);
    let mut points = Vec::new();
    let (mut input, mut output, mut cost) = (0, 0, 0.0);
    for (k, (&size, messages)) in SIZES
        .iter()
        .flat_map(|s| [(s, 1usize), (s, 3usize)])
        .enumerate()
    {
        let call = probe(index, text, size, messages, k as u64);
        let sent: u32 = call
            .messages
            .iter()
            .map(|m| e.encoding.count(&m.content) as u32)
            .sum();
        let timeout = e.timeout.min(Duration::from_secs(120));
        let mut req = route.prepare(&call);
        route.sign_now(&mut req);
        let a = Client.send(route, req, timeout).await;
        let which = format!("calibration probe {} of {}", k + 1, SIZES.len() * 2);
        if a.outcome != Outcome::Ok {
            return Err(format!(
                "{which} failed ({}): {}",
                a.outcome.key(),
                a.error.as_deref().unwrap_or("")
            ));
        }
        let usage = a.usage.ok_or_else(|| {
            format!("{which}: the endpoint reported no usage, so its count cannot be fitted")
        })?;
        input += usage.input_tokens;
        output += usage.output_tokens;
        if let Some(p) = &e.price {
            cost += p.input * usage.input_tokens as f64 + p.output * usage.output_tokens as f64;
        }
        points.push((sent as f64, messages as f64, usage.input_tokens as f64));
    }
    let fit = least_squares(&points).ok_or("the probes' counts cannot be fitted")?;
    let max_residual_tokens = points
        .iter()
        .map(|(t, m, y)| (fit.predict(*t, *m) - y).abs())
        .fold(0.0, f64::max);
    Ok(Calibration {
        fit,
        probes: points.len() as u32,
        input_tokens: input,
        output_tokens: output,
        cost_usd: cost,
        max_residual_tokens: (max_residual_tokens * 100.0).round() / 100.0,
    })
}

/// `llm-drill calibrate`: probes each endpoint of `plan` (or only `only`), its embedded
/// mock started for it, and prints what it counts. Probes only; nothing is recorded.
pub async fn standalone(
    plan: &crate::plan::Plan,
    only: Option<&str>,
) -> Result<String, super::RunError> {
    use super::RunError;
    use std::fmt::Write as _;
    if let Some(id) = only {
        if !plan.endpoints.iter().any(|e| e.id == id) {
            let ids: Vec<&str> = plan.endpoints.iter().map(|e| e.id.as_str()).collect();
            return Err(RunError::Invalid(format!(
                "--endpoint {id}: no such endpoint (the scenario has {})",
                ids.join(", ")
            )));
        }
    }
    let mut out = String::new();
    for (i, e) in plan.endpoints.iter().enumerate() {
        if only.is_some_and(|id| id != e.id) {
            continue;
        }
        let secret =
            crate::client::resolve_credential(e).map_err(|m| RunError::Invalid(m.to_string()))?;
        let (route, mock) = super::route_to(e, secret).await?;
        let fail = |m: String| {
            RunError::Fatal(format!(
                "endpoint `{}`: cannot calibrate: {}",
                e.id,
                route.redact(m)
            ))
        };
        if route.fetches_credential() {
            route.refresh_token().await.map_err(fail)?;
        }
        let c = calibrate(&route, i).await.map_err(fail)?;
        let _ = writeln!(
            out,
            "endpoint {}: it counts {:.4}× the plan's tokens ({}) + {:.1} per call + {:.1} per message — {} probes, {} prompt tokens, ${:.4}; largest residual {:.1} tokens",
            e.id,
            c.fit.ratio,
            e.encoding.name(),
            c.fit.per_call,
            c.fit.per_message,
            c.probes,
            c.input_tokens,
            c.cost_usd,
            c.max_residual_tokens
        );
        if let Some(h) = mock {
            let _ = tokio::time::timeout(Duration::from_secs(2), h.shutdown()).await;
        }
    }
    let _ = writeln!(
        out,
        "`calibrate: true` on an endpoint probes it so before each run and plans its prompts by its own count."
    );
    Ok(out)
}

/// `y = ratio·t + per_call + per_message·m` by least squares over (t, m, y).
fn least_squares(points: &[(f64, f64, f64)]) -> Option<Fit> {
    // The normal equations, XᵀX β = Xᵀy, for the columns (t, 1, m).
    let mut a = [[0.0f64; 3]; 3];
    let mut b = [0.0f64; 3];
    for &(t, m, y) in points {
        let x = [t, 1.0, m];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] += x[i] * x[j];
            }
            b[i] += x[i] * y;
        }
    }
    let [ratio, per_call, per_message] = solve(a, b)?;
    (ratio.is_finite() && ratio > 0.0).then_some(Fit {
        ratio,
        per_call,
        per_message,
    })
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..3 {
            let f = a[row][col] / pivot_row[col];
            for (x, p) in a[row].iter_mut().zip(pivot_row).skip(col) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let rest: f64 = (row + 1..3).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_recovers_a_ratio_and_both_overheads() {
        let truth = Fit {
            ratio: 1.17,
            per_call: 9.0,
            per_message: 6.0,
        };
        let points: Vec<(f64, f64, f64)> = SIZES
            .iter()
            .flat_map(|&t| [(t as f64, 1.0), (t as f64, 3.0)])
            .map(|(t, m)| (t, m, truth.predict(t, m)))
            .collect();
        let fit = least_squares(&points).unwrap();
        assert!((fit.ratio - 1.17).abs() < 1e-9, "{fit:?}");
        assert!((fit.per_call - 9.0).abs() < 1e-6, "{fit:?}");
        assert!((fit.per_message - 6.0).abs() < 1e-6, "{fit:?}");
        // One shape only: the overheads cannot be told apart.
        let one: Vec<_> = points.iter().copied().filter(|p| p.1 == 1.0).collect();
        assert!(least_squares(&one).is_none());
    }
}
