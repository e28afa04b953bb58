//! The `zk-cli` binary: reads the options (flags and `ZK_CLI_*` variables), then runs the
//! interactive shell or one command. All behaviour lives in the `zk_cli` library; this file
//! only wires it to the process (runtime, exit status).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser};
use zk_cli::error::EXIT_USAGE;
use zk_cli::session::Settings;
use zk_cli::stdio::print_err;
use zk_cli::{help, oneshot, session, shell};
use zk_client::TlsOptions;

/// A zkCli.sh-style client for ZooKeeper and zk-node.
#[derive(Debug, Parser)]
#[command(name = "zk-cli", version, args_override_self = true)]
struct Args {
    /// Servers and optional chroot: host:port[,host:port...][/chroot] (zkCli's -server is
    /// accepted too)
    #[arg(long, env = "ZK_CLI_SERVER", default_value = "127.0.0.1:2181")]
    server: String,

    /// How long to wait for a server to accept the session, in ms; one-shot mode fails with
    /// ConnectionLoss after it
    #[arg(long, env = "ZK_CLI_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,

    /// The session timeout asked of the server, in ms (it grants a value within its bounds)
    #[arg(long, env = "ZK_CLI_SESSION_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    session_timeout_ms: u64,

    /// One-shot mode with -w: how long to wait for the event, in ms, before exiting with
    /// status 3 [default: no limit]
    #[arg(long, env = "ZK_CLI_WAIT_MS")]
    wait_ms: Option<u64>,

    /// Connect with TLS, trusting the CA certificates of this PEM file (the servers' secure
    /// client ports; zkCli's zookeeper.client.secure with zookeeper.ssl.trustStore.location)
    #[arg(long, env = "ZK_CLI_TLS_CA", value_name = "PEM")]
    tls_ca: Option<PathBuf>,

    /// With --tls-ca: present this client certificate (PEM; the chain, the client's first),
    /// which gives the session the certificate subject's x509 id
    #[arg(long, env = "ZK_CLI_TLS_CERT", value_name = "PEM", requires = "tls_ca")]
    tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM, unencrypted) [default: the --tls-cert file, which
    /// may hold both, as ZooKeeper's PEM key store]
    #[arg(
        long,
        env = "ZK_CLI_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,

    /// With --tls-ca: check the server's certificate for this name instead of the host in
    /// --server
    #[arg(
        long,
        env = "ZK_CLI_TLS_SERVER_NAME",
        value_name = "NAME",
        requires = "tls_ca"
    )]
    tls_server_name: Option<String>,

    /// Add this identity to the session as `addauth` would, e.g. `digest:super:secret`
    /// (repeatable; ZK_CLI_AUTH holds one, out of sight of `ps`)
    #[arg(long, env = "ZK_CLI_AUTH", value_name = "SCHEME:CREDENTIALS")]
    auth: Vec<String>,

    /// Do not read or write ~/.zk-cli_history
    #[arg(long)]
    no_history_file: bool,

    /// A command and its arguments, run once (see below); none starts the shell
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            print_err(&format!("zk-cli: {e:#}\n"));
            ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<i32> {
    let args = parse_args();
    if let Err(reason) = session::check_server(&args.server) {
        print_err(&format!("BadArguments: --server: {reason}\n"));
        return Ok(EXIT_USAGE);
    }
    let tls = match tls_options(&args) {
        Ok(tls) => tls,
        Err(e) => {
            print_err(&format!("BadArguments: {e}\n"));
            return Ok(EXIT_USAGE);
        }
    };
    let mut auth = Vec::new();
    for a in &args.auth {
        match session::parse_auth(a) {
            Ok(pair) => auth.push(pair),
            Err(reason) => {
                print_err(&format!("BadArguments: {reason}\n"));
                return Ok(EXIT_USAGE);
            }
        }
    }
    let settings = Settings {
        server: args.server.clone(),
        connect_timeout: Duration::from_millis(args.timeout_ms),
        session_timeout: Duration::from_millis(args.session_timeout_ms),
        tls,
        auth,
    };
    // One worker is plenty for one session; the main thread reads lines and blocks on
    // commands, so the connection task must live on its own thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let code = if args.command.is_empty() {
        let history_file = match std::env::var_os("HOME") {
            Some(home) if !home.is_empty() && !args.no_history_file => {
                Some(PathBuf::from(home).join(".zk-cli_history"))
            }
            _ => None,
        };
        shell::run(
            &rt,
            shell::Options {
                settings,
                history_file,
            },
        )
    } else {
        let opts = oneshot::Options {
            settings,
            wait: args.wait_ms.map(Duration::from_millis),
        };
        oneshot::run(&rt, &args.command, &opts)
    };
    // The runtime may hold a connection task blocked on a dead server: do not wait for it.
    rt.shutdown_background();
    Ok(code)
}

/// The TLS options of --tls-ca and its companions, the files read now so a bad one is said
/// before anything connects.
fn tls_options(args: &Args) -> Result<Option<TlsOptions>, zk_client::Error> {
    let Some(ca) = &args.tls_ca else {
        return Ok(None);
    };
    let client = args.tls_cert.as_deref().map(|cert| {
        let key = args.tls_key.as_deref().unwrap_or(cert);
        (cert, key)
    });
    let mut tls = TlsOptions::from_pem_files(ca, client)?;
    if let Some(name) = &args.tls_server_name {
        tls = tls.server_name(name.clone());
    }
    Ok(Some(tls))
}

/// Clap's parse with the long help attached, and zkCli's `-server` spelling accepted.
fn parse_args() -> Args {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "-server") {
        argv[1] = "--server".into();
    }
    let text = help::long_help();
    let matches = Args::command()
        .after_help("Run with --help for the commands, exit statuses and environment.")
        .after_long_help(text)
        .get_matches_from(argv);
    match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    }
}
