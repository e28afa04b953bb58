//! ACLs: the checks of `ZooKeeperServer.checkACL`, the validation and `auth` expansion of
//! `PrepRequestProcessor.fixupACL`, the stock `digest` and `ip` providers, and an interning cache
//! (ZooKeeper's `ReferenceCountedACLCache`) so that 100k nodes with the same ACL share one list.

use std::collections::HashMap;
use std::sync::Arc;

use zk_wire::{perms, Acl, ErrorCode, Id};

/// Index of an interned ACL list.
pub(crate) type AclId = u32;

/// Reference-counted, interned ACL lists.
#[derive(Debug, Default, Clone)]
pub(crate) struct AclCache {
    slots: Vec<Option<(Arc<[Acl]>, u64)>>,
    index: HashMap<Arc<[Acl]>, AclId>,
    free: Vec<AclId>,
}

impl AclCache {
    /// Takes one reference to `acl`, adding it if new.
    pub(crate) fn intern(&mut self, acl: &[Acl]) -> AclId {
        if let Some(&id) = self.index.get(acl) {
            if let Some(Some((_, n))) = self.slots.get_mut(id as usize) {
                *n += 1;
            }
            return id;
        }
        let list: Arc<[Acl]> = Arc::from(acl);
        self.insert_new(list)
    }

    /// Takes one reference to an already shared list.
    pub(crate) fn intern_arc(&mut self, acl: Arc<[Acl]>) -> AclId {
        if let Some(&id) = self.index.get(&acl) {
            if let Some(Some((_, n))) = self.slots.get_mut(id as usize) {
                *n += 1;
            }
            return id;
        }
        self.insert_new(acl)
    }

    fn insert_new(&mut self, list: Arc<[Acl]>) -> AclId {
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some((list.clone(), 1));
                id
            }
            None => {
                self.slots.push(Some((list.clone(), 1)));
                (self.slots.len() - 1) as AclId
            }
        };
        self.index.insert(list, id);
        id
    }

    /// Drops one reference; the slot is reused once nobody holds it.
    pub(crate) fn release(&mut self, id: AclId) {
        if let Some(slot) = self.slots.get_mut(id as usize) {
            if let Some((list, n)) = slot {
                *n -= 1;
                if *n == 0 {
                    self.index.remove(list);
                    *slot = None;
                    self.free.push(id);
                }
            }
        }
    }

    /// The list behind an id (empty if unknown, which never happens for a node's id).
    pub(crate) fn get(&self, id: AclId) -> &Arc<[Acl]> {
        static EMPTY: std::sync::OnceLock<Arc<[Acl]>> = std::sync::OnceLock::new();
        match self.slots.get(id as usize) {
            Some(Some((list, _))) => list,
            _ => EMPTY.get_or_init(|| Arc::from(Vec::new())),
        }
    }

    /// One more than the largest id [`AclCache::get`] can know: ids index a table of this
    /// size.
    pub(crate) fn id_bound(&self) -> usize {
        self.slots.len()
    }

    /// Number of distinct lists held.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }
}

/// True if `ids` may do `perm` on a node with `acl` (`ZooKeeperServer.checkACL`).
pub fn check_acl(acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
    // An empty list means no protection, and a `super` id may do anything.
    if acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
        return true;
    }
    acl.iter().any(|a| {
        if a.perms & perm == 0 {
            return false;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return true;
        }
        ids.iter().any(|auth| {
            auth.scheme == a.id.scheme && provider_matches(&a.id.scheme, &auth.id, &a.id.id)
        })
    })
}

/// `checkACL` as an error.
pub fn require(acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
    if check_acl(acl, perm, ids) {
        Ok(())
    } else {
        Err(ErrorCode::NoAuth)
    }
}

fn provider_matches(scheme: &str, auth_id: &str, acl_expr: &str) -> bool {
    match scheme {
        "ip" => ip_matches(auth_id, acl_expr),
        "digest" | "sasl" | "x509" => auth_id == acl_expr,
        _ => false,
    }
}

/// Schemes whose ids the `auth` ACL scheme expands to (`isAuthenticated()`; `ip` is not).
fn is_authenticated_scheme(scheme: &str) -> bool {
    matches!(scheme, "digest" | "sasl" | "x509")
}

/// `isValid` of the server's stock providers; any other scheme is not registered.
pub fn is_valid_id(id: &Id) -> bool {
    match id.scheme.as_str() {
        "digest" => java_split_count(&id.id, ':') == 2,
        "ip" => parse_ip_expr(&id.id).is_some(),
        "x509" => is_distinguished_name(&id.id),
        _ => false,
    }
}

/// X509AuthenticationProvider's `isValid` (a `new X500Principal(id)` that parses), in the
/// shape that matters for an ACL: comma- or semicolon-separated RDNs, each one or more
/// `type=value` joined by `+`, a backslash escaping the next character and quotes enclosing
/// a value; the type a keyword or a dotted OID. The empty name is valid, as in Java.
fn is_distinguished_name(dn: &str) -> bool {
    if dn.trim().is_empty() {
        return true;
    }
    let mut pairs = vec![String::new()];
    let mut chars = dn.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) => {
                    let last = pairs.last_mut();
                    last.into_iter().for_each(|p| p.extend(['\\', e]));
                }
                None => return false,
            },
            '"' => {
                quoted = !quoted;
                pairs.last_mut().into_iter().for_each(|p| p.push(c));
            }
            ',' | ';' | '+' if !quoted => pairs.push(String::new()),
            _ => pairs.last_mut().into_iter().for_each(|p| p.push(c)),
        }
    }
    !quoted
        && pairs.iter().all(|pair| {
            let Some((kind, _value)) = pair.split_once('=') else {
                return false;
            };
            let kind = kind.trim();
            let kind = kind
                .strip_prefix("OID.")
                .or_else(|| kind.strip_prefix("oid."))
                .unwrap_or(kind);
            let keyword = kind.starts_with(|c: char| c.is_ascii_alphabetic())
                && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            let oid = kind.contains('.')
                && kind
                    .split('.')
                    .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            keyword || oid
        })
}

/// `String.split(sep).length` in Java: trailing empty strings are dropped.
fn java_split_count(s: &str, sep: char) -> usize {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && s.contains(sep) {
        return 0;
    }
    parts.len()
}

/// ZooKeeper 3.8.0's `ip` provider only knows IPv4 dotted quads (`v4addr2Bytes`).
fn v4_bytes(addr: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut n = 0;
    for part in addr.split('.') {
        if n == 4 {
            return None;
        }
        let v: i32 = part.parse().ok()?;
        out[n] = u8::try_from(v).ok()?;
        n += 1;
    }
    (n == 4).then_some(out)
}

/// An `ip` ACL expression: address and prefix length.
fn parse_ip_expr(expr: &str) -> Option<([u8; 4], u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let a = v4_bytes(addr)?;
    let bits = match bits {
        None => 32,
        Some(b) => {
            let v: i32 = b.parse().ok()?;
            u32::try_from(v).ok().filter(|&v| v <= 32)?
        }
    };
    Some((a, bits))
}

fn ip_matches(client: &str, acl_expr: &str) -> bool {
    let Some((acl_addr, bits)) = parse_ip_expr(acl_expr) else {
        return false;
    };
    let Some(remote) = v4_bytes(client) else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from_be_bytes(acl_addr) & mask == u32::from_be_bytes(remote) & mask
}

/// `fixupACL`: drops duplicates, rejects an empty list, unknown schemes and invalid ids
/// (InvalidAcl), and replaces each `auth` entry by the requester's authenticated ids.
pub fn fixup_acl(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            let mut any = false;
            for cid in ids.iter().filter(|i| is_authenticated_scheme(&i.scheme)) {
                any = true;
                out.push(Acl {
                    perms: a.perms,
                    id: cid.clone(),
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(&a.id) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// What getACL shows a reader without ADMIN: digest hashes replaced by `x` (`user:x`).
pub fn redact(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl {
                    perms: a.perms,
                    id: Id::new("digest", format!("{user}:x")),
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

/// Permission needed to read an ACL: either READ or ADMIN.
pub const GET_ACL_PERMS: i32 = perms::READ | perms::ADMIN;

#[cfg(test)]
mod tests {
    use super::*;

    /// x509 ids are distinguished names, as X500Principal parses them.
    #[test]
    fn x509_validity() {
        let x509 = |s: &str| is_valid_id(&Id::new("x509", s));
        assert!(x509("CN=client,O=Example"));
        assert!(x509("CN=a\\,b+OU=x; O=\"Acme, Inc.\""));
        assert!(x509("1.2.840.113549.1.9.1=#1603614062,CN=c"));
        assert!(x509(""));
        assert!(!x509("client"));
        assert!(!x509("CN=a,,O=b"));
        assert!(!x509("CN=\"open"));
        assert!(!x509("=x"));
    }

    #[test]
    fn digest_validity_follows_java_split() {
        // Measured on 3.8.0: "user", "user:", "a:b:c" are InvalidACL; ":h" is accepted.
        assert!(!is_valid_id(&Id::new("digest", "user")));
        assert!(!is_valid_id(&Id::new("digest", "user:")));
        assert!(!is_valid_id(&Id::new("digest", "a:b:c")));
        assert!(is_valid_id(&Id::new("digest", ":h")));
        assert!(is_valid_id(&Id::new("digest", "u:h")));
        assert!(!is_valid_id(&Id::new("digest", ":")));
    }

    #[test]
    fn ip_validity_and_matching() {
        // Measured on 3.8.0: 10.0.0.0/8 ok, /33 and "10.0.0" invalid, IPv6 invalid.
        assert!(is_valid_id(&Id::new("ip", "10.0.0.0/8")));
        assert!(!is_valid_id(&Id::new("ip", "10.0.0.0/33")));
        assert!(!is_valid_id(&Id::new("ip", "10.0.0")));
        assert!(!is_valid_id(&Id::new("ip", "::1")));
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
        assert!(!ip_matches("::1", "127.0.0.1"));
    }

    #[test]
    fn cache_interns_and_frees() {
        let mut c = AclCache::default();
        let a = c.intern(&Acl::open_unsafe());
        let b = c.intern(&Acl::open_unsafe());
        assert_eq!(a, b);
        assert_eq!(c.len(), 1);
        c.release(a);
        assert_eq!(c.len(), 1);
        c.release(b);
        assert_eq!(c.len(), 0);
        let d = c.intern(&Acl::read_unsafe());
        assert_eq!(d, a, "slot reused");
    }
}
