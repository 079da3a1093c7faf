//! The `llm-drill` binary: parse the command line, install the one shutdown path
//! (first Ctrl-C/SIGTERM drains and writes partial results, a second exits at once), call
//! the library, and exit with its code. Nothing else.

use clap::Parser;
use llm_drill::cli::Cli;
use llm_drill::commands;
use tokio_util::sync::CancellationToken;

// A load generator allocates per call on every core; glibc's malloc was a tenth of the
// CPU per call at 80k calls/s (benches/loadgen.sh throughput). oha uses jemalloc likewise.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc asks the kernel for transparent huge pages on its arenas (madvise), and a
/// huge page stays resident, all 2 MiB of it, while any of it is in use: over an hour of
/// mixed traffic the RSS grew 9.1 MiB, in 2 MiB steps that purging freed memory never
/// took back (`benches/soak.sh`, issue 18); without them, 2.3 MiB over the hour, and
/// calls are no slower (`benches/loadgen.sh ab`). What mimalloc's own `MIMALLOC_ALLOW_THP=0` does, for this
/// process only; on Linux, where the kernel has them.
fn no_transparent_huge_pages() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(commands::EXIT_FATAL);
        }
    };
    let code = runtime.block_on(async {
        let stop = CancellationToken::new();
        let watcher = stop.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            eprintln!("\nstopping: no new calls; waiting for calls in flight (Ctrl-C again to quit at once)");
            watcher.cancel();
            shutdown_signal().await;
            eprintln!("quitting at once: results of this run are not written");
            std::process::exit(commands::EXIT_INTERRUPTED);
        });
        commands::dispatch(cli.command, stop).await
    });
    std::process::exit(code);
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
