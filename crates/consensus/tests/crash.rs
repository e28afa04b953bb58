//! Crash test: a child process appends and prints every index openraft's callback
//! acknowledged; the parent SIGKILLs it mid-stream, reopens the directory and checks every
//! acknowledged entry is there, intact, in a log without holes. Several rounds on one
//! directory, each child resuming after what the last one left.
//!
//! The child is this very test binary, re-run with `CRASH_CHILD_DIR` set and filtered to the
//! `crash_child` test. Synchronisation is the child's stdout only: no sleeps.
//!
//! SIGKILL loses no page cache, so this checks the acknowledgement logic and the log's
//! recovery of a process stopped at any point, not power loss (for that every acknowledgement
//! waits for an `fdatasync`; tests/log_files.rs cuts and damages the files themselves).

mod common;

use std::io::BufRead;
use std::io::BufReader;
use std::io::Write;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use common::put_entry;
use common::Vote;
use common::TC;
use openraft::storage::RaftLogStorage;
use openraft::storage::RaftLogStorageExt;
use openraft::RaftLogReader;
use zk_consensus::LogStore;

const CHILD_ENV: &str = "CRASH_CHILD_DIR";
/// The child stops by itself after this long, so a stuck parent can never hang the suite.
const CHILD_DEADLINE: Duration = Duration::from_secs(20);

/// Deterministic payload of the entry at `index` (about 128 bytes), so the parent can verify it.
fn payload(index: u64) -> Vec<u8> {
    (0..120u64)
        .map(|i| (index.wrapping_mul(31).wrapping_add(i)) as u8)
        .collect()
}

/// The child's body; a no-op (passing) test in a normal run.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut log = LogStore::<TC>::open(&dir).unwrap();
        let last = log
            .get_log_state()
            .await
            .unwrap()
            .last_log_id
            .map_or(0, |l| l.index);
        let term = log
            .read_vote()
            .await
            .unwrap()
            .map_or(0, |v| v.leader_id.term)
            + 1;
        log.save_vote(&Vote::new_committed(term, 1)).await.unwrap();
        let mut out = std::io::stdout().lock();
        writeln!(out, "VOTE {term}").unwrap();
        out.flush().unwrap();
        let started = Instant::now();
        let mut next = last + 1;
        let mut round = 0u64;
        while started.elapsed() < CHILD_DEADLINE {
            // Batches of 1..=7 entries, so kills land inside multi-entry batches too.
            let n = round % 7 + 1;
            round += 1;
            let batch: Vec<_> = (next..next + n)
                .map(|i| put_entry(term, i, payload(i)))
                .collect();
            log.blocking_append(batch).await.unwrap();
            // Written only after the flush callback fired: this index is acknowledged.
            writeln!(out, "ACK {}", next + n - 1).unwrap();
            out.flush().unwrap();
            next += n;
        }
    });
}

/// Runs one child on `dir`, kills it after it acknowledged `kill_after` appends, and
/// returns (the term it voted, every index it acknowledged).
fn run_child_and_kill(dir: &std::path::Path, kill_after: usize) -> (u64, Vec<u64>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut term = None;
    let mut acked = Vec::new();
    let mut killed = false;
    // Read until EOF: lines printed between our decision to kill and the kill are
    // acknowledgements too, and must hold as well.
    for line in lines.by_ref() {
        let line = line.unwrap();
        // libtest prints "test crash_child ... " without a newline before the child's
        // first line, so look for the markers anywhere in the line.
        if let Some(t) = line.split_once("VOTE ").map(|(_, t)| t) {
            term = Some(t.parse().unwrap());
        } else if let Some(i) = line.strip_prefix("ACK ") {
            acked.push(i.parse::<u64>().unwrap());
            if acked.len() >= kill_after && !killed {
                child.kill().unwrap(); // SIGKILL on Unix
                killed = true;
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(
        killed,
        "child ended on its own ({status}) after {} acks",
        acked.len()
    );
    (term.expect("child printed its vote"), acked)
}

#[tokio::test(flavor = "current_thread")]
async fn every_acknowledged_append_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut total_acked = 0;
    for (round, kill_after) in [40usize, 150, 7, 300].into_iter().enumerate() {
        let (term, acked) = run_child_and_kill(dir.path(), kill_after);
        assert_eq!(
            term,
            round as u64 + 1,
            "each child saw the previous child's vote"
        );
        total_acked += acked.len();

        let mut log = LogStore::<TC>::open(dir.path()).unwrap();
        let state = log.get_log_state().await.unwrap();
        let last = state.last_log_id.expect("log not empty").index;
        let max_acked = *acked.iter().max().unwrap();
        assert!(
            last >= max_acked,
            "round {round}: last {last} < acknowledged {max_acked}"
        );
        assert_eq!(
            log.read_vote().await.unwrap(),
            Some(Vote::new_committed(term, 1))
        );

        // The whole log: contiguous from 1, every entry intact (any lost or torn entry
        // would be a hole, a decode error or a wrong payload).
        let all = log.try_get_log_entries(..).await.unwrap();
        assert_eq!(all.len() as u64, last, "round {round}: hole in the log");
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.log_id.index, i as u64 + 1);
            let openraft::EntryPayload::Normal(put) = &e.payload else {
                panic!("entry {} is not a put", e.log_id.index);
            };
            assert_eq!(
                put.value,
                payload(e.log_id.index),
                "entry {} corrupted",
                e.log_id.index
            );
        }
        eprintln!(
            "round {round}: {} acks (max {max_acked}), log after reopen ends at {last}",
            acked.len()
        );
    }
    assert!(total_acked >= 497);
}
