//! openraft's own storage conformance suite, run against the real storage and state machine
//! (`LogStore` + `ZkStateMachine`), each case on a fresh temporary directory.

use openraft::testing::log::StoreBuilder;
use openraft::testing::log::Suite;
use openraft::ErrorSubject;
use openraft::ErrorVerb;
use openraft::StorageError;
use tempfile::TempDir;
use zk_consensus::{LogStore, SledStorage, TypeConfig, ZkStateMachine};
use zk_store::TreeConfig;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore<TypeConfig>, ZkStateMachine, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, LogStore<TypeConfig>, ZkStateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = SledStorage::open(dir.path().join("db")).expect("open storage");
        // The suite reads state through the trait only; the apply events and shared state
        // are the node layer's and are not needed here.
        let (sm, _state) = ZkStateMachine::open(&storage, TreeConfig::default()).map_err(|e| {
            StorageError::from_io_error(ErrorSubject::StateMachine, ErrorVerb::Read, e)
        })?;
        let log = storage.log_store().expect("open the log");
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite() {
    Suite::test_all(Builder)
        .await
        .expect("openraft storage suite");
}
