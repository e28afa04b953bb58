//! zoo.cfg: Apache ZooKeeper's configuration file, read into a typed [`ZooCfg`] without any
//! I/O (the caller reads the file, the `myid` file and a `dynamicConfigFile`, and merges the
//! result with the flags in `config.rs`).
//!
//! Keys are ZooKeeper 3.8's (`QuorumPeerConfig.parseProperties` and the system properties it
//! sets from unknown keys). A key zk-node does not know is a warning naming it; a value it
//! cannot use stops the start with an error naming the line, the key and the value. Keys it
//! accepts but does not act on are reported too, so an operator sees what their file does
//! here; docs/operations.md lists them all.

mod properties;
mod server;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;

use crate::auth::SuperDigest;
use crate::fourlw::AllowList;
use crate::fourlw::Word;
use crate::tls::settings::check_store_type;
use crate::tls::settings::ClientAuth;

pub use server::ServerLine;

/// What a zoo.cfg says, key by key; `None` where the file does not set it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ZooCfg {
    /// tickTime, ms.
    pub tick_time_ms: Option<NonZeroU32>,
    /// initLimit (ticks): accepted, no counterpart.
    pub init_limit: Option<u32>,
    /// syncLimit (ticks): accepted, no counterpart.
    pub sync_limit: Option<u32>,
    /// dataDir.
    pub data_dir: Option<PathBuf>,
    /// dataLogDir: accepted; the Raft log lives in dataDir.
    pub data_log_dir: Option<PathBuf>,
    /// clientPort.
    pub client_port: Option<u16>,
    /// clientPortAddress (a host name or address).
    pub client_port_address: Option<String>,
    /// secureClientPort: the TLS client port.
    pub secure_client_port: Option<u16>,
    /// secureClientPortAddress.
    pub secure_client_port_address: Option<String>,
    /// maxClientCnxns.
    pub max_client_cnxns: Option<u32>,
    /// globalOutstandingLimit (ZooKeeper reads it as the system property
    /// `zookeeper.globalOutstandingLimit`, which a zoo.cfg line of that name sets).
    pub global_outstanding_limit: Option<u64>,
    /// minSessionTimeout, ms (`-1` in the file is `None`, the tick-derived default).
    pub min_session_timeout_ms: Option<u32>,
    /// maxSessionTimeout, ms (`-1` is `None`).
    pub max_session_timeout_ms: Option<u32>,
    /// `server.N` lines by id.
    pub servers: BTreeMap<u64, ServerLine>,
    /// 4lw.commands.whitelist.
    pub four_letter_words: Option<AllowList>,
    /// DigestAuthenticationProvider.superDigest.
    pub super_digest: Option<SuperDigest>,
    /// jute.maxbuffer, bytes.
    pub jute_max_buffer: Option<usize>,
    /// snapCount: entries between snapshots (each member at its own point between half and
    /// all of it, in ZooKeeper as in zk-node).
    pub snap_count: Option<u64>,
    /// fsync.warningthresholdms: a log sync slower than this is counted and logged.
    pub fsync_warning_threshold_ms: Option<u64>,
    /// standaloneEnabled (ZooKeeper's default true): one `server.N` line alone means a
    /// one-node server, as in ZooKeeper.
    pub standalone_enabled: bool,
    /// reconfigEnabled: clients may change the membership with `reconfig` (ZooKeeper's
    /// default false; the ACL of `/zookeeper/config` still applies).
    pub reconfig_enabled: Option<bool>,
    /// quorumListenOnAllIPs: listen for peers on every interface instead of this member's
    /// own `server.N` address.
    pub quorum_listen_on_all_ips: bool,
    /// peerType: `Some(true)` for `observer`, `Some(false)` for `participant`. As in
    /// ZooKeeper, this server's own `server.N` line decides; a disagreement is a warning.
    pub peer_type_observer: Option<bool>,
    /// dynamicConfigFile: where the `server.N` lines are instead.
    pub dynamic_config_file: Option<PathBuf>,
    /// admin.enableServer, admin.serverAddress, admin.serverPort.
    pub admin: AdminKeys,
    /// The secure client port's `ssl.*` keys.
    pub ssl: SslKeys,
    /// sslQuorum: mutual TLS between members.
    pub ssl_quorum: bool,
    /// The peer link's `ssl.quorum.*` keys (clientAuth is always need there).
    pub quorum_ssl: SslKeys,
    /// X509AuthenticationProvider.superUser: the x509 id that is the superuser.
    pub x509_super_user: Option<String>,
    /// metricsProvider.httpHost and httpPort (ZooKeeper's defaults 0.0.0.0 and 7000) when
    /// metricsProvider.className names ZooKeeper's PrometheusMetricsProvider.
    pub prometheus: Option<(String, u16)>,
    /// What the operator should know about keys accepted but not acted on, unknown keys and
    /// keys given twice, in line order.
    pub notes: Vec<Note>,
}

/// ZooKeeper's AdminServer keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminKeys {
    /// admin.enableServer.
    pub enable_server: Option<bool>,
    /// admin.serverAddress.
    pub server_address: Option<String>,
    /// admin.serverPort.
    pub server_port: Option<u16>,
}

/// The secure client port's keys (ZooKeeper's `ssl.*` without the `quorum` ones).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SslKeys {
    /// ssl.keyStore.location.
    pub key_store: Option<PathBuf>,
    /// ssl.keyStore.password.
    pub key_store_password: Option<String>,
    /// ssl.keyStore.passwordPath: a file holding the password.
    pub key_store_password_path: Option<PathBuf>,
    /// ssl.trustStore.location.
    pub trust_store: Option<PathBuf>,
    /// ssl.clientAuth.
    pub client_auth: Option<ClientAuth>,
}

/// The class ZooKeeper 3.6+ serves `/metrics` for Prometheus with.
const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// How loudly a [`Note`] is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteLevel {
    /// Something the operator may rely on does not happen here (or a key is unknown).
    Warn,
    /// Accepted and deliberately not acted on; nothing is lost.
    Info,
}

/// A remark about one line of the file, logged at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// How loud.
    pub level: NoteLevel,
    /// The line (1-based; 0 for the `myid` file or a conclusion about the whole file).
    pub line: usize,
    /// The key it is about.
    pub key: String,
    /// What happens.
    pub text: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        write!(f, "{}: {}", self.key, self.text)
    }
}

/// A value zk-node cannot use: the start stops here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {key}={value}: {reason}")]
pub struct ZooCfgError {
    /// The line (1-based).
    pub line: usize,
    /// The key.
    pub key: String,
    /// The value as written (trimmed).
    pub value: String,
    /// Why it is refused (ZooKeeper's wording where it has one).
    pub reason: String,
}

/// The class names of the authentication providers zk-node has (`authProvider.N=`).
const BUILT_IN_PROVIDERS: [&str; 3] = [
    "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
    "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
    "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
];

/// Reads zoo.cfg text. The first bad value is the error, as ZooKeeper stops at the first.
pub fn parse(text: &str) -> Result<ZooCfg, ZooCfgError> {
    let mut cfg = ZooCfg {
        standalone_enabled: true,
        ..ZooCfg::default()
    };
    // Properties keeps the last of a key given twice; say so, and read only that one.
    let all = properties::entries(text);
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, e) in all.iter().enumerate() {
        if let Some(prev) = last.insert(e.key.as_str(), i) {
            cfg.notes.push(Note {
                level: NoteLevel::Warn,
                line: all[prev].line,
                key: e.key.clone(),
                text: format!("given again on line {}, which counts", e.line),
            });
        }
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    let mut reader = Reader {
        cfg,
        seen: Seen::default(),
    };
    for i in keep {
        reader.entry(&all[i])?;
    }
    reader.finish()
}

/// Reads a `dynamicConfigFile`: only `server.N` lines and `version`, as ZooKeeper allows.
pub fn parse_dynamic(text: &str) -> Result<BTreeMap<u64, ServerLine>, ZooCfgError> {
    let mut servers = BTreeMap::new();
    for e in properties::entries(text) {
        if e.key == "version" {
            continue;
        }
        let Some(id) = e.key.strip_prefix("server.") else {
            return Err(bad(&e, format!("Unrecognised parameter: {}", e.key)));
        };
        let (id, line) = server_entry(&e, id)?;
        servers.insert(id, line);
    }
    Ok(servers)
}

/// The id in a `myid` file (its first line), as ZooKeeper's `setupMyId` reads it.
pub fn parse_myid(text: &str) -> Result<u64, String> {
    let first = text.lines().next().unwrap_or_default().trim();
    match first.parse::<u64>() {
        Ok(0) => Err(format!("serverid {first}: zk-node needs ids of 1 or more")),
        Ok(id) => Ok(id),
        Err(_) => Err(format!("serverid {first} is not a number")),
    }
}

/// Lines of keys that are checked against each other once all are read.
#[derive(Default)]
struct Seen {
    client_port_address: Option<properties::Entry>,
    secure_client_port_address: Option<properties::Entry>,
    dynamic_config_file: Option<properties::Entry>,
    first_server: Option<properties::Entry>,
    /// The first secure-port `ssl.*` key, for a note if there is no secure port.
    ssl: Option<usize>,
    metrics_class: Option<properties::Entry>,
    metrics_host: Option<String>,
    metrics_port: Option<u16>,
}

struct Reader {
    cfg: ZooCfg,
    seen: Seen,
}

impl Reader {
    fn entry(&mut self, e: &properties::Entry) -> Result<(), ZooCfgError> {
        let v = e.value.as_str();
        match e.key.as_str() {
            "tickTime" => {
                let ms = positive(e)?;
                self.cfg.tick_time_ms = NonZeroU32::new(ms);
            }
            "initLimit" | "syncLimit" => {
                let ticks = positive(e)?;
                if e.key == "initLimit" {
                    self.cfg.init_limit = Some(ticks);
                } else {
                    self.cfg.sync_limit = Some(ticks);
                }
                self.info(
                    e,
                    "accepted, not used: Raft's own election and heartbeat timers decide when a \
                     member is gone, and a member that is behind catches up from the log or a \
                     snapshot without a time limit",
                );
            }
            "dataDir" => self.cfg.data_dir = Some(path(e)?),
            "dataLogDir" => {
                self.cfg.data_log_dir = Some(path(e)?);
                self.info(e, "accepted, not used: the Raft log is kept in dataDir");
            }
            "clientPort" => self.cfg.client_port = Some(port(e, 0)?),
            "clientPortAddress" => {
                self.cfg.client_port_address = Some(host(e)?);
                self.seen.client_port_address = Some(e.clone());
            }
            "secureClientPort" => self.cfg.secure_client_port = Some(port(e, 0)?),
            "secureClientPortAddress" => {
                self.cfg.secure_client_port_address = Some(host(e)?);
                self.seen.secure_client_port_address = Some(e.clone());
            }
            "maxClientCnxns" => self.cfg.max_client_cnxns = Some(non_negative(e)?),
            "globalOutstandingLimit" => {
                self.cfg.global_outstanding_limit = Some(u64::from(non_negative(e)?))
            }
            "minSessionTimeout" => self.cfg.min_session_timeout_ms = timeout(e)?,
            "maxSessionTimeout" => self.cfg.max_session_timeout_ms = timeout(e)?,
            "4lw.commands.whitelist" => self.cfg.four_letter_words = Some(self.allow_list(e)?),
            "DigestAuthenticationProvider.superDigest" => {
                self.cfg.super_digest = Some(v.parse().map_err(|r| bad(e, r))?);
            }
            "jute.maxbuffer" => self.cfg.jute_max_buffer = Some(jute_max_buffer(e)?),
            "snapCount" => self.cfg.snap_count = Some(u64::from(positive(e)?)),
            // ZooKeeper's zookeeper.fsync.warningthresholdms, which its zoo.cfg sets too.
            "fsync.warningthresholdms" => {
                self.cfg.fsync_warning_threshold_ms = Some(u64::from(non_negative(e)?))
            }
            // ZooKeeper's zookeeper.skipACL: "yes" turns every ACL check off.
            "skipACL" => {
                if v == "yes" {
                    self.warn(e, "not followed: zk-node checks every ACL");
                }
            }
            "standaloneEnabled" => self.cfg.standalone_enabled = boolean(e)?,
            "quorumListenOnAllIPs" => self.cfg.quorum_listen_on_all_ips = boolean(e)?,
            "reconfigEnabled" => self.cfg.reconfig_enabled = Some(boolean(e)?),
            "dynamicConfigFile" => {
                self.cfg.dynamic_config_file = Some(path(e)?);
                self.seen.dynamic_config_file = Some(e.clone());
            }
            "electionAlg" => {
                if v != "3" {
                    return Err(bad(e, "Invalid electionAlg value. Only 3 is supported."));
                }
                self.info(e, "accepted, not used: members elect a leader with Raft");
            }
            "peerType" => match v.to_ascii_lowercase().as_str() {
                "participant" => self.cfg.peer_type_observer = Some(false),
                "observer" => self.cfg.peer_type_observer = Some(true),
                _ => return Err(bad(e, format!("Unrecognised peertype: {v}"))),
            },
            "admin.enableServer" => self.cfg.admin.enable_server = Some(boolean(e)?),
            "admin.serverPort" => self.cfg.admin.server_port = Some(port(e, 0)?),
            "admin.serverAddress" => self.cfg.admin.server_address = Some(host(e)?),
            // The command URL stays /commands: tools and ZooKeeper's docs use that one.
            "admin.commandURL" => {
                if v != "/commands" {
                    self.warn(e, "not followed: the commands are always under /commands");
                }
            }
            "admin.idleTimeout" => {
                positive(e)?;
                self.info(e, "accepted, not used");
            }
            "metricsProvider.className" => self.seen.metrics_class = Some(e.clone()),
            "metricsProvider.httpHost" => self.seen.metrics_host = Some(host(e)?),
            "metricsProvider.httpPort" => self.seen.metrics_port = Some(port(e, 0)?),
            "metricsProvider.exportJvmInfo" => {
                boolean(e)?;
                self.info(
                    e,
                    "accepted, not used: there is no JVM; process_* metrics are exported",
                );
            }
            "autopurge.snapRetainCount" => {
                non_negative(e)?;
                self.info(
                    e,
                    "accepted, not used: each snapshot replaces the one before",
                );
            }
            "autopurge.purgeInterval" => {
                let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                if digits.is_empty() || digits.parse::<u64>().is_err() {
                    return Err(bad(
                        e,
                        "not a time interval (hours, or a number with a unit)",
                    ));
                }
                self.info(
                    e,
                    "accepted, not used: the Raft log is purged at each snapshot \
                     (--snapshot-every)",
                );
            }
            "sslQuorum" => self.cfg.ssl_quorum = boolean(e)?,
            "portUnification" | "client.portUnification" => {
                if boolean(e)? {
                    self.warn(
                        e,
                        "not followed: the plain client port takes no TLS; TLS clients use \
                         secureClientPort",
                    );
                }
            }
            "sslQuorumReloadCertFiles" => {
                boolean(e)?;
                self.info(
                    e,
                    "zk-node always reloads the peer link's certificate files when they change",
                );
            }
            "client.certReload" => {
                boolean(e)?;
                self.info(
                    e,
                    "zk-node always reloads the secure port's certificate files when they change",
                );
            }
            "ssl.keyStore.location" => self.ssl_key(e, |c, e| {
                c.ssl.key_store = Some(path(e)?);
                Ok(())
            })?,
            "ssl.keyStore.password" => self.ssl_key(e, |c, e| {
                c.ssl.key_store_password = Some(e.value.clone());
                Ok(())
            })?,
            "ssl.keyStore.passwordPath" => self.ssl_key(e, |c, e| {
                c.ssl.key_store_password_path = Some(path(e)?);
                Ok(())
            })?,
            "ssl.trustStore.location" => self.ssl_key(e, |c, e| {
                c.ssl.trust_store = Some(path(e)?);
                Ok(())
            })?,
            "ssl.keyStore.type" | "ssl.trustStore.type" => {
                self.ssl_key(e, |_, e| check_store_type(&e.value).map_err(|r| bad(e, r)))?
            }
            "ssl.clientAuth" => self.ssl_key(e, |c, e| {
                c.ssl.client_auth = Some(e.value.parse().map_err(|r: String| bad(e, r))?);
                Ok(())
            })?,
            // A PEM trust store has no password.
            "ssl.trustStore.password" | "ssl.trustStore.passwordPath" => {
                self.ssl_key(e, |_, _| Ok(()))?;
                self.info(e, "accepted, not used: a PEM trust store has no password");
            }
            // ZooKeeper sets the system property zookeeper.<key> from it, which its x509
            // provider reads.
            "X509AuthenticationProvider.superUser" => {
                self.cfg.x509_super_user = Some(v.to_string());
            }
            "ssl.authProvider" => {
                if v != "x509" {
                    self.warn(
                        e,
                        "not followed: client certificates give ids of the x509 scheme",
                    );
                }
            }
            // A system property ZooKeeper reads from zoo.cfg: "no" skips its fsyncs.
            "forceSync" => {
                if v == "no" {
                    self.warn(
                        e,
                        "not followed: zk-node always flushes its log before acknowledging a \
                         write",
                    );
                } else {
                    self.info(
                        e,
                        "zk-node always flushes its log before acknowledging a write",
                    );
                }
            }
            "serverCnxnFactory" => {
                self.info(e, "accepted, not used: zk-node has one network layer");
            }
            key if key.starts_with("server.") => {
                let (id, line) = server_entry(e, &key["server.".len()..])?;
                self.cfg.servers.insert(id, line);
                self.seen.first_server.get_or_insert_with(|| e.clone());
            }
            "ssl.quorum.keyStore.location" => self.cfg.quorum_ssl.key_store = Some(path(e)?),
            "ssl.quorum.keyStore.password" => {
                self.cfg.quorum_ssl.key_store_password = Some(e.value.clone());
            }
            "ssl.quorum.keyStore.passwordPath" => {
                self.cfg.quorum_ssl.key_store_password_path = Some(path(e)?);
            }
            "ssl.quorum.trustStore.location" => {
                self.cfg.quorum_ssl.trust_store = Some(path(e)?);
            }
            "ssl.quorum.keyStore.type" | "ssl.quorum.trustStore.type" => {
                check_store_type(&e.value).map_err(|r| bad(e, r))?;
            }
            "ssl.quorum.trustStore.password" | "ssl.quorum.trustStore.passwordPath" => {
                self.info(e, "accepted, not used: a PEM trust store has no password");
            }
            "ssl.quorum.clientAuth" => {
                let auth: ClientAuth = e.value.parse().map_err(|r: String| bad(e, r))?;
                if auth != ClientAuth::Need {
                    self.warn(
                        e,
                        "not followed: every member must present its certificate (need)",
                    );
                }
            }
            "ssl.quorum.hostnameVerification" => {
                if !boolean(e)? {
                    self.warn(
                        e,
                        "not followed: a member's certificate is always checked against its \
                         host in the membership (docs/operations.md)",
                    );
                }
            }
            key if key.starts_with("ssl.quorum.") => self.info(
                e,
                "accepted, not used: the peer link offers TLS 1.2 and 1.3 with rustls' safe \
                 cipher suites and checks no revocation lists",
            ),
            // ssl.protocol, ssl.enabledProtocols, ssl.ciphersuites, ssl.hostnameVerification,
            // ssl.crl, ssl.ocsp, ssl.handshakeDetectionTimeoutMillis, ...
            key if key.starts_with("ssl.") => self.info(
                e,
                "accepted, not used: the secure port offers TLS 1.2 and 1.3 with rustls' safe \
                 cipher suites, checks no revocation lists, and gives a TLS handshake 10 s",
            ),
            key if key.starts_with("admin.") => self.warn(e, "unknown admin key, ignored"),
            key if key.starts_with("autopurge.") => self.info(e, "accepted, not used"),
            key if key.starts_with("authProvider.") => {
                if !BUILT_IN_PROVIDERS.contains(&v) {
                    self.warn(
                        e,
                        format!(
                            "{v} is not available: zk-node authenticates the digest, ip and \
                             x509 schemes only; addauth with another scheme gets AuthFailed"
                        ),
                    );
                }
            }
            key if key.starts_with("metricsProvider.") => self.info(e, "accepted, not used"),
            _ => self.warn(e, "unknown key, ignored"),
        }
        Ok(())
    }

    /// Reads one of the secure port's `ssl.*` keys with `read`.
    fn ssl_key(
        &mut self,
        e: &properties::Entry,
        read: impl FnOnce(&mut ZooCfg, &properties::Entry) -> Result<(), ZooCfgError>,
    ) -> Result<(), ZooCfgError> {
        self.seen.ssl.get_or_insert(e.line);
        read(&mut self.cfg, e)
    }

    fn allow_list(&mut self, e: &properties::Entry) -> Result<AllowList, ZooCfgError> {
        // ZooKeeper runs these three; zk-node knows them and never runs them (fourlw::Word).
        let mut kept = Vec::new();
        for word in e.value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let known = <[u8; 4]>::try_from(word.as_bytes())
                .ok()
                .and_then(Word::parse);
            match known {
                Some(w) if !w.is_served() => self.warn(
                    e,
                    format!("{w} is never run by zk-node; it answers as if it were not listed"),
                ),
                _ => kept.push(word),
            }
        }
        if kept.is_empty() {
            return Ok(AllowList::none());
        }
        kept.join(",")
            .parse()
            .map_err(|r: crate::fourlw::AllowListError| bad(e, r.to_string()))
    }

    fn finish(mut self) -> Result<ZooCfg, ZooCfgError> {
        let cfg = &mut self.cfg;
        if let (Some(e), None) = (&self.seen.client_port_address, cfg.client_port) {
            return Err(bad(e, "clientPortAddress is set but clientPort is not set"));
        }
        if let (Some(e), None) = (
            &self.seen.secure_client_port_address,
            cfg.secure_client_port,
        ) {
            return Err(bad(
                e,
                "secureClientPortAddress is set but secureClientPort is not set",
            ));
        }
        if let (Some(_), Some(e)) = (&self.seen.dynamic_config_file, &self.seen.first_server) {
            return Err(bad(
                e,
                format!(
                    "parameter: {} must be in a separate dynamic config file",
                    e.key
                ),
            ));
        }
        if let (Some(line), None) = (self.seen.ssl, cfg.secure_client_port) {
            cfg.notes.push(Note {
                level: NoteLevel::Info,
                line,
                key: "ssl.*".to_string(),
                text: "not used: there is no secureClientPort".to_string(),
            });
        }
        if let Some(e) = self.seen.metrics_class.take() {
            if e.value == PROMETHEUS_PROVIDER {
                // ZooKeeper's defaults for its provider's listener.
                let host = self.seen.metrics_host.take();
                let port = self.seen.metrics_port.unwrap_or(7000);
                cfg.prometheus = Some((host.unwrap_or_else(|| "0.0.0.0".into()), port));
            } else {
                cfg.notes.push(Note {
                    level: NoteLevel::Warn,
                    line: e.line,
                    key: e.key.clone(),
                    text: format!(
                        "{} is not available: zk-node serves Prometheus metrics only (on the \
                         admin port's /metrics, and on metricsProvider.httpPort with \
                         PrometheusMetricsProvider)",
                        e.value
                    ),
                });
            }
        }
        cfg.notes.sort_by_key(|n| n.line);
        Ok(self.cfg)
    }

    fn info(&mut self, e: &properties::Entry, text: impl Into<String>) {
        self.note(NoteLevel::Info, e, text);
    }

    fn warn(&mut self, e: &properties::Entry, text: impl Into<String>) {
        self.note(NoteLevel::Warn, e, text);
    }

    fn note(&mut self, level: NoteLevel, e: &properties::Entry, text: impl Into<String>) {
        self.cfg.notes.push(Note {
            level,
            line: e.line,
            key: e.key.clone(),
            text: text.into(),
        });
    }
}

fn server_entry(e: &properties::Entry, id: &str) -> Result<(u64, ServerLine), ZooCfgError> {
    let id = match id.parse::<u64>() {
        Ok(0) => return Err(bad(e, "zk-node needs server ids of 1 or more")),
        Ok(id) => id,
        Err(_) => return Err(bad(e, format!("{id} is not a server id (a number)"))),
    };
    let line = ServerLine::parse(&e.value).map_err(|r| bad(e, r))?;
    let unspecified = line
        .host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    if unspecified {
        return Err(bad(
            e,
            "every member dials this address, so it must be one the others reach (to listen \
             on all interfaces, set quorumListenOnAllIPs=true)",
        ));
    }
    Ok((id, line))
}

fn bad(e: &properties::Entry, reason: impl Into<String>) -> ZooCfgError {
    ZooCfgError {
        line: e.line,
        key: e.key.clone(),
        value: e.value.clone(),
        reason: reason.into(),
    }
}

/// Java's `Integer.parseInt`: an optional sign and decimal digits, within i32.
fn int(e: &properties::Entry) -> Result<i32, ZooCfgError> {
    e.value.parse::<i32>().map_err(|_| bad(e, "not a number"))
}

fn positive(e: &properties::Entry) -> Result<u32, ZooCfgError> {
    match int(e)? {
        n if n > 0 => Ok(n.unsigned_abs()),
        _ => Err(bad(e, "must be greater than 0")),
    }
}

fn non_negative(e: &properties::Entry) -> Result<u32, ZooCfgError> {
    match int(e)? {
        n if n >= 0 => Ok(n.unsigned_abs()),
        _ => Err(bad(e, "must not be negative")),
    }
}

/// `-1` is ZooKeeper's "derive it from tickTime".
fn timeout(e: &properties::Entry) -> Result<Option<u32>, ZooCfgError> {
    match int(e)? {
        -1 => Ok(None),
        n if n >= 0 => Ok(Some(n.unsigned_abs())),
        _ => Err(bad(
            e,
            "must be a number of milliseconds, or -1 for the default",
        )),
    }
}

fn port(e: &properties::Entry, min: u16) -> Result<u16, ZooCfgError> {
    match int(e)? {
        n if n >= i32::from(min) && n <= i32::from(u16::MAX) => Ok(n as u16),
        _ => Err(bad(e, format!("a port is {min}..65535"))),
    }
}

fn host(e: &properties::Entry) -> Result<String, ZooCfgError> {
    if e.value.is_empty() || e.value.contains(char::is_whitespace) {
        return Err(bad(e, "not a host name or address"));
    }
    Ok(e.value.clone())
}

fn path(e: &properties::Entry) -> Result<PathBuf, ZooCfgError> {
    if e.value.is_empty() {
        return Err(bad(e, "the path is empty"));
    }
    Ok(PathBuf::from(&e.value))
}

/// ZooKeeper's `parseBoolean`: `true` or `false` in any case.
fn boolean(e: &properties::Entry) -> Result<bool, ZooCfgError> {
    match e.value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(
            e,
            format!(
                "Invalid option {} for {}. Choose 'true' or 'false.'",
                e.value, e.key
            ),
        )),
    }
}

/// `Integer.decode`, as the JVM reads the `jute.maxbuffer` property: decimal or `0x` hex.
fn jute_max_buffer(e: &properties::Entry) -> Result<usize, ZooCfgError> {
    let v = e.value.as_str();
    let n = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => v.parse::<i64>().ok(),
    };
    match n {
        Some(n) if (64..=i64::from(i32::MAX)).contains(&n) => Ok(n as usize),
        Some(_) => Err(bad(e, format!("must be between 64 and {} bytes", i32::MAX))),
        None => Err(bad(e, "not a number")),
    }
}
