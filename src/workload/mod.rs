//! Synthetic LLM traffic, all derived from the seed: which feature each call belongs to,
//! prompts cut from a shipped corpus to an exact token count, and the answer length asked
//! for. The same seed and call number always give the same call.
//!
//! Runs outside the timed region (the engine builds a call before its intended start);
//! it must not touch the network or the clock.

mod text;

pub use text::PromptText;

use crate::plan::{FeaturePlan, Plan};
use mock_server::tokens::Encoding;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One call, ready for a client to turn into a request.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSpec {
    pub feature: usize,
    pub endpoint: usize,
    pub system: Option<String>,
    pub user: String,
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
    fixed_system: Vec<Option<String>>,
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
                    Some(PromptText::get(*enc).text(n as usize, &mut rng))
                }
                _ => None,
            })
            .collect();
        // Encode the corpus now, not on the first call of the run.
        for enc in &encodings {
            PromptText::get(*enc);
        }
        Workload {
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
        let system = match &self.fixed_system[fi] {
            Some(s) => Some(s.clone()),
            None => {
                let n = f.system_tokens.sample_count(&mut rng) as usize;
                (n > 0).then(|| text.text(n, &mut rng))
            }
        };
        let user_n = f.user_tokens.sample_count(&mut rng).max(1) as usize;
        let user = text.text(user_n, &mut rng);
        let max_tokens = f.output_tokens.sample_count(&mut rng).max(1);
        let input_tokens = enc.chat_prompt_tokens(
            system
                .as_deref()
                .map(|s| ("system", s))
                .into_iter()
                .chain([("user", user.as_str())]),
        ) as u32;
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
