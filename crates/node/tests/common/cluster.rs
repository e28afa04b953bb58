//! Several real `zk-node` processes forming one ensemble on loopback: the shared test kit's.

pub use zk_testkit::zk_node::Ensemble as Cluster;
pub use zk_testkit::zk_node::Member;
