//! Opening the clients of a run: client i's connect string lists every server, starting with
//! server i mod n under `--spread` and with the first one otherwise, tried in that order
//! (zk-client shuffles by default; here the order is the point).

use std::time::Duration;

use anyhow::{anyhow, Context as _};
use zk_client::{Client, ConnectOptions, Error, State};

/// Client `i`'s connect string.
pub fn connect_string(servers: &[String], i: usize, spread: bool) -> String {
    let n = servers.len().max(1);
    let first = if spread { i % n } else { 0 };
    let mut order: Vec<&str> = Vec::with_capacity(servers.len());
    for k in 0..servers.len() {
        order.push(&servers[(first + k) % n]);
    }
    order.join(",")
}

/// The options every zk-bench session uses.
pub fn connect_options(session_timeout: Duration) -> ConnectOptions {
    ConnectOptions::new()
        .session_timeout(session_timeout)
        .backoff(Duration::from_millis(50), Duration::from_millis(500))
        .in_order()
}

/// Opens `n` clients concurrently and waits until every one is CONNECTED.
pub async fn connect_all(
    servers: &[String],
    n: usize,
    spread: bool,
    session_timeout: Duration,
    wait: Duration,
) -> anyhow::Result<Vec<Client>> {
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let cs = connect_string(servers, i, spread);
        let (client, _events) = zk_client::connect(&cs, connect_options(session_timeout))
            .with_context(|| format!("connect string {cs:?}"))?;
        pending.push(tokio::spawn(async move {
            let r = client.wait_connected(wait).await;
            (client, r)
        }));
    }
    let mut clients = Vec::with_capacity(n);
    let mut failed = Vec::new();
    for (i, p) in pending.into_iter().enumerate() {
        match p.await {
            Ok((c, Ok(()))) => clients.push(c),
            Ok((c, Err(e))) => {
                failed.push(format!("client {i}: {e}"));
                let _ = c.close().await;
            }
            Err(e) => failed.push(format!("client {i}: {e}")),
        }
    }
    if !failed.is_empty() {
        close_all(&clients).await;
        return Err(anyhow!(
            "{} of {n} clients did not connect within {wait:?} to {}: {}",
            failed.len(),
            servers.join(","),
            failed.first().map(String::as_str).unwrap_or("")
        ));
    }
    Ok(clients)
}

/// Closes every client concurrently (each bounded by a few seconds).
pub async fn close_all(clients: &[Client]) {
    let mut tasks = Vec::with_capacity(clients.len());
    for c in clients {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// After a failed request: if the connection is down, waits (at most `limit`) until the
/// client is CONNECTED again, so a disconnected loop does not spin on ConnectionLoss. Returns
/// false if the handle is CLOSED for good.
pub async fn settle_after_error(client: &Client, err: &Error, limit: Duration) -> bool {
    if err.is_final() || client.state().is_closed() {
        return false;
    }
    if client.state() == State::Connected {
        return true;
    }
    let mut rx = client.state_watch();
    let waited = tokio::time::timeout(limit, async {
        loop {
            let s = *rx.borrow_and_update();
            if s != State::Connecting {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    let _ = waited;
    !client.state().is_closed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_rotates_and_all_to_one_keeps_the_order() {
        let s: Vec<String> = ["a:1", "b:2", "c:3"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(connect_string(&s, 0, true), "a:1,b:2,c:3");
        assert_eq!(connect_string(&s, 1, true), "b:2,c:3,a:1");
        assert_eq!(connect_string(&s, 5, true), "c:3,a:1,b:2");
        assert_eq!(connect_string(&s, 5, false), "a:1,b:2,c:3");
    }
}
