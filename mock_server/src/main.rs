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
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let ms = |v: f64| Duration::from_secs_f64(v.max(0.0) / 1000.0);
    let config = MockConfig {
        seed: a.seed,
        latency: LatencyModel {
            ttft: Spread::Normal {
                mean: ms(a.ttft_ms),
                stddev: ms(a.ttft_stddev_ms),
                min: Duration::ZERO,
                max: Duration::MAX,
            },
            tokens_per_second: a.tokens_per_second,
            jitter: a.jitter,
            prefill_tokens_per_second: a.prefill_tokens_per_second.max(0.0),
        },
        default_output_tokens: a.output_tokens,
        ..MockConfig::default()
    };
    let handle = match mock_server::spawn_on(a.listen, config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", a.listen);
            std::process::exit(2);
        }
    };
    println!(
        "llm-drill mock listening on {} (POST /v1/chat/completions, GET /stats)",
        handle.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
}
