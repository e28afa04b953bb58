//! The log's files damaged the ways a crash or a bad disk damages them: cut at every byte
//! offset of its last records (a torn write), and every byte of those records flipped.
//!
//! A cut log reopens at the last whole frame: every frame (one per acknowledged write) that
//! ended before the cut is there, nothing after it, and the log appends again. A flipped byte
//! is never read as data: the store refuses to open with an error naming the segment, or,
//! only in the last frame (indistinguishable from a torn write), reopens without that frame
//! and everything before it intact. Never a panic.
//!
//! White-box on purpose: the test walks the frame headers (`len u32 LE` first, 20 bytes in
//! all; docs/storage.md) to know where each acknowledged write ends. Segments are 64 MiB
//! preallocated files, so each case damages the one segment in place and restores it after,
//! instead of copying it.

mod common;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::path::PathBuf;

use common::put_entry;
use common::Entry;
use common::Vote;
use common::TC;
use openraft::storage::RaftLogStorage;
use openraft::storage::RaftLogStorageExt;
use openraft::RaftLogReader;
use zk_consensus::LogStore;
use zk_consensus::OpenError;

/// Entries written (and acknowledged) before the records under test.
const BEFORE: u64 = 20;
/// Bytes of a frame header.
const FRAME_HEADER: u64 = 20;

fn entry(index: u64) -> Entry {
    put_entry(1, index, vec![index as u8; 16])
}

/// What the log holds after a step: its last index and its vote.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    last: u64,
    vote: Option<Vote>,
}

/// The log's one segment file in data dir `dir`.
fn segment(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap_or_else(|e| panic!("read the log dir: {e}"))
        .map(|e| e.unwrap_or_else(|e| panic!("dir entry: {e}")).path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    assert_eq!(files.len(), 1, "one segment: {files:?}");
    files.into_iter().next().unwrap_or_else(|| unreachable!())
}

fn read_at(file: &Path, at: u64, len: u64) -> Vec<u8> {
    let f = std::fs::File::open(file).unwrap_or_else(|e| panic!("open {file:?}: {e}"));
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, at)
        .unwrap_or_else(|e| panic!("read {file:?}: {e}"));
    buf
}

fn write_at(file: &Path, at: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap_or_else(|e| panic!("open {file:?}: {e}"));
    f.write_all_at(bytes, at)
        .unwrap_or_else(|e| panic!("write {file:?}: {e}"));
}

/// The end offsets of the frames of `file`, read from their headers.
fn frame_ends(file: &Path) -> Vec<u64> {
    let mut ends = Vec::new();
    let mut at = 0;
    loop {
        let header = read_at(file, at, FRAME_HEADER);
        if header.iter().all(|&b| b == 0) {
            return ends;
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as u64;
        at += FRAME_HEADER + len;
        ends.push(at);
    }
}

/// Writes the log of the tests into `dir`: [`BEFORE`] entries, then one record per step,
/// each acknowledged (synced) before the next. Returns each step's end offset in the
/// segment and what the log holds once it is there (the first: before any step).
async fn write_log(dir: &Path) -> Vec<(u64, Seen)> {
    let mut log = LogStore::<TC>::open(dir).unwrap_or_else(|e| panic!("open: {e}"));
    log.blocking_append((1..=BEFORE).map(entry)).await.unwrap();
    let mut seen = vec![Seen {
        last: BEFORE,
        vote: None,
    }];
    let mut now = seen[0].clone();
    let mut next = BEFORE + 1;
    for step in 0..5 {
        if step == 1 {
            let vote = Vote::new_committed(5, 1);
            log.save_vote(&vote).await.unwrap();
            now.vote = Some(vote);
        } else {
            log.blocking_append([entry(next)]).await.unwrap();
            now.last = next;
            next += 1;
        }
        seen.push(now.clone());
    }
    close(log).await;
    // One frame per acknowledged write (the first also holds the segment's checkpoint).
    let ends = frame_ends(&segment(dir));
    assert_eq!(ends.len(), seen.len(), "frames: {ends:?}");
    ends.into_iter().zip(seen).collect()
}

/// Opens `dir` and reads back all it holds, checking every entry is the one written.
async fn open_and_read(dir: &Path) -> Result<(LogStore<TC>, Seen), OpenError> {
    let mut log = LogStore::<TC>::open(dir)?;
    let state = log
        .get_log_state()
        .await
        .unwrap_or_else(|e| panic!("log state: {e}"));
    let last = state.last_log_id.map_or(0, |l| l.index);
    let all = log
        .try_get_log_entries(..)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(all, (1..=last).map(entry).collect::<Vec<_>>());
    let vote = log
        .read_vote()
        .await
        .unwrap_or_else(|e| panic!("vote: {e}"));
    Ok((log, Seen { last, vote }))
}

async fn close(log: LogStore<TC>) {
    let released = log.storage().released();
    drop(log);
    released.wait().await;
}

/// Bytes past the last step that a case may have written (the tests' own appends).
const SLACK: u64 = 4096;

/// Puts the segment back as `write_log` left it.
fn restore(file: &Path, original: &[u8]) {
    write_at(file, 0, original);
    write_at(file, original.len() as u64, &[0u8; SLACK as usize]);
}

#[tokio::test]
async fn a_log_cut_at_any_offset_of_its_last_records_reopens_at_the_last_whole_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let steps = write_log(&dir).await;
    let file = segment(&dir);
    let (start, end) = (steps[0].0, steps[steps.len() - 1].0);
    let original = read_at(&file, 0, end);
    let full_len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    for cut in start..end {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .and_then(|f| f.set_len(cut))
            .unwrap_or_else(|e| panic!("cut {file:?}: {e}"));

        let (whole_end, want) = steps
            .iter()
            .rev()
            .find(|(e, _)| *e <= cut)
            .cloned()
            .unwrap_or_else(|| unreachable!("{cut} >= {start}"));
        let (mut log, seen) = open_and_read(&dir)
            .await
            .unwrap_or_else(|e| panic!("cut at {cut}: refused: {e}"));
        assert_eq!(seen, want, "cut at {cut}");
        // The torn part is gone from the file (zeros), and appends go on after the cut.
        assert!(
            read_at(&file, whole_end, cut - whole_end)
                .iter()
                .all(|&b| b == 0),
            "cut at {cut}: torn bytes left"
        );
        log.blocking_append([entry(want.last + 1)]).await.unwrap();
        close(log).await;
        let (log, again) = open_and_read(&dir)
            .await
            .unwrap_or_else(|e| panic!("cut at {cut}, reopened after an append: {e}"));
        assert_eq!(again.last, want.last + 1, "cut at {cut}");
        close(log).await;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .and_then(|f| f.set_len(full_len))
            .unwrap_or_else(|e| panic!("regrow {file:?}: {e}"));
        restore(&file, &original);
    }
}

#[tokio::test]
async fn a_flipped_byte_in_the_last_records_is_refused_or_cut_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let steps = write_log(&dir).await;
    let file = segment(&dir);
    let (start, end) = (steps[0].0, steps[steps.len() - 1].0);
    let original = read_at(&file, 0, end);
    let (mut refused, mut cut_off) = (0, 0);
    for at in start..end {
        write_at(&file, at, &[original[at as usize] ^ 0xff]);
        // The step whose frame holds the byte.
        let step = steps
            .iter()
            .position(|(e, _)| *e > at)
            .unwrap_or_else(|| unreachable!("{at} < {end}"));
        match open_and_read(&dir).await {
            Err(e) => {
                assert!(matches!(e, OpenError::Log { .. }), "flip at {at}: {e}");
                assert!(
                    e.to_string().contains("not a torn write"),
                    "flip at {at}: {e}"
                );
                refused += 1;
            }
            Ok((log, seen)) => {
                // Only the last frame may go, as a torn one; never one with frames after it.
                assert_eq!(
                    step,
                    steps.len() - 1,
                    "flip at {at}: opened over a damaged frame with frames after it"
                );
                assert_eq!(seen, steps[step - 1].1, "flip at {at}");
                cut_off += 1;
                close(log).await;
            }
        }
        restore(&file, &original);
    }
    eprintln!(
        "{} flips: {refused} refused, {cut_off} cut off as a torn last frame",
        end - start
    );
    assert_eq!(refused + cut_off, end - start);
    assert!(refused > 0);
}

/// Bytes flipped in the first frames (the segment's checkpoint and the first entries), with
/// whole frames after them: always refused.
#[tokio::test]
async fn a_flipped_byte_early_in_the_log_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let steps = write_log(&dir).await;
    let file = segment(&dir);
    let end = steps[steps.len() - 1].0;
    let original = read_at(&file, 0, end);
    for at in 0..steps[0].0 {
        write_at(&file, at, &[original[at as usize] ^ 0x5a]);
        match open_and_read(&dir).await {
            Err(e) => assert!(matches!(e, OpenError::Log { .. }), "flip at {at}: {e}"),
            Ok((_, seen)) => panic!("flip at {at}: opened, holding {seen:?}"),
        }
        restore(&file, &original);
    }
}
