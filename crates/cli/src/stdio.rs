//! The process's edges: writing to stdout and stderr without panicking (a closed pipe, as
//! in `zk-cli ls -R / | head`, is not worth a crash) and noticing Ctrl-C.

use std::io::Write;

/// Writes `s` to stdout and flushes it.
pub fn print_out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Writes `s` to stderr.
pub fn print_err(s: &str) {
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

/// Resolves on Ctrl-C (SIGINT); never, if the signal cannot be watched. Once this has been
/// awaited, SIGINT no longer kills the process: callers turn it into `Interrupted`.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
