//! `conf`, `envi` and `dirs` (ZooKeeper's dumpConf, Environment.list, DirsCommand).

use std::fmt::Write;

use super::stats::Mode;
use super::stats::ServerStats;

/// Java's placeholder for a property the runtime does not have.
const NA: &str = "<NA>";

/// `conf`.
pub(crate) fn conf(s: &ServerStats) -> String {
    let c = &s.config;
    let mut out = String::new();
    let secure = c.secure_client_port.map_or(-1, i32::from);
    let _ = writeln!(out, "clientPort={}", c.client_port);
    let _ = writeln!(out, "secureClientPort={secure}");
    let _ = writeln!(out, "dataDir={}", c.data_dir);
    let _ = writeln!(out, "dataDirSize={}", c.data_dir_size);
    let _ = writeln!(out, "dataLogDir={}", c.data_log_dir);
    let _ = writeln!(out, "dataLogSize={}", c.data_log_size);
    let _ = writeln!(out, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout_ms);
    let _ = writeln!(
        out,
        "clientPortListenBacklog={}",
        c.client_port_listen_backlog
    );
    let _ = writeln!(out, "serverId={}", c.server_id);
    let Some(q) = c.quorum.as_ref().filter(|_| s.mode != Mode::Standalone) else {
        return out;
    };
    let _ = writeln!(out, "initLimit={}", q.init_limit);
    let _ = writeln!(out, "syncLimit={}", q.sync_limit);
    let _ = writeln!(out, "electionAlg={}", q.election_alg);
    let _ = writeln!(out, "electionPort={}", q.election_port);
    let _ = writeln!(out, "quorumPort={}", q.quorum_port);
    let _ = writeln!(out, "peerType={}", q.peer_type);
    out.push_str("membership: \n");
    for m in &q.members {
        let host = bracket_v6(&m.host);
        let role = if m.observer {
            "observer"
        } else {
            "participant"
        };
        let _ = write!(
            out,
            "server.{}={host}:{}:{}:{role}",
            m.id, m.quorum_port, m.election_port
        );
        if let Some(client) = &m.client_addr {
            let _ = write!(out, ";{client}");
        }
        out.push('\n');
    }
    // ZooKeeper prints the version with print, not println: the reply has no final newline.
    let _ = write!(out, "version={:x}", q.version);
    out
}

/// ZooKeeper's `delimitedHostString`: IPv6 literals in brackets.
fn bracket_v6(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `envi`.
pub(crate) fn envi(s: &ServerStats) -> String {
    let mut out = String::from("Environment:\n");
    for (key, value) in envi_entries(s).iter() {
        let _ = writeln!(out, "{key}={value}");
    }
    out
}

/// What `envi` lists, in its order.
pub(crate) fn envi_entries(s: &ServerStats) -> [(&'static str, String); 18] {
    let e = &s.env;
    let mb = |v: Option<u64>| v.map_or_else(|| NA.to_string(), |v| format!("{v}MB"));
    let entries: [(&str, String); 18] = [
        ("zookeeper.version", s.version.clone()),
        ("host.name", e.host_name.clone()),
        ("java.version", or_na(&e.runtime.version)),
        ("java.vendor", or_na(&e.runtime.vendor)),
        ("java.home", or_na(&e.runtime.home)),
        ("java.class.path", or_na(&e.runtime.class_path)),
        ("java.library.path", or_na(&e.runtime.library_path)),
        ("java.io.tmpdir", e.tmp_dir.clone()),
        ("java.compiler", NA.to_string()),
        ("os.name", e.os_name.clone()),
        ("os.arch", e.os_arch.clone()),
        ("os.version", e.os_version.clone()),
        ("user.name", e.user_name.clone()),
        ("user.home", e.user_home.clone()),
        ("user.dir", e.user_dir.clone()),
        ("os.memory.free", mb(e.memory_free_mb)),
        ("os.memory.max", mb(e.memory_max_mb)),
        ("os.memory.total", mb(e.memory_total_mb)),
    ];
    entries
}

fn or_na(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| NA.to_string())
}

/// `dirs`.
pub(crate) fn dirs(s: &ServerStats) -> String {
    format!(
        "datadir_size: {}\nlogdir_size: {}\n",
        s.config.data_dir_size, s.config.data_log_size
    )
}
