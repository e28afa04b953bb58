//! A real terminal for the interactive shell: a tmux session on a private server whose
//! socket lives in the test's temporary directory (`-S`, so no user's tmux is touched and
//! nothing is left in /tmp/tmux-UID), with a config of its own; the server is killed on drop,
//! and a stopped process under test is continued first so it can die.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use super::poll;

/// One tmux session running one command.
pub struct Tmux {
    socket: PathBuf,
    status_file: PathBuf,
    /// The session (and target) name.
    pub name: String,
    _dir: tempfile::TempDir,
}

fn tmux_missing() -> String {
    "tmux is not installed: these tests drive zk-cli's shell in a real terminal \
     (apt-get install tmux)"
        .to_string()
}

impl Tmux {
    /// Starts `argv` in a `width`x`height` terminal; the pane stays after the process exits
    /// so its last screen can still be read.
    pub fn start(tag: &str, argv: &[String], width: u16, height: u16) -> Tmux {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "{}", tmux_missing());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let unique = format!("zkcli-{tag}-{}-{nanos}", std::process::id());
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("tmux.conf");
        std::fs::write(
            &conf,
            "set-option -g remain-on-exit on\nset-option -g history-limit 5000\n",
        )
        .expect("tmux.conf");
        // Not exec'd: tmux continues a pane's own process when it stops, so the process
        // under test runs as the pane shell's child. Its status goes to a file: tmux 3.3
        // may mark the pane dead without ever reporting the status.
        let status_file = dir.path().join("exit-status");
        let cmdline = argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
            + &format!(
                "; echo $? > {}",
                shell_quote(&status_file.to_string_lossy())
            );
        let t = Tmux {
            socket: dir.path().join("tmux.sock"),
            status_file,
            name: unique,
            _dir: dir,
        };
        let out = t.tmux_with_conf(
            &conf,
            &[
                "new-session",
                "-d",
                "-s",
                &t.name,
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                &cmdline,
            ],
        );
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn tmux_with_conf(&self, conf: &Path, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("-f")
            .arg(conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}: {}", tmux_missing()))
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}: {}", tmux_missing()))
    }

    /// Types `text` literally (no Enter).
    pub fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", &self.name, "-l", text]);
        assert!(out.status.success(), "send-keys failed");
    }

    /// Presses keys by tmux name (`Enter`, `Up`, `C-c`, ...).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(out.status.success(), "send-keys failed");
    }

    /// Types `line` and presses Enter.
    pub fn line(&self, line: &str) {
        self.type_text(line);
        self.keys(&["Enter"]);
    }

    /// The screen plus scroll-back, wrapped lines joined.
    pub fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", &self.name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until `text` appears at least `times` times on the screen; the screen.
    pub fn wait_for_n(&self, text: &str, times: usize) -> String {
        poll(
            &format!("{text:?} shown {times} time(s) in the terminal"),
            || {
                let s = self.screen();
                (s.matches(text).count() >= times).then_some(s)
            },
            || self.screen(),
        )
    }

    /// Waits until `text` appears on the screen; the screen.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_for_n(text, 1)
    }

    /// Waits until the last non-blank line of the screen satisfies `pred`; that line.
    pub fn wait_last_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        poll(
            what,
            || {
                let s = self.screen();
                let last = s
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())?
                    .trim_end()
                    .to_string();
                pred(&last).then_some(last)
            },
            || self.screen(),
        )
    }

    fn pane_pid(&self) -> Option<u32> {
        let out = self.tmux(&["display-message", "-p", "-t", &self.name, "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// The pid of the process under test (the pane shell's child), if it runs.
    pub fn pid(&self) -> Option<u32> {
        let pane = self.pane_pid()?;
        let children =
            std::fs::read_to_string(format!("/proc/{pane}/task/{pane}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    /// Waits until the process under test has exited; its exit status.
    pub fn wait_exit(&self) -> i32 {
        poll(
            "the process under test to exit",
            || {
                let s = std::fs::read_to_string(&self.status_file).ok()?;
                s.strip_suffix('\n')?.parse().ok()
            },
            || self.screen(),
        )
    }

    /// Sends a signal (`STOP`, `CONT`) to the process under test.
    pub fn signal(&self, sig: &str) {
        let pid = self.pid().expect("the process under test runs");
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid} failed");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // A process stopped by a test would not die of the hang-up: continue it first.
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
        let _ = self.tmux(&["kill-server"]);
    }
}

/// `s` single-quoted for sh.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
