//! One file per workload; this module holds what they share: the run's context ([`Bench`]:
//! options, servers, window, progress line), the request-future types, and the dispatcher.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;
use zk_client::{Client, CreateOptions, Error};

use crate::options::{Options, Workload};
use crate::report::Report;
use crate::window::Window;

pub mod create;
pub mod ephemeral;
pub mod failover;
pub mod fill;
pub mod get;
pub mod keys;
pub mod mixed;
pub mod non_readers;
pub mod pipelined;
pub mod sessions;
pub mod set;
pub mod stale;
pub mod timed;

/// One request in flight.
pub type OpFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// Makes the next request of one loop.
pub type NextOp = Box<dyn FnMut() -> OpFuture + Send>;

/// Runs the workload the options name.
pub async fn run(opts: Options) -> anyhow::Result<Report> {
    let bench = Bench::new(opts)?;
    let report = match bench.opts.workload {
        Workload::Create => create::run(&bench).await,
        Workload::Set => set::run(&bench).await,
        Workload::Get => get::run(&bench).await,
        Workload::Mixed => mixed::run(&bench).await,
        Workload::Sessions => sessions::run(&bench).await,
        Workload::Ephemeral => ephemeral::run(&bench).await,
        Workload::Failover => failover::run(&bench).await,
        Workload::Fill => fill::run(&bench).await,
        Workload::Stale => stale::run(&bench).await,
        Workload::NonReaders => non_readers::run(&bench).await,
    };
    bench.window.abort();
    report
}

/// The context of one run.
pub struct Bench {
    /// The checked options.
    pub opts: Options,
    /// `--servers` split.
    pub servers: Vec<String>,
    /// The measurement window and live counters.
    pub window: Arc<Window>,
    /// The value every write sends (`--value-size` bytes).
    pub value: Arc<Vec<u8>>,
    /// A name unique to this run, for the znodes it creates.
    pub run_id: String,
    progress: Option<JoinHandle<()>>,
}

impl Bench {
    /// Checks the options and starts the progress line.
    pub fn new(opts: Options) -> anyhow::Result<Bench> {
        opts.validate().map_err(anyhow::Error::msg)?;
        let servers = opts.server_list().map_err(anyhow::Error::msg)?;
        let window = Arc::new(Window::new());
        let progress = crate::progress::spawn(window.clone(), opts.workload.name(), opts.quiet);
        let value = Arc::new(vec![b'v'; opts.value_size]);
        Ok(Bench {
            servers,
            window,
            value,
            run_id: run_id(),
            progress,
            opts,
        })
    }

    /// Opens `n` clients (spread or all-to-one) and waits until all are CONNECTED.
    pub async fn connect(&self, n: usize) -> anyhow::Result<Vec<Client>> {
        crate::clients::connect_all(
            &self.servers,
            n,
            self.opts.spread,
            self.opts.session_timeout(),
            Duration::from_secs_f64(self.opts.connect_timeout),
        )
        .await
    }

    /// A path under `--root` for this run: `<root>/<what>-<run id>`.
    pub fn run_path(&self, what: &str) -> String {
        format!("{}/{what}-{}", self.opts.root, self.run_id)
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(p) = self.progress.take() {
            p.abort();
        }
    }
}

/// `<pid>-<hex of the clock>`: distinct between runs on one machine.
fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{:x}",
        std::process::id(),
        (nanos / 1000) & 0xff_ffff_ffff
    )
}

/// Creates `path` (empty, persistent) unless it exists.
pub async fn ensure_path(client: &Client, path: &str) -> Result<(), Error> {
    match client.create(path, b"", &CreateOptions::persistent()).await {
        Ok(_) | Err(Error::NodeExists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `--root` and then `path` below it.
pub async fn ensure_under_root(bench: &Bench, client: &Client, path: &str) -> anyhow::Result<()> {
    ensure_path(client, &bench.opts.root)
        .await
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", bench.opts.root))?;
    ensure_path(client, path)
        .await
        .map_err(|e| anyhow::anyhow!("creating {path}: {e}"))
}
