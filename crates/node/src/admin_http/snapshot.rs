//! ZooKeeper 3.9's `snapshot` admin command (`GET /commands/snapshot?streaming=true`, alias
//! `snap`): an online backup. The body is an Apache ZooKeeper 3.8 snapshot of the applied
//! state at one zxid (zk-consensus's `zookeeper_snapshot`, zk-format's writer, its Adler32
//! seal the checksum), named by ZooKeeper's `last_zxid` and `snapshot_size` headers.
//!
//! Consistent and current: the node first learns the ensemble's commit point from the leader
//! (what `sync` waits for) and waits until it has applied it, so the snapshot holds every
//! write acknowledged before the request. The state is copied under its lock (the tree's
//! node map is copy-on-write shards: the copy takes shard handles, not nodes) and encoded
//! after the lock is released, so writes are not held up by the encoding.
//!
//! Auth as ZooKeeper 3.9 asks it: an `Authorization: <scheme> <credentials>` header whose
//! ids hold ALL on `/` ([`super::authorization`]; 401 without it, 403 refused), checked
//! before anything else, so a refused caller neither spends the rate limit nor costs a
//! snapshot. Then rate-limited as ZooKeeper does (one answer per
//! `--admin-rate-limiter-interval-ms`, 429 sooner).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use zk_wire::perms;

use crate::node::Node;

/// ZooKeeper's response header naming the snapshot's zxid (`0x` and hex).
pub const HEADER_LAST_ZXID: &str = "last_zxid";
/// ZooKeeper's response header giving the snapshot's length in bytes.
pub const HEADER_SNAPSHOT_SIZE: &str = "snapshot_size";

/// How long the command waits for this node to apply the ensemble's commit point.
const CATCH_UP: Duration = Duration::from_secs(30);

/// ZooKeeper's `RateLimiter(1, interval)`: one answer per interval.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Limiter {
    /// One answer per `interval`.
    pub fn new(interval: Duration) -> Limiter {
        Limiter {
            interval,
            last: Mutex::new(None),
        }
    }

    /// Whether a request may be answered now (and if so, it counts).
    fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    /// The rule, at `now` (tests give the time).
    fn allow_at(&self, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(t) if now.duration_since(t) < self.interval => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

/// The command's primary name, in its JSON error answers.
const COMMAND: &str = "snapshot";

/// `GET /commands/snapshot[?streaming=true|false]`.
pub async fn snapshot(
    State(node): State<Arc<Node>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    limiter: Arc<Limiter>,
) -> Response {
    let allowed = super::authorization::authorize(
        super::authorization::header(&headers),
        peer.ip(),
        node.settings.super_digest.as_ref(),
        &node.state.read().tree,
        "/",
        perms::ALL,
    );
    if let Err(refused) = allowed {
        tracing::warn!(%peer, status = %refused.status, "snapshot command refused: {}", refused.message);
        let body = serde_json::json!({"command": COMMAND, "error": refused.message});
        return (
            refused.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    if !limiter.allow() {
        tracing::warn!("snapshot request was rate limited");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "snapshot rate limited: one per --admin-rate-limiter-interval-ms\n",
        )
            .into_response();
    }
    // ZooKeeper: streaming unless `streaming` says otherwise.
    let streaming = streaming(query.as_deref());
    let point = match node.backend.commit_point().await {
        Ok(p) => p,
        Err(e) => return unavailable(&format!("no commit point from the leader: {e}")),
    };
    match tokio::time::timeout(CATCH_UP, node.state.wait_applied_index(point)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return unavailable(&e.to_string()),
        Err(_) => {
            return unavailable(&format!(
                "log index {point} not applied here within {CATCH_UP:?}"
            ))
        }
    }
    let shared = node.state.clone();
    let built = tokio::task::spawn_blocking(move || {
        // Only the copy holds the lock; the conversion and encoding run after.
        let frozen = shared.read().clone();
        let snap = zk_consensus::zookeeper_snapshot(&frozen)?;
        Ok::<_, zk_consensus::ZkSnapshotError>((frozen.last_zxid, snap.nodes.len(), snap.encode()))
    })
    .await;
    let (zxid, znodes, bytes) = match built {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return super::internal(&format!("snapshot: {e}")),
        Err(e) => return super::internal(&format!("snapshot: {e}")),
    };
    tracing::info!(
        zxid = format_args!("{zxid:#x}"),
        bytes = bytes.len(),
        znodes,
        "snapshot taken for the admin snapshot command"
    );
    let size = bytes.len();
    let mut resp = if streaming {
        bytes_response(bytes)
    } else {
        StatusCode::OK.into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("0x{zxid:x}")) {
        h.insert(HEADER_LAST_ZXID, v);
    }
    h.insert(HEADER_SNAPSHOT_SIZE, HeaderValue::from(size));
    resp
}

/// ZooKeeper's reading of `streaming`: true unless given and not `true` (Java's
/// `Boolean.parseBoolean`).
fn streaming(query: Option<&str>) -> bool {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "streaming")
        .is_none_or(|(_, v)| v.eq_ignore_ascii_case("true"))
}

fn bytes_response(bytes: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        bytes,
    )
        .into_response()
}

fn unavailable(why: &str) -> Response {
    tracing::warn!(error = why, "snapshot command failed");
    (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_allows_one_per_interval() {
        let l = Limiter::new(Duration::from_secs(3600));
        assert!(l.allow());
        assert!(!l.allow());
        let l = Limiter::new(Duration::ZERO);
        assert!(l.allow());
        assert!(l.allow());
        // The boundary: refused until a whole interval has passed since the last answer,
        // and a refusal does not restart the interval.
        let l = Limiter::new(Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(l.allow_at(t0));
        assert!(!l.allow_at(t0 + Duration::from_secs(299)));
        assert!(l.allow_at(t0 + Duration::from_secs(300)));
        assert!(!l.allow_at(t0 + Duration::from_secs(301)));
        assert!(l.allow_at(t0 + Duration::from_secs(600)));
    }

    #[test]
    fn streaming_unless_told_otherwise() {
        assert!(streaming(None));
        assert!(streaming(Some("streaming=true")));
        assert!(streaming(Some("x=1&streaming=TRUE")));
        assert!(!streaming(Some("streaming=false")));
        assert!(!streaming(Some("streaming=no")));
    }
}
