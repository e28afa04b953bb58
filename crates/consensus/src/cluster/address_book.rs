//! Keeps the peer channels in line with Raft's membership: a member added by a reconfig is
//! dialed at the address its record gives, one whose address changed at the new one; and,
//! with sslQuorum, its certificate is admitted on the peer port ([`MemberList`]).

use openraft::async_runtime::WatchReceiver;
use tokio::task::JoinHandle;

use crate::grpc::channels::Channels;
use crate::grpc::tls::MemberList;
use crate::membership::dial_addr;
use crate::types::ZkRaft;

/// Follows the membership Raft publishes until Raft stops.
pub(crate) fn spawn_address_book(
    raft: &ZkRaft,
    channels: Channels,
    members: MemberList,
) -> JoinHandle<()> {
    // The server metrics: they change with role, vote and membership only, where the whole
    // metrics change with every entry, and woke this task for each one.
    let mut metrics = raft.server_metrics();
    tokio::spawn(async move {
        let mut seen = None;
        loop {
            {
                let m = metrics.borrow_watched();
                let at = *m.membership_config.log_id();
                if seen.as_ref() != Some(&at) {
                    let membership = m.membership_config.membership();
                    for (id, node) in membership.nodes() {
                        channels.learn(*id, &node.addr);
                    }
                    members.follow(
                        membership
                            .nodes()
                            .map(|(id, node)| (*id, dial_addr(&node.addr))),
                    );
                    seen = Some(at);
                }
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    })
}
