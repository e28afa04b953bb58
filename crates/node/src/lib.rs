//! The `zk-node` server: a ZooKeeper-compatible front end over the Raft-replicated state.
//!
//! This crate owns the process: its settings ([`config`]), the client port (one task per
//! connection: four-letter word or handshake, then the request pipeline in `connection`),
//! how requests become local reads or replicated writes (`request`), watch delivery and
//! the meeting point of connections and applied entries (`hub`), session expiry
//! (`expiry`), the container/TTL cleaner, the four-letter words (`fourlw`, `admin`) and
//! a graceful shutdown ([`server`]). The background loops (expiry, serving, activity reports,
//! the cleaner, the Raft counters) are thin drivers in `tasks`, over the rules in their own
//! modules; every loop and connection ends on one shutdown signal (`shutdown`), so no module
//! imports the server that starts it and the crate's modules form no import circle. An
//! operator's ZooKeeper zoo.cfg is read by `zoocfg` and merged with the flags in [`config`];
//! [`logging`] writes text or JSON lines. `tls` serves the secure client port: rustls over the
//! same connection driver, the `x509` ids of client certificates, and certificate reload.
//!
//! It must never reach into storage: state comes from `zk-consensus` (the applied state and
//! its apply hook) and changes only through proposed commands.

#![warn(missing_docs)]

pub(crate) mod activity;
pub(crate) mod admin;
pub(crate) mod admin_http;
pub(crate) mod auth;
pub(crate) mod backend;
pub mod config;
pub(crate) mod connection;
pub mod data_dir;
pub(crate) mod expiry;
pub(crate) mod fourlw;
pub mod health;
pub(crate) mod hub;
pub(crate) mod limit;
pub mod logging;
pub(crate) mod metrics;
pub(crate) mod node;
pub(crate) mod peers;
pub(crate) mod raft_facts;
pub(crate) mod request;
pub mod server;
pub(crate) mod serving;
mod shutdown;
pub(crate) mod stats;
mod tasks;
pub(crate) mod tls;
mod zoocfg;

pub use config::Config;
pub use config::Settings;
pub use server::Server;
