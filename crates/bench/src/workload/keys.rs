//! The key set of get/set/mixed/failover: `<root>/keys-<value size>/k<i>` for `i` in
//! `0..--keys`, each holding `--value-size` bytes, made (pipelined) before the run and kept
//! between runs (an existing key is overwritten so its value has the right size).

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use zk_client::{Client, CreateOptions, Error};

use crate::report::errors_text;

use super::{ensure_under_root, pipelined, Bench};

/// The path of key `i` under `parent`.
pub fn key_path(parent: &str, i: usize) -> String {
    format!("{parent}/k{i:07}")
}

/// Makes sure every key exists with a value of the right size; the key paths.
pub async fn ensure(bench: &Bench, clients: &[Client]) -> anyhow::Result<Arc<Vec<String>>> {
    let Some(first) = clients.first() else {
        bail!("no client to create the keys with");
    };
    let parent = format!("{}/keys-{}", bench.opts.root, bench.opts.value_size);
    ensure_under_root(bench, first, &parent).await?;
    let keys: Arc<Vec<String>> =
        Arc::new((0..bench.opts.keys).map(|i| key_path(&parent, i)).collect());
    let value = bench.value.clone();
    let paths = keys.clone();
    let make: pipelined::MakeIndexed = Arc::new(move |c: &Client, i: usize| {
        let (c, value, path) = (c.clone(), value.clone(), paths[i].clone());
        Box::pin(async move {
            match c.create(&path, &value, &CreateOptions::persistent()).await {
                Ok(_) => Ok(()),
                Err(Error::NodeExists) => c.set_data(&path, &value, None).await.map(|_| ()),
                Err(e) => Err(e),
            }
        })
    });
    let limit = Duration::from_secs(120);
    let (tally, unfinished) = pipelined::for_each(
        &bench.window,
        clients,
        bench.opts.in_flight,
        keys.len(),
        make,
        limit,
    )
    .await;
    if tally.failed() > 0 || unfinished > 0 {
        bail!(
            "setup: {} of {} keys could not be made under {parent} ({}{})",
            tally.failed() as usize + unfinished,
            keys.len(),
            errors_text(&tally.errors),
            if unfinished > 0 {
                ", some unfinished"
            } else {
                ""
            }
        );
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_sort_in_index_order() {
        assert_eq!(key_path("/b/keys-100", 7), "/b/keys-100/k0000007");
        assert!(key_path("/p", 9) < key_path("/p", 10));
    }
}
