//! `srvr`, `stat` and `cons` (ZooKeeper's StatCommand, ServerStats.toString, ConsCommand).

use std::fmt::Write;

use super::format::avg_latency;
use super::format::hex;
use super::format::socket_addr;
use super::stats::ConnectionStats;
use super::stats::Mode;
use super::stats::ServerStats;

/// `srvr`, or `stat` when `with_clients`.
pub(crate) fn srvr(s: &ServerStats, with_clients: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Zookeeper version: {}", s.version);
    if with_clients {
        out.push_str("Clients:\n");
        for c in &s.connections {
            connection(&mut out, c, true);
            out.push('\n');
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        s.latency.min_ms,
        avg_latency(s.latency.avg_ms),
        s.latency.max_ms
    );
    let _ = writeln!(out, "Received: {}", s.packets_received);
    let _ = writeln!(out, "Sent: {}", s.packets_sent);
    let _ = writeln!(out, "Connections: {}", s.alive_connections);
    let _ = writeln!(out, "Outstanding: {}", s.outstanding_requests);
    let _ = writeln!(out, "Zxid: 0x{}", hex(s.last_zxid));
    let _ = writeln!(out, "Mode: {}", s.mode.as_str());
    let _ = writeln!(out, "Node count: {}", s.node_count);
    if let (Mode::Leader, Some(leader)) = (s.mode, &s.leader) {
        let p = leader.proposal_sizes;
        let _ = writeln!(
            out,
            "Proposal sizes last/min/max: {}/{}/{}",
            p.last, p.min, p.max
        );
    }
    out
}

/// `cons`.
pub(crate) fn cons(s: &ServerStats) -> String {
    let mut out = String::new();
    for c in &s.connections {
        connection(&mut out, c, false);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// One connection line without its newline (ServerCnxn.dumpConnectionInfo).
fn connection(out: &mut String, c: &ConnectionStats, brief: bool) {
    let _ = write!(
        out,
        " {}[{:x}](queued={},recved={},sent={}",
        socket_addr(&c.remote),
        c.interest_ops,
        c.queued,
        c.received,
        c.sent
    );
    if let (false, Some(sess)) = (brief, &c.session) {
        if sess.session_id != 0 {
            let _ = write!(
                out,
                ",sid=0x{},lop={},est={},to={}",
                hex(sess.session_id),
                sess.last_op,
                sess.established_ms,
                sess.timeout_ms
            );
            if sess.last_cxid >= 0 {
                let _ = write!(out, ",lcxid=0x{}", hex(sess.last_cxid));
            }
            let _ = write!(
                out,
                ",lzxid=0x{},lresp={},llat={},minlat={},avglat={},maxlat={}",
                hex(sess.last_zxid),
                sess.last_response_ms,
                sess.last_latency_ms,
                sess.min_latency_ms,
                sess.avg_latency_ms,
                sess.max_latency_ms
            );
        }
    }
    out.push(')');
}
