//! Auth for the admin commands that need it (ZooKeeper 3.9's `Commands.runGetCommand`): the
//! request's `Authorization` header is `<scheme> <credentials>` (`digest user:password`;
//! `ip` alone, its id the caller's address), authenticated by the same providers as a
//! client's addAuth, and the ids it gives must hold every asked permission bit on a path's
//! ACL. Missing or failed auth is 401, a refused ACL 403, each with ZooKeeper's message.
//!
//! As in ZooKeeper, the ACL decides: with the default ACL on `/` (world:anyone, ALL) any
//! caller that authenticates at all passes; an operator protects the snapshot by setting an
//! ACL on `/` (or by configuring a superDigest and keeping `/` closed).

use std::net::IpAddr;

use axum::http::{HeaderMap, StatusCode};
use zk_store::DataTree;
use zk_wire::ErrorCode;

use crate::auth::{self, AuthResult, SuperDigest};

/// ZooKeeper's `AUTH_INFO_SEPARATOR`: scheme and credentials in the header.
const SEPARATOR: char = ' ';

/// Why a command was refused: the HTTP status and ZooKeeper's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// 401, 403 or 500.
    pub status: StatusCode,
    /// ZooKeeper's text for the `error` field.
    pub message: &'static str,
}

impl Refused {
    fn new(status: StatusCode, message: &'static str) -> Refused {
        Refused { status, message }
    }
}

/// The `Authorization` header's text, if any (a value that is not text counts as none
/// given, as a servlet's `getHeader` would not decode it either).
pub fn header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// Authenticates `auth_info` for a caller at `peer` and checks that the ids hold `perms` on
/// `path` in `tree`.
pub fn authorize(
    auth_info: Option<&str>,
    peer: IpAddr,
    super_digest: Option<&SuperDigest>,
    tree: &DataTree,
    path: &str,
    perms: i32,
) -> Result<(), Refused> {
    let Some(info) = auth_info else {
        return Err(Refused::new(
            StatusCode::UNAUTHORIZED,
            "Auth info is missing for the command",
        ));
    };
    let not_authenticated = Refused::new(StatusCode::UNAUTHORIZED, "Not authenticated");
    // Java's `split(" ")`: one or two parts, trailing empty parts dropped.
    let parts: Vec<&str> = info.trim_end_matches(SEPARATOR).split(SEPARATOR).collect();
    let (scheme, credentials) = match parts.as_slice() {
        [scheme] if !scheme.is_empty() => (*scheme, &b""[..]),
        [scheme, credentials] if !scheme.is_empty() => (*scheme, credentials.as_bytes()),
        _ => return Err(not_authenticated),
    };
    // The digest provider needs credentials; ip and x509 take their id from the request.
    if scheme == "digest" && credentials.is_empty() {
        return Err(not_authenticated);
    }
    // The admin port has no client certificate: x509 fails, as without one on a client port.
    let ids = match auth::authenticate(scheme, credentials, peer, super_digest, &[]) {
        AuthResult::Added(ids) if !ids.is_empty() => ids,
        _ => return Err(not_authenticated),
    };
    match tree.authorize(path, perms, &ids) {
        Ok(()) => Ok(()),
        Err(ErrorCode::NoAuth) => Err(Refused::new(StatusCode::FORBIDDEN, "Not authorized")),
        Err(_) => Err(Refused::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error occurred during auth",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_store::{TreeConfig, Txn, TxnContext};
    use zk_wire::{perms, Acl, Id};

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn tree_with_root_acl(acl: Vec<Acl>) -> DataTree {
        let mut tree = DataTree::new(TreeConfig::default());
        let sup = [Id::new("super", "")];
        let ctx = TxnContext {
            zxid: 1,
            time_ms: 0,
            session_id: 0,
            auth: &sup,
        };
        let out = tree.apply(
            &ctx,
            &Txn::SetAcl {
                path: "/".into(),
                acl,
                version: -1,
            },
        );
        assert_eq!(out.result.map(|_| ()), Ok(()));
        tree
    }

    fn status(r: Result<(), Refused>) -> Option<StatusCode> {
        r.err().map(|e| e.status)
    }

    #[test]
    fn missing_or_malformed_auth_is_401() {
        let tree = DataTree::new(TreeConfig::default());
        let check = |h: Option<&str>| status(authorize(h, LOCAL, None, &tree, "/", perms::ALL));
        assert_eq!(check(None), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(check(Some("")), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(check(Some("digest")), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(check(Some("nosuch u:p")), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(check(Some("digest a b")), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(check(Some("x509")), Some(StatusCode::UNAUTHORIZED));
        // The default root ACL is open: any authenticated caller passes.
        assert_eq!(check(Some("digest u:p")), None);
        assert_eq!(check(Some("ip")), None);
    }

    #[test]
    fn the_acl_on_the_path_decides() {
        let digest = auth::digest_id("admin:secret");
        let tree = tree_with_root_acl(vec![Acl {
            perms: perms::ALL,
            id: Id::new("digest", &digest),
        }]);
        let check = |h: &str| status(authorize(Some(h), LOCAL, None, &tree, "/", perms::ALL));
        assert_eq!(check("digest admin:secret"), None);
        assert_eq!(check("digest admin:wrong"), Some(StatusCode::FORBIDDEN));
        assert_eq!(check("ip"), Some(StatusCode::FORBIDDEN));
        // The superDigest's password passes whatever the ACL says.
        let sup: SuperDigest = auth::digest_id("super:test").parse().expect("digest");
        let r = authorize(
            Some("digest super:test"),
            LOCAL,
            Some(&sup),
            &tree,
            "/",
            perms::ALL,
        );
        assert_eq!(r, Ok(()));
        // READ alone on the root is not enough for ALL.
        let read_only = tree_with_root_acl(vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }]);
        let r = authorize(Some("ip"), LOCAL, None, &read_only, "/", perms::ALL);
        assert_eq!(
            r,
            Err(Refused::new(StatusCode::FORBIDDEN, "Not authorized"))
        );
    }

    #[test]
    fn ip_auth_is_the_callers_address() {
        let tree = tree_with_root_acl(vec![Acl {
            perms: perms::ALL,
            id: Id::new("ip", "10.0.0.0/8"),
        }]);
        let inside: IpAddr = [10, 1, 2, 3].into();
        assert_eq!(
            authorize(Some("ip"), inside, None, &tree, "/", perms::ALL),
            Ok(())
        );
        assert_eq!(
            status(authorize(Some("ip"), LOCAL, None, &tree, "/", perms::ALL)),
            Some(StatusCode::FORBIDDEN)
        );
    }
}
