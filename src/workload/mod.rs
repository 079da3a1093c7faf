//! Synthetic LLM traffic, all derived from the seed: which feature each call belongs to,
//! prompts cut from a shipped corpus to an exact token count, and the answer length asked
//! for. The same seed and call number always give the same call.
//!
//! Runs outside the timed region (the engine builds a call before its intended start);
//! it must not touch the network or the clock.

mod text;

pub use text::PromptText;

use crate::plan::{FeaturePlan, Plan};
use mock_server::tokens::{Encoding, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// One call, ready for a client to turn into a request.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSpec {
    pub feature: usize,
    pub endpoint: usize,
    /// Texts are shared, not copied: the same cut serves many calls.
    pub system: Option<Arc<str>>,
    pub user: Arc<str>,
    pub max_tokens: u32,
    pub stream: bool,
    /// Prompt tokens as the endpoint should count them (OpenAI's chat recipe).
    pub input_tokens: u32,
}

pub struct Workload {
    seed: u64,
    features: Vec<FeaturePlan>,
    encodings: Vec<Encoding>,
    cumulative_weight: Vec<f64>,
    /// A fixed-size system prompt is the same text on every call of a feature, as a
    /// product's prompt template is; built once.
    fixed_system: Vec<Option<(Arc<str>, usize)>>,
    /// Per feature, the framing tokens of a system and of a user message (OpenAI's 3 per
    /// message plus the role's own tokens).
    framing: Vec<(usize, usize)>,
}

impl Workload {
    pub fn new(plan: &Plan) -> Workload {
        let mut total = 0.0;
        let cumulative_weight = plan
            .features
            .iter()
            .map(|f| {
                total += f.weight;
                total
            })
            .collect();
        let encodings: Vec<Encoding> = plan
            .features
            .iter()
            .map(|f| plan.endpoints[f.endpoint].encoding)
            .collect();
        let fixed_system = plan
            .features
            .iter()
            .zip(&encodings)
            .enumerate()
            .map(|(i, (f, enc))| match f.system_tokens {
                crate::plan::Sampler::Fixed(n) if n >= 1.0 => {
                    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x5157_E400 ^ i as u64);
                    Some((PromptText::get(*enc).text(n as usize, &mut rng), n as usize))
                }
                _ => None,
            })
            .collect();
        // Encode the corpus now, not on the first call of the run.
        for enc in &encodings {
            PromptText::get(*enc);
        }
        let framing = encodings
            .iter()
            .map(|e| {
                (
                    TOKENS_PER_MESSAGE + e.count("system"),
                    TOKENS_PER_MESSAGE + e.count("user"),
                )
            })
            .collect();
        Workload {
            framing,
            seed: plan.seed,
            features: plan.features.clone(),
            encodings,
            cumulative_weight,
            fixed_system,
        }
    }

    /// Call number `key` of the run (open mode: the arrival's index; closed mode: a
    /// per-worker sequence), identical for identical seeds.
    pub fn call(&self, key: u64) -> CallSpec {
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let total = *self.cumulative_weight.last().unwrap_or(&1.0);
        let pick = rng.random::<f64>() * total;
        let fi = self
            .cumulative_weight
            .iter()
            .position(|w| pick < *w)
            .unwrap_or(self.features.len() - 1);
        let f = &self.features[fi];
        let enc = self.encodings[fi];
        let text = PromptText::get(enc);
        let (system, system_n) = match &self.fixed_system[fi] {
            Some((s, n)) => (Some(s.clone()), *n),
            None => {
                let n = f.system_tokens.sample_count(&mut rng) as usize;
                ((n > 0).then(|| text.text(n, &mut rng)), n)
            }
        };
        let user_n = f.user_tokens.sample_count(&mut rng).max(1) as usize;
        let user = text.text(user_n, &mut rng);
        let max_tokens = f.output_tokens.sample_count(&mut rng).max(1);
        // Each text has exactly the tokens asked for, so the prompt's size by OpenAI's
        // recipe is arithmetic: no need to encode it again.
        let system_framing = if system.is_some() {
            self.framing[fi].0 + system_n
        } else {
            0
        };
        let input_tokens =
            (system_framing + self.framing[fi].1 + user_n + REPLY_PRIMING_TOKENS) as u32;
        CallSpec {
            feature: fi,
            endpoint: f.endpoint,
            system,
            user,
            max_tokens,
            stream: f.stream,
            input_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    fn workload(seed: u64) -> Workload {
        let yaml = format!(
            "name: w\nseed: {seed}\nduration: 1s\nendpoints:\n  a: {{ provider: openai, base_url: mock, model_name: gpt-4o }}\n  b: {{ provider: openai, base_url: mock, model_name: gpt-4 }}\nfeatures:\n  x: {{ endpoint: a, weight: 2, prompt: {{ system_tokens: 50, user_tokens: {{ mean: 40, stddev: 10 }} }} }}\n  y: {{ endpoint: b, prompt: {{ system_tokens: {{ min: 0, max: 30 }}, user_tokens: 9 }}, output_tokens: {{ min: 5, max: 50 }} }}\nload: {{ rate: 1 }}\n"
        );
        let (sc, src) = scenario::parse("w.yaml", yaml.into_bytes(), &[]).unwrap();
        Workload::new(&Plan::from_scenario(&sc, &src).unwrap())
    }

    #[test]
    fn same_seed_same_calls_other_seed_other_calls() {
        let (a, b, c) = (workload(1), workload(1), workload(2));
        let calls = |w: &Workload| (0..200).map(|k| w.call(k)).collect::<Vec<_>>();
        assert_eq!(calls(&a), calls(&b));
        assert_ne!(calls(&a), calls(&c));
    }

    #[test]
    fn planned_prompt_tokens_match_a_full_count() {
        let w = workload(5);
        let mut features = [0; 2];
        for k in 0..300 {
            let call = w.call(k);
            features[call.feature] += 1;
            let enc = w.encodings[call.feature];
            let messages = call
                .system
                .as_deref()
                .map(|s| ("system", s))
                .into_iter()
                .chain([("user", &*call.user)]);
            assert_eq!(
                call.input_tokens as usize,
                enc.chat_prompt_tokens(messages),
                "call {k}"
            );
        }
        // Weights 2:1.
        assert!(
            features[0] > features[1] && features[1] > 60,
            "{features:?}"
        );
    }
}
