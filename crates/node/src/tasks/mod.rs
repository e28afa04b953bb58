//! The node's background loops, each started by the server and ended by the shutdown signal:
//! session expiry, serving, activity reports, the container/TTL cleaner, the Raft counters.
//! Each is a thin loop over a narrow handle (its `Handle`, taken from the node when the server
//! starts it: only the parts it uses, never the whole `Node`); the rules it follows live in
//! the module named in its docs, so nothing there imports the loop (or the server) back.

pub(crate) mod activity;
pub(crate) mod cleaner;
pub(crate) mod expiry;
pub(crate) mod raft_counts;
pub(crate) mod serving;
