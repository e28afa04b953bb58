//! Parsing command lines into typed commands: flags, arguments, versions, quoting, modes.

use std::time::Duration;

use zk_client::{perms, Acl, CreateMode, Id};

use super::*;

fn zk(line: &str) -> ZkCommand {
    match Command::parse_line(line) {
        Ok(Some(Command::Zk(c))) => c,
        other => panic!("{line:?} parsed as {other:?}"),
    }
}

fn err(line: &str) -> ParseError {
    match Command::parse_line(line) {
        Err(e) => e,
        Ok(c) => panic!("{line:?} should fail, parsed as {c:?}"),
    }
}

fn usage_reason(line: &str) -> (&'static str, String) {
    match err(line) {
        ParseError::Usage { command, reason } => (command, reason),
        other => panic!("{line:?}: expected a usage error, got {other:?}"),
    }
}

#[test]
fn blank_lines_are_no_command() {
    assert_eq!(Command::parse_line(""), Ok(None));
    assert_eq!(Command::parse_line("   "), Ok(None));
}

#[test]
fn ls_flags() {
    assert_eq!(
        zk("ls /"),
        ZkCommand::Ls(Ls {
            path: "/".into(),
            stat: false,
            watch: false,
            recursive: false
        })
    );
    assert_eq!(
        zk("ls -s -w -R /a"),
        ZkCommand::Ls(Ls {
            path: "/a".into(),
            stat: true,
            watch: true,
            recursive: true
        })
    );
    assert_eq!(zk("ls -sw /a"), zk("ls /a -w -s"));
    assert!(zk("ls -w /a").sets_watch());
    assert!(!zk("ls /a").sets_watch());
}

#[test]
fn missing_and_extra_arguments_are_usage_errors() {
    assert_eq!(usage_reason("ls").0, "ls");
    assert!(usage_reason("ls").1.contains("missing"));
    assert!(usage_reason("get -s").1.contains("missing"));
    assert!(usage_reason("set /a").1.contains("missing"));
    assert!(usage_reason("get /a /b").1.contains("too many"));
    assert!(usage_reason("create").1.contains("missing"));
    assert!(usage_reason("create /a d world:anyone:r extra")
        .1
        .contains("too many"));
    assert!(usage_reason("whoami x").1.contains("too many"));
    assert!(usage_reason("connect a:1 b:2").1.contains("too many"));
    assert_eq!(usage_reason("quit now").0, "quit");
}

#[test]
fn unknown_flags_are_usage_errors() {
    let (command, reason) = usage_reason("get -x /a");
    assert_eq!(command, "get");
    assert!(reason.contains("-x"), "{reason}");
    assert!(usage_reason("stat -s /a").1.contains("-s"));
    assert!(usage_reason("delete -v").1.contains("needs a value"));
}

#[test]
fn versions_must_be_32_bit_integers() {
    assert_eq!(
        zk("set -v 3 /a x"),
        ZkCommand::Set(Set {
            path: "/a".into(),
            data: "x".into(),
            version: Some(3),
            stat: false
        })
    );
    assert_eq!(
        zk("delete -v -1 /a"),
        ZkCommand::Delete(Delete {
            path: "/a".into(),
            version: Some(-1)
        })
    );
    for bad in ["x", "1.5", "99999999999", ""] {
        let line = format!("set -v '{bad}' /a x");
        let (command, reason) = usage_reason(&line);
        assert_eq!(command, "set");
        assert!(reason.contains("version"), "{line}: {reason}");
    }
    assert!(usage_reason("delete -v abc /a").1.contains("version"));
    assert!(usage_reason("setAcl -v z /a world:anyone:r")
        .1
        .contains("version"));
}

#[test]
fn quoted_data_keeps_its_spaces() {
    assert_eq!(
        zk(r#"set -s /a "hello world""#),
        ZkCommand::Set(Set {
            path: "/a".into(),
            data: "hello world".into(),
            version: None,
            stat: true
        })
    );
    match zk(r#"create /a 'x y z' ip:10.0.0.1:rw"#) {
        ZkCommand::Create(c) => {
            assert_eq!(c.data, "x y z");
            assert_eq!(
                c.acl,
                vec![Acl {
                    perms: perms::READ | perms::WRITE,
                    id: Id::new("ip", "10.0.0.1")
                }]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(err(r#"set /a "open"#), ParseError::Quote(_)));
    // Data that starts with '-' goes after --.
    assert!(usage_reason("set /a -1").1.contains("--"));
    match zk("set /a -- -1") {
        ZkCommand::Set(s) => assert_eq!(s.data, "-1"),
        other => panic!("{other:?}"),
    }
}

fn create(line: &str) -> Create {
    match zk(line) {
        ZkCommand::Create(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_modes_follow_zkcli() {
    let c = create("create /a");
    assert_eq!(c.mode, CreateMode::Persistent);
    assert_eq!(c.data, "");
    assert_eq!(c.acl, Acl::open_unsafe());
    assert_eq!(create("create -e /a").mode, CreateMode::Ephemeral);
    assert_eq!(
        create("create -s /a").mode,
        CreateMode::PersistentSequential
    );
    assert_eq!(
        create("create -e -s /a").mode,
        CreateMode::EphemeralSequential
    );
    assert_eq!(
        create("create -se /a").mode,
        CreateMode::EphemeralSequential
    );
    assert_eq!(create("create -c /a").mode, CreateMode::Container);
    let t = create("create -t 5000 /a d");
    assert_eq!(t.mode, CreateMode::PersistentWithTtl);
    assert_eq!(t.ttl, Some(Duration::from_millis(5000)));
    assert_eq!(
        create("create -s -t 10 /a").mode,
        CreateMode::PersistentSequentialWithTtl
    );
    // A sequential prefix may end in '/'; a plain path may not.
    assert_eq!(create("create -s /a/").path, "/a/");
    assert!(matches!(err("create /a/"), ParseError::BadPath { .. }));
}

#[test]
fn create_refuses_bad_combinations() {
    assert!(usage_reason("create -c -s /a").1.contains("-c"));
    assert!(usage_reason("create -c -e /a").1.contains("-c"));
    assert!(usage_reason("create -t 10 -e /a").1.contains("ephemeral"));
    assert!(usage_reason("create -t 10 -c /a").1.contains("container"));
    assert!(usage_reason("create -t x /a").1.contains("-t"));
    assert!(usage_reason("create -t 0 /a").1.contains("-t"));
    assert!(usage_reason("create -t -5 /a").1.contains("-t"));
}

#[test]
fn acls_are_checked_when_parsed() {
    match zk("setAcl -R -s -v 2 /a digest:u:hash=:cdrwa,auth::r") {
        ZkCommand::SetAcl(s) => {
            assert!(s.recursive && s.stat);
            assert_eq!(s.version, Some(2));
            assert_eq!(s.acl[0].id, Id::new("digest", "u:hash="));
            assert_eq!(s.acl[1].id, Id::new("auth", ""));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err("setAcl /a world:anyone"),
        ParseError::InvalidAcl {
            command: "setAcl",
            ..
        }
    ));
    assert!(matches!(
        err("create /a x world:anyone:q"),
        ParseError::InvalidAcl { .. }
    ));
}

#[test]
fn paths_are_checked_when_parsed() {
    assert!(matches!(
        err("get a"),
        ParseError::BadPath { command: "get", .. }
    ));
    assert!(matches!(err("ls /a//b"), ParseError::BadPath { .. }));
    assert!(matches!(err("delete /a/"), ParseError::BadPath { .. }));
    assert!(matches!(err("stat /a/./b"), ParseError::BadPath { .. }));
}

#[test]
fn the_other_commands() {
    assert_eq!(
        zk("get -s -w /a"),
        ZkCommand::Get(Get {
            path: "/a".into(),
            stat: true,
            watch: true
        })
    );
    assert_eq!(
        zk("stat -w /a"),
        ZkCommand::Stat(StatCmd {
            path: "/a".into(),
            watch: true
        })
    );
    assert_eq!(
        zk("deleteall /a"),
        ZkCommand::DeleteAll(DeleteAll { path: "/a".into() })
    );
    assert_eq!(zk("sync /a"), ZkCommand::Sync(Sync { path: "/a".into() }));
    assert_eq!(
        zk("config -s"),
        ZkCommand::Get(Get {
            path: "/zookeeper/config".into(),
            stat: true,
            watch: false
        })
    );
    assert_eq!(
        zk("addauth digest u:p"),
        ZkCommand::AddAuth(AddAuth {
            scheme: "digest".into(),
            auth: "u:p".into()
        })
    );
    assert_eq!(zk("whoami"), ZkCommand::WhoAmI(WhoAmI));
    assert_eq!(
        zk("getAcl -s /a"),
        ZkCommand::GetAcl(GetAcl {
            path: "/a".into(),
            stat: true
        })
    );
    assert_eq!(
        zk("getEphemerals"),
        ZkCommand::GetEphemerals(GetEphemerals { path: "/".into() })
    );
    assert_eq!(
        zk("getEphemerals /app"),
        ZkCommand::GetEphemerals(GetEphemerals {
            path: "/app".into()
        })
    );
    let local = |l: &str| match Command::parse_line(l) {
        Ok(Some(Command::Local(c))) => c,
        other => panic!("{l:?}: {other:?}"),
    };
    assert_eq!(
        local("connect 127.0.0.1:2181,h:2/app"),
        LocalCommand::Connect(Some("127.0.0.1:2181,h:2/app".into()))
    );
    assert_eq!(local("connect"), LocalCommand::Connect(None));
    assert_eq!(local("close"), LocalCommand::Close);
    assert_eq!(local("history"), LocalCommand::History);
    assert_eq!(local("help"), LocalCommand::Help);
    assert_eq!(local("quit"), LocalCommand::Quit);
}

#[test]
fn unknown_commands_are_named() {
    assert_eq!(err("foo /a"), ParseError::UnknownCommand("foo".into()));
    // zkCli's command names are case-sensitive.
    assert_eq!(
        err("getacl /a"),
        ParseError::UnknownCommand("getacl".into())
    );
}

#[test]
fn every_command_has_a_usage_and_parses_by_that_name() {
    for spec in SPECS {
        assert_eq!(usage(spec.name), Some(spec.usage));
        assert!(spec.usage.starts_with(spec.name));
        // The bare name either parses or is refused as a usage error of that command.
        match Command::parse(&[spec.name.to_string()]) {
            Ok(_) => {}
            Err(e) => assert_eq!(e.command(), Some(spec.name), "{e:?}"),
        }
    }
    assert!(usage_list().contains("\tls [-s] [-w] [-R] path\n"));
}

/// `reconfig` as zkCli.sh takes it: word options, a hex version, incremental or not.
#[test]
fn reconfig_options_follow_zkcli() {
    let spec = "server.4=127.0.0.1:2890:3890:participant;127.0.0.1:2184";
    assert_eq!(
        zk(&format!("reconfig -add {spec} -remove 3 -v 10000000a -s")),
        ZkCommand::Reconfig(Reconfig {
            add: Some(spec.into()),
            remove: Some("3".into()),
            members: None,
            version: Some(0x1_0000_000a),
            stat: true,
        })
    );
    assert_eq!(
        zk("reconfig -remove 4 -remove 5"),
        ZkCommand::Reconfig(Reconfig {
            add: None,
            remove: Some("4,5".into()),
            members: None,
            version: None,
            stat: false,
        })
    );
    assert_eq!(
        zk(&format!("reconfig -members {spec} -v 0x1f")),
        ZkCommand::Reconfig(Reconfig {
            add: None,
            remove: None,
            members: Some(Members::Listed(spec.into())),
            version: Some(0x1f),
            stat: false,
        })
    );
    assert_eq!(
        zk("reconfig -file /tmp/dyn.cfg"),
        ZkCommand::Reconfig(Reconfig {
            add: None,
            remove: None,
            members: Some(Members::File("/tmp/dyn.cfg".into())),
            version: None,
            stat: false,
        })
    );
    for (line, why) in [
        ("reconfig", "say what changes"),
        ("reconfig -s", "say what changes"),
        ("reconfig -members a -add b", "mixing incremental"),
        ("reconfig -file f -remove 1", "mixing incremental"),
        ("reconfig -file f -members a", "not both"),
        ("reconfig -remove", "-remove needs a value"),
        ("reconfig -remove 1 -v xyz", "in hex"),
        ("reconfig -remove 1 -x", "unknown option -x"),
        ("reconfig 1", "unexpected argument"),
    ] {
        let (command, reason) = usage_reason(line);
        assert_eq!(command, "reconfig", "{line}");
        assert!(reason.contains(why), "{line}: {reason}");
    }
}

/// A dynamic config file's server lines become reconfig's newMembers.
#[test]
fn a_dynamic_config_file_gives_the_members() {
    let text = "# members\nserver.1=h1:1:2:participant;2181\n\nserver.2 = h2:1:2;2181\nversion=10000000a\n";
    assert_eq!(
        dynamic_config_members(text),
        Ok("server.1=h1:1:2:participant;2181,server.2=h2:1:2;2181".into())
    );
    assert!(dynamic_config_members("version=1\n")
        .unwrap_err()
        .contains("no server"));
    assert!(dynamic_config_members("clientPort=2181\n")
        .unwrap_err()
        .contains("not a server.N key"));
    assert!(dynamic_config_members("server.1\n")
        .unwrap_err()
        .contains("not key=value"));
}
