//! The node's shutdown signal: one watch that turns true once, read by every connection and
//! background task (its own module, so none of them imports the server that starts them).

use tokio::sync::watch;

/// Resolves once `shutdown` is true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard wait_for returns is dropped here, not held across the caller's awaits.
    let _ = shutdown.wait_for(|&s| s).await;
}
