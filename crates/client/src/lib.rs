//! An async (tokio) client for ZooKeeper-compatible servers (zk-node, Apache ZooKeeper 3.8),
//! built on `zk-wire`.
//!
//! This crate owns the client side of a session as `sessions.md` states it: the connect
//! string, the CONNECTING → CONNECTED → CLOSED state machine, pings and dead-connection
//! detection, failover with the same session, watches and their re-registration, chroot, and
//! one typed call per ZooKeeper operation. It must never decide that a session expired (only
//! a server says so, S6.2), never create a new session behind the application's back after a
//! disconnect (S6.1), never panic on anything a server sends, and never let a slow event
//! consumer stall the connection (S7.2).
//!
//! The session logic is a pure state machine ([`machine::Core`]) driven by a thin tokio task;
//! [`Client`] is the handle applications use. TLS to a secure client port ([`TlsOptions`])
//! lives in that task only: the machine never sees it.
//!
//! ```no_run
//! use std::time::Duration;
//! use zk_client::{connect, ConnectOptions, CreateOptions, EventType};
//!
//! # async fn example() -> zk_client::Result<()> {
//! let (zk, mut events) = connect(
//!     "127.0.0.1:2181,127.0.0.1:2182/app",
//!     ConnectOptions::new().session_timeout(Duration::from_secs(10)),
//! )?;
//! zk.wait_connected(Duration::from_secs(5)).await?;
//!
//! let (path, _stat) = zk.create("/greeting", b"hello", &CreateOptions::persistent()).await?;
//! let (data, stat, mut watch) = zk.get_data_watch(&path).await?;
//! assert_eq!(data, b"hello");
//!
//! zk.set_data(&path, b"bye", Some(stat.version)).await?;
//! let event = watch.recv().await.expect("one event");
//! assert_eq!(event.event_type, EventType::NodeDataChanged);
//!
//! // Connection-state changes (SyncConnected, Disconnected, Expired, Closed) arrive here.
//! while let Some(ev) = events.try_recv() {
//!     println!("{ev:?}");
//! }
//! zk.close().await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod chroot;
mod client;
mod connect_string;
mod error;
mod io;
pub mod machine;
mod multi;
mod ops;
mod path;
mod state;
mod tls;
mod watches;

pub use chroot::Chroot;
pub use client::{connect, Client, ConnectOptions, WatchStream};
pub use connect_string::{ConnectString, HostPort, DEFAULT_PORT};
pub use error::{Error, Result};
pub use multi::{Multi, MultiRead, OpResult, ReadResult};
pub use ops::CreateOptions;
pub use path::validate_path;
pub use state::{CloseReason, EventType, KeeperState, SessionInfo, State, WatchedEvent};
pub use tls::TlsOptions;
pub use watches::{WatchKind, WatchLists, WatchRegistry};
pub use zk_wire::{perms, Acl, AddWatchMode, ClientInfo, CreateMode, Id, Stat, WatcherType};
