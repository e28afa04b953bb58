//! zkCli's output formats: a Stat as eleven `name = value` lines, ACL entries as
//! `'scheme,'id` / `: perms`, watch events as `WatchedEvent state:.. type:.. path:..`, and
//! the connection state in the prompt.

use std::fmt::Write;

use zk_client::{perms, Acl, CloseReason, EventType, KeeperState, Stat, State, WatchedEvent};

/// The Stat lines exactly as zkCli prints them (times in UTC, see [`java_date`]).
pub fn stat(s: &Stat) -> String {
    let mut o = String::new();
    // Writing into a String cannot fail.
    let _ = write!(
        o,
        "cZxid = {}\nctime = {}\nmZxid = {}\nmtime = {}\npZxid = {}\ncversion = {}\n\
         dataVersion = {}\naclVersion = {}\nephemeralOwner = {}\ndataLength = {}\n\
         numChildren = {}\n",
        hex(s.czxid),
        java_date(s.ctime),
        hex(s.mzxid),
        java_date(s.mtime),
        hex(s.pzxid),
        s.cversion,
        s.version,
        s.aversion,
        hex(s.ephemeral_owner),
        s.data_length,
        s.num_children,
    );
    o
}

/// Java's `"0x" + Long.toHexString(v)`: two's complement for negative values.
fn hex(v: i64) -> String {
    format!("0x{:x}", v as u64)
}

/// Permission letters in zkCli's order (`cdrwa`).
pub fn perm_string(p: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| p & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

/// An ACL as getAcl prints it: two lines per entry.
pub fn acl(entries: &[Acl]) -> String {
    entries
        .iter()
        .map(|a| {
            format!(
                "'{},'{}\n: {}\n",
                a.id.scheme,
                a.id.id,
                perm_string(a.perms)
            )
        })
        .collect()
}

/// A child list as Java prints a `List<String>`: `[a, b]`.
pub fn list(items: &[String]) -> String {
    format!("[{}]\n", items.join(", "))
}

/// Java's `WatchedEvent.toString()` (3.8): state-only events have `path:null`.
pub fn event(e: &WatchedEvent) -> String {
    format!(
        "WatchedEvent state:{} type:{} path:{}",
        keeper_state_name(e.state),
        event_type_name(e.event_type),
        e.path.as_deref().unwrap_or("null")
    )
}

/// An event as zkCli's default watcher prints it in the shell.
pub fn watcher_block(e: &WatchedEvent) -> String {
    format!("\nWATCHER::\n\n{}\n", event(e))
}

/// `Watcher.Event.KeeperState` names.
pub fn keeper_state_name(s: KeeperState) -> &'static str {
    match s {
        KeeperState::Unknown => "Unknown",
        KeeperState::Disconnected => "Disconnected",
        KeeperState::NoSyncConnected => "NoSyncConnected",
        KeeperState::SyncConnected => "SyncConnected",
        KeeperState::AuthFailed => "AuthFailed",
        KeeperState::ConnectedReadOnly => "ConnectedReadOnly",
        KeeperState::SaslAuthenticated => "SaslAuthenticated",
        KeeperState::Expired => "Expired",
        KeeperState::Closed => "Closed",
    }
}

/// `Watcher.Event.EventType` names.
pub fn event_type_name(t: EventType) -> &'static str {
    match t {
        EventType::None => "None",
        EventType::NodeCreated => "NodeCreated",
        EventType::NodeDeleted => "NodeDeleted",
        EventType::NodeDataChanged => "NodeDataChanged",
        EventType::NodeChildrenChanged => "NodeChildrenChanged",
        EventType::DataWatchRemoved => "DataWatchRemoved",
        EventType::ChildWatchRemoved => "ChildWatchRemoved",
        EventType::PersistentWatchRemoved => "PersistentWatchRemoved",
    }
}

/// The state as the Java client's `States` names it in zkCli's prompt.
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Connecting => "CONNECTING",
        State::Connected => "CONNECTED",
        State::Closed(CloseReason::AuthFailed) => "AUTH_FAILED",
        State::Closed(_) => "CLOSED",
    }
}

/// zkCli's prompt: `[zk: host:port(CONNECTED) 3] `.
pub fn prompt(server: &str, state: State, count: usize) -> String {
    format!("[zk: {server}({}) {count}] ", state_name(state))
}

/// Java's `Date.toString()` (`Thu Jan 01 00:00:00 UTC 1970`) for ms since the epoch, always
/// in UTC: zkCli uses the local zone, but UTC keeps output comparable across machines and
/// needs no time-zone database.
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday} {} {d:02} {:02}:{:02}:{:02} UTC {y}",
        MONTHS[(m - 1) as usize],
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_client::Id;

    #[test]
    fn dates_match_java() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // Seen from zkCli against Apache ZooKeeper 3.8.
        assert_eq!(java_date(1_795_564_968_000), "Wed Nov 25 00:02:48 UTC 2026");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
        assert_eq!(java_date(-1), "Wed Dec 31 23:59:59 UTC 1969");
    }

    #[test]
    fn stat_lines_match_zkcli() {
        let s = Stat {
            czxid: 2,
            mzxid: 11,
            ctime: 0,
            mtime: 0,
            version: 2,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0x1000_0abc_def0_0001,
            data_length: 1,
            num_children: 0,
            pzxid: 2,
        };
        assert_eq!(
            stat(&s),
            "cZxid = 0x2\nctime = Thu Jan 01 00:00:00 UTC 1970\nmZxid = 0xb\n\
             mtime = Thu Jan 01 00:00:00 UTC 1970\npZxid = 0x2\ncversion = 0\n\
             dataVersion = 2\naclVersion = 0\nephemeralOwner = 0x10000abcdef00001\n\
             dataLength = 1\nnumChildren = 0\n"
        );
        assert_eq!(hex(-1), "0xffffffffffffffff");
    }

    #[test]
    fn acls_and_lists_match_zkcli() {
        let entries = vec![
            Acl {
                perms: perms::READ,
                id: Id::new("ip", "1.2.3.4"),
            },
            Acl {
                perms: perms::ALL & !perms::WRITE,
                id: Id::anyone(),
            },
        ];
        assert_eq!(acl(&entries), "'ip,'1.2.3.4\n: r\n'world,'anyone\n: cdra\n");
        assert_eq!(perm_string(perms::ALL), "cdrwa");
        assert_eq!(perm_string(0), "");
        assert_eq!(list(&["a".into(), "zookeeper".into()]), "[a, zookeeper]\n");
        assert_eq!(list(&[]), "[]\n");
    }

    #[test]
    fn events_and_prompt_match_zkcli() {
        let e = WatchedEvent::node(EventType::NodeDataChanged, "/a");
        assert_eq!(
            event(&e),
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/a"
        );
        assert_eq!(
            watcher_block(&WatchedEvent::state(KeeperState::Expired)),
            "\nWATCHER::\n\nWatchedEvent state:Expired type:None path:null\n"
        );
        assert_eq!(
            prompt("127.0.0.1:2181", State::Connected, 3),
            "[zk: 127.0.0.1:2181(CONNECTED) 3] "
        );
        assert_eq!(
            state_name(State::Closed(CloseReason::SessionExpired)),
            "CLOSED"
        );
    }
}
