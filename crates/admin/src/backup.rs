//! `zk-admin backup` and `restore`: an online backup is the body of a running zk-node's
//! admin `GET /commands/snapshot?streaming=true` (ZooKeeper 3.9's command), an Apache
//! ZooKeeper 3.8 snapshot whose zxid the `last_zxid` header names. `backup` checks it
//! (Adler32 seal, every node's parent and ACL, no node newer than the zxid) before it names
//! the file; `restore` checks it again and imports it as `import-zookeeper` imports a dataDir
//! holding only that snapshot. (ZooKeeper 3.9's own answer is a fuzzy snapshot, consistent
//! only with the log after it, in 3.9's format: not what this reads.)
//!
//! A ZooKeeper snapshot does not hold its own zxid (its file name does), so a backup written
//! into a directory is named `snapshot.<zxid>` as ZooKeeper names it, and `restore` reads the
//! zxid from that name or from `--zxid`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use zk_format::{Snapshot, ZkDatabase};

/// How long a backup waits to connect, and for each read of the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// The request path (ZooKeeper 3.9's `SnapshotCommand`).
pub const SNAPSHOT_PATH: &str = "/commands/snapshot?streaming=true";

/// A checked snapshot and what it holds.
#[derive(Debug)]
pub struct Checked {
    /// The database it holds at its zxid.
    pub db: ZkDatabase,
    /// Its length in bytes.
    pub len: usize,
}

/// Parses and checks snapshot bytes as of `zxid`: the seal, every ACL reference, and that no
/// node's zxid is past the snapshot's (which would mean the wrong zxid).
pub fn check(name: &str, bytes: &[u8], zxid: i64) -> Result<Checked> {
    let snap = Snapshot::parse(name, bytes)?;
    let db = ZkDatabase::from_snapshot(name, &snap, zxid)?;
    if let Some((path, n)) = db
        .nodes
        .iter()
        .find(|(_, n)| n.stat.czxid.max(n.stat.mzxid).max(n.stat.pzxid) > zxid)
    {
        bail!(
            "{name}: node {path} has zxid {:#x}, past the snapshot's zxid {zxid:#x}: wrong zxid?",
            n.stat.czxid.max(n.stat.mzxid).max(n.stat.pzxid)
        );
    }
    Ok(Checked {
        db,
        len: bytes.len(),
    })
}

/// An HTTP answer: status, headers (names lower-cased), body.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// `GET path` over HTTP/1.1 with `Connection: close`; the body read whole (by
/// Content-Length, chunked, or to the end).
fn http_get(server: &str, path: &str, auth: Option<&str>) -> Result<Answer> {
    // A header value cannot hold a line break: refused rather than sent as another header,
    // and before anything is sent or even resolved.
    if auth.is_some_and(|a| a.contains(['\r', '\n'])) {
        bail!("the auth text holds a line break");
    }
    let addr = server
        .to_socket_addrs()
        .with_context(|| format!("resolving {server}"))?
        .next()
        .with_context(|| format!("{server} resolves to no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .with_context(|| format!("connecting to {server}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| s.set_write_timeout(Some(IO_TIMEOUT)))
        .context("setting timeouts")?;
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {server}\r\n{auth}Connection: close\r\n\r\n"
    )
    .with_context(|| format!("sending the request to {server}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .with_context(|| format!("reading the answer from {server}"))?;
    parse_answer(&raw).with_context(|| format!("the answer from {server}"))
}

fn parse_answer(raw: &[u8]) -> Result<Answer> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).context("headers are not UTF-8")?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut headers = BTreeMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = headers.get("content-length") {
        let n: usize = n.parse().with_context(|| format!("Content-Length {n:?}"))?;
        if rest.len() < n {
            bail!("cut short: {} of {n} body bytes", rest.len());
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("chunked body cut short")?;
        let size_text = std::str::from_utf8(&rest[..eol]).context("chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("chunk size {size_text:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            bail!("chunked body cut short");
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// What a backup wrote.
#[derive(Debug)]
pub struct BackedUp {
    /// The file.
    pub file: PathBuf,
    /// The snapshot's zxid.
    pub zxid: i64,
    /// Its length.
    pub len: usize,
    /// Znodes, the root included.
    pub znodes: usize,
    /// Sessions.
    pub sessions: usize,
}

/// Fetches a snapshot from `server`'s admin port and writes it, checked, to `target` (into
/// `target/snapshot.<zxid>` when `target` is a directory): a temporary sibling, synced, then
/// renamed. An existing file is not replaced. `auth` is the `Authorization` header's text
/// (`digest user:password`), as ZooKeeper 3.9's snapshot command asks.
pub fn backup(server: &str, auth: Option<&str>, target: &Path) -> Result<BackedUp> {
    let a = http_get(server, SNAPSHOT_PATH, auth)?;
    if a.status == 401 || a.status == 403 {
        bail!(
            "{server} refused the snapshot command ({} {}): it needs --auth (or ZK_ADMIN_AUTH) \
             as `digest user:password` whose ids hold ALL on /",
            a.status,
            String::from_utf8_lossy(&a.body).trim()
        );
    }
    if a.status != 200 {
        bail!(
            "{server} answered {} to {SNAPSHOT_PATH}: {}",
            a.status,
            String::from_utf8_lossy(&a.body).trim()
        );
    }
    let zxid_text = a
        .headers
        .get("last_zxid")
        .with_context(|| format!("{server} sent no last_zxid header"))?;
    let zxid = crate::parse_zxid(zxid_text).map_err(anyhow::Error::msg)?;
    if let Some(size) = a.headers.get("snapshot_size") {
        if size.parse::<usize>().ok() != Some(a.body.len()) {
            bail!(
                "{server} announced snapshot_size {size} but sent {} bytes",
                a.body.len()
            );
        }
    }
    let name = zk_format::snapshot_name(zxid);
    let checked = check(&format!("{server}{SNAPSHOT_PATH}"), &a.body, zxid)?;
    let file = if target.is_dir() {
        target.join(&name)
    } else {
        target.to_path_buf()
    };
    if file.exists() {
        bail!("{} exists: backup does not replace a file", file.display());
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("the backup file has no name")?;
    let tmp = parent.join(format!(".{base}.backup-{}", std::process::id()));
    let written = crate::fresh::write_synced(&tmp, &a.body).and_then(|()| {
        std::fs::rename(&tmp, &file)
            .with_context(|| format!("renaming {} to {}", tmp.display(), file.display()))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    crate::fresh::sync_dir(&parent)?;
    Ok(BackedUp {
        file,
        zxid,
        len: checked.len,
        znodes: checked.db.nodes.len(),
        sessions: checked.db.sessions.len(),
    })
}

/// Reads and checks the backup `file` as of `zxid` (else the zxid its `snapshot.<hex>` name
/// carries).
pub fn read_backup(file: &Path, zxid: Option<i64>) -> Result<Checked> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let zxid = match zxid.or_else(|| zk_format::zxid_from_name(&name, "snapshot")) {
        Some(z) => z,
        None => bail!(
            "{}: give --zxid (the zxid `zk-admin backup` printed, the last_zxid header): a \
             ZooKeeper snapshot holds its zxid only in its file name (snapshot.<hex>)",
            file.display()
        ),
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    check(&file.display().to_string(), &bytes, zxid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_consensus::State;
    use zk_store::TreeConfig;

    #[test]
    fn a_snapshot_with_an_orphan_or_a_node_past_its_zxid_is_refused() {
        let mut snap = zk_consensus::zookeeper_snapshot(&State::new(TreeConfig::default()))
            .expect("a fresh state converts");
        check("fresh", &snap.encode(), 0).expect("a fresh tree checks");
        let mut orphan = snap.nodes[1].clone();
        orphan.path = "/missing/child".into();
        snap.nodes.push(orphan);
        let e = check("orphan", &snap.encode(), 0).unwrap_err();
        // zk-format's parser refuses it, with the offset.
        assert!(e.to_string().contains("before its parent"), "{e}");
        snap.nodes.pop();
        snap.nodes[1].stat.mzxid = 9;
        let e = check("late", &snap.encode(), 8).unwrap_err();
        assert!(e.to_string().contains("wrong zxid"), "{e}");
        check("late", &snap.encode(), 9).expect("at its zxid");
    }

    #[test]
    fn an_auth_text_with_a_line_break_is_refused_before_connecting() {
        // A listener that would see a connection: none may arrive.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = listener.local_addr().unwrap().to_string();
        for auth in ["digest u:p\r\nX-Evil: 1", "digest u:p\n"] {
            let Err(e) = http_get(&server, SNAPSHOT_PATH, Some(auth)) else {
                panic!("a request with {auth:?} was made");
            };
            assert!(e.to_string().contains("line break"), "{e}");
        }
        assert!(
            listener.accept().is_err(),
            "a request with a bad auth text connected"
        );
    }

    #[test]
    fn answers_parse_by_length_and_chunked() {
        let a =
            parse_answer(b"HTTP/1.1 200 OK\r\nlast_zxid: 0x1f\r\ncontent-length: 3\r\n\r\nabcdef")
                .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"abc"[..]));
        assert_eq!(a.headers["last_zxid"], "0x1f");
        let a = parse_answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(a.body, b"abcde");
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc").is_err());
        assert!(
            parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab").is_err()
        );
        assert!(parse_answer(b"garbage").is_err());
    }
}
