//! One-shot mode: parse the command, connect, run it, print its output, close the session,
//! and turn the outcome into an exit status scripts can rely on (see [`crate::error`]).

use std::time::Duration;

use tokio::runtime::Runtime;
use zk_client::{EventType, KeeperState, WatchStream, WatchedEvent};

use crate::command::{self, Command, LocalCommand, ZkCommand};
use crate::error::{CliError, ParseError, EXIT_OK, EXIT_USAGE};
use crate::help;
use crate::output;
use crate::session::{self, Settings};
use crate::stdio::{ctrl_c, print_err, print_out};

/// What one-shot mode needs besides the command.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where and how to connect.
    pub settings: Settings,
    /// How long `-w` waits for its event (`None`: until it comes).
    pub wait: Option<Duration>,
}

/// Runs `words` (a command and its arguments) and returns the exit status.
pub fn run(rt: &Runtime, words: &[String], opts: &Options) -> i32 {
    let cmd = match Command::parse(words) {
        Ok(Command::Zk(c)) => c,
        Ok(Command::Local(LocalCommand::Help)) => {
            print_out(&help::command_list());
            return EXIT_OK;
        }
        Ok(Command::Local(LocalCommand::Quit)) => return EXIT_OK,
        Ok(Command::Local(other)) => {
            let name = match other {
                LocalCommand::Connect(_) => "connect",
                LocalCommand::Close => "close",
                _ => "history",
            };
            let e = ParseError::Usage {
                command: name,
                reason: "only available in the interactive shell".into(),
            };
            return usage_failure(&e);
        }
        Err(e) => return usage_failure(&e),
    };
    rt.block_on(async {
        match execute(&cmd, opts).await {
            Ok(code) => code,
            Err(e) => {
                print_err(&format!("{}\n", e.oneshot_line()));
                e.exit_code()
            }
        }
    })
}

/// Prints a command-line error the way scripts and people both read: the code name and the
/// reason, then the synopsis (or the command list for an unknown command).
pub fn usage_failure(e: &ParseError) -> i32 {
    let mut msg = format!("{}: {e}\n", e.name());
    match e.command().and_then(command::usage) {
        Some(u) => msg += &format!("usage: {u}\n"),
        None => msg += &help::command_list(),
    }
    print_err(&msg);
    EXIT_USAGE
}

async fn execute(cmd: &ZkCommand, opts: &Options) -> Result<i32, CliError> {
    let (zk, mut events) = session::open(&opts.settings.server, &opts.settings)?;
    let work = async {
        session::wait_connected(&zk, &opts.settings).await?;
        session::add_auths(&zk, &opts.settings).await?;
        let mut out = String::new();
        let ran = cmd.run(&zk, &mut out).await;
        print_out(&out);
        ran?;
        if cmd.sets_watch() {
            let ev = next_node_event(&mut events, opts.wait).await?;
            print_out(&format!("{}\n", output::event(&ev)));
        }
        Ok(EXIT_OK)
    };
    // Ctrl-C (e.g. while `-w` waits) still closes the session, so its ephemerals go now.
    let result = tokio::select! {
        r = work => r,
        () = ctrl_c() => Err(CliError::Interrupted),
    };
    session::close(&zk).await;
    result
}

/// The first node event on the default watcher; state changes are skipped, except the
/// ones that end the session (its watches cannot fire any more).
async fn next_node_event(
    events: &mut WatchStream,
    wait: Option<Duration>,
) -> Result<WatchedEvent, CliError> {
    let wait_for = async {
        loop {
            let Some(ev) = events.recv().await else {
                return Err(lost(zk_client::Error::Closed));
            };
            if ev.event_type != EventType::None {
                return Ok(ev);
            }
            match ev.state {
                KeeperState::Expired => return Err(lost(zk_client::Error::SessionExpired)),
                KeeperState::AuthFailed => return Err(lost(zk_client::Error::AuthFailed)),
                KeeperState::Closed => return Err(lost(zk_client::Error::Closed)),
                _ => {}
            }
        }
    };
    match wait {
        None => wait_for.await,
        Some(d) => tokio::time::timeout(d, wait_for)
            .await
            .unwrap_or(Err(CliError::WaitTimeout(d))),
    }
}

fn lost(error: zk_client::Error) -> CliError {
    CliError::Keeper { error, path: None }
}
