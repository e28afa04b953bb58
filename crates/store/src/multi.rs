//! multi: ops applied in order against the live tree with an undo log; the first failure
//! rolls everything back and yields ZooKeeper's per-op error results (R7), with no triggers.

use zk_wire::ErrorCode;

use crate::tree::DataTree;
use crate::txn::{Applied, OpResult, Txn, TxnContext};

impl DataTree {
    pub(crate) fn apply_multi(&mut self, ctx: &TxnContext<'_>, ops: &[Txn]) -> Applied {
        // Only these op types exist inside a MultiRequest; anything else cannot be decoded by
        // ZooKeeper, which answers MarshallingError for the whole request.
        let allowed = ops.iter().all(|op| {
            matches!(
                op,
                Txn::Create { .. } | Txn::Delete { .. } | Txn::SetData { .. } | Txn::Check { .. }
            )
        });
        if !allowed {
            return Applied::err(ErrorCode::MarshallingError);
        }
        let mut undo = Vec::new();
        let mut triggers = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match self.apply_op(ctx, op, &mut triggers, Some(&mut undo)) {
                Ok(r) => results.push(r),
                Err(e) => {
                    self.rollback(undo);
                    let mut rs = vec![OpResult::Error(ErrorCode::Ok); i];
                    rs.push(OpResult::Error(e));
                    rs.resize(ops.len(), OpResult::Error(ErrorCode::RuntimeInconsistency));
                    return Applied {
                        result: Ok(OpResult::Multi(rs)),
                        triggers: Vec::new(),
                    };
                }
            }
        }
        Applied {
            result: Ok(OpResult::Multi(results)),
            triggers,
        }
    }
}
