//! Sessions of the ZooKeeper-compatible ensemble: ids, HMAC passwords, timeout negotiation,
//! what a ConnectRequest's session fields ask for ([`admit`]), the leader's expiry tracker,
//! the replicated session table, and the order of one session's requests, replies and
//! events on its connection ([`order`]).
//!
//! This crate owns the pure rules of a session's life. It must never do Raft, sockets, async
//! or threads of its own, and never read the wall clock or `Instant` except through the
//! [`Clock`] trait, so that every rule here is tested exactly and instantly with a
//! [`ManualClock`]. The consensus crate decides *when* things happen (applying a log entry,
//! winning an election, a tick firing); this crate decides *what* they mean.

#![warn(missing_docs)]

pub mod admission;
pub mod clock;
pub mod expiry;
pub mod id;
pub mod order;
pub mod password;
pub mod table;
pub mod timeout;

pub use admission::{admit, admit_with, Admission};
pub use clock::{Clock, ManualClock, MonotonicClock};
pub use expiry::ExpiryTracker;
pub use id::{IdError, SessionId};
pub use password::{ClusterSecret, SecretError, Secrets, PASSWORD_LEN, SECRET_LEN};
pub use table::{Owner, SessionInfo, SessionTable, TableError};
pub use timeout::{TimeoutBounds, TimeoutError};
