//! zk-cli: a zkCli.sh-style client for ZooKeeper-compatible servers (zk-node, Apache
//! ZooKeeper 3.8), as an interactive shell or one command per run.
//!
//! This crate owns the command language (parsing lines and argv into typed commands, zkCli's
//! syntax), zkCli's output formats, the shell's line editing and event printing, and the
//! one-shot exit statuses. It must never talk to a server except through `zk-client`, never
//! retry a write on its own (a ConnectionLoss is reported, not repeated), never panic on bad
//! input or on anything a server sends, and never print an event in the middle of a command's
//! output or of the line being edited.

pub mod acl;
pub mod command;
pub mod error;
pub mod flags;
pub mod help;
pub mod oneshot;
pub mod output;
pub mod session;
pub mod shell;
pub mod stdio;
pub mod words;

pub use command::{Command, LocalCommand, ZkCommand};
pub use error::{CliError, ParseError};
