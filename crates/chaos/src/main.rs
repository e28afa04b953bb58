//! `zk-chaos`: runs the chaos workload against local zk-node processes or the
//! docker-compose cluster, prints the faults, the checks and a final `verdict:` line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use zk_chaos::ensemble::{Docker, Processes, ProcessesConfig};
use zk_chaos::faults::Kind;
use zk_chaos::{run, Ensemble, RunConfig, RunOutcome};
use zk_history::history::Params;
use zk_history::History;

/// Chaos testing for zk-node: a recorded workload under seeded faults, then a verdict.
///
/// Workload: compare-and-set clients on a few registers, sequential creates under a few
/// parents, sessions that own an ephemeral and then close, go silent or stay alive, and an
/// observer of those ephemerals. Faults, one at a time with calm in between: kill -9 of a
/// member, of the leader, pause (SIGSTOP / docker pause), isolation from the other members,
/// kill -9 of every member, and on request (processes only) membership changes:
/// `reconfig` removes a member, wipes it and adds it back as a joining node; `resize` (five
/// members) shrinks to three, replaces a member by another id, grows back to five; the
/// leader is sometimes killed in the middle of a change. With `--observers N` (processes
/// only) N non-voting members serve beside the voters, a share of the clients connected to
/// them only; faults about the quorum hit voters only, one-member faults any member. After the run everything is repaired, the final state read, and
/// the record checked: registers linearizable, no acknowledged create lost, sequential names
/// unique and increasing, ephemerals gone in time and never early, no client going back in
/// time. The last line is `verdict: PASS` or `verdict: FAIL <reason>`; exit status 0, 1 on
/// FAIL, 2 if the run could not be carried out.
#[derive(Debug, Parser)]
#[command(name = "zk-chaos", version)]
struct Cli {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, Subcommand)]
enum Target {
    /// Three local zk-node processes on loopback (peer links through proxies); a fresh
    /// ensemble per seed.
    Processes {
        /// The zk-node binary.
        #[arg(long, default_value = "target/release/zk-node")]
        bin: PathBuf,
        /// Voting members.
        #[arg(long, default_value_t = 3)]
        size: usize,
        /// The last seed of a range starting at --seed: one run per seed (e.g. --seed 1
        /// --to-seed 100).
        #[arg(long)]
        to_seed: Option<u64>,
        /// Keep every member's data dir and log under DIR/seed-N.
        #[arg(long)]
        keep: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// The docker-compose cluster of deploy/ (deploy/cluster.sh up).
    Docker {
        /// The docker-compose project.
        #[arg(long, default_value = "zknode", env = "ZKNODE_PROJECT")]
        project: String,
        /// The client ports published on 127.0.0.1, in service order (zk1, zk2, ...).
        #[arg(long, value_delimiter = ',', default_value = "2181,2182,2183")]
        ports: Vec<u16>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Checks a history written with --history again.
    Check {
        /// The JSON file.
        file: PathBuf,
        /// The servers' tick in ms when it was recorded.
        #[arg(long, default_value_t = 200)]
        tick_ms: u64,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// How long faults are injected, in seconds (the final reads and checks come after).
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seeds the fault schedule and every client's choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The servers' tick in ms (zk-node's --tick-ms; the compose cluster runs the default
    /// 2000).
    #[arg(long)]
    tick_ms: Option<u64>,
    /// The fault kinds, comma-separated: kill, kill-leader, pause, partition, restart-all,
    /// quorum-loss, reconfig, resize (these two: processes only, not in the default list;
    /// resize needs --size 5), or none.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kill,kill-leader,pause,partition,restart-all,quorum-loss"
    )]
    faults: Vec<String>,
    /// Write the whole history as JSON here (with a seed range: one file per seed, the seed
    /// appended).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Observers besides the voting members (processes only): non-voting members named
    /// `id=host:port:observer` in the founding --peers, ids after the voters'. A third of the
    /// register and create clients and every other ephemeral owner connect to an observer
    /// only; kill, pause and partition may hit them, kill-leader and quorum-loss never.
    #[arg(long, default_value_t = 0)]
    observers: usize,
}

impl RunArgs {
    fn config(&self, seed: u64, default_tick_ms: u64) -> anyhow::Result<RunConfig> {
        let tick = Duration::from_millis(self.tick_ms.unwrap_or(default_tick_ms));
        let mut cfg = RunConfig::new(seed, Duration::from_secs(self.duration), tick);
        cfg.kinds = if self.faults.iter().any(|f| f == "none") {
            Vec::new()
        } else {
            self.faults
                .iter()
                .map(|f| f.parse::<Kind>().map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<_>>()?
        };
        cfg.history_out = self.history.clone();
        Ok(cfg)
    }
}

fn print_outcome(o: &RunOutcome, observers: usize) {
    println!(
        "checked {} operations ({} register calls, {} creates, {} sessions, {} observations), {} faults",
        o.ops(),
        o.history.registers.iter().map(|r| r.ops.len()).sum::<usize>(),
        o.history.creates.len(),
        o.history.sessions.len(),
        o.history.observations.len(),
        o.injected.windows.len()
    );
    if observers > 0 {
        println!("{}", o.observers);
    }
    println!("{}", o.report);
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("zk-chaos: {e:#}");
            println!("verdict: FAIL run not carried out: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<bool> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.target {
        Target::Check { file, tick_ms } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let history: History = serde_json::from_slice(&bytes).context("parsing the history")?;
            let cfg = RunConfig::new(0, Duration::ZERO, Duration::from_millis(tick_ms));
            let report = history.check(&Params {
                bounds: cfg.bounds(),
                search_budget: cfg.search_budget,
            });
            println!("{report}");
            Ok(report.passed())
        }
        Target::Docker {
            project,
            ports,
            run: args,
        } => {
            let cfg = args.config(args.seed, 2000)?;
            if args.observers > 0 {
                bail!(
                    "--observers is not supported on the docker backend (an observer is a \
                     member named `:observer` in every member's --peers, which the compose \
                     file fixes at three voters): run it with `zk-chaos processes`"
                );
            }
            if let Some(k) = cfg.kinds.iter().find(|k| Kind::OPTIONAL.contains(k)) {
                bail!(
                    "the {k} fault is not supported on the docker backend (removing a member \
                     means wiping its volume and starting it with other --peers, which the \
                     compose file fixes): run it with `zk-chaos processes`"
                );
            }
            let docker = Docker::discover(&project, &ports)?;
            let ensemble: Arc<dyn Ensemble> = Arc::new(docker);
            println!(
                "chaos: docker project {project}, seed {}, {} s, faults {:?}",
                cfg.seed,
                cfg.duration.as_secs(),
                cfg.kinds.iter().map(|k| k.name()).collect::<Vec<_>>()
            );
            let outcome = rt.block_on(run(ensemble, &cfg))?;
            print_outcome(&outcome, 0);
            Ok(outcome.report.passed())
        }
        Target::Processes {
            bin,
            size,
            to_seed,
            keep,
            run: args,
        } => {
            if !bin.exists() {
                bail!(
                    "no zk-node binary at {} (cargo build --release -p zk-node, or --bin)",
                    bin.display()
                );
            }
            let last = to_seed.unwrap_or(args.seed);
            if last < args.seed {
                bail!("--to-seed {last} is before --seed {}", args.seed);
            }
            let started = Instant::now();
            let mut failed = Vec::new();
            for seed in args.seed..=last {
                let mut cfg = args.config(seed, 200)?;
                if to_seed.is_some() {
                    cfg.history_out = args
                        .history
                        .as_ref()
                        .map(|h| PathBuf::from(format!("{}.{seed}", h.display())));
                }
                let observers = match args.observers {
                    0 => String::new(),
                    1 => " + 1 observer".to_string(),
                    n => format!(" + {n} observers"),
                };
                println!(
                    "chaos: {size} processes{observers}, seed {seed}, {} s, faults {:?}",
                    cfg.duration.as_secs(),
                    cfg.kinds.iter().map(|k| k.name()).collect::<Vec<_>>()
                );
                let started = Processes::start(ProcessesConfig {
                    bin: bin.clone(),
                    size,
                    observers: args.observers,
                    tick_ms: cfg.tick.as_millis() as u64,
                    dir: keep.as_ref().map(|k| k.join(format!("seed-{seed}"))),
                })
                .map_err(anyhow::Error::from)
                .map(|p| Arc::new(p) as Arc<dyn Ensemble>)
                .and_then(|e| Ok((e.clone(), rt.block_on(run(e, &cfg))?)));
                // In a range, a seed that could not be carried out counts as failed; the
                // others still run.
                let (ensemble, outcome) = match started {
                    Ok(done) => done,
                    Err(e) if to_seed.is_some() => {
                        println!("seed {seed}: run not carried out: {e:#}");
                        println!("verdict: FAIL run not carried out: {e}");
                        failed.push(seed);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                print_outcome(&outcome, args.observers);
                if !outcome.report.passed() {
                    failed.push(seed);
                    for i in 0..ensemble.size() {
                        println!("{}", ensemble.describe(i));
                    }
                }
            }
            if to_seed.is_some() {
                println!(
                    "seeds {}..={last}: {} passed, {} failed {failed:?}, {:.0} s in all",
                    args.seed,
                    (last - args.seed + 1) as usize - failed.len(),
                    failed.len(),
                    started.elapsed().as_secs_f64()
                );
                if failed.is_empty() {
                    println!("verdict: PASS");
                } else {
                    println!("verdict: FAIL seeds {failed:?}");
                }
            }
            Ok(failed.is_empty())
        }
    }
}
