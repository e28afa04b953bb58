//! Path validation with ZooKeeper's rules (`PathUtils.validatePath`), so a bad path is refused
//! here with a reason instead of by the server with a bare BadArguments.

use crate::error::{Error, Result};

/// Checks `path` as ZooKeeper's client does; a sequential create may end in `/` because the
/// server appends the counter.
pub fn validate_path(path: &str, sequential: bool) -> Result<()> {
    let reason = check(path, sequential);
    match reason {
        None => Ok(()),
        Some(why) => Err(Error::BadArguments(format!("invalid path {path:?}: {why}"))),
    }
}

fn check(path: &str, sequential: bool) -> Option<&'static str> {
    if path.is_empty() {
        return Some("path must not be empty");
    }
    if !path.starts_with('/') {
        return Some("path must start with /");
    }
    if path.len() == 1 {
        return None;
    }
    if path.ends_with('/') && !sequential {
        return Some("path must not end with /");
    }
    let body = if sequential && path.ends_with('/') {
        &path[1..path.len() - 1]
    } else {
        &path[1..]
    };
    for seg in body.split('/') {
        if seg.is_empty() {
            return Some("empty node name (//)");
        }
        if seg == "." || seg == ".." {
            return Some("relative paths (. or ..) are not allowed");
        }
    }
    for c in path.chars() {
        let u = c as u32;
        if u == 0 {
            return Some("null character not allowed");
        }
        if u <= 0x1f || (0x7f..=0x9f).contains(&u) || (0xe000..=0xf8ff).contains(&u) || u >= 0xfff0
        {
            return Some("invalid character");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for p in ["/", "/a", "/a/b", "/a.b/c..d", "/ünï"] {
            assert!(validate_path(p, false).is_ok(), "{p}");
        }
        assert!(validate_path("/a/", true).is_ok());
    }

    #[test]
    fn refuses_bad_paths_with_a_reason() {
        for (p, why) in [
            ("", "empty"),
            ("a", "start with /"),
            ("/a/", "end with /"),
            ("/a//b", "empty node name"),
            ("/a/./b", "relative"),
            ("/a/..", "relative"),
            ("/a\u{0}b", "null"),
            ("/a\u{1}b", "invalid character"),
        ] {
            let err = validate_path(p, false).unwrap_err().to_string();
            assert!(err.contains(why), "{p:?}: {err}");
        }
    }
}
