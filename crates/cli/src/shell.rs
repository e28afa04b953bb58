//! The interactive shell: rustyline reads lines (editing, Up/Down, Ctrl-R, a history file),
//! commands run on the tokio runtime, and watch/state events are printed by a printer thread
//! through rustyline's `ExternalPrinter`, which redraws the line being edited around them.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::mpsc;

use rustyline::config::Config;
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use tokio::runtime::Runtime;
use zk_client::{Client, State, WatchStream};

use crate::command::{self, Command, LocalCommand, ZkCommand};
use crate::error::{CliError, ParseError, EXIT_FAILED, EXIT_OK};
use crate::help;
use crate::output;
use crate::session::{self, Settings};
use crate::stdio::{ctrl_c, print_err, print_out};

/// How many entries `history` lists besides the current one (zkCli's number).
const HISTORY_SHOWN: usize = 10;

/// What the shell needs besides the runtime.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where and how to connect first.
    pub settings: Settings,
    /// Where line history persists between runs (`None`: nowhere).
    pub history_file: Option<PathBuf>,
}

struct Connection {
    client: Client,
    server: String,
}

struct Shell<'a> {
    rt: &'a Runtime,
    settings: Settings,
    conn: Option<Connection>,
    events: mpsc::Sender<String>,
    /// This run's command lines, numbered from 0 as zkCli numbers them.
    history: Vec<String>,
}

enum Flow {
    Continue,
    Quit,
}

/// Runs the shell until `quit` or end of input; the exit status.
pub fn run(rt: &Runtime, opts: Options) -> i32 {
    let mut rl = match editor() {
        Ok(rl) => rl,
        Err(e) => {
            print_err(&format!("cannot start the line editor: {e}\n"));
            return EXIT_FAILED;
        }
    };
    if let Some(path) = &opts.history_file {
        match rl.load_history(path) {
            Ok(()) => {}
            Err(ReadlineError::Io(e)) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => print_err(&format!(
                "warning: history file {} not read: {e}\n",
                path.display()
            )),
        }
    }
    // Without a terminal (input piped in) there is no line to protect: print directly.
    let external = rl
        .create_external_printer()
        .ok()
        .map(|p| Box::new(p) as Box<dyn ExternalPrinter + Send>);
    let mut shell = Shell {
        rt,
        settings: opts.settings.clone(),
        conn: None,
        events: start_printer(external),
        history: Vec::new(),
    };
    shell.open(opts.settings.server.clone());
    let mut status = EXIT_OK;
    loop {
        let line = match rl.readline(&shell.prompt()) {
            Ok(line) => line,
            // Ctrl-C at the prompt drops the line, as in a shell.
            Err(ReadlineError::Interrupted) | Err(ReadlineError::Signal(_)) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                print_err(&format!("cannot read input: {e}\n"));
                status = EXIT_FAILED;
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line.as_str());
        shell.history.push(line.clone());
        if let Flow::Quit = shell.execute(&line) {
            break;
        }
    }
    shell.close();
    if let Some(path) = &opts.history_file {
        if let Err(e) = rl.save_history(path) {
            print_err(&format!(
                "warning: history file {} not written: {e}\n",
                path.display()
            ));
        }
    }
    status
}

fn editor() -> rustyline::Result<DefaultEditor> {
    let config = Config::builder()
        .max_history_size(1000)?
        .history_ignore_dups(true)?
        .auto_add_history(false)
        .build();
    DefaultEditor::with_config(config)
}

/// A thread that prints event messages as they come, through rustyline when a terminal is
/// there (so the edited line is redrawn below the message) and directly otherwise.
fn start_printer(mut external: Option<Box<dyn ExternalPrinter + Send>>) -> mpsc::Sender<String> {
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for msg in rx {
            let printed = match external.as_mut() {
                Some(p) => p.print(msg.clone()).is_ok(),
                None => false,
            };
            if !printed {
                print_out(&msg);
            }
        }
    });
    tx
}

impl Shell<'_> {
    fn server(&self) -> &str {
        self.conn
            .as_ref()
            .map_or(self.settings.server.as_str(), |c| c.server.as_str())
    }

    fn prompt(&self) -> String {
        let state = self
            .conn
            .as_ref()
            .map_or(State::Closed(zk_client::CloseReason::Closed), |c| {
                c.client.state()
            });
        // zkCli numbers the next command: the count of commands entered so far.
        output::prompt(self.server(), state, self.history.len())
    }

    fn execute(&mut self, line: &str) -> Flow {
        let cmd = match Command::parse_line(line) {
            Ok(Some(c)) => c,
            Ok(None) => return Flow::Continue,
            Err(e) => {
                print_err(&parse_error_text(&e));
                return Flow::Continue;
            }
        };
        match cmd {
            Command::Zk(c) => self.run_zk(&c),
            Command::Local(LocalCommand::Connect(server)) => {
                // zkCli's bare `connect` opens a new session to the same servers.
                let server = server.unwrap_or_else(|| self.server().to_string());
                match session::check_server(&server) {
                    Err(reason) => print_err(&format!("{reason}\n")),
                    Ok(()) => {
                        self.close();
                        self.open(server);
                    }
                }
            }
            Command::Local(LocalCommand::Close) => self.close(),
            Command::Local(LocalCommand::History) => print_out(&self.history_text()),
            Command::Local(LocalCommand::Help) => print_out(&help::command_list()),
            Command::Local(LocalCommand::Quit) => return Flow::Quit,
        }
        Flow::Continue
    }

    fn history_text(&self) -> String {
        let last = self.history.len().saturating_sub(1);
        let first = last.saturating_sub(HISTORY_SHOWN);
        (first..=last)
            .filter_map(|i| self.history.get(i).map(|l| format!("{i} - {l}\n")))
            .collect()
    }

    fn run_zk(&self, cmd: &ZkCommand) {
        let Some(conn) = &self.conn else {
            print_err(&format!("{}\n", CliError::NotConnected("no session")));
            return;
        };
        if let Some(reason) = session::dead_reason(conn.client.state()) {
            print_err(&format!("{}\n", CliError::NotConnected(reason)));
            return;
        }
        let (out, result) = self.rt.block_on(async {
            let mut out = String::new();
            let work = async {
                // Like the Java client, which queues requests until connected: give a
                // reconnecting client its connect timeout before the command fails.
                if conn.client.state() == State::Connecting {
                    let _ = conn
                        .client
                        .wait_connected(self.settings.connect_timeout)
                        .await;
                }
                cmd.run(&conn.client, &mut out).await
            };
            let result = tokio::select! {
                r = work => r,
                () = ctrl_c() => Err(CliError::Interrupted),
            };
            (out, result)
        });
        print_out(&out);
        if let Err(e) = result {
            print_err(&format!("{e}\n"));
        }
    }

    /// Starts a session and waits (bounded, Ctrl-C stops waiting) for its first event, which
    /// is printed here rather than by the printer so it cannot race with the next prompt.
    fn open(&mut self, server: String) {
        print_out(&format!("Connecting to {server}\n"));
        let opened = self.rt.block_on(async {
            let (client, mut events) = session::open(&server, &self.settings)?;
            let first = tokio::select! {
                ev = events.recv_timeout(self.settings.connect_timeout) => ev,
                () = ctrl_c() => None,
            };
            session::add_auths(&client, &self.settings).await?;
            Ok::<_, CliError>((client, events, first))
        });
        let (client, events, first) = match opened {
            Ok(o) => o,
            Err(e) => {
                print_err(&format!("{e}\n"));
                return;
            }
        };
        match first {
            Some(ev) => print_out(&output::watcher_block(&ev)),
            None => print_out(&format!(
                "Not connected yet: no server of {server} answered within {} ms; \
                 still trying in the background\n",
                self.settings.connect_timeout.as_millis()
            )),
        }
        self.forward(events);
        self.conn = Some(Connection { client, server });
    }

    /// Prints the session's later events (including its final Closed or Expired).
    fn forward(&self, mut events: WatchStream) {
        let tx = self.events.clone();
        self.rt.spawn(async move {
            while let Some(ev) = events.recv().await {
                if tx.send(output::watcher_block(&ev)).is_err() {
                    break;
                }
            }
        });
    }

    fn close(&mut self) {
        if let Some(c) = &self.conn {
            self.rt.block_on(session::close(&c.client));
        }
    }
}

/// A parse error as the shell shows it: the reason, then what to type instead.
fn parse_error_text(e: &ParseError) -> String {
    match e {
        ParseError::UnknownCommand(name) => {
            format!("{}Command not found: {name}\n", help::command_list())
        }
        ParseError::Quote(_) => format!("{e}\n"),
        _ => match e.command().and_then(command::usage) {
            Some(u) => format!("{e}\nusage: {u}\n"),
            None => format!("{e}\n"),
        },
    }
}
