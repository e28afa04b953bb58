//! Keeps the peer channels in line with Raft's membership: a member added by a reconfig is
//! dialed at the address its record gives, one whose address changed at the new one.

use openraft::async_runtime::WatchReceiver;
use tokio::task::JoinHandle;

use crate::grpc::channels::Channels;
use crate::types::ZkRaft;

/// Follows the membership Raft publishes until Raft stops.
pub(crate) fn spawn_address_book(raft: &ZkRaft, channels: Channels) -> JoinHandle<()> {
    let mut metrics = raft.metrics();
    tokio::spawn(async move {
        let mut seen = None;
        loop {
            {
                let m = metrics.borrow_watched();
                // Metrics change with every entry; the membership only with its own entries.
                let at = *m.membership_config.log_id();
                if seen.as_ref() != Some(&at) {
                    for (id, node) in m.membership_config.membership().nodes() {
                        channels.learn(*id, &node.addr);
                    }
                    seen = Some(at);
                }
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    })
}
