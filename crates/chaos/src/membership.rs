//! Membership changes as an operator makes them: `reconfig` through the client protocol as
//! the superuser, on a session with the members that stay, asked again until
//! `/zookeeper/config` shows the change (an answer lost to a leader change leaves its
//! outcome unknown, so the config is read, never assumed).

use std::time::{Duration, Instant};

use zk_client::{connect, Client, ConnectOptions, Error};

/// The node ZooKeeper keeps the membership in.
pub const CONFIG: &str = "/zookeeper/config";

/// How long one change may take, retries included (a leader killed in the middle of it
/// comes back within the fault's hold; a joining member catches up by snapshot).
const CHANGE_DEADLINE: Duration = Duration::from_secs(90);
/// Between two tries of a change that could not be carried out yet (ReconfigInProgress,
/// no leader): a client's retry interval, not a wait for an event.
const RETRY: Duration = Duration::from_millis(200);
/// The admin session's timeout: it must outlive a leader change.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// The server ids `/zookeeper/config`'s text lists (`server.N=...` lines).
pub fn server_ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("server."))
        .filter_map(|l| l.split_once('=').and_then(|(n, _)| n.parse().ok()))
        .collect()
}

/// One change of the membership.
#[derive(Clone, Debug)]
pub struct Change {
    /// Servers to add (reconfig's `joiningServers`).
    pub joining: Option<String>,
    /// Ids to remove (reconfig's `leavingServers`).
    pub leaving: Option<String>,
    /// The ids the config must show once the change is done.
    pub want: Vec<u64>,
}

/// A superuser session on `servers`.
async fn admin(servers: &str, superuser: &str) -> Result<Client, String> {
    let opts = ConnectOptions::new().session_timeout(SESSION_TIMEOUT);
    let (zk, _events) = connect(servers, opts).map_err(|e| format!("connect {servers}: {e}"))?;
    if let Err(e) = zk.wait_connected(SESSION_TIMEOUT).await {
        let _ = zk.close().await;
        return Err(format!("no session on {servers}: {e}"));
    }
    if let Err(e) = zk.add_auth("digest", superuser.as_bytes()).await {
        let _ = zk.close().await;
        return Err(format!("addauth digest as the superuser: {e}"));
    }
    Ok(zk)
}

/// The members `/zookeeper/config` shows, read after a sync so they are the leader's.
async fn members(zk: &Client) -> zk_client::Result<Vec<u64>> {
    zk.sync(CONFIG).await?;
    let (data, _) = zk.get_data(CONFIG).await?;
    Ok(server_ids(&String::from_utf8_lossy(&data)))
}

/// Whether `e` says the change cannot be made now but may be later (a change or an
/// election under way, a lost connection whose outcome a read of the config settles).
fn transient(e: &Error) -> bool {
    matches!(
        e,
        Error::ReconfigInProgress
            | Error::NewConfigNoQuorum
            | Error::ConnectionLoss
            | Error::SessionMoved
            | Error::OperationTimeout
            | Error::RequestTimeout
            | Error::SessionExpired
            | Error::Closed
    )
}

/// Carries out `change` through `servers` (members that stay), as `superuser`: asks until
/// the config shows `change.want`. Returns how many times it was asked; an error for an
/// answer no retry changes (NoAuth, ReconfigDisabled, BadArguments...) or the deadline.
pub async fn carry_out(servers: &str, superuser: &str, change: &Change) -> Result<u32, String> {
    let deadline = Instant::now() + CHANGE_DEADLINE;
    let mut asked = 0u32;
    let mut last = String::from("not asked yet");
    let mut session: Option<Client> = None;
    while Instant::now() < deadline {
        let zk = match session.take() {
            Some(zk) if !zk.state().is_closed() => zk,
            _ => match admin(servers, superuser).await {
                Ok(zk) => zk,
                Err(e) => {
                    last = e;
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            },
        };
        asked += 1;
        let answer = zk
            .reconfig(
                change.joining.as_deref(),
                change.leaving.as_deref(),
                None,
                None,
            )
            .await;
        let err = match answer {
            Ok((data, _)) => {
                let shown = server_ids(&String::from_utf8_lossy(&data));
                let _ = zk.close().await;
                return if shown == change.want {
                    Ok(asked)
                } else {
                    Err(format!(
                        "reconfig answered members {shown:?}, not {:?}",
                        change.want
                    ))
                };
            }
            Err(e) => e,
        };
        // The change may have been made all the same (its answer lost, or asked again after
        // it was done): the config says.
        let _ = zk
            .wait_connected(SESSION_TIMEOUT.min(Duration::from_secs(5)))
            .await;
        if let Ok(shown) = members(&zk).await {
            if shown == change.want {
                let _ = zk.close().await;
                return Ok(asked);
            }
        }
        if !transient(&err) {
            let _ = zk.close().await;
            return Err(format!("reconfig refused: {err}"));
        }
        last = format!("reconfig: {err}");
        session = Some(zk);
        tokio::time::sleep(RETRY).await;
    }
    if let Some(zk) = session {
        let _ = zk.close().await;
    }
    Err(format!(
        "the change to members {:?} was not made within {CHANGE_DEADLINE:?} ({asked} tries; \
         last: {last})",
        change.want
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_read_zookeepers_format() {
        let text = "server.1=127.0.0.1:1:1:participant\nserver.3=h:2:3:participant;0.0.0.0:4\n\
                    version=100000004";
        assert_eq!(server_ids(text), vec![1, 3]);
        assert!(server_ids("").is_empty());
        assert!(server_ids("server.x=1\nversion=0").is_empty());
    }
}
