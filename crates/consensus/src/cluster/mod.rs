//! A member of a multi-node ensemble over the gRPC network ([`start_cluster`],
//! [`ClusterNode`]).

mod address_book;
mod bootstrap;
mod config;
mod duties;
mod error;
mod founding;
mod leader_link;
mod node;
pub(crate) mod prevote;
mod reconfig;
mod recovery;
mod role;
mod snapshots;
mod standing;
mod start;
mod stored_membership;

pub use config::ClusterConfig;
pub use config::RaftTiming;
pub use error::ClusterError;
pub use error::ProposeError;
pub use error::StartError;
pub use node::ClusterNode;
pub use recovery::RecoveryError;
pub use role::Role;
pub use standing::Member;
pub use standing::RaftRole;
pub use standing::RoleChanges;
pub use standing::Standing;
pub use standing::StandingWatch;
pub use start::start_cluster;
