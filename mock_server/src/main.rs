//! `llm-drill-mock`: the mock endpoint as a standalone server, for rehearsing drills with
//! any client (llm-drill, oha, curl, your own gateway). Flags only; behaviour lives in the
//! library.

use clap::Parser;
use mock_server::{LatencyModel, MockConfig, Spread};
use std::net::SocketAddr;
use std::time::Duration;

/// An OpenAI-compatible mock LLM endpoint with a seeded latency model and `GET /stats`.
#[derive(Parser)]
#[command(name = "llm-drill-mock", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Mean time to first token, in milliseconds.
    #[arg(long, default_value_t = 300.0)]
    ttft_ms: f64,
    /// Standard deviation of the time to first token, in milliseconds.
    #[arg(long, default_value_t = 50.0)]
    ttft_stddev_ms: f64,
    /// Output tokens per second after the first.
    #[arg(long, default_value_t = 60.0)]
    tokens_per_second: f64,
    /// Relative jitter of each inter-token gap (0.1 = 10%).
    #[arg(long, default_value_t = 0.1)]
    jitter: f64,
    /// Prompt tokens read per second before the first token (0: off).
    #[arg(long, default_value_t = 0.0)]
    prefill_tokens_per_second: f64,
    /// Answer length when a request gives no max_tokens.
    #[arg(long, default_value_t = 128)]
    output_tokens: u32,
    /// Chance that an answer reaching its max_tokens ends on its own (finish_reason
    /// `stop`) rather than being cut (`length`), from 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    stop_probability: f64,
    /// Listen backlog: connections the kernel queues before the mock accepts them (it
    /// grants at most net.core.somaxconn). Deep by default, for bursts of thousands.
    #[arg(long, default_value_t = mock_server::listen::DEFAULT_BACKLOG)]
    backlog: u32,
    /// Serve https with this PEM certificate (chain), h2 or HTTP/1.1 by ALPN; needs
    /// --tls-key. Without it the mock speaks plain HTTP/1.1 and h2c.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    tls_key: Option<std::path::PathBuf>,
    /// Accept only the keys in this file, one per line: API keys (checked in each
    /// provider's own header) and AWS key pairs as ACCESS_KEY_ID:SECRET (Bedrock's
    /// SigV4 signatures are verified with them). Without it, any key is accepted.
    #[arg(long, value_name = "FILE")]
    keys_file: Option<std::path::PathBuf>,
    /// Count prompts with this encoding (cl100k_base or o200k_base) whatever the model;
    /// by default it follows the request's model name.
    #[arg(long)]
    tokenizer: Option<String>,
    /// Tokens a chat template adds to each message, counted as prompt.
    #[arg(long, default_value_t = 0)]
    template_tokens_per_message: u32,
}

/// The keys of `--keys-file`: its non-empty lines that are not `#` comments.
fn read_keys(path: &std::path::Path) -> Result<Vec<mock_server::AuthKey>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--keys-file {}: {e}", path.display()))?;
    let keys: Vec<mock_server::AuthKey> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|key| mock_server::AuthKey {
            key: key.to_string(),
            from: Duration::ZERO,
            until: None,
        })
        .collect();
    if keys.is_empty() {
        return Err(format!("--keys-file {}: no keys in it", path.display()));
    }
    Ok(keys)
}

/// A flag's value checked into its range, or the one-line error that names it.
fn within(flag: &str, v: f64, min: f64, max: f64, what: &str) -> Result<f64, String> {
    if v.is_finite() && (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "--{flag}: expected {what} from {min} to {max}, found {v}"
        ))
    }
}

impl Args {
    fn config(&self) -> Result<MockConfig, String> {
        let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
        let hour_ms = 3_600_000.0;
        let ttft = within("ttft-ms", self.ttft_ms, 0.0, hour_ms, "milliseconds")?;
        let stddev = within(
            "ttft-stddev-ms",
            self.ttft_stddev_ms,
            0.0,
            hour_ms,
            "milliseconds",
        )?;
        let tps = within(
            "tokens-per-second",
            self.tokens_per_second,
            0.001,
            1e6,
            "tokens per second",
        )?;
        let jitter = within("jitter", self.jitter, 0.0, 1.0, "a fraction")?;
        let prefill = within(
            "prefill-tokens-per-second",
            self.prefill_tokens_per_second,
            0.0,
            1e8,
            "tokens per second (0: off)",
        )?;
        let stop = within(
            "stop-probability",
            self.stop_probability,
            0.0,
            1.0,
            "a probability",
        )?;
        if self.backlog == 0 {
            return Err("--backlog: expected at least 1, found 0".into());
        }
        if self.output_tokens == 0 {
            return Err("--output-tokens: expected at least 1, found 0".into());
        }
        let encoding = match &self.tokenizer {
            None => None,
            Some(t) => Some(mock_server::tokens::Encoding::from_name(t).ok_or_else(|| {
                format!("--tokenizer: expected cl100k_base or o200k_base, found `{t}`")
            })?),
        };
        if self.template_tokens_per_message > 1000 {
            return Err(format!(
                "--template-tokens-per-message: expected at most 1000, found {}",
                self.template_tokens_per_message
            ));
        }
        let auth_keys = match &self.keys_file {
            Some(p) => read_keys(p)?,
            None => Vec::new(),
        };
        Ok(MockConfig {
            seed: self.seed,
            auth_keys,
            encoding,
            template_tokens_per_message: self.template_tokens_per_message,
            latency: LatencyModel {
                ttft: Spread::Normal {
                    mean: ms(ttft),
                    stddev: ms(stddev),
                    min: Duration::ZERO,
                    max: Duration::MAX,
                },
                tokens_per_second: tps,
                jitter,
                prefill_tokens_per_second: prefill,
            },
            default_output_tokens: self.output_tokens,
            stop_probability: stop,
            backlog: self.backlog,
            ..MockConfig::default()
        })
    }
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let config = match a.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let identity = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => match mock_server::TlsIdentity::from_files(cert, key) {
            Ok(i) => Some(i),
            Err(e) => {
                eprintln!("error: --tls-cert/--tls-key: {e}");
                std::process::exit(2);
            }
        },
        _ => None,
    };
    let handle = match mock_server::spawn_with(a.listen, config, identity).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", a.listen);
            std::process::exit(2);
        }
    };
    println!(
        "llm-drill mock listening on {} (OpenAI, Azure, Anthropic, Bedrock, Vertex and Gemini paths, GET /stats; listen backlog {})",
        handle.base_url(),
        handle.stats().backlog
    );
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
}
