//! `mock:` — how the embedded mock behaves for a `base_url: mock` endpoint, checked
//! into the mock server's own configuration.

use super::check::Checker;
use super::Sampler;
use crate::scenario::model;
use crate::scenario::ScenarioError;
use mock_server::{MockConfig, Spread};
use std::time::Duration;

pub(crate) fn mock_config(
    c: &Checker,
    seed: u64,
    id: &str,
    m: Option<&model::MockBehaviour>,
) -> Result<MockConfig, ScenarioError> {
    let mut cfg = MockConfig {
        seed,
        ..MockConfig::default()
    };
    let Some(m) = m else { return Ok(cfg) };
    let at = |k: &str| format!("endpoints.{id}.mock.{k}");
    if let Some(ttft) = &m.ttft {
        let s = super::sampler::sampler(&ttft.map(|d| d.0.as_secs_f64()), 0.0)
            .map_err(|e| c.err(&at("ttft"), e))?;
        let secs = Duration::from_secs_f64;
        cfg.latency.ttft = match s {
            Sampler::Fixed(v) => Spread::fixed(secs(v)),
            Sampler::Normal {
                mean,
                stddev,
                min,
                max,
            } => Spread::Normal {
                mean: secs(mean),
                stddev: secs(stddev),
                min: secs(min),
                max: if max.is_finite() {
                    secs(max)
                } else {
                    Duration::MAX
                },
            },
            Sampler::Uniform { min, max } => Spread::Uniform {
                min: secs(min),
                max: secs(max),
            },
            Sampler::Quantiles { .. } => {
                return Err(c.err(
                    &at("ttft"),
                    "takes a value or {mean, stddev, min, max}; quantiles are for token counts, turns and think times",
                ))
            }
        };
    }
    if let Some(tps) = m.tokens_per_second {
        if !tps.is_finite() || tps <= 0.0 || tps > 1_000_000.0 {
            return Err(c.err(
                &at("tokens_per_second"),
                "must be more than 0 and at most 1000000",
            ));
        }
        cfg.latency.tokens_per_second = tps;
    }
    if let Some(j) = m.jitter {
        if !(0.0..=1.0).contains(&j) {
            return Err(c.err(
                &at("jitter"),
                "must be between 0 and 1 (a fraction of each gap)",
            ));
        }
        cfg.latency.jitter = j;
    }
    if let Some(p) = m.prefill_tokens_per_second {
        if !p.is_finite() || p <= 0.0 || p > 100_000_000.0 {
            return Err(c.err(
                &at("prefill_tokens_per_second"),
                "must be more than 0 and at most 100000000",
            ));
        }
        cfg.latency.prefill_tokens_per_second = p;
    }
    if let Some(p) = m.stop_probability {
        if !(0.0..=1.0).contains(&p) {
            return Err(c.err(
                &at("stop_probability"),
                "must be from 0 to 1 (the chance an answer reaching max_tokens ends on its own)",
            ));
        }
        cfg.stop_probability = p;
    }
    for (region, share) in m.served_regions.iter().flatten() {
        if !share.is_finite() || *share <= 0.0 {
            return Err(c.err(
                &at(&format!("served_regions.{region}")),
                "must be a positive share",
            ));
        }
        cfg.served_regions.push((region.clone(), *share));
    }
    if let Some(o) = &m.oauth2 {
        if o.token_lifetime.0 < Duration::from_millis(100) {
            return Err(c.err(&at("oauth2.token_lifetime"), "must be at least 100ms"));
        }
        cfg.oauth2_token_lifetime = Some(o.token_lifetime.0);
    }
    if let Some(t) = &m.tokenizer {
        cfg.encoding = Some(mock_server::tokens::Encoding::from_name(t).ok_or_else(|| {
            c.err(
                &at("tokenizer"),
                format!("expected cl100k_base or o200k_base, found `{t}`"),
            )
        })?);
    }
    if let Some(t) = m.template_tokens_per_message {
        if t > 1000 {
            return Err(c.err(&at("template_tokens_per_message"), "must be at most 1000"));
        }
        cfg.template_tokens_per_message = t;
    }
    if let Some(b) = m.backlog {
        if b == 0 {
            return Err(c.err(&at("backlog"), "must be at least 1"));
        }
        cfg.backlog = b;
    }
    if let Some(p) = m.tool_call_probability {
        if !(0.0..=1.0).contains(&p) {
            return Err(c.err(&at("tool_call_probability"), "must be from 0 to 1"));
        }
        cfg.tool_call_probability = p;
    }
    if let Some(model::ModelFamily::Reasoning) = m.model_family {
        cfg.model_family = mock_server::ModelFamily::Reasoning;
    }
    if let Some(r) = &m.reasoning {
        let tokens = c.sampler(
            &r.tokens.map(|v| *v as f64),
            &at("reasoning.tokens"),
            1_000_000.0,
        )?;
        let tps = r.tokens_per_second.unwrap_or(0.0);
        if !tps.is_finite() || !(0.0..=1_000_000.0).contains(&tps) {
            return Err(c.err(
                &at("reasoning.tokens_per_second"),
                "must be more than 0 and at most 1000000",
            ));
        }
        cfg.reasoning = Some(mock_server::Reasoning {
            tokens,
            visible: match r.visible.unwrap_or(model::ReasoningVisibility::Hidden) {
                model::ReasoningVisibility::Hidden => mock_server::ReasoningVisibility::Hidden,
                model::ReasoningVisibility::ReasoningContent => {
                    mock_server::ReasoningVisibility::ReasoningContent
                }
                model::ReasoningVisibility::AnthropicThinking => {
                    mock_server::ReasoningVisibility::AnthropicThinking
                }
            },
            tokens_per_second: tps,
        });
    }
    if let Some(k) = &m.capacity {
        if k.slots == 0 || k.slots > 100_000 {
            return Err(c.err(&at("capacity.slots"), "must be from 1 to 100000"));
        }
        if k.queue > 1_000_000 {
            return Err(c.err(&at("capacity.queue"), "must be at most 1000000"));
        }
        let rate = |v: f64, key: &str| {
            if v.is_finite() && v > 0.0 && v <= 1e9 {
                Ok(v)
            } else {
                Err(c.err(
                    &at(&format!("capacity.{key}")),
                    "must be more than 0 tokens a second",
                ))
            }
        };
        let on_full = match k.on_full.as_deref().unwrap_or("429") {
            "429" => mock_server::OnFull::RateLimit,
            "503" => mock_server::OnFull::Unavailable,
            "queue" => mock_server::OnFull::Queue,
            other => {
                return Err(c.err(
                    &at("capacity.on_full"),
                    format!("expected \"429\", \"503\" or queue, found `{other}`"),
                ))
            }
        };
        cfg.capacity = Some(mock_server::CapacityModel {
            slots: k.slots,
            queue: k.queue,
            prefill_tokens_per_second: match k.prefill_tokens_per_second {
                Some(p) => rate(p, "prefill_tokens_per_second")?,
                None => 0.0,
            },
            decode_tokens_per_second: rate(k.decode_tokens_per_second, "decode_tokens_per_second")?,
            on_full,
        });
    }
    if let Some(rl) = m.rate_limit {
        for (v, k) in [(rl.rpm, "rpm"), (rl.tpm, "tpm")] {
            if v == Some(0) {
                return Err(c.err(&at(&format!("rate_limit.{k}")), "must be more than 0"));
            }
        }
        if rl.rpm.is_none() && rl.tpm.is_none() {
            return Err(c.err(&at("rate_limit"), "needs rpm, tpm or both"));
        }
        cfg.rate_limit = Some(mock_server::RateLimit {
            rpm: rl.rpm,
            tpm: rl.tpm,
        });
    }
    Ok(cfg)
}
