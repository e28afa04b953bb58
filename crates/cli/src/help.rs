//! The text of `help` (zkCli's synopsis list) and of `--help` (every command with its flags,
//! the exit statuses, the environment).

use crate::command::SPECS;

/// zkCli's `help`: the invocation and one synopsis per command.
pub fn command_list() -> String {
    let mut s = String::from("zk-cli [--server host:port[,host:port...][/chroot]] [cmd args]\n");
    for spec in SPECS {
        s += &format!("\t{}\n", spec.usage);
    }
    s
}

/// The part of `--help` after the options.
pub fn long_help() -> String {
    let mut s = String::from(
        "Without COMMAND, starts an interactive shell (line editing, history, watch events\n\
         printed as they arrive). With COMMAND, runs it once, prints its output on stdout and\n\
         exits.\n\nCommands (zkCli.sh's syntax and output):\n",
    );
    for spec in SPECS {
        s += &format!("  {}\n{}", spec.usage, wrap(spec.about, 6, 88));
    }
    s += "
Arguments: quote data with spaces in the shell (\"hello world\" or 'hello world'); put --
before an argument that starts with '-' (set /a -- -1). ACLs are scheme:id:perms[,...] with
perms from cdrwa: world:anyone:cdrwa, digest:user:base64(sha1(user:password)):cdrwa,
auth::cdrwa, ip:10.0.0.1:r. Times in stat output are UTC.

One-shot mode:
  Errors go to stderr as `CodeName: path` with ZooKeeper's KeeperException code names
  (NoNode, NodeExists, BadVersion, NotEmpty, NoAuth, InvalidACL, ConnectionLoss,
  SessionExpired, ...). The session is closed before exiting, so ephemeral nodes created
  by a one-shot command are deleted at once. With -w (get/ls/stat), the command's output is
  printed, then the one event as `WatchedEvent state:.. type:.. path:..`; it waits for it
  as long as --wait-ms allows (default: until the event comes).

Exit status:
  0  success
  1  ZooKeeper or the connection refused the command (NoNode, BadVersion, ...), or no
     server answered within --timeout-ms (ConnectionLoss)
  2  usage error: unknown command, bad flag, missing argument, bad number, invalid path
     or ACL, malformed --server; nothing was sent
  3  -w was given and no event arrived within --wait-ms
  130  interrupted by Ctrl-C (the session is closed first)

Interactive shell:
  The prompt shows the server, the connection state and the command number:
  [zk: 127.0.0.1:2181(CONNECTED) 3]. `history` lists the last commands; Up/Down and
  Ctrl-R recall them. History is kept in ~/.zk-cli_history (not with --no-history-file,
  nor when HOME is unset). Ctrl-C abandons a command waiting for its reply; Ctrl-D or
  `quit` leaves. After the session expires, `connect host:port` opens a new one.

Environment:
  ZK_CLI_SERVER              default for --server
  ZK_CLI_TIMEOUT_MS          default for --timeout-ms
  ZK_CLI_SESSION_TIMEOUT_MS  default for --session-timeout-ms
  ZK_CLI_WAIT_MS             default for --wait-ms
  ZK_CLI_TLS_CA, ZK_CLI_TLS_CERT, ZK_CLI_TLS_KEY, ZK_CLI_TLS_SERVER_NAME
                             defaults for --tls-ca, --tls-cert, --tls-key, --tls-server-name
  ZK_CLI_AUTH                an identity for --auth (scheme:credentials), out of sight of ps
  HOME                       where the history file lives\n";
    s
}

/// `text` in lines of at most `width` columns (a longer word gets its own line), each
/// indented by `indent` spaces.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            out += &format!("{pad}{line}\n");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += word;
    }
    if !line.is_empty() {
        out += &format!("{pad}{line}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_every_command_and_exit_status() {
        let long = long_help();
        let list = command_list();
        for spec in SPECS {
            assert!(long.contains(spec.usage), "{}", spec.name);
            assert!(list.contains(spec.usage), "{}", spec.name);
        }
        for needle in [
            "Exit status",
            "ZK_CLI_SERVER",
            "--wait-ms",
            "  2  usage error",
        ] {
            assert!(long.contains(needle), "{needle}");
        }
        assert!(long.lines().all(|l| l.len() <= 92), "{long}");
    }

    #[test]
    fn wrap_keeps_words_whole() {
        assert_eq!(wrap("a bb ccc", 2, 7), "  a bb\n  ccc\n");
        assert_eq!(wrap("", 2, 7), "");
    }
}
