//! openraft's own storage conformance suite, run against `SledLogStore` (each case on a
//! fresh temporary directory) with a test-only in-memory state machine.

mod common;

use common::MemStateMachine;
use common::TC;
use openraft::testing::StoreBuilder;
use openraft::testing::Suite;
use openraft::StorageError;
use tempfile::TempDir;
use zk_consensus::SledLogStore;

struct Builder;

impl StoreBuilder<TC, SledLogStore<TC>, MemStateMachine, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, SledLogStore<TC>, MemStateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = common::open(dir.path());
        let sm = MemStateMachine::open(&storage)?;
        Ok((dir, storage.log_store(), sm))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).expect("openraft storage suite");
}
