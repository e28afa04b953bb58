//! `zk-node`: parse the flags (and a zoo.cfg), start the server, stop it cleanly on SIGINT/SIGTERM (or, with
//! `--health-check`, only ask a running node whether it is alive).

use anyhow::Context;
use tracing_subscriber::EnvFilter;
use zk_node::config::LoadError;
use zk_node::config::NoteLevel;
use zk_node::Config;
use zk_node::Server;

mod allocator;

fn main() -> anyhow::Result<()> {
    allocator::configure();
    // Before anything is created: the data dir's files are this member's alone.
    zk_node::data_dir::restrict_umask();
    let (config, notes) = match Config::load_from(std::env::args_os()) {
        Ok(loaded) => loaded,
        // --help, --version and a bad flag: clap prints and picks the exit code.
        Err(LoadError::Flags(e)) => e.exit(),
        Err(LoadError::File(e)) => return Err(e).context("bad configuration"),
    };
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
    zk_node::logging::init(filter, config.log_format);
    if cfg!(feature = "unsafe-ack-before-flush") {
        tracing::error!(
            "BROKEN TEST BUILD (feature unsafe-ack-before-flush): log appends are acknowledged \
             before they are durable; acknowledged writes can be lost"
        );
    }
    if let Some(file) = &config.config {
        let file = file.display().to_string();
        for note in &notes {
            match note.level {
                NoteLevel::Warn => tracing::warn!(%file, "zoo.cfg {note}"),
                NoteLevel::Info => tracing::info!(%file, "zoo.cfg {note}"),
            }
        }
    }
    let settings = config.settings().context("bad configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.worker_threads.get())
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
