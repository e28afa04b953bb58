//! What the membership tests (reconfig, observers) share: the superuser, `/zookeeper/config`
//! read and waited on, and `reconfig` sent as a client sends it.

use std::time::Duration;
use std::time::Instant;

use zk_wire::AuthPacket;
use zk_wire::ErrorCode;
use zk_wire::GetDataRequest;
use zk_wire::GetDataResponse;
use zk_wire::ReconfigRequest;
use zk_wire::Record;
use zk_wire::Request;

use super::cluster::Cluster;
use super::cluster::CLUSTER_DEADLINE;
use super::Frame;
use super::Raw;

/// `digest_id("super:test")`, as ZooKeeper's DigestAuthenticationProvider prints it.
pub const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";
/// The node that holds the membership.
pub const CONFIG: &str = "/zookeeper/config";
/// The longest session the test kit's tick (200 ms) allows: 20 ticks.
pub const TIMEOUT_MS: i32 = 4000;

/// Flags that let the superuser reconfig.
pub fn enabled() -> Vec<&'static str> {
    vec!["--reconfig-enabled", "--super-digest", SUPER_DIGEST]
}

/// `addauth digest super:test` on `raw`.
pub fn as_super(raw: &mut Raw) {
    raw.send_xid(
        -4,
        &Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"super:test".to_vec(),
        }),
    );
    assert_eq!(raw.reply().0.err, 0, "addauth digest super:test");
}

/// A new session on member `id`, retried while it does not serve.
pub fn session(c: &Cluster, id: u64) -> Raw {
    Raw::new_session_retrying(c.members[(id - 1) as usize].client, TIMEOUT_MS).0
}

/// `/zookeeper/config`'s text and stat (getData, with or without a watch).
pub fn get_config(raw: &mut Raw, watch: bool) -> (String, zk_wire::Stat) {
    let (h, body) = raw.call(&Request::GetData(GetDataRequest {
        path: CONFIG.into(),
        watch,
    }));
    assert_eq!(h.err, 0, "getData {CONFIG}");
    let r = GetDataResponse::from_bytes(&body).expect("GetDataResponse");
    let text = String::from_utf8(r.data.unwrap_or_default()).expect("utf-8");
    (text, r.stat)
}

/// The `server.N=` lines of a config text.
pub fn server_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("server.")).collect()
}

/// The ids of a config text's servers, in its order.
pub fn server_ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("server."))
        .filter_map(|l| l.split_once('=').and_then(|(n, _)| n.parse().ok()))
        .collect()
}

/// A config text's version (its `version=` line, hex).
pub fn version_of(text: &str) -> i64 {
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("version="))
        .unwrap_or_else(|| panic!("no version line: {text:?}"));
    i64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{hex}: {e}"))
}

/// Waits until `/zookeeper/config` (read on `raw`) satisfies `done`; returns its text and
/// stat.
pub fn wait_config_where(
    c: &Cluster,
    raw: &mut Raw,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> (String, zk_wire::Stat) {
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    loop {
        let (text, stat) = get_config(raw, false);
        if done(&text) {
            return (text, stat);
        }
        assert!(
            Instant::now() < deadline,
            "config never showed {what}: {text:?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50)); // polling another process's state
    }
}

/// Waits until `/zookeeper/config` shows the servers `ids`.
pub fn wait_config(c: &Cluster, raw: &mut Raw, ids: &[u64]) -> (String, zk_wire::Stat) {
    wait_config_where(c, raw, &format!("{ids:?}"), |text| server_ids(text) == ids)
}

/// Waits until `/zookeeper/config` has exactly `lines` as its server lines.
pub fn wait_config_lines(c: &Cluster, raw: &mut Raw, lines: &[String]) -> String {
    let want: Vec<&str> = lines.iter().map(String::as_str).collect();
    let what = format!("{want:?}");
    wait_config_where(c, raw, &what, |text| server_lines(text) == want).0
}

/// The config text a reconfig answered with (its GetData body's data).
pub fn config_of(body: Option<GetDataResponse>) -> String {
    let data = body.and_then(|b| b.data).unwrap_or_default();
    String::from_utf8(data).expect("utf-8")
}

/// The answer to a reconfig: its error, and the new config (as getData) on success.
fn answer_of(err: i32, body: &[u8]) -> (ErrorCode, Option<GetDataResponse>) {
    let err = ErrorCode::from_code(err).unwrap_or(ErrorCode::SystemError);
    let body = (err == ErrorCode::Ok)
        .then(|| GetDataResponse::from_bytes(body).expect("reconfig answers as getData"));
    (err, body)
}

/// Sends a reconfig on `raw` and reads its answer.
pub fn reconfig(
    raw: &mut Raw,
    joining: Option<String>,
    leaving: Option<&str>,
    new_members: Option<String>,
    version: i64,
) -> (ErrorCode, Option<GetDataResponse>) {
    let (h, body) = raw.call(&Request::Reconfig(ReconfigRequest {
        joining_servers: joining,
        leaving_servers: leaving.map(str::to_string),
        new_members,
        cur_config_id: version,
    }));
    answer_of(h.err, &body)
}

/// A reconfig through member `id` as a ZooKeeper client must make it, as the superuser on
/// a new session: its connection may be lost (the member stops serving for a moment while
/// the leader changes), and then the outcome is unknown, so it connects again and asks
/// again with version -1 (asking for the same change twice is harmless) until it gets an
/// answer; after a lost connection, ReconfigInProgress is its own earlier request still
/// being carried out, so it asks again after a client's back-off.
pub fn reconfig_answered(
    c: &Cluster,
    id: u64,
    joining: Option<String>,
    leaving: Option<&str>,
    new_members: Option<String>,
    version: i64,
) -> (ErrorCode, Option<GetDataResponse>) {
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    let mut version = version;
    let mut lost = false;
    loop {
        let mut raw = session(c, id);
        as_super(&mut raw);
        let xid = raw.send(&Request::Reconfig(ReconfigRequest {
            joining_servers: joining.clone(),
            leaving_servers: leaving.map(str::to_string),
            new_members: new_members.clone(),
            cur_config_id: version,
        }));
        match raw.read() {
            Frame::Reply(h, body) if h.xid == xid => {
                let (err, body) = answer_of(h.err, &body);
                if lost && err == ErrorCode::ReconfigInProgress && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(200)); // a client's back-off
                    continue;
                }
                return (err, body);
            }
            Frame::Reply(h, _) => panic!("reply to xid {} instead of {xid}", h.xid),
            Frame::Closed => {
                assert!(
                    Instant::now() < deadline,
                    "no answer to the reconfig\n{}",
                    c.logs()
                );
                eprintln!("connection lost during a reconfig: asking again");
                version = -1;
                lost = true;
            }
        }
    }
}

/// `--peers` with each member's whole server spec, as a reconfig names it
/// (`id=host:peerPort:electionPort:participant;clientHost:clientPort`, zk-node's peer port
/// standing in for the election port): the founding members' `/zookeeper/config` lines are
/// then exactly their `Cluster::server_spec`s.
pub fn peers_with_clients(c: &Cluster) -> String {
    c.members
        .iter()
        .map(|m| {
            let spec = c.server_spec(m.id);
            let (_, spec) = spec.split_once('=').expect("server.N=spec");
            format!("{}={spec}", m.id)
        })
        .collect::<Vec<_>>()
        .join(",")
}
