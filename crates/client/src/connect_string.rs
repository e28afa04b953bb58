//! The connect string `host:port[,host:port...][/chroot]` (S2.1, S2.4), parsed like
//! ZooKeeper's `ConnectStringParser` but refusing, with a reason, what it would misread.

use std::fmt;

use crate::error::{Error, Result};
use crate::path::validate_path;

/// ZooKeeper's client port, used when an entry names no port (as `ConnectStringParser` does).
pub const DEFAULT_PORT: u16 = 2181;

/// One server of the connect string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// A name, an IPv4 literal, or an IPv6 literal without brackets.
    pub host: String,
    /// The client port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A parsed connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// The servers, in the order written (the client shuffles them).
    pub servers: Vec<HostPort>,
    /// The chroot, without a trailing slash; `None` for none (or `/`).
    pub chroot: Option<String>,
}

impl ConnectString {
    /// Parses `s`; every error names the problem (S2.4).
    pub fn parse(s: &str) -> Result<ConnectString> {
        let bad = |why: String| Err(Error::InvalidConnectString(format!("{why} in {s:?}")));
        let (hosts, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let chroot = match chroot {
            None | Some("/") => None,
            Some(c) => {
                if let Err(e) = validate_path(c, false) {
                    return bad(format!("bad chroot: {e}"));
                }
                Some(c.to_string())
            }
        };
        let mut servers = Vec::new();
        for entry in hosts.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                if hosts.trim().is_empty() {
                    return bad("empty host list".into());
                }
                return bad("empty entry in the host list".into());
            }
            match parse_entry(entry) {
                Ok(hp) => servers.push(hp),
                Err(why) => return bad(format!("{entry:?}: {why}")),
            }
        }
        Ok(ConnectString { servers, chroot })
    }
}

fn parse_entry(entry: &str) -> std::result::Result<HostPort, String> {
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err("unclosed [ in an IPv6 address".into());
        };
        let host = &rest[..end];
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{host:?} is not an IPv6 address"));
        }
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("expected :port after ]".into()),
        };
        (host, port)
    } else {
        match entry.matches(':').count() {
            0 => (entry, None),
            1 => {
                let (h, p) = entry.split_once(':').unwrap_or((entry, ""));
                (h, Some(p))
            }
            _ => return Err("an IPv6 address must be written [addr]:port".into()),
        }
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    if !host.contains(':')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(format!("{host:?} is not a host name or address"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("bad port {p:?} (expected 1..65535)")),
        },
    };
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(h: &str, p: u16) -> HostPort {
        HostPort {
            host: h.into(),
            port: p,
        }
    }

    /// S2.1: names, IPv4 and bracketed IPv6, several servers, an optional chroot.
    #[test]
    fn s2_1_parses_every_form() {
        let c = ConnectString::parse("127.0.0.1:4545").unwrap();
        assert_eq!(c.servers, vec![hp("127.0.0.1", 4545)]);
        assert_eq!(c.chroot, None);
        let c = ConnectString::parse("127.0.0.1:3000,127.0.0.1:3001,127.0.0.1:3002/app/a").unwrap();
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.servers[2], hp("127.0.0.1", 3002));
        assert_eq!(c.chroot.as_deref(), Some("/app/a"));
        let c = ConnectString::parse("zk-1.example.com:2181, [::1]:2182,[fe80::1]/").unwrap();
        assert_eq!(
            c.servers,
            vec![
                hp("zk-1.example.com", 2181),
                hp("::1", 2182),
                hp("fe80::1", 2181)
            ]
        );
        assert_eq!(c.chroot, None);
        assert_eq!(hp("::1", 2182).to_string(), "[::1]:2182");
        assert_eq!(
            ConnectString::parse("localhost").unwrap().servers,
            vec![hp("localhost", 2181)]
        );
    }

    /// S2.4: malformed strings are refused with the problem named.
    #[test]
    fn s2_4_malformed_strings_name_the_problem() {
        for (s, why) in [
            ("", "empty host list"),
            ("/app", "empty host list"),
            ("a:1,,b:2", "empty entry"),
            ("a:99999", "bad port"),
            ("a:0", "bad port"),
            ("a:x", "bad port"),
            ("a:", "bad port"),
            (":2181", "empty host"),
            ("::1:2181", "IPv6"),
            ("[::1:2181", "unclosed"),
            ("[zz]:1", "not an IPv6"),
            ("a b:1", "not a host name"),
            ("a:1/app/", "bad chroot"),
            ("a:1/app//x", "bad chroot"),
            ("a:1/app/../x", "bad chroot"),
        ] {
            let err = ConnectString::parse(s).unwrap_err();
            assert!(matches!(err, Error::InvalidConnectString(_)), "{s:?}");
            assert!(err.to_string().contains(why), "{s:?}: {err}");
        }
    }
}
