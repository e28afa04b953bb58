//! CPU per append of the Raft log store: `N` entries of ~128 bytes in batches of `B`, each
//! batch acknowledged only after its sync. Prints nothing; run it under `farm-bench`, which
//! reads the whole process's user + system CPU, against a build of another store:
//!
//! ```text
//! cargo build --release -p zk-consensus --example append_cpu
//! farm-bench -n 5 --vs 'OTHER/append_cpu 16000 16' -- target/release/examples/append_cpu 16000 16
//! ```
//!
//! (docs/storage.md: the sled store of the release before, built from this file with
//! `SledLogStore` for `LogStore`).

use openraft::impls::leader_id_adv::LeaderId;
use openraft::storage::RaftLogStorageExt;
use openraft::type_config::alias::EntryOf;
use openraft::vote::RaftLeaderId;
use openraft::EntryPayload;
use openraft::LogId;
use zk_consensus::LogStore;

openraft::declare_raft_types!(
    /// Opaque commands (a string of payload bytes).
    Cfg: D = String, R = (),
);

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(4096);
    let batch: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(16)
        .max(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = LogStore::<Cfg>::open(dir.path()).expect("open the log");
    let mut next = 1u64;
    while next <= n {
        let entries: Vec<EntryOf<Cfg>> = (next..next + batch)
            .map(|i| EntryOf::<Cfg> {
                log_id: LogId::new(LeaderId::new(1, 0), i),
                payload: EntryPayload::Normal("x".repeat(120)),
            })
            .collect();
        next += batch;
        rt.block_on(log.blocking_append(entries))
            .expect("append acknowledged");
    }
}
