//! `zk-bench --servers HOSTS WORKLOAD [options]`: parses and checks the options, runs the
//! workload on a tokio runtime, prints the table (stdout, or stderr with `--json`) and the
//! JSON line. Errors end here as a message and exit code 1; exit code 2 is a usage error.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use zk_bench::{workload, Options};

fn main() -> ExitCode {
    let opts = Options::parse();
    if let Err(msg) = opts.validate() {
        eprintln!("zk-bench: {msg}");
        return ExitCode::from(2);
    }
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: Options) -> anyhow::Result<()> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = opts.threads {
        rt.worker_threads(n);
    }
    let rt = rt.build()?;
    let (json, quiet) = (opts.json, opts.quiet);
    let report = rt.block_on(workload::run(opts))?;
    // Tasks still parked on a dead server must not hold the process.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    let table = report.table();
    if json {
        if !quiet {
            eprint!("{table}");
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", report.json_line())?;
        out.flush()?;
    } else {
        print!("{table}");
    }
    Ok(())
}
