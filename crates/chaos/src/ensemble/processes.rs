//! An ensemble of local `zk-node` processes on loopback, every peer link (each direction)
//! through its own [`LinkProxy`] so a member can be cut off without touching its process.
//! Optionally with observers: members after the voters, named `id=host:port:observer` in
//! every member's founding `--peers` (docs/membership.md, "Observers").

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use super::{Ensemble, EnsembleError};
use crate::proxy::LinkProxy;

/// Commands between snapshots: far below the default (100 000, as ZooKeeper's snapCount), so
/// that snapshots, the log purges after them and the installs on a member that fell behind
/// happen many times in every run, under the faults.
const SNAPSHOT_EVERY: u64 = 2_000;

/// The superuser every member is started with (`--super-digest`, with `--reconfig-enabled`)
/// so the reconfig fault can change the membership as an operator does: its password, and
/// `digest_id("super:chaos")` as ZooKeeper's DigestAuthenticationProvider prints it.
const SUPERUSER: &str = "super:chaos";
const SUPER_DIGEST: &str = "super:1tm2VJ8QGIDIgyMX71meWABJeAM=";

/// How to run the processes.
#[derive(Clone, Debug)]
pub struct ProcessesConfig {
    /// The `zk-node` binary.
    pub bin: PathBuf,
    /// Voting members (3 or more).
    pub size: usize,
    /// Observers besides them (ids `size + 1`...), in the founding `--peers`.
    pub observers: usize,
    /// `--tick-ms`.
    pub tick_ms: u64,
    /// Where data dirs and logs go (kept for a post-mortem); a temporary dir if `None`.
    pub dir: Option<PathBuf>,
}

struct Member {
    client: SocketAddr,
    peer: SocketAddr,
    data: PathBuf,
    log: PathBuf,
    child: Mutex<Option<Child>>,
}

/// Local processes; dropped, it kills them all.
pub struct Processes {
    cfg: ProcessesConfig,
    members: Vec<Member>,
    peers: String,
    /// `(from, to)` → the proxy `from` dials `to` through.
    links: BTreeMap<(usize, usize), LinkProxy>,
    _tmp: Option<tempfile::TempDir>,
}

fn free_addr() -> Result<SocketAddr, EnsembleError> {
    crate::ports::free_loopback_addr().map_err(|source| EnsembleError::Io {
        what: "finding a free loopback port".into(),
        source,
    })
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EnsembleError {
    let what = what.into();
    move |source| EnsembleError::Io { what, source }
}

impl Processes {
    /// Starts every member and waits until they all serve.
    pub fn start(cfg: ProcessesConfig) -> Result<Processes, EnsembleError> {
        let (tmp, dir) = match &cfg.dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(io(format!("creating {}", d.display())))?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::tempdir().map_err(io("creating a temporary dir"))?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let mut members = Vec::new();
        let all = cfg.size + cfg.observers;
        for i in 0..all {
            members.push(Member {
                client: free_addr()?,
                peer: free_addr()?,
                data: dir.join(format!("n{}", i + 1)),
                log: dir.join(format!("n{}.log", i + 1)),
                child: Mutex::new(None),
            });
        }
        let everyone: Vec<(usize, u16)> = members
            .iter()
            .enumerate()
            .map(|(i, m)| (i, m.peer.port()))
            .collect();
        let peers = peers_list(&everyone, cfg.size);
        let mut links = BTreeMap::new();
        for from in 0..all {
            for to in (0..all).filter(|&to| to != from) {
                let proxy = LinkProxy::start(members[to].peer).map_err(io("starting a proxy"))?;
                links.insert((from, to), proxy);
            }
        }
        let p = Processes {
            cfg,
            members,
            peers,
            links,
            _tmp: tmp,
        };
        for i in 0..p.size() {
            p.restart(i)?;
        }
        p.wait_all_serving(Duration::from_secs(60))?;
        Ok(p)
    }

    /// Where member `i` keeps its data.
    pub fn data_dir(&self, i: usize) -> &Path {
        &self.members[i].data
    }

    fn pid(&self, i: usize) -> Option<u32> {
        lock(&self.members[i].child).as_ref().map(Child::id)
    }

    fn signal(&self, i: usize, sig: &str) -> Result<(), EnsembleError> {
        let pid = self.pid(i).ok_or_else(|| EnsembleError::Command {
            what: format!("kill -{sig} member {}", i + 1),
            detail: "not running".into(),
        })?;
        let status = Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()
            .map_err(io("running kill"))?;
        if status.success() {
            Ok(())
        } else {
            Err(EnsembleError::Command {
                what: format!("kill -{sig} {pid}"),
                detail: status.to_string(),
            })
        }
    }

    /// Starts member `i` (unless it runs) with `peers` (every member) as its `--peers`.
    fn spawn(&self, i: usize, peers: &str) -> Result<(), EnsembleError> {
        let all: Vec<usize> = (0..self.members.len()).collect();
        self.spawn_with_dial(i, peers, &all)
    }

    /// Starts member `i` (unless it runs) with `peers` as its `--peers`, dialling those of
    /// `dial_to` through their proxies (zk-node takes `--peer-dial` only for its `--peers`).
    fn spawn_with_dial(
        &self,
        i: usize,
        peers: &str,
        dial_to: &[usize],
    ) -> Result<(), EnsembleError> {
        let m = &self.members[i];
        let mut child = lock(&m.child);
        if child.is_some() {
            return Ok(());
        }
        let dial: Vec<String> = self
            .links
            .iter()
            .filter(|((from, to), _)| *from == i && dial_to.contains(to))
            .map(|((_, to), proxy)| format!("{}={}", to + 1, proxy.addr))
            .collect();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .map_err(io(format!("opening {}", m.log.display())))?;
        let spawned = Command::new(&self.cfg.bin)
            .args(["--id", &(i + 1).to_string(), "--peers", peers])
            .args(["--peer-dial", &dial.join(",")])
            .args(["--peer-listen", &m.peer.to_string()])
            .args(["--client-addr", &m.client.to_string()])
            .arg("--data-dir")
            .arg(&m.data)
            .args(["--tick-ms", &self.cfg.tick_ms.to_string()])
            .args(["--snapshot-every", &SNAPSHOT_EVERY.to_string()])
            .args(["--log-level", "info,openraft=error"])
            .args(["--reconfig-enabled", "--super-digest", SUPER_DIGEST])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io(format!("starting {}", self.cfg.bin.display())))?;
        *child = Some(spawned);
        Ok(())
    }

    fn set_links(&self, i: usize, cut: bool) {
        for ((from, to), proxy) in &self.links {
            if *from == i || *to == i {
                if cut {
                    proxy.cut()
                } else {
                    proxy.heal()
                }
            }
        }
    }
}

/// zk-node's `--peers` for `members` (`(index, peer port)`, ids from 1) on loopback; the
/// members from index `voters` on are observers (`:observer`).
fn peers_list(members: &[(usize, u16)], voters: usize) -> String {
    members
        .iter()
        .map(|&(i, port)| {
            let mark = if i >= voters { ":observer" } else { "" };
            format!("{}=127.0.0.1:{port}{mark}", i + 1)
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn lock(m: &Mutex<Option<Child>>) -> std::sync::MutexGuard<'_, Option<Child>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ensemble for Processes {
    fn size(&self) -> usize {
        self.members.len()
    }

    fn client_addr(&self, i: usize) -> String {
        self.members[i].client.to_string()
    }

    fn kill(&self, i: usize) -> Result<(), EnsembleError> {
        if let Some(mut c) = lock(&self.members[i].child).take() {
            // A paused process dies of SIGKILL too; reap it so its lock on the data dir goes.
            c.kill().map_err(io(format!("kill -9 member {}", i + 1)))?;
            c.wait().map_err(io(format!("reaping member {}", i + 1)))?;
        }
        Ok(())
    }

    fn restart(&self, i: usize) -> Result<(), EnsembleError> {
        self.spawn(i, &self.peers)
    }

    fn pause(&self, i: usize) -> Result<(), EnsembleError> {
        self.signal(i, "STOP")
    }

    fn resume(&self, i: usize) -> Result<(), EnsembleError> {
        self.signal(i, "CONT")
    }

    fn isolate(&self, i: usize) -> Result<(), EnsembleError> {
        self.set_links(i, true);
        Ok(())
    }

    fn rejoin(&self, i: usize) -> Result<(), EnsembleError> {
        self.set_links(i, false);
        Ok(())
    }

    fn superuser(&self) -> Option<String> {
        Some(SUPERUSER.to_string())
    }

    fn voters(&self) -> usize {
        self.cfg.size
    }

    fn server_spec(&self, i: usize) -> Result<String, EnsembleError> {
        let m = &self.members[i];
        let role = if self.is_observer(i) {
            "observer"
        } else {
            "participant"
        };
        Ok(format!(
            "server.{}={}:{}:{}:{role};{}",
            i + 1,
            m.peer.ip(),
            m.peer.port(),
            m.peer.port(),
            m.client
        ))
    }

    fn retire(&self, i: usize) -> Result<(), EnsembleError> {
        self.kill(i)?;
        let data = &self.members[i].data;
        match std::fs::remove_dir_all(data) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(format!("deleting {}", data.display()))(e)),
        }
    }

    fn start_joining(&self, i: usize, members: &[usize]) -> Result<(), EnsembleError> {
        // As a new host joins (docs/membership.md, "Grow"): its own id, the current members
        // as --peers; its id not among them makes it ask them for the ensemble and wait.
        let current: Vec<(usize, u16)> = members
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| (j, self.members[j].peer.port()))
            .collect();
        self.spawn_with_dial(i, &peers_list(&current, self.cfg.size), members)
    }

    fn describe(&self, i: usize) -> String {
        let text = std::fs::read_to_string(&self.members[i].log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- member {} ({}) ---\n{}",
            i + 1,
            self.members[i].log.display(),
            lines[lines.len().saturating_sub(15)..].join("\n")
        )
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            let _ = self.signal(i, "CONT");
            let _ = self.kill(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observers_are_marked_in_the_peers_after_the_voters() {
        assert_eq!(
            peers_list(&[(0, 7001), (1, 7002), (2, 7003)], 3),
            "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"
        );
        assert_eq!(
            peers_list(&[(0, 7001), (1, 7002), (2, 7003), (3, 7004), (4, 7005)], 3),
            "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003,\
             4=127.0.0.1:7004:observer,5=127.0.0.1:7005:observer"
        );
        // A joining member's list (itself left out) keeps the others' marks.
        assert_eq!(
            peers_list(&[(0, 7001), (2, 7003), (3, 7004)], 3),
            "1=127.0.0.1:7001,3=127.0.0.1:7003,4=127.0.0.1:7004:observer"
        );
    }
}
