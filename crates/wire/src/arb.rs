//! Proptest strategies for the hand-written data records (the `record!` ones make their own).

use crate::data::{Acl, Id, Stat};
use proptest::prelude::*;

/// Any `Id`.
pub(crate) fn id() -> BoxedStrategy<Id> {
    (crate::field::strat::string(), crate::field::strat::string())
        .prop_map(|(scheme, id)| Id { scheme, id })
        .boxed()
}

/// Any `ACL`.
pub(crate) fn acl() -> BoxedStrategy<Acl> {
    (any::<i32>(), id())
        .prop_map(|(perms, id)| Acl { perms, id })
        .boxed()
}

/// Any `Stat`.
pub(crate) fn stat() -> BoxedStrategy<Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(
            |(
                (czxid, mzxid, ctime, mtime),
                (version, cversion, aversion),
                (ephemeral_owner, data_length, num_children, pzxid),
            )| Stat {
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                data_length,
                num_children,
                pzxid,
            },
        )
        .boxed()
}
