//! `zk-node`: parse the flags, start the server, stop it cleanly on SIGINT/SIGTERM (or, with
//! `--health-check`, only ask a running node whether it is alive).

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use zk_node::Config;
use zk_node::Server;

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if let Some(addr) = config.health_check {
        return match zk_node::health::check(addr, std::time::Duration::from_secs(2)) {
            Ok(()) => Ok(()),
            Err(e) => {
                eprintln!("unhealthy: {e}");
                std::process::exit(1);
            }
        };
    }
    let filter = EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("bad --log-level {:?}", config.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if cfg!(feature = "unsafe-ack-before-flush") {
        tracing::error!(
            "BROKEN TEST BUILD (feature unsafe-ack-before-flush): log appends are acknowledged \
             before they are durable; acknowledged writes can be lost"
        );
    }
    let settings = config.settings().context("bad configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::start(settings).await?;
        wait_for_signal().await?;
        server.shutdown().await?;
        anyhow::Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::signal;
    use tokio::signal::unix::SignalKind;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}
