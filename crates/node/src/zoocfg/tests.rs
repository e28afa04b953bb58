//! The zoo.cfg rules one by one.

use super::*;

fn ok(text: &str) -> ZooCfg {
    parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> ZooCfgError {
    match parse(text) {
        Ok(cfg) => panic!("{text:?} was accepted: {cfg:?}"),
        Err(e) => e,
    }
}

fn notes_about<'a>(cfg: &'a ZooCfg, key: &str) -> Vec<&'a Note> {
    cfg.notes.iter().filter(|n| n.key == key).collect()
}

/// The sample three-node file from ZooKeeper's Getting Started guide, shape for shape.
const THREE_NODES: &str = "\
tickTime=2000
dataDir=/var/lib/zookeeper
clientPort=2181
initLimit=5
syncLimit=2
server.1=zoo1:2888:3888
server.2=zoo2:2888:3888
server.3=zoo3:2888:3888
";

#[test]
fn a_three_node_file() {
    let cfg = ok(THREE_NODES);
    assert_eq!(cfg.tick_time_ms.map(NonZeroU32::get), Some(2000));
    assert_eq!(cfg.data_dir, Some(PathBuf::from("/var/lib/zookeeper")));
    assert_eq!(cfg.client_port, Some(2181));
    assert_eq!((cfg.init_limit, cfg.sync_limit), (Some(5), Some(2)));
    assert_eq!(cfg.servers.len(), 3);
    assert_eq!(cfg.servers[&2].peer_addr(), "zoo2:2888");
    assert_eq!(cfg.servers[&2].election_port, 3888);
    assert!(cfg.standalone_enabled);
    // Only the two accepted-but-unused limits are worth a word; nothing is unknown.
    let keys: Vec<&str> = cfg.notes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(keys, ["initLimit", "syncLimit"]);
    assert!(cfg.notes.iter().all(|n| n.level == NoteLevel::Info));
}

#[test]
fn numbers_and_their_bounds() {
    let cfg = ok(
        "maxClientCnxns=0\nminSessionTimeout=4000\nmaxSessionTimeout=-1\nglobalOutstandingLimit=50\n",
    );
    assert_eq!(cfg.max_client_cnxns, Some(0));
    assert_eq!(cfg.global_outstanding_limit, Some(50));
    assert_eq!(cfg.min_session_timeout_ms, Some(4000));
    assert_eq!(cfg.max_session_timeout_ms, None);
    for (text, key) in [
        ("tickTime=0", "tickTime"),
        ("tickTime=2s", "tickTime"),
        ("initLimit=-3", "initLimit"),
        ("syncLimit=", "syncLimit"),
        ("maxClientCnxns=-1", "maxClientCnxns"),
        ("globalOutstandingLimit=-5", "globalOutstandingLimit"),
        ("minSessionTimeout=-2", "minSessionTimeout"),
        ("maxSessionTimeout=99999999999", "maxSessionTimeout"),
        ("clientPort=65536", "clientPort"),
        ("secureClientPort=x", "secureClientPort"),
        ("admin.serverPort=-1", "admin.serverPort"),
        (
            "autopurge.snapRetainCount=many",
            "autopurge.snapRetainCount",
        ),
        ("autopurge.purgeInterval=h", "autopurge.purgeInterval"),
    ] {
        assert_eq!(err(text).key, key, "{text}");
    }
}

/// An error names the line, the key and the value.
#[test]
fn errors_name_line_key_and_value() {
    let e = err("# a comment\ntickTime=2000\n\ninitLimit=ten\n");
    assert_eq!(
        (e.line, e.key.as_str(), e.value.as_str()),
        (4, "initLimit", "ten")
    );
    assert_eq!(e.to_string(), "line 4: initLimit=ten: not a number");
}

#[test]
fn booleans_as_zookeeper_reads_them() {
    let cfg = ok("standaloneEnabled=FALSE\nquorumListenOnAllIPs=True\n");
    assert!(!cfg.standalone_enabled);
    assert!(cfg.quorum_listen_on_all_ips);
    let e = err("reconfigEnabled=yes");
    assert_eq!(
        e.reason,
        "Invalid option yes for reconfigEnabled. Choose 'true' or 'false.'"
    );
    let on = ok("reconfigEnabled=true");
    assert_eq!(on.reconfig_enabled, Some(true));
    assert!(notes_about(&on, "reconfigEnabled").is_empty(), "accepted");
    assert_eq!(ok("reconfigEnabled=false").reconfig_enabled, Some(false));
    assert!(ok("reconfigEnabled=false").notes.is_empty());
}

#[test]
fn client_and_secure_addresses() {
    let cfg = ok("clientPort=2181\nclientPortAddress=127.0.0.1\n");
    assert_eq!(cfg.client_port_address.as_deref(), Some("127.0.0.1"));
    let e = err("clientPortAddress=127.0.0.1\n");
    assert_eq!(
        e.reason,
        "clientPortAddress is set but clientPort is not set"
    );
    assert_eq!(e.line, 1);
    let e = err("clientPort=2181\nsecureClientPortAddress=127.0.0.1\n");
    assert_eq!(e.key, "secureClientPortAddress");
    // The secure port is served: read, nothing to remark on.
    let cfg = ok("secureClientPort=2281\nsecureClientPortAddress=::1\n");
    assert_eq!(cfg.secure_client_port, Some(2281));
    assert_eq!(cfg.secure_client_port_address.as_deref(), Some("::1"));
    assert!(notes_about(&cfg, "secureClientPort").is_empty());
    assert_eq!(
        err("clientPortAddress=a b\nclientPort=1").key,
        "clientPortAddress"
    );
}

#[test]
fn data_dirs() {
    let cfg = ok("dataDir=/d\ndataLogDir=/l\n");
    assert_eq!(cfg.data_dir, Some(PathBuf::from("/d")));
    assert_eq!(cfg.data_log_dir, Some(PathBuf::from("/l")));
    assert_eq!(notes_about(&cfg, "dataLogDir").len(), 1);
    assert_eq!(err("dataDir=").key, "dataDir");
}

#[test]
fn server_line_forms() {
    let cfg = ok("server.1=10.0.0.1:2888:3888\n\
         server.2=zk2:2889:3889:participant\n\
         server.3=zk3:2890:3890;2183\n\
         server.4=zk4:2891:3891:participant;127.0.0.1:2184\n\
         server.5=[::1]:2892:3892;[::1]:2185\n");
    let s = &cfg.servers;
    assert_eq!(s[&1].peer_addr(), "10.0.0.1:2888");
    assert_eq!(s[&1].client, None);
    assert_eq!((s[&2].peer_port, s[&2].election_port), (2889, 3889));
    assert_eq!(s[&3].client, Some(("0.0.0.0".to_string(), 2183)));
    assert_eq!(s[&4].client, Some(("127.0.0.1".to_string(), 2184)));
    assert_eq!(s[&5].peer_addr(), "[::1]:2892");
    assert_eq!(s[&5].client, Some(("[::1]".to_string(), 2185)));
}

#[test]
fn bad_server_lines() {
    for (text, wants) in [
        ("server.1=zk1:2888", "does not have the form"),
        (
            "server.1=zk1:2888:3888:participant:x",
            "does not have the form",
        ),
        (
            "server.1=zk1:2888:3888;zk1:2181:1",
            "does not have the form",
        ),
        ("server.1=zk1:2888:3888;a;b", "does not have the form"),
        ("server.1=zk1:2888:2888", "must be different"),
        ("server.1=zk1:x:3888", "Address unresolved"),
        ("server.1=zk1:0:3888", "Address unresolved"),
        (
            "server.1=zk1:2888:3888:voter",
            "Unrecognised peertype: voter",
        ),
        ("server.1=zk1:2888:3888|zk1b:2888:3888", "multiAddress"),
        ("server.1=0.0.0.0:2888:3888", "quorumListenOnAllIPs"),
        ("server.0=zk1:2888:3888", "1 or more"),
        ("server.one=zk1:2888:3888", "not a server id"),
        ("server.1=[::1:2888:3888", "no matching"),
        ("server.1=:2888:3888", "host is empty"),
        ("peerType=learner", "Unrecognised peertype"),
    ] {
        let e = err(text);
        assert!(e.reason.contains(wants), "{text}: {}", e.reason);
        assert_eq!(e.line, 1, "{text}");
    }
}

#[test]
fn four_letter_words() {
    let cfg = ok("4lw.commands.whitelist=stat, ruok,conf,isro\n");
    let allow = cfg.four_letter_words.unwrap_or_else(AllowList::all);
    assert!(allow.allows(Word::Ruok) && allow.allows(Word::Isro));
    assert!(!allow.allows(Word::Mntr));
    assert_eq!(
        ok("4lw.commands.whitelist=*").four_letter_words,
        Some(AllowList::all())
    );
    // Words zk-node knows and never runs are a warning, not an error.
    let cfg = ok("4lw.commands.whitelist=hash,ruok");
    assert_eq!(notes_about(&cfg, "4lw.commands.whitelist").len(), 1);
    assert!(cfg.four_letter_words.is_some_and(|a| a.allows(Word::Ruok)));
    let e = err("\n4lw.commands.whitelist=ruok,rouk");
    assert_eq!(e.line, 2);
    assert!(e.reason.contains("rouk"), "{}", e.reason);
}

#[test]
fn super_digest() {
    let cfg = ok("DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    assert_eq!(
        cfg.super_digest.map(|s| s.to_string()).as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    let e = err("DigestAuthenticationProvider.superDigest=super:test");
    assert!(e.reason.contains("base64"), "{}", e.reason);
}

#[test]
fn jute_max_buffer() {
    assert_eq!(
        ok("jute.maxbuffer=4194304").jute_max_buffer,
        Some(4_194_304)
    );
    assert_eq!(ok("jute.maxbuffer=0xfffff").jute_max_buffer, Some(0xfffff));
    assert_eq!(err("jute.maxbuffer=4M").reason, "not a number");
    assert!(err("jute.maxbuffer=10").reason.contains("between 64"));
}

/// Keys accepted and not acted on are said once each; unknown keys are warnings by name.
#[test]
fn accepted_and_unknown_keys() {
    let cfg = ok("admin.enableServer=true\n\
         admin.serverAddress=127.0.0.1\n\
         admin.serverPort=8080\n\
         ssl.keyStore.location=/k.pem\n\
         ssl.clientAuth=need\n\
         sslQuorum=false\n\
         autopurge.snapRetainCount=3\n\
         autopurge.purgeInterval=1\n\
         authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n\
         authProvider.2=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         electionAlg=3\n\
         preAllocSize=65536\n\
         tickTyme=2000\n");
    let warned = |key: &str| {
        notes_about(&cfg, key)
            .iter()
            .filter(|n| n.level == NoteLevel::Warn)
            .count()
    };
    // The admin server is served: its keys are read, not remarked on.
    assert_eq!(notes_about(&cfg, "admin.enableServer").len(), 0);
    assert_eq!(
        cfg.admin,
        AdminKeys {
            enable_server: Some(true),
            server_address: Some("127.0.0.1".into()),
            server_port: Some(8080),
        }
    );
    // ssl.* without a secureClientPort: said once, nothing lost.
    assert_eq!(warned("ssl.*"), 0);
    assert_eq!(notes_about(&cfg, "ssl.*").len(), 1);
    assert_eq!(notes_about(&cfg, "autopurge.snapRetainCount").len(), 1);
    assert_eq!(notes_about(&cfg, "autopurge.purgeInterval").len(), 1);
    assert_eq!(notes_about(&cfg, "authProvider.1").len(), 0);
    assert_eq!(warned("authProvider.2"), 1);
    // ZooKeeper's Prometheus provider is served, on its default address.
    assert_eq!(warned("metricsProvider.className"), 0);
    assert_eq!(cfg.prometheus, Some(("0.0.0.0".to_string(), 7000)));
    assert_eq!(warned("preAllocSize"), 1);
    let typo = notes_about(&cfg, "tickTyme");
    assert_eq!(typo.len(), 1);
    assert_eq!(typo[0].line, 14);
    assert_eq!(
        typo[0].to_string(),
        "line 14: tickTyme: unknown key, ignored"
    );
    // No admin server was asked for: nothing to warn about.
    assert!(ok("admin.enableServer=false\nadmin.serverPort=8080")
        .notes
        .is_empty());
    let other = ok("metricsProvider.className=com.example.Other\n\
         metricsProvider.httpPort=7001\n");
    assert_eq!(other.prometheus, None);
    assert_eq!(
        notes_about(&other, "metricsProvider.className")[0].level,
        NoteLevel::Warn
    );
    let prom = ok(
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=7001\n",
    );
    assert_eq!(prom.prometheus, Some(("127.0.0.1".to_string(), 7001)));
    assert_eq!(
        err("electionAlg=1").reason,
        "Invalid electionAlg value. Only 3 is supported."
    );
}

#[test]
fn snap_count_and_skip_acl() {
    assert_eq!(ok("snapCount=100000").snap_count, Some(100_000));
    assert_eq!(err("snapCount=0").key, "snapCount");
    let cfg = ok("skipACL=yes");
    assert_eq!(notes_about(&cfg, "skipACL")[0].level, NoteLevel::Warn);
    assert!(ok("skipACL=no").notes.is_empty());
}

#[test]
fn fsync_warning_threshold() {
    let cfg = ok("fsync.warningthresholdms=50");
    assert_eq!(cfg.fsync_warning_threshold_ms, Some(50));
    assert!(cfg.notes.is_empty(), "a key zk-node follows");
    assert_eq!(ok("tickTime=2000").fsync_warning_threshold_ms, None);
    assert_eq!(
        err("fsync.warningthresholdms=-1").key,
        "fsync.warningthresholdms"
    );
}

/// forceSync=no would make ZooKeeper skip its fsyncs; zk-node does not, and says so.
#[test]
fn force_sync() {
    assert_eq!(
        notes_about(&ok("forceSync=yes"), "forceSync")[0].level,
        NoteLevel::Info
    );
    let cfg = ok("forceSync=no");
    let notes = notes_about(&cfg, "forceSync");
    assert_eq!(notes[0].level, NoteLevel::Warn);
    assert!(
        notes[0].text.contains("always flushes"),
        "{}",
        notes[0].text
    );
}

/// Properties keeps the last of a key given twice; the earlier line gets a warning.
#[test]
fn a_key_given_twice() {
    let cfg = ok("clientPort=2181\ntickTime=1000\nclientPort=2182\n");
    assert_eq!(cfg.client_port, Some(2182));
    let notes = notes_about(&cfg, "clientPort");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].line, 1);
    // The value that does not count is not checked either, as ZooKeeper never sees it.
    assert_eq!(
        ok("tickTime=x\ntickTime=10")
            .tick_time_ms
            .map(NonZeroU32::get),
        Some(10)
    );
}

#[test]
fn dynamic_config_file() {
    let cfg = ok("dynamicConfigFile=/etc/zk/zoo.cfg.dynamic");
    assert_eq!(
        cfg.dynamic_config_file,
        Some(PathBuf::from("/etc/zk/zoo.cfg.dynamic"))
    );
    let e = err("dynamicConfigFile=/d\nserver.1=zk1:2888:3888\n");
    assert_eq!(e.line, 2);
    assert_eq!(
        e.reason,
        "parameter: server.1 must be in a separate dynamic config file"
    );
    let servers = parse_dynamic("server.1=zk1:2888:3888;2181\nversion=100000000\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(servers.len(), 1);
    let e = parse_dynamic("server.1=zk1:2888:3888\ntickTime=2000\n").err();
    assert_eq!(
        e.map(|e| (e.line, e.reason)),
        Some((2, "Unrecognised parameter: tickTime".into()))
    );
}

#[test]
fn myid() {
    assert_eq!(parse_myid("3\n"), Ok(3));
    assert_eq!(parse_myid(" 12 \nignored"), Ok(12));
    assert_eq!(
        parse_myid("x"),
        Err("serverid x is not a number".to_string())
    );
    assert_eq!(parse_myid(""), Err("serverid  is not a number".to_string()));
    assert!(parse_myid("0").is_err());
}

/// The secure port's ssl.* keys: PEM stores only, ZooKeeper's clientAuth values; keys of
/// TLS features zk-node does not have are said (loudly where something is not followed).
#[test]
fn ssl_keys() {
    let cfg = ok("secureClientPort=2281\n\
         ssl.keyStore.location=/etc/zk/server.pem\n\
         ssl.keyStore.type=PEM\n\
         ssl.keyStore.password=secret\n\
         ssl.trustStore.location=/etc/zk/ca.pem\n\
         ssl.trustStore.type=pem\n\
         ssl.clientAuth=want\n\
         ssl.protocol=TLSv1.3\n\
         ssl.quorum.keyStore.location=/q.pem\n\
         ssl.quorum.keyStore.password=qsecret\n\
         ssl.quorum.trustStore.location=/qca.pem\n\
         ssl.quorum.trustStore.type=PEM\n\
         ssl.quorum.hostnameVerification=false\n\
         ssl.quorum.protocol=TLSv1.3\n\
         sslQuorum=true\n\
         client.certReload=true\n\
         X509AuthenticationProvider.superUser=CN=root,O=Example\n\
         authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n");
    assert_eq!(
        cfg.ssl,
        SslKeys {
            key_store: Some("/etc/zk/server.pem".into()),
            key_store_password: Some("secret".into()),
            key_store_password_path: None,
            trust_store: Some("/etc/zk/ca.pem".into()),
            client_auth: Some(ClientAuth::Want),
        }
    );
    assert!(
        notes_about(&cfg, "ssl.*").is_empty(),
        "a secure port is set"
    );
    assert_eq!(notes_about(&cfg, "ssl.protocol").len(), 1);
    // The peer link's keys are read (not remarked on); what is not followed is said.
    assert!(cfg.ssl_quorum);
    assert_eq!(
        cfg.quorum_ssl,
        SslKeys {
            key_store: Some("/q.pem".into()),
            key_store_password: Some("qsecret".into()),
            key_store_password_path: None,
            trust_store: Some("/qca.pem".into()),
            client_auth: None,
        }
    );
    assert!(notes_about(&cfg, "ssl.quorum.keyStore.location").is_empty());
    assert!(notes_about(&cfg, "sslQuorum").is_empty());
    let verification = notes_about(&cfg, "ssl.quorum.hostnameVerification");
    assert_eq!(verification.len(), 1);
    assert_eq!(verification[0].level, NoteLevel::Warn);
    assert_eq!(notes_about(&cfg, "ssl.quorum.protocol").len(), 1);
    let e = err("ssl.quorum.keyStore.type=JKS\n");
    assert!(e.reason.contains("PEM files only"), "{}", e.reason);
    assert!(!ok("sslQuorum=false\n").ssl_quorum);
    assert_eq!(notes_about(&cfg, "client.certReload").len(), 1);
    assert_eq!(cfg.x509_super_user.as_deref(), Some("CN=root,O=Example"));
    assert!(notes_about(&cfg, "authProvider.x509").is_empty());
    let e = err("ssl.keyStore.type=JKS\n");
    assert!(e.reason.contains("PEM files only"), "{}", e.reason);
    let e = err("ssl.trustStore.type=PKCS12\n");
    assert_eq!(e.key, "ssl.trustStore.type");
    let e = err("ssl.clientAuth=sometimes\n");
    assert!(e.reason.contains("none, want or need"), "{}", e.reason);
    assert!(ok("sslQuorum=false\nportUnification=false\n")
        .notes
        .is_empty());
    assert_eq!(
        notes_about(&ok("portUnification=true"), "portUnification").len(),
        1
    );
}

/// Observers as ZooKeeper writes them: `:observer` on a server line, `peerType=observer`.
#[test]
fn observer_lines_and_peer_type() {
    let cfg =
        ok("server.1=zk1:2888:3888\nserver.4=zk4:2888:3888:observer;2181\npeerType=observer\n");
    assert!(cfg.servers[&4].observer && !cfg.servers[&1].observer);
    assert_eq!(cfg.peer_type_observer, Some(true));
    assert_eq!(ok("peerType=participant\n").peer_type_observer, Some(false));
}
