//! A feature of the product: its weight in the traffic, its endpoint, the prompt and
//! answer sizes of its turns, its conversations (turns, think time, growing context,
//! drift, token budget), the capabilities it needs and the regions it may be served in.

use super::check::{number, Checker};
use super::endpoint::{Capability, EndpointPlan};
use super::{Sampler, MAX_RUN};
use crate::scenario::model;
use crate::scenario::{Dist, ScenarioError};

pub const DEFAULT_OUTPUT_TOKENS: f64 = 256.0;
const MAX_TOKENS_PER_FIELD: f64 = 10_000_000.0;
const MAX_TURNS: f64 = 10_000.0;

#[derive(Clone, Debug)]
pub struct FeaturePlan {
    pub name: String,
    pub weight: f64,
    pub endpoint: usize,
    pub stream: bool,
    pub system_tokens: Sampler,
    pub user_tokens: Sampler,
    pub output_tokens: Sampler,
    pub context: Option<ContextPlan>,
    /// Growth of the system prompt and the context per minute of the run, as a
    /// fraction of their size at the start (0.05 = 5%).
    pub drift_per_minute: f64,
    pub session: SessionPlan,
    pub token_budget: Option<u64>,
    /// Capabilities its endpoint and every fallback must declare (checked by preflight).
    pub needs: Vec<Capability>,
    /// Regions allowed to serve it (checked by preflight).
    pub residency: Option<Vec<String>>,
    /// What it asks a reasoning model for.
    pub reasoning: Reasoning,
    /// Its agentic playbook: tool-calling rounds per user turn.
    pub tools: Option<ToolsPlan>,
}

#[derive(Clone, Debug)]
pub struct ToolsPlan {
    /// Model calls per user turn, the final answer's included (at least 1).
    pub rounds: Sampler,
    pub result_tokens: Sampler,
    /// Tokens of the tool definitions (their description) in every request.
    pub definitions_tokens: u32,
}

const MAX_ROUNDS: f64 = 50.0;

fn tools(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    spec: Option<&model::ToolsSpec>,
    ep: &EndpointPlan,
) -> Result<Option<ToolsPlan>, ScenarioError> {
    let Some(t) = spec else { return Ok(None) };
    if !ep.capabilities.tools {
        return Err(c.err(
            &at("tools"),
            format!(
                "endpoint `{}` does not declare supports_tools: true, so it cannot be offered tools",
                ep.id
            ),
        ));
    }
    let count = |d: &Dist<u32>| d.map(|v| *v as f64);
    let rounds = c.sampler(&count(&t.rounds), &at("tools.rounds"), MAX_ROUNDS)?;
    if rounds.smallest() < 1.0 {
        return Err(c.err(&at("tools.rounds"), "a user turn needs at least 1 round"));
    }
    let result_tokens = c.sampler(
        &count(&t.result_tokens),
        &at("tools.result_tokens"),
        MAX_TOKENS_PER_FIELD,
    )?;
    let definitions_tokens = t.definitions_tokens.unwrap_or(200);
    if definitions_tokens == 0 || definitions_tokens as f64 > MAX_TOKENS_PER_FIELD {
        return Err(c.err(
            &at("tools.definitions_tokens"),
            format!("must be from 1 to {MAX_TOKENS_PER_FIELD}"),
        ));
    }
    Ok(Some(ToolsPlan {
        rounds,
        result_tokens,
        definitions_tokens,
    }))
}

/// How hard a reasoning model thinks: sent as `reasoning_effort` to providers that take
/// it (OpenAI, Azure) and as Anthropic's `thinking` budget; never to others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reasoning {
    pub effort: Option<Effort>,
    pub budget_tokens: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    Minimal,
    Low,
    Medium,
    High,
}

impl Effort {
    pub fn key(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }
}

/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u32 = 1024;

fn reasoning(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    spec: Option<&model::ReasoningSpec>,
    ep: &EndpointPlan,
    output_tokens: &Sampler,
) -> Result<Reasoning, ScenarioError> {
    let Some(r) = spec else {
        return Ok(Reasoning::default());
    };
    let info = ep.provider.info();
    if r.effort.is_some() && !info.reasoning_effort {
        return Err(c.err(
            &at("reasoning.effort"),
            format!(
                "endpoint `{}` is {}, which takes `budget_tokens` (extended thinking), not `effort`",
                ep.id, info.key
            ),
        ));
    }
    if let Some(budget) = r.budget_tokens {
        if !info.thinking_budget {
            return Err(c.err(
                &at("reasoning.budget_tokens"),
                format!(
                    "endpoint `{}` is {}, which takes `effort`, not `budget_tokens`",
                    ep.id, info.key
                ),
            ));
        }
        if budget < MIN_THINKING_BUDGET {
            return Err(c.err(
                &at("reasoning.budget_tokens"),
                format!("must be at least {MIN_THINKING_BUDGET}, found {budget}"),
            ));
        }
        let smallest = output_tokens.smallest();
        if smallest <= budget as f64 {
            return Err(c.err(
                &at("reasoning.budget_tokens"),
                format!(
                    "is {budget} but output_tokens (sent as max_tokens) can be {smallest:.0}: Anthropic needs max_tokens above the thinking budget, so raise output_tokens past {budget}"
                ),
            ));
        }
    }
    Ok(Reasoning {
        effort: r.effort.map(|e| match e {
            model::Effort::Minimal => Effort::Minimal,
            model::Effort::Low => Effort::Low,
            model::Effort::Medium => Effort::Medium,
            model::Effort::High => Effort::High,
        }),
        budget_tokens: r.budget_tokens,
    })
}

impl FeaturePlan {
    /// Whether an endpoint in `region` may serve this feature: always, without a
    /// residency list; otherwise only inside it (an undeclared region is outside).
    pub fn allows_region(&self, region: Option<&str>) -> bool {
        let Some(allowed) = &self.residency else {
            return true;
        };
        region.is_some_and(|r| allowed.iter().any(|a| super::regions::same(a, r)))
    }

    /// The prompt and answer tokens of a typical first turn — the call a sampled test
    /// would price — by the chat recipe's framing (about 4 tokens a message, 3 to prime
    /// the reply).
    pub fn typical_first_turn(&self) -> (f64, f64) {
        let framed = |n: f64| if n > 0.0 { n + 4.0 } else { 0.0 };
        let context = self.context.as_ref().map_or(0.0, |c| c.start.typical());
        let input = framed(self.system_tokens.typical())
            + framed(context)
            + framed(self.user_tokens.typical())
            + 3.0;
        (input, self.output_tokens.typical())
    }
}

/// How many turns a conversation has and how long its user thinks between them.
#[derive(Clone, Debug)]
pub struct SessionPlan {
    pub turns: Sampler,
    /// Seconds.
    pub think_time: Sampler,
}

impl SessionPlan {
    /// One call, no history: what a feature without `session` does.
    pub fn single() -> SessionPlan {
        SessionPlan {
            turns: Sampler::Fixed(1.0),
            think_time: Sampler::Fixed(0.0),
        }
    }

    /// Whether a conversation can have more than one turn.
    pub fn multi_turn(&self) -> bool {
        self.turns.largest() > 1.0
    }
}

/// Retrieved context: its size in a session's first turn, and how it grows per turn
/// (`next = previous * growth_factor + growth_per_turn`).
#[derive(Clone, Debug)]
pub struct ContextPlan {
    pub start: Sampler,
    pub growth_per_turn: Sampler,
    pub growth_factor: f64,
}

pub(crate) fn feature(
    c: &Checker,
    endpoints: &[EndpointPlan],
    name: &str,
    f: &model::Feature,
    replay: bool,
) -> Result<FeaturePlan, ScenarioError> {
    let at = |k: &str| format!("features.{name}.{k}");
    let endpoint = c.index_of(
        &at("endpoint"),
        "endpoint",
        &f.endpoint,
        endpoints.iter().map(|e| e.id.as_str()),
    )?;
    let weight = f.weight.unwrap_or(1.0);
    if !weight.is_finite() || weight <= 0.0 || weight > 1e9 {
        return Err(c.err(
            &at("weight"),
            format!("must be a positive number, found {}", number(weight)),
        ));
    }
    let tokens = |d: &Dist<u32>| d.map(|v| *v as f64);
    let (system_tokens, user_tokens, context, drift_per_minute) = match &f.prompt {
        Some(p) => prompt_sizes(c, &at, p)?,
        // A replay's prompts are its log's rows: the feature's own sizes go unused.
        None if replay => (Sampler::Fixed(0.0), Sampler::Fixed(1.0), None, 0.0),
        None => {
            return Err(c.err(
                &at("prompt"),
                "is needed: at least `prompt: { user_tokens: N }` (only a replay takes its prompts from its log)",
            ))
        }
    };
    let output_tokens = match &f.output_tokens {
        Some(d) => c.sampler(&tokens(d), &at("output_tokens"), MAX_TOKENS_PER_FIELD)?,
        None => Sampler::Fixed(DEFAULT_OUTPUT_TOKENS),
    };
    if output_tokens.typical() < 1.0 {
        return Err(c.err(&at("output_tokens"), "must be at least 1"));
    }
    let session = match &f.session {
        None => SessionPlan::single(),
        Some(s) => {
            let turns = match &s.turns {
                Some(d) => c.sampler(&tokens(d), &at("session.turns"), MAX_TURNS)?,
                None => Sampler::Fixed(1.0),
            };
            if turns.typical() < 1.0 {
                return Err(c.err(&at("session.turns"), "a session needs at least 1 turn"));
            }
            let think_time = match &s.think_time {
                Some(d) => c.sampler(
                    &d.map(|v| v.0.as_secs_f64()),
                    &at("session.think_time"),
                    MAX_RUN.as_secs_f64(),
                )?,
                None => Sampler::Fixed(0.0),
            };
            SessionPlan { turns, think_time }
        }
    };
    if f.token_budget == Some(0) {
        return Err(c.err(&at("token_budget"), "must be more than 0"));
    }
    let ep = &endpoints[endpoint];
    if let Some(max) = ep.max_context_tokens {
        let context_start = context.as_ref().map_or(0.0, |c| c.start.typical());
        let typical = system_tokens.typical()
            + context_start
            + user_tokens.typical()
            + output_tokens.typical();
        if typical > max as f64 {
            return Err(c.err(
                &at("prompt"),
                format!(
                    "a typical first turn needs {typical:.0} tokens (system + context + user + output) but endpoint `{}` declares max_context_tokens: {max}",
                    ep.id
                ),
            ));
        }
    }
    let reasoning = reasoning(c, &at, f.reasoning.as_ref(), ep, &output_tokens)?;
    let tools = tools(c, &at, f.tools.as_ref(), ep)?;
    Ok(FeaturePlan {
        reasoning,
        tools,
        name: name.to_string(),
        weight,
        endpoint,
        stream: f.stream.unwrap_or(true),
        system_tokens,
        user_tokens,
        output_tokens,
        context,
        drift_per_minute,
        session,
        token_budget: f.token_budget,
        needs: f
            .needs
            .iter()
            .flatten()
            .map(|n| Capability::from_model(*n))
            .collect(),
        residency: f.residency.clone(),
    })
}

type PromptSizes = (Sampler, Sampler, Option<ContextPlan>, f64);

/// A feature's `prompt:` sizes: system, user, context and drift.
fn prompt_sizes(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    prompt: &model::Prompt,
) -> Result<PromptSizes, ScenarioError> {
    let tokens = |d: &Dist<u32>| d.map(|v| *v as f64);
    let system_tokens = match &prompt.system_tokens {
        Some(d) => c.sampler(
            &tokens(d),
            &at("prompt.system_tokens"),
            MAX_TOKENS_PER_FIELD,
        )?,
        None => Sampler::Fixed(0.0),
    };
    let user_tokens = c.sampler(
        &tokens(&prompt.user_tokens),
        &at("prompt.user_tokens"),
        MAX_TOKENS_PER_FIELD,
    )?;
    if user_tokens.typical() < 1.0 {
        return Err(c.err(
            &at("prompt.user_tokens"),
            "a call needs a user message of at least 1 token",
        ));
    }
    let context = match &prompt.context_tokens {
        None => None,
        Some(ct) => {
            let start = c.sampler(
                &tokens(&ct.start),
                &at("prompt.context_tokens.start"),
                MAX_TOKENS_PER_FIELD,
            )?;
            let growth_per_turn = match &ct.growth_per_turn {
                Some(d) => c.sampler(
                    &tokens(d),
                    &at("prompt.context_tokens.growth_per_turn"),
                    MAX_TOKENS_PER_FIELD,
                )?,
                None => Sampler::Fixed(0.0),
            };
            let growth_factor = ct.growth_factor.unwrap_or(1.0);
            if !growth_factor.is_finite() || !(0.0..=100.0).contains(&growth_factor) {
                return Err(c.err(
                    &at("prompt.context_tokens.growth_factor"),
                    format!(
                        "must be a factor from 0 to 100 (1.5 = half again each turn), found {}",
                        number(growth_factor)
                    ),
                ));
            }
            Some(ContextPlan {
                start,
                growth_per_turn,
                growth_factor,
            })
        }
    };
    let drift_per_minute = match &prompt.drift {
        None => 0.0,
        Some(d) => {
            if !(0.0..=10.0).contains(&d.per_minute.0) {
                return Err(c.err(
                    &at("prompt.drift.per_minute"),
                    "must be from 0% to 1000% (the prompt grows by this share of its starting size each minute)",
                ));
            }
            d.per_minute.0
        }
    };
    Ok((system_tokens, user_tokens, context, drift_per_minute))
}
