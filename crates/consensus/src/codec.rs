//! On-disk encoding: tree names, meta keys, big-endian index keys, postcard values.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Corruption;

/// Tree holding the log: key = big-endian u64 index (so sled's byte order is index order).
pub(crate) const LOG_TREE: &str = "raft_log";
/// Tree holding small records: vote, last purged, committed, store meta, cluster meta.
pub(crate) const META_TREE: &str = "raft_meta";
/// Tree holding the latest snapshot's record (its metadata and file; the bytes are in the file).
pub(crate) const SNAPSHOT_TREE: &str = "raft_snapshot";

pub(crate) const KEY_STORE_META: &[u8] = b"store_meta";
pub(crate) const KEY_VOTE: &[u8] = b"vote";
pub(crate) const KEY_LAST_PURGED: &[u8] = b"last_purged";
pub(crate) const KEY_COMMITTED: &[u8] = b"committed";
pub(crate) const KEY_CLUSTER: &[u8] = b"cluster";
/// The ensemble's id (`grpc::identity`), kept apart from the cluster record so data dirs from
/// before it was kept read unchanged.
pub(crate) const KEY_ENSEMBLE: &[u8] = b"ensemble";
pub(crate) const KEY_SNAPSHOT_META: &[u8] = b"meta";

/// The key of the log entry at `index`.
pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The index a log key stands for; a key of another length is corruption.
pub(crate) fn key_index(key: &[u8]) -> Result<u64, Corruption> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| Corruption::BadKey { len: key.len() })?;
    Ok(u64::from_be_bytes(bytes))
}

/// Encodes a value with postcard.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(value)
}

/// Decodes a value with postcard; `what` names the record in the error.
pub(crate) fn decode<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, Corruption> {
    postcard::from_bytes(bytes).map_err(|source| Corruption::Decode { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_sort_like_indexes() {
        let mut keys: Vec<[u8; 8]> = [300u64, 2, 256, 1, u64::MAX, 0]
            .iter()
            .map(|i| index_key(*i))
            .collect();
        keys.sort();
        let back: Vec<u64> = keys.iter().map(|k| key_index(k).unwrap()).collect();
        assert_eq!(back, vec![0, 1, 2, 256, 300, u64::MAX]);
    }

    #[test]
    fn short_key_is_corruption_not_panic() {
        assert!(matches!(
            key_index(&[1, 2, 3]),
            Err(Corruption::BadKey { len: 3 })
        ));
    }
}
