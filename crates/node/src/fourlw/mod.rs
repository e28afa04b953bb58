//! Four-letter words on the client port, replied to exactly as Apache ZooKeeper 3.8.0 does.
//!
//! This module owns recognising a word in a connection's first four bytes ([`Word::parse`]),
//! the `--4lw` allow-list ([`AllowList`]), the plain data the replies are made of
//! ([`ServerStats`], filled in by the server) and the reply text ([`render`],
//! [`not_allowed`]). It does no I/O on sockets: the server writes the reply and closes the
//! connection, as ZooKeeper does.
//!
//! The formats were checked against replies captured from ZooKeeper 3.8.0, kept in
//! `testdata/` (see `testdata/README.md`).

mod conf;
mod dump;
mod format;
pub(crate) mod mntr;
mod stat;
mod stats;
mod watches;
mod word;

#[cfg(test)]
pub(crate) mod tests;

pub use stats::fd_counts;
pub use stats::last_op_name;
pub use stats::BufferStats;
pub use stats::ConfStats;
pub use stats::ConnectionSession;
pub use stats::ConnectionStats;
pub use stats::EnvInfo;
pub use stats::Latency;
pub use stats::LeaderStats;
pub use stats::MetricStats;
pub use stats::Mode;
pub use stats::QuorumConf;
pub use stats::QuorumMember;
pub use stats::QuorumStats;
pub use stats::ServerStats;
pub use stats::SessionEphemerals;
pub use stats::SessionInfo;
pub use stats::SessionWatches;
pub use stats::SummaryStats;
pub use stats::TlsStats;
pub use word::AllowList;
pub use word::AllowListError;
pub use word::Word;

/// ZooKeeper's reply, with its newline, to most words while the server cannot serve.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// What `envi` lists, as (Java property, value), for the admin API's `environment`.
pub fn environment(stats: &ServerStats) -> Vec<(&'static str, String)> {
    conf::envi_entries(stats).into_iter().collect()
}

/// A client address as ZooKeeper's words print it (Java's `InetSocketAddress.toString`).
pub fn socket_addr_string(addr: &std::net::SocketAddr) -> String {
    format::socket_addr(addr)
}

/// The reply to a word the allow-list refuses (ZooKeeper's NopCommand message).
pub fn not_allowed(word: Word) -> String {
    format!("{word} is not executed because it is not in the whitelist.\n")
}

/// The full reply to an allowed `word`; the server closes the connection after writing it.
///
/// For `srst` and `crst` the server resets its counters first (only while `stats.serving`):
/// `srst` the latency, packet counts, client response sizes and, on a leader, proposal
/// sizes; `crst` every connection's counters, latencies and last op/cxid/zxid/response.
/// Words zk-node never executes (`gtmk`, `stmk`, `hash`) get [`not_allowed`].
pub fn render(word: Word, stats: &ServerStats) -> String {
    match word {
        Word::Ruok => "imok".to_string(),
        Word::Envi => conf::envi(stats),
        Word::Isro if stats.serving => "rw".to_string(),
        Word::Isro => "null".to_string(),
        Word::Gtmk | Word::Stmk | Word::Hash => not_allowed(word),
        _ if !stats.serving => NOT_SERVING.to_string(),
        Word::Srvr => stat::srvr(stats, false),
        Word::Stat => stat::srvr(stats, true),
        Word::Cons => stat::cons(stats),
        Word::Mntr => mntr::mntr(stats),
        Word::Conf => conf::conf(stats),
        Word::Dirs => conf::dirs(stats),
        Word::Wchs => watches::wchs(stats),
        Word::Wchc => watches::wchc(stats),
        Word::Wchp => watches::wchp(stats),
        Word::Dump => dump::dump(stats),
        Word::Crst => "Connection stats reset.\n".to_string(),
        Word::Srst => "Server stats reset.\n".to_string(),
    }
}
