//! The `zk-node` server: a ZooKeeper-compatible front end over the Raft-replicated state.
//!
//! This crate owns the process: its settings ([`config`]), the client port (one task per
//! connection: four-letter word or handshake, then the request pipeline in [`connection`]),
//! how requests become local reads or replicated writes ([`request`]), watch delivery and
//! the meeting point of connections and applied entries ([`hub`]), session expiry
//! ([`expiry`]), the container/TTL cleaner, the four-letter words ([`fourlw`], [`admin`]) and
//! a graceful shutdown ([`server`]). An operator's ZooKeeper zoo.cfg is read by `zoocfg` and
//! merged with the flags in [`config`]; [`logging`] writes text or JSON lines.
//!
//! It must never reach into storage: state comes from `zk-consensus` (the applied state and
//! its apply hook) and changes only through proposed commands.

#![warn(missing_docs)]

pub mod activity;
pub mod admin;
pub mod admin_http;
pub mod auth;
pub mod backend;
pub mod cleaner;
pub mod config;
pub mod connection;
pub mod expiry;
pub mod fourlw;
pub mod health;
pub mod hub;
pub mod limit;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod peers;
pub mod raft_facts;
pub mod request;
pub mod server;
pub mod serving;
pub mod stats;
mod zoocfg;

pub use config::Config;
pub use config::Settings;
pub use server::Server;
