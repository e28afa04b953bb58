//! The gRPC network between the nodes of an ensemble (tonic + prost, `proto/peer.proto`):
//! Raft's RPCs ([`client`], [`server`]), the ordered forwarding of client writes to the
//! leader ([`forward_out`] on followers, [`forward_in`] on the leader), session activity
//! reports ([`activity`]) and the leader's read index.

pub(crate) mod activity;
pub(crate) mod channels;
pub(crate) mod client;
pub(crate) mod conn;
pub(crate) mod forward_in;
pub(crate) mod forward_out;
pub(crate) mod identity;
pub(crate) mod refusal_log;
pub(crate) mod server;
pub(crate) mod submit;
pub(crate) mod tls;
pub(crate) mod wire;

/// Code generated from `proto/peer.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub(crate) mod pb {
    tonic::include_proto!("zkraft.peer.v1");
}
