//! Request builders shared by single calls and multi: arguments checked here (paths, create
//! modes, TTLs) so a mistake is a `BadArguments` with a reason, before anything is sent.

use std::time::Duration;

use zk_wire::{Acl, CreateMode, CreateRequest, CreateTtlRequest, MultiOp, Request};

use crate::error::{Error, Result};
use crate::path::validate_path;

/// How to create a node: mode, ACL and (for TTL modes) the time-to-live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// The create mode.
    pub mode: CreateMode,
    /// The node's ACL (default: `world:anyone` with every permission).
    pub acl: Vec<Acl>,
    /// Time-to-live, required by (and only allowed with) the TTL modes.
    pub ttl: Option<Duration>,
}

impl CreateOptions {
    /// `mode` with the open ACL.
    pub fn new(mode: CreateMode) -> CreateOptions {
        CreateOptions {
            mode,
            acl: Acl::open_unsafe(),
            ttl: None,
        }
    }

    /// A persistent node.
    pub fn persistent() -> CreateOptions {
        CreateOptions::new(CreateMode::Persistent)
    }

    /// An ephemeral node.
    pub fn ephemeral() -> CreateOptions {
        CreateOptions::new(CreateMode::Ephemeral)
    }

    /// Replaces the ACL.
    pub fn with_acl(mut self, acl: Vec<Acl>) -> CreateOptions {
        self.acl = acl;
        self
    }

    /// Sets the time-to-live (TTL modes only).
    pub fn with_ttl(mut self, ttl: Duration) -> CreateOptions {
        self.ttl = Some(ttl);
        self
    }
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions::persistent()
    }
}

/// Checks a plain (non-sequential) path.
pub(crate) fn check_path(path: &str) -> Result<()> {
    validate_path(path, false)
}

/// The create as a multi op: create2 (so a stat comes back), createContainer or createTTL.
pub(crate) fn create_op(path: &str, data: &[u8], opts: &CreateOptions) -> Result<MultiOp> {
    validate_path(path, opts.mode.is_sequential())?;
    if opts.acl.is_empty() {
        return Err(Error::BadArguments("ACL must not be empty".into()));
    }
    let flags = opts.mode.flags();
    let data = Some(data.to_vec());
    let acl = opts.acl.clone();
    let path = path.to_string();
    if opts.mode.is_ttl() {
        let ttl = match opts.ttl {
            Some(t) if !t.is_zero() => i64::try_from(t.as_millis()).unwrap_or(i64::MAX),
            _ => return Err(Error::BadArguments("a TTL mode needs a TTL > 0".into())),
        };
        return Ok(MultiOp::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl,
        }));
    }
    if opts.ttl.is_some() {
        return Err(Error::BadArguments(format!(
            "a TTL is only allowed with a TTL mode, not {:?}",
            opts.mode
        )));
    }
    let req = CreateRequest {
        path,
        data,
        acl,
        flags,
    };
    Ok(if opts.mode.is_container() {
        MultiOp::CreateContainer(req)
    } else {
        MultiOp::Create2(req)
    })
}

/// The create as a request.
pub(crate) fn create_request(path: &str, data: &[u8], opts: &CreateOptions) -> Result<Request> {
    Ok(match create_op(path, data, opts)? {
        MultiOp::CreateTtl(r) => Request::CreateTtl(r),
        MultiOp::CreateContainer(r) => Request::CreateContainer(r),
        MultiOp::Create2(r) | MultiOp::Create(r) => Request::Create2(r),
        _ => return Err(Error::BadArguments("not a create".into())),
    })
}

/// -1 ("any version") for `None`.
pub(crate) fn version(v: Option<i32>) -> i32 {
    v.unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_pick_their_opcode_and_ttl_is_checked() {
        let c = |o: CreateOptions| create_request("/a", b"x", &o);
        assert!(matches!(
            c(CreateOptions::persistent()),
            Ok(Request::Create2(_))
        ));
        assert!(matches!(
            c(CreateOptions::new(CreateMode::Container)),
            Ok(Request::CreateContainer(_))
        ));
        assert!(matches!(
            c(CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(Duration::from_secs(1))),
            Ok(Request::CreateTtl(r)) if r.ttl == 1000
        ));
        assert!(matches!(
            c(CreateOptions::new(CreateMode::PersistentWithTtl)),
            Err(Error::BadArguments(_))
        ));
        assert!(matches!(
            c(CreateOptions::persistent().with_ttl(Duration::from_secs(1))),
            Err(Error::BadArguments(_))
        ));
        assert!(create_request(
            "/a/",
            b"",
            &CreateOptions::new(CreateMode::PersistentSequential)
        )
        .is_ok());
        assert!(create_request("/a/", b"", &CreateOptions::persistent()).is_err());
    }
}
