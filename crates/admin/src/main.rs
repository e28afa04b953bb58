//! `zk-admin`: moves data from Apache ZooKeeper into zk-node (`import-zookeeper`) and back
//! (`export-zookeeper`), takes an online backup of a running ensemble and prepares a data dir
//! from it (`backup`, `restore`), and shows what a ZooKeeper or a zk-node data dir holds
//! (`inspect`).
//! The formats are zk-format's; reading and writing a zk-node data dir is zk-consensus's; this
//! binary only finds files, chooses, converts, and reports.
//!
//! It never writes into the directory it reads (beyond what the node's own start would do
//! there: see `nodedir`), and writes a data dir only whole.

mod backup;
mod export;
mod fresh;
mod import;
mod inspect;
mod nodedir;
mod nodeinspect;
mod zkdir;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::inspect::Dump;
use crate::zkdir::ZkDir;

#[derive(Parser, Debug)]
#[command(
    name = "zk-admin",
    version,
    about = "Move data between Apache ZooKeeper and zk-node; look inside their data dirs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Summarize an Apache ZooKeeper dataDir (its version-2/ snapshots and logs) or a stopped
    /// zk-node's data dir (its snapshot and log), every checksum verified, and optionally
    /// dump the tree or a zxid range of transactions.
    Inspect {
        /// ZooKeeper's dataDir (or its version-2/ directory), or a zk-node data dir.
        dir: PathBuf,
        /// ZooKeeper's dataLogDir, if the logs are kept apart.
        #[arg(long)]
        log_dir: Option<PathBuf>,
        /// Dump the loaded tree, or the logged transactions.
        #[arg(long, value_enum)]
        dump: Option<Dump>,
        /// With --dump txns: the first zxid (hex with 0x, or decimal).
        #[arg(long, value_parser = parse_zxid, default_value = "0")]
        from: i64,
        /// With --dump txns: the last zxid.
        #[arg(long, value_parser = parse_zxid, default_value_t = i64::MAX)]
        to: i64,
        /// A zk-node dir: replay its log as a node started with --ttl-nodes does.
        #[arg(long)]
        ttl_nodes: bool,
    },
    /// Export a stopped zk-node's data dir as an Apache ZooKeeper 3.8 dataDir (a
    /// version-2/snapshot.<zxid> that ZooKeeper loads): the way back.
    ExportZookeeper {
        /// The zk-node data dir (its node stopped).
        #[arg(long)]
        data_dir: PathBuf,
        /// The ZooKeeper dataDir to create (must not exist, or be empty).
        zk_data_dir: PathBuf,
        /// Replay the log as a node started with --ttl-nodes does (give it exactly when the
        /// node ran with it).
        #[arg(long)]
        ttl_nodes: bool,
    },
    /// Import an Apache ZooKeeper dataDir (stopped) into a new zk-node data dir: the newest
    /// valid snapshot and every logged transaction after it.
    ImportZookeeper {
        /// ZooKeeper's dataDir (or its version-2/ directory).
        zk_data_dir: PathBuf,
        /// ZooKeeper's dataLogDir, if the logs are kept apart.
        #[arg(long)]
        log_dir: Option<PathBuf>,
        #[command(flatten)]
        target: NewDataDir,
    },
    /// Take an online backup: fetch a consistent snapshot from a running zk-node's admin HTTP
    /// port (`GET /commands/snapshot?streaming=true`, ZooKeeper 3.9's command), check its
    /// seal and write it to FILE (into FILE/snapshot.<zxid> when FILE is a directory).
    Backup {
        /// The admin HTTP server, HOST:PORT (zk-node's --admin-port, ZooKeeper's
        /// admin.serverPort).
        #[arg(long)]
        server: String,
        /// The snapshot command's auth, sent as the `Authorization` header: `digest
        /// user:password` (or `ip`), whose ids must hold ALL on `/` (ZooKeeper 3.9's rule).
        /// Prefer the environment variable: a flag shows in the process list.
        #[arg(long, env = "ZK_ADMIN_AUTH", hide_env_values = true)]
        auth: Option<String>,
        /// Where to write the backup (a new file, or an existing directory).
        file: PathBuf,
    },
    /// Prepare a new zk-node data dir from a backup (`import-zookeeper` of that snapshot).
    Restore {
        /// The backup file.
        file: PathBuf,
        /// The backup's zxid (as `backup` printed it); by default the one its name
        /// `snapshot.<hex>` carries.
        #[arg(long, value_parser = parse_zxid)]
        zxid: Option<i64>,
        #[command(flatten)]
        target: NewDataDir,
    },
}

/// The zk-node data dir that `import-zookeeper` and `restore` write, and the node it is for.
#[derive(clap::Args, Debug)]
struct NewDataDir {
    /// The zk-node data dir to create (must not exist, or be empty).
    #[arg(long)]
    data_dir: PathBuf,
    /// The zk-node's id (as its --id).
    #[arg(long, default_value_t = 1)]
    id: u64,
    /// The ensemble, exactly as the zk-nodes will get it (`1=host:port,...`); without it,
    /// a one-node zk-node started without --peers.
    #[arg(long)]
    peers: Option<String>,
}

impl NewDataDir {
    /// Writes `db` as this data dir (whole or not at all); `what` names the step in errors.
    fn write(&self, db: &zk_format::ZkDatabase, what: &str) -> Result<import::Imported> {
        let peers = match &self.peers {
            Some(p) => import::parse_peers(p)?,
            // The one-member ensemble of a node started without --peers.
            None => [(self.id, STANDALONE_PEER_ADDR.to_string())]
                .into_iter()
                .collect(),
        };
        import::import(db, &self.data_dir, self.id, peers)
            .with_context(|| format!("{what} into {}", self.data_dir.display()))
    }
}

fn parse_zxid(s: &str) -> Result<i64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).map(|z| z as i64),
        None => s.parse::<i64>(),
    };
    r.map_err(|e| format!("{s:?} is not a zxid: {e}"))
}

/// The membership address zk-node records for a node run without --peers.
const STANDALONE_PEER_ADDR: &str = "standalone";

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Inspect {
            dir,
            log_dir,
            dump,
            from,
            to,
            ttl_nodes,
        } => {
            if nodedir::detect(&dir)? == nodedir::DirKind::ZkNode {
                if log_dir.is_some() {
                    anyhow::bail!("--log-dir is for an Apache ZooKeeper dataDir only");
                }
                let node = nodedir::NodeDir::open(&dir, ttl_nodes)?;
                print!("{}", nodeinspect::summary(&node));
                match dump {
                    Some(Dump::Tree) => print!("{}", nodeinspect::dump_tree(&node)?),
                    Some(Dump::Txns) => print!("{}", nodeinspect::dump_txns(&node, from, to)),
                    None => {}
                }
                return Ok(());
            }
            let zk = ZkDir::open(&dir, log_dir.as_deref())?;
            let summary = inspect::summary(&zk);
            print!("{}", summary.text);
            match (dump, &summary.db) {
                (Some(Dump::Tree), Some(db)) => print!("{}", inspect::dump_tree(db)),
                (Some(Dump::Txns), _) => print!("{}", inspect::dump_txns(&zk, from, to)?),
                _ => {}
            }
            if summary.db.is_none() {
                anyhow::bail!("the database cannot be loaded (see above)");
            }
            if summary.damaged > 0 {
                anyhow::bail!("{} damaged files (see above)", summary.damaged);
            }
            Ok(())
        }
        Command::ExportZookeeper {
            data_dir,
            zk_data_dir,
            ttl_nodes,
        } => export_zookeeper(&data_dir, &zk_data_dir, ttl_nodes),
        Command::Backup { server, auth, file } => {
            let done = backup::backup(&server, auth.as_deref(), &file)
                .with_context(|| format!("backing up {server}"))?;
            println!(
                "backup of {server}: zxid {:#x}, {} bytes, {} znodes, {} sessions, seal OK, into {}",
                done.zxid,
                done.len,
                done.znodes,
                done.sessions,
                done.file.display()
            );
            Ok(())
        }
        Command::Restore { file, zxid, target } => {
            let checked = backup::read_backup(&file, zxid)?;
            let done = target.write(&checked.db, "restoring")?;
            println!(
                "restored {} ({} bytes, seal OK): {} into {}",
                file.display(),
                checked.len,
                done.summary(),
                target.data_dir.display()
            );
            Ok(())
        }
        Command::ImportZookeeper {
            zk_data_dir,
            log_dir,
            target,
        } => {
            let zk = ZkDir::open(&zk_data_dir, log_dir.as_deref())?;
            let (db, report) = zk.load()?;
            for s in &report.skipped_snapshots {
                eprintln!("zk-admin: warning: passed over a damaged snapshot: {s}");
            }
            if let Some(t) = &report.torn_tail {
                eprintln!("zk-admin: note: {t}");
            }
            let done = target.write(&db, "importing")?;
            println!(
                "imported {} + {} txns ({}): {} into {}",
                report.snapshot,
                report.replayed,
                report.logs_read.join(", "),
                done.summary(),
                target.data_dir.display()
            );
            Ok(())
        }
    }
}

fn export_zookeeper(data_dir: &Path, zk_data_dir: &Path, ttl_nodes: bool) -> Result<()> {
    let node = nodedir::NodeDir::open(data_dir, ttl_nodes)?;
    if node.not_applied > 0 {
        eprintln!(
            "zk-admin: note: {} log entries past the committed id are left out (see inspect)",
            node.not_applied
        );
    }
    if node.ttl_creates > 0 && !ttl_nodes {
        eprintln!(
            "zk-admin: note: {} TTL creates were replayed with TTL nodes off, as on a node \
             started without --ttl-nodes",
            node.ttl_creates
        );
    }
    let done = export::export(&node.state, zk_data_dir)
        .with_context(|| format!("exporting into {}", zk_data_dir.display()))?;
    println!(
        "exported {} (log index {}): {} znodes, {} sessions, {} ephemerals, zxid {:#x} into {} ({} bytes)",
        data_dir.display(),
        node.applied_to.map_or("none".into(), |i| i.to_string()),
        done.znodes,
        done.sessions,
        done.ephemerals,
        done.zxid,
        done.file.display(),
        done.len
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-admin: {e:#}");
            ExitCode::from(1)
        }
    }
}
