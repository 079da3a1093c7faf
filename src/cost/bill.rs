//! Billing: what each attempt cost, priced at the endpoint that served it, and the
//! figures the cost multiplier is made of (the same tokens at the call's first
//! endpoint's price, and the typical first turn a sampled test would have priced).

use crate::client::Attempt;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::recorder::CallCost;
use crate::workload::CallSpec;

/// The tokens an attempt generated and was billed for: a success's, as the endpoint
/// reported them (or as planned and counted), and a cut stream's so far; nothing for
/// 429s, errors, refused connections and injected faults. Adds them to the call's
/// figures; returns the attempt's cost.
pub fn bill(plan: &Plan, call: &CallSpec, ep: usize, a: &Attempt, cost: &mut CallCost) -> f64 {
    let enc = plan.endpoints[ep].encoding;
    let shown = |text: &str| match text.is_empty() {
        true => 0,
        false => enc.count(text) as u64,
    };
    let (input, cached, output, reasoning) = match (a.outcome, a.usage) {
        (Outcome::Ok, Some(u)) => (
            u.input_tokens,
            u.cached_input_tokens,
            u.output_tokens,
            u.reasoning_tokens.unwrap_or_else(|| shown(a.reasoning())),
        ),
        (Outcome::Ok, None) => {
            let reasoning = shown(a.reasoning());
            let output = shown(&a.text) + reasoning;
            (call.input_tokens as u64, 0, output, reasoning)
        }
        (Outcome::StreamCut, _) if a.deltas > 0 && !a.injected => {
            (call.input_tokens as u64, 0, a.deltas, shown(a.reasoning()))
        }
        _ => return 0.0,
    };
    let reasoning = reasoning.min(output);
    cost.billed_attempts += 1;
    let usd = plan.endpoints[ep]
        .price
        .map_or(0.0, |p| p.cost(input, cached, output, reasoning));
    cost.usd += usd;
    if let Some(p) = plan.endpoints[call.endpoint].price {
        let visible = (output - reasoning) as f64 * p.output;
        cost.primary_input_usd += input as f64 * p.input;
        cost.primary_output_usd += visible + reasoning as f64 * p.reasoning;
        cost.primary_visible_output_usd += visible;
    }
    usd
}

/// A typical first turn of the call's feature at its first endpoint's price: the call a
/// sampled test would have priced.
pub fn modeled(plan: &Plan, call: &CallSpec) -> CallCost {
    let (input, output) = plan.features[call.feature].typical_first_turn();
    let price = plan.endpoints[call.endpoint].price;
    CallCost {
        modeled_input_usd: price.map_or(0.0, |p| input * p.input),
        modeled_output_usd: price.map_or(0.0, |p| output * p.output),
        ..CallCost::default()
    }
}
