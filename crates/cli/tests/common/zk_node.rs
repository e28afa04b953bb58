//! A one-node zk-node (the shared test kit's: free loopback ports, `--tick-ms 200` so
//! sessions expire fast) with TTL nodes on; killed on drop.

use zk_testkit::zk_node::Single;

/// A running zk-node.
pub struct ZkNode {
    /// Its client address, `127.0.0.1:port`.
    pub addr: String,
    node: Single,
}

impl ZkNode {
    /// Starts one node and waits until it serves.
    pub fn start() -> ZkNode {
        ZkNode::start_with(&[])
    }

    /// Starts one node with `extra` flags and waits until it serves.
    pub fn start_with(extra: &[&str]) -> ZkNode {
        let mut flags = vec!["--ttl-nodes", "--log-level", "info,openraft=warn"];
        flags.extend_from_slice(extra);
        let node = Single::start_with(&flags);
        ZkNode {
            addr: node.addr.to_string(),
            node,
        }
    }

    /// The end of its log, for failure messages.
    pub fn logs(&self) -> String {
        self.node.log_tail()
    }
}
