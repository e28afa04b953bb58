//! A standalone Apache ZooKeeper 3.8 (Debian's jars in /usr/share/java) on a free loopback
//! port, TTL nodes enabled, every four-letter word allowed; killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::{four_letter, free_port, poll};

/// The env var that skips the Apache ZooKeeper runs (with a printed message).
pub const SKIP_VAR: &str = "ZK_CLIENT_SKIP_ZOOKEEPER";

/// Debian's zookeeper.jar names its dependencies in its manifest; slf4j needs a binding.
const CLASSPATH: &str =
    "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar";

/// Whether to skip (only when asked to): a missing install is a failure.
pub fn skip() -> bool {
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        eprintln!("SKIPPED: Apache ZooKeeper runs ({SKIP_VAR}=1)");
        return true;
    }
    assert!(
        Path::new("/usr/share/java/zookeeper.jar").exists(),
        "Apache ZooKeeper is not installed (apt-get install zookeeper zookeeper-bin); \
         set {SKIP_VAR}=1 to skip these tests"
    );
    false
}

/// A running standalone ZooKeeper.
pub struct ZooKeeper {
    /// Its client address, `127.0.0.1:port`.
    pub addr: String,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl ZooKeeper {
    /// Starts it and waits until it answers `ruok` with `imok`.
    pub fn start() -> ZooKeeper {
        let dir = tempfile::Builder::new()
            .prefix("zk-cli-zookeeper")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let d = dir.path();
        std::fs::create_dir_all(d.join("data")).expect("data dir");
        let cfg = [
            "tickTime=2000".to_string(),
            format!("dataDir={}", d.join("data").display()),
            format!("clientPort={port}"),
            "clientPortAddress=127.0.0.1".into(),
            "maxClientCnxns=0".into(),
            "admin.enableServer=false".into(),
            "4lw.commands.whitelist=*".into(),
        ];
        std::fs::write(d.join("zoo.cfg"), cfg.join("\n") + "\n").expect("zoo.cfg");
        std::fs::write(
            d.join("log4j.properties"),
            "log4j.rootLogger=INFO, F\n\
             log4j.appender.F=org.apache.log4j.FileAppender\n\
             log4j.appender.F.File=${zookeeper.log.dir}/zookeeper.log\n\
             log4j.appender.F.layout=org.apache.log4j.PatternLayout\n\
             log4j.appender.F.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %m%n\n",
        )
        .expect("log4j.properties");
        let out = std::fs::File::create(d.join("out.log")).expect("out.log");
        let err = out.try_clone().expect("out.log");
        let child = Command::new("java")
            .arg("-Xmx256m")
            .arg("-Dzookeeper.extendedTypesEnabled=true")
            .arg(format!("-Dzookeeper.log.dir={}", d.display()))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                d.join("log4j.properties").display()
            ))
            .args([
                "-cp",
                CLASSPATH,
                "org.apache.zookeeper.server.ZooKeeperServerMain",
            ])
            .arg(d.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start java (Apache ZooKeeper)");
        let mut zk = ZooKeeper {
            addr: format!("127.0.0.1:{port}"),
            child: Some(child),
            dir,
        };
        let dir = zk.dir.path().to_path_buf();
        poll(
            "ZooKeeper answering ruok",
            || {
                if let Some(Ok(Some(status))) = zk.child.as_mut().map(Child::try_wait) {
                    panic!("ZooKeeper exited: {status}\n{}", logs_in(&dir));
                }
                (four_letter(&zk.addr, "ruok")?.trim() == "imok").then_some(())
            },
            || logs_in(&dir),
        );
        zk
    }

    /// The end of its logs, for failure messages.
    pub fn logs(&self) -> String {
        logs_in(self.dir.path())
    }
}

fn logs_in(dir: &Path) -> String {
    ["out.log", "zookeeper.log"]
        .iter()
        .map(|f| {
            let t = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            let lines: Vec<&str> = t.lines().collect();
            format!(
                "--- {f} ---\n{}",
                lines[lines.len().saturating_sub(15)..].join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
