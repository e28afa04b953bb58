//! Sequential creates under a few parents, each with a unique token as its data.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_client::{CreateMode, CreateOptions};
use zk_history::sequential::{CreateOp, CreateResult};

use super::{error_name, indeterminate, lock, Ctx};

/// One create client: until the run stops, creates `parent/item-` sequential nodes under
/// random parents of the current slice of `slices` (each slice lasts `slice`, the last one
/// to the end).
pub async fn client(
    ctx: Ctx,
    id: u32,
    slices: Vec<Vec<String>>,
    slice: std::time::Duration,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n: u64 = 0;
    let Some(mut zk) = ctx.session().await else {
        return;
    };
    let opts = CreateOptions::new(CreateMode::PersistentSequential);
    while !ctx.stopping() {
        if zk.state().is_closed() {
            match ctx.session().await {
                Some(z) => zk = z,
                None => break,
            }
        }
        ctx.wait_usable(&zk).await;
        let now = std::time::Duration::from_nanos(ctx.rec.clock.now());
        let current = usize::try_from(now.as_secs() / slice.as_secs().max(1))
            .unwrap_or(usize::MAX)
            .min(slices.len().saturating_sub(1));
        let Some(parents) = slices.get(current).filter(|p| !p.is_empty()) else {
            break;
        };
        let parent = &parents[rng.random_range(0..parents.len())];
        n += 1;
        let token = format!("c{id}-{n}");
        let invoke = ctx.rec.clock.now();
        let prefix = format!("{parent}/item-");
        let asked = ctx.call(zk.create(&prefix, token.as_bytes(), &opts));
        let (complete, result) = match asked.await {
            Ok((path, _stat)) => {
                let name = path.rsplit('/').next().unwrap_or_default().to_string();
                (Some(ctx.rec.clock.now()), CreateResult::Created { name })
            }
            Err(e) if indeterminate(&e) => (None, CreateResult::Unknown),
            // Not applied: the checker verifies it is absent at the end.
            Err(e) if super::failover_refusal(&e) => (
                Some(ctx.rec.clock.now()),
                CreateResult::Failed {
                    error: error_name(&e),
                },
            ),
            Err(e) => {
                ctx.anomaly(format!(
                    "create under {parent} refused with {}",
                    error_name(&e)
                ));
                (
                    Some(ctx.rec.clock.now()),
                    CreateResult::Failed {
                        error: error_name(&e),
                    },
                )
            }
        };
        lock(&ctx.rec.creates).push(CreateOp {
            client: id,
            parent: parent.clone(),
            token,
            invoke,
            complete,
            result,
        });
    }
    let _ = zk.close().await;
}
