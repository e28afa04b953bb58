//! The link proxy tests put between a client and a server or between two members: forward,
//! stall (held, nothing lost), cut (a black hole) and refuse (closed at once). It is the chaos
//! harness's own, so there is one copy.

pub use zk_chaos::proxy::LinkProxy;
