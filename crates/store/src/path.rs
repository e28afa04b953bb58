//! Path rules of `PathUtils.validatePath` and the parent/name split the server uses.

use zk_wire::ErrorCode;

/// The root path.
pub const ROOT: &str = "/";
/// ZooKeeper's own subtree.
pub const ZOOKEEPER: &str = "/zookeeper";
/// Quota subtree.
pub const QUOTA: &str = "/zookeeper/quota";
/// Dynamic configuration node (read-only to clients).
pub const CONFIG: &str = "/zookeeper/config";

/// Why a path is invalid (the reason `PathUtils.validatePath` gives).
pub fn path_error(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("path length must be > 0");
    }
    if !path.starts_with('/') {
        return Some("path must start with / character");
    }
    if path.len() == 1 {
        return None;
    }
    if path.ends_with('/') {
        return Some("path must not end with / character");
    }
    // Components are never empty except by `//`; `.` and `..` are the relative forms Java rejects.
    for comp in path[1..].split('/') {
        match comp {
            "" => return Some("empty node name specified"),
            "." | ".." => return Some("relative paths not allowed"),
            _ => {}
        }
    }
    for c in path.chars() {
        let u = c as u32;
        // Java checks UTF-16 units: anything above U+FFFF is a surrogate pair there, so it is
        // rejected along with the surrogate/private-use range U+D800..=U+F8FF.
        let bad = u == 0
            || (0x01..=0x1f).contains(&u)
            || (0x7f..=0x9f).contains(&u)
            || (0xd800..=0xf8ff).contains(&u)
            || (0xfff0..=0xffff).contains(&u)
            || u > 0xffff;
        if bad {
            return Some(if u == 0 {
                "null character not allowed"
            } else {
                "invalid character"
            });
        }
    }
    None
}

/// `PathUtils.validatePath` as the server applies it: BadArguments on any violation.
pub fn validate_path(path: &str) -> Result<(), ErrorCode> {
    match path_error(path) {
        None => Ok(()),
        Some(_) => Err(ErrorCode::BadArguments),
    }
}

/// Parent part of a path as the server computes it (`path.substring(0, lastSlash)`), without
/// validation: `/a` gives `""` (the root's other name), `/a/b` gives `/a`.
/// BadArguments when there is no slash or a NUL (`validatePathForCreate`).
pub fn parent_for_create(path: &str) -> Result<&str, ErrorCode> {
    match path.rfind('/') {
        Some(i) if !path.contains('\0') => Ok(&path[..i]),
        _ => Err(ErrorCode::BadArguments),
    }
}

/// True for the nodes a client can never delete (`DataTree.isSpecialPath`).
pub fn is_special(path: &str) -> bool {
    matches!(path, ROOT | ZOOKEEPER | QUOTA | CONFIG)
}

/// `getParentPathAndValidate` of delete: like [`parent_for_create`] but special paths are
/// BadArguments too.
pub fn parent_for_delete(path: &str) -> Result<&str, ErrorCode> {
    if is_special(path) {
        return Err(ErrorCode::BadArguments);
    }
    parent_for_create(path)
}

/// The parent of a valid, non-root path, with the root spelt `/` (as watch events spell it).
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => ROOT,
        Some(i) => &path[..i],
    }
}

/// The last component of a path.
pub fn name_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    let mut s = String::with_capacity(parent.len() + 1 + name.len());
    if parent != ROOT {
        s.push_str(parent);
    }
    s.push('/');
    s.push_str(name);
    s
}
