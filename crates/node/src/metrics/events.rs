//! Counters of client-facing events ZooKeeper keeps in its `ServerMetrics` and
//! `ServerStats`: watches fired per event type, bytes read and written per top-level znode,
//! TLS handshakes and plain connections. Each is recorded with a few relaxed atomics; the
//! per-namespace sets find their namespace's slot without a lock (a slot is allocated once,
//! the first time its namespace is seen).

use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use zk_wire::EventType;

use super::Histogram;

/// Watches each event fired, one summary per event type (ZooKeeper's
/// `node_created_watch_count`, `node_deleted_watch_count`, `node_changed_watch_count`,
/// `node_children_watch_count`: each event that fired at least one watch adds how many).
#[derive(Debug, Default)]
pub struct WatchesFired {
    /// NodeCreated.
    pub created: Histogram,
    /// NodeDeleted.
    pub deleted: Histogram,
    /// NodeDataChanged.
    pub changed: Histogram,
    /// NodeChildrenChanged.
    pub children: Histogram,
}

impl WatchesFired {
    /// Counts one event of type `event` that fired `watches` watches.
    pub fn record(&self, event: EventType, watches: usize) {
        // ZooKeeper returns before counting when no watch fired.
        if watches == 0 {
            return;
        }
        let h = match event {
            EventType::NodeCreated => &self.created,
            EventType::NodeDeleted => &self.deleted,
            EventType::NodeDataChanged => &self.changed,
            EventType::NodeChildrenChanged => &self.children,
            _ => return,
        };
        h.record_value(watches as u64);
    }
}

/// The secure port's handshakes and the plain port's connections (ZooKeeper's
/// NettyServerCnxnFactory counts them).
#[derive(Debug, Default)]
pub struct TlsCounters {
    /// TLS handshakes started and not finished (`outstanding_tls_handshake`).
    pub outstanding_handshakes: AtomicU64,
    /// TLS handshakes that failed or did not finish in time (`unsuccessful_handshake`).
    pub unsuccessful_handshakes: AtomicU64,
    /// Connections accepted without TLS from another host (`non_mtls_remote_conn_count`;
    /// ZooKeeper counts every connection whose pipeline has no TLS handler).
    pub non_mtls_remote: AtomicU64,
    /// The same from a loopback address (`non_mtls_local_conn_count`).
    pub non_mtls_local: AtomicU64,
}

impl TlsCounters {
    /// Counts a connection accepted without TLS from `peer`.
    pub fn plain_connection(&self, peer: IpAddr) {
        let counter = if is_loopback(peer) {
            &self.non_mtls_local
        } else {
            &self.non_mtls_remote
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a TLS handshake under way until the guard is dropped.
    pub fn handshake(&self) -> Handshake<'_> {
        self.outstanding_handshakes.fetch_add(1, Ordering::Relaxed);
        Handshake(self)
    }
}

/// Java's `InetAddress.isLoopbackAddress`: 127.0.0.0/8, ::1 (and an IPv4-mapped loopback,
/// which Java sees as the IPv4 address).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// A TLS handshake under way (see [`TlsCounters::handshake`]).
#[derive(Debug)]
pub struct Handshake<'a>(&'a TlsCounters);

impl Drop for Handshake<'_> {
    fn drop(&mut self) {
        self.0
            .outstanding_handshakes
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// ZooKeeper's `PathUtils.getTopNamespace`: the first component of a path (`/app/x` →
/// `app`), none for `/`.
pub fn top_namespace(path: &str) -> Option<&str> {
    path.strip_prefix('/')?
        .split('/')
        .next()
        .filter(|ns| !ns.is_empty())
}

/// Namespaces a set keeps; the ones seen after these are not counted (ZooKeeper keeps any
/// number, but a set that grows with the tree's top level cannot be lock-free and bounded).
pub const NAMESPACE_SLOTS: usize = 64;

/// Bytes read and written per top-level znode (ZooKeeper's `read_per_namespace` and
/// `write_per_namespace`: path length plus data length for getData, create and setData,
/// plus the children's names for getChildren, the path alone for exists and delete).
#[derive(Debug, Default)]
pub struct Namespaces {
    /// Reads answered here.
    pub read: NamespaceSet,
    /// Writes applied here.
    pub write: NamespaceSet,
}

/// One summary per namespace (ZooKeeper's SummarySet), in a fixed table of slots.
#[derive(Debug)]
pub struct NamespaceSet {
    slots: Box<[OnceLock<Slot>]>,
}

#[derive(Debug)]
struct Slot {
    name: Box<str>,
    sizes: Histogram,
}

impl Default for NamespaceSet {
    fn default() -> Self {
        NamespaceSet {
            slots: (0..NAMESPACE_SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl NamespaceSet {
    /// Counts `path.len() + bytes` for the namespace of `path` (nothing for `/`).
    pub fn record(&self, path: &str, bytes: usize) {
        let Some(ns) = top_namespace(path) else {
            return;
        };
        let value = (path.len() + bytes) as u64;
        let start = fnv(ns) % NAMESPACE_SLOTS;
        for i in 0..NAMESPACE_SLOTS {
            let slot = &self.slots[(start + i) % NAMESPACE_SLOTS];
            let s = match slot.get() {
                Some(s) => s,
                // Another thread may fill it first, with this namespace or another.
                None => slot.get_or_init(|| Slot {
                    name: ns.into(),
                    sizes: Histogram::default(),
                }),
            };
            if &*s.name == ns {
                s.sizes.record_value(value);
                return;
            }
        }
    }

    /// Each namespace seen with its summary, by name.
    pub fn snapshot(&self) -> Vec<(String, super::Snapshot)> {
        let mut out: Vec<(String, super::Snapshot)> = self
            .slots
            .iter()
            .filter_map(OnceLock::get)
            .map(|s| (s.name.to_string(), s.sizes.snapshot()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// FNV-1a: spreads namespaces over the slots; no need for more.
fn fnv(s: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_namespaces_as_zookeeper_splits_paths() {
        assert_eq!(top_namespace("/app/e1"), Some("app"));
        assert_eq!(top_namespace("/app"), Some("app"));
        assert_eq!(top_namespace("/zookeeper/quota"), Some("zookeeper"));
        assert_eq!(top_namespace("/"), None);
        assert_eq!(top_namespace(""), None);
    }

    #[test]
    fn namespace_sets_sum_path_and_data_per_top_level_znode() {
        let set = NamespaceSet::default();
        set.record("/app/e1", 5);
        set.record("/app", 0);
        set.record("/other", 1);
        set.record("/", 3);
        let snap = set.snapshot();
        let names: Vec<&str> = snap.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["app", "other"]);
        let app = &snap[0].1;
        assert_eq!(
            (app.count, app.sum_us, app.min_us, app.max_us),
            (2, 16, 4, 12)
        );
        assert_eq!(snap[1].1.sum_us, 7);
    }

    #[test]
    fn a_full_set_counts_the_namespaces_it_has() {
        let set = NamespaceSet::default();
        for i in 0..NAMESPACE_SLOTS + 10 {
            set.record(&format!("/n{i}"), 0);
        }
        set.record("/n0", 0);
        let snap = set.snapshot();
        assert_eq!(snap.len(), NAMESPACE_SLOTS);
        let n0 = snap.iter().find(|(n, _)| n == "n0").map(|(_, s)| s.count);
        assert_eq!(n0, Some(2));
    }

    #[test]
    fn watches_fired_per_event_type() {
        let w = WatchesFired::default();
        w.record(EventType::NodeCreated, 2);
        w.record(EventType::NodeCreated, 0);
        w.record(EventType::NodeChildrenChanged, 1);
        assert_eq!(w.created.snapshot().count, 1);
        assert_eq!(w.created.snapshot().sum_us, 2);
        assert_eq!(w.children.snapshot().count, 1);
        assert_eq!(w.deleted.snapshot().count, 0);
    }

    #[test]
    fn plain_connections_by_loopback_and_handshakes_under_way() {
        let t = TlsCounters::default();
        t.plain_connection("127.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])));
        t.plain_connection("::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])));
        t.plain_connection(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(t.non_mtls_local.load(Ordering::Relaxed), 2);
        assert_eq!(t.non_mtls_remote.load(Ordering::Relaxed), 1);
        {
            let _a = t.handshake();
            let _b = t.handshake();
            assert_eq!(t.outstanding_handshakes.load(Ordering::Relaxed), 2);
        }
        assert_eq!(t.outstanding_handshakes.load(Ordering::Relaxed), 0);
    }
}
