//! The watch registry against ZooKeeper 3.8.0's measured behaviour (kazoo, raw addWatch/
//! removeWatches/checkWatches requests): one-shot, persistent, recursive, NodeDeleted
//! de-duplication, the mode-override quirk, removal, setWatches.

mod common;

use common::*;
use zk_store::{Trigger, WatchRegistry, WatcherKind};
use zk_wire::{ErrorCode, EventType, KeeperState};

/// Applies txns through `t` and delivers their triggers; returns (watcher, type, path).
fn fire(w: &mut WatchRegistry<u32>, triggers: &[Trigger]) -> Vec<(u32, EventType, String)> {
    w.trigger(triggers)
        .into_iter()
        .map(|(id, e)| {
            assert_eq!(e.state, KeeperState::SyncConnected);
            (id, e.event_type, e.path)
        })
        .collect()
}

fn ev(id: u32, t: EventType, p: &str) -> (u32, EventType, String) {
    (id, t, p.to_owned())
}

use EventType::{NodeChildrenChanged, NodeCreated, NodeDataChanged, NodeDeleted};

#[test]
fn one_shot_watches_fire_once() {
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/a").unwrap();
    w.add_data_watch("/a", 1);
    w.add_child_watch("/a", 1);
    let tr = t
        .apply(zk_store::Txn::SetData {
            path: "/a".into(),
            data: None,
            version: -1,
        })
        .triggers;
    assert_eq!(fire(&mut w, &tr), vec![ev(1, NodeDataChanged, "/a")]);
    let tr = t
        .apply(zk_store::Txn::SetData {
            path: "/a".into(),
            data: None,
            version: -1,
        })
        .triggers;
    assert!(fire(&mut w, &tr).is_empty(), "consumed");
    let tr = t.apply(create_txn("/a/c")).triggers;
    assert_eq!(fire(&mut w, &tr), vec![ev(1, NodeChildrenChanged, "/a")]);
    assert!(w.is_empty());
}

#[test]
fn exist_watch_fires_on_create() {
    // Measured: exists on a missing node registers a data watch; create fires NodeCreated.
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    w.add_data_watch("/ex", 1);
    assert_eq!(w.check_watches("/ex", WatcherKind::Data, 1), Ok(()));
    w.add_child_watch("/", 2);
    let tr = t.apply(create_txn("/ex")).triggers;
    assert_eq!(
        fire(&mut w, &tr),
        vec![ev(1, NodeCreated, "/ex"), ev(2, NodeChildrenChanged, "/")]
    );
}

#[test]
fn node_deleted_reaches_a_watcher_once() {
    // Measured: data + child watch on /w/x and child watch on /w, delete /w/x →
    // NodeDeleted /w/x once, NodeChildrenChanged /w.
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/w").unwrap();
    t.create("/w/x").unwrap();
    w.add_data_watch("/w/x", 1);
    w.add_child_watch("/w/x", 1);
    w.add_child_watch("/w/x", 2);
    w.add_child_watch("/w", 1);
    let tr = t
        .apply(zk_store::Txn::Delete {
            path: "/w/x".into(),
            version: -1,
        })
        .triggers;
    assert_eq!(
        fire(&mut w, &tr),
        vec![
            ev(1, NodeDeleted, "/w/x"),
            ev(2, NodeDeleted, "/w/x"),
            ev(1, NodeChildrenChanged, "/w")
        ]
    );
    assert!(w.is_empty());
}

/// What each trigger fired, per table, for ZooKeeper's `node_*_watch_count`: the NodeDeleted
/// above fires one data watch and two child watches (one of them the same watcher), as
/// ZooKeeper's data and child watch managers each count theirs; the events are the same.
#[test]
fn watches_fired_are_told_per_trigger_and_table() {
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/w").unwrap();
    t.create("/w/x").unwrap();
    w.add_data_watch("/w/x", 1);
    w.add_child_watch("/w/x", 1);
    w.add_child_watch("/w/x", 2);
    w.add_child_watch("/w", 1);
    let tr = t
        .apply(zk_store::Txn::Delete {
            path: "/w/x".into(),
            version: -1,
        })
        .triggers;
    let mut told = Vec::new();
    let events = w.trigger_counting(&tr, |e, n| told.push((e, n)));
    assert_eq!(events.len(), 3);
    assert_eq!(
        told,
        vec![(NodeDeleted, 1), (NodeDeleted, 2), (NodeChildrenChanged, 1)]
    );
    // Nothing left to fire: every trigger is told, with 0.
    let tr = t
        .apply(zk_store::Txn::SetData {
            path: "/w".into(),
            data: None,
            version: -1,
        })
        .triggers;
    let mut told = Vec::new();
    assert!(w.trigger_counting(&tr, |e, n| told.push((e, n))).is_empty());
    assert_eq!(told, vec![(NodeDataChanged, 0)]);
}

#[test]
fn persistent_watch_sees_own_path_only() {
    // Measured: persistent /w; create /w/y, set /w, create /w/y/z, set /w/y, delete /w/y/z,
    // delete /w/y → NodeChildrenChanged /w, NodeDataChanged /w, NodeChildrenChanged /w.
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/w").unwrap();
    w.add_persistent_watch("/w", 1, false);
    let mut got = Vec::new();
    for txn in [
        create_txn("/w/y"),
        zk_store::Txn::SetData {
            path: "/w".into(),
            data: None,
            version: -1,
        },
        create_txn("/w/y/z"),
        zk_store::Txn::SetData {
            path: "/w/y".into(),
            data: None,
            version: -1,
        },
        zk_store::Txn::Delete {
            path: "/w/y/z".into(),
            version: -1,
        },
        zk_store::Txn::Delete {
            path: "/w/y".into(),
            version: -1,
        },
    ] {
        let tr = t.apply(txn).triggers;
        got.extend(fire(&mut w, &tr));
    }
    assert_eq!(
        got,
        vec![
            ev(1, NodeChildrenChanged, "/w"),
            ev(1, NodeDataChanged, "/w"),
            ev(1, NodeChildrenChanged, "/w")
        ]
    );
    // Measured: checkWatches data, child and any all find it.
    for k in [WatcherKind::Data, WatcherKind::Children, WatcherKind::Any] {
        assert_eq!(w.check_watches("/w", k, 1), Ok(()));
    }
    assert_eq!(
        w.check_watches("/nowatch", WatcherKind::Any, 1),
        Err(ErrorCode::NoWatcher)
    );
}

#[test]
fn persistent_watch_survives_delete_and_sees_create() {
    // Measured on /pn (missing at first): NodeCreated, NodeChildrenChanged x2, NodeDeleted.
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    w.add_persistent_watch("/pn", 1, false);
    let mut got = Vec::new();
    for txn in [
        create_txn("/pn"),
        create_txn("/pn/k"),
        zk_store::Txn::Delete {
            path: "/pn/k".into(),
            version: -1,
        },
        zk_store::Txn::Delete {
            path: "/pn".into(),
            version: -1,
        },
    ] {
        let tr = t.apply(txn).triggers;
        got.extend(fire(&mut w, &tr));
    }
    assert_eq!(
        got,
        vec![
            ev(1, NodeCreated, "/pn"),
            ev(1, NodeChildrenChanged, "/pn"),
            ev(1, NodeChildrenChanged, "/pn"),
            ev(1, NodeDeleted, "/pn")
        ]
    );
    assert_eq!(w.len(), 2);
}

#[test]
fn recursive_watch_sees_descendants_but_no_child_events() {
    // Measured: recursive /r; create /r/a, /r/a/b, set /r/a/b, set /r, delete /r/a/b, /r/a,
    // create /rr → NodeCreated /r/a, NodeCreated /r/a/b, NodeDataChanged /r/a/b,
    // NodeDataChanged /r, NodeDeleted /r/a/b, NodeDeleted /r/a.
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/r").unwrap();
    w.add_persistent_watch("/r", 1, true);
    let mut got = Vec::new();
    for txn in [
        create_txn("/r/a"),
        create_txn("/r/a/b"),
        zk_store::Txn::SetData {
            path: "/r/a/b".into(),
            data: None,
            version: -1,
        },
        zk_store::Txn::SetData {
            path: "/r".into(),
            data: None,
            version: -1,
        },
        zk_store::Txn::Delete {
            path: "/r/a/b".into(),
            version: -1,
        },
        zk_store::Txn::Delete {
            path: "/r/a".into(),
            version: -1,
        },
        create_txn("/rr"),
    ] {
        let tr = t.apply(txn).triggers;
        got.extend(fire(&mut w, &tr));
    }
    assert_eq!(
        got,
        vec![
            ev(1, NodeCreated, "/r/a"),
            ev(1, NodeCreated, "/r/a/b"),
            ev(1, NodeDataChanged, "/r/a/b"),
            ev(1, NodeDataChanged, "/r"),
            ev(1, NodeDeleted, "/r/a/b"),
            ev(1, NodeDeleted, "/r/a"),
        ]
    );
    // Measured: removeWatches child then data both succeed (registered in both tables).
    assert_eq!(w.remove_watches("/r", WatcherKind::Children, 1), Ok(()));
    assert_eq!(w.remove_watches("/r", WatcherKind::Data, 1), Ok(()));
    let tr = t.apply(create_txn("/r/c")).triggers;
    assert!(fire(&mut w, &tr).is_empty());
}

#[test]
fn recursive_plus_one_shot_on_a_child() {
    // Measured: recursive /r, one-shot child+data on /r/c: create /r/c/d → NodeCreated
    // /r/c/d, NodeChildrenChanged /r/c; set /r/c → one NodeDataChanged; delete /r/c/d →
    // NodeDeleted /r/c/d only.
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/r").unwrap();
    t.create("/r/c").unwrap();
    w.add_persistent_watch("/r", 1, true);
    w.add_child_watch("/r/c", 1);
    w.add_data_watch("/r/c", 1);
    let mut got = Vec::new();
    for txn in [
        create_txn("/r/c/d"),
        zk_store::Txn::SetData {
            path: "/r/c".into(),
            data: None,
            version: -1,
        },
        zk_store::Txn::Delete {
            path: "/r/c/d".into(),
            version: -1,
        },
    ] {
        let tr = t.apply(txn).triggers;
        got.extend(fire(&mut w, &tr));
    }
    assert_eq!(
        got,
        vec![
            ev(1, NodeCreated, "/r/c/d"),
            ev(1, NodeChildrenChanged, "/r/c"),
            ev(1, NodeDataChanged, "/r/c"),
            ev(1, NodeDeleted, "/r/c/d"),
        ]
    );
}

#[test]
fn last_registration_wins_per_table_quirk() {
    // Measured 3.8.0 quirk: persistent /w then a one-shot getData watch on /w from the same
    // connection: two sets give ONE NodeDataChanged, while child events keep coming; then
    // removeWatches data → NoWatcher, child → ok, any → NoWatcher.
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/w").unwrap();
    w.add_persistent_watch("/w", 1, false);
    w.add_data_watch("/w", 1);
    let mut got = Vec::new();
    for txn in [
        zk_store::Txn::SetData {
            path: "/w".into(),
            data: None,
            version: -1,
        },
        zk_store::Txn::SetData {
            path: "/w".into(),
            data: None,
            version: -1,
        },
        create_txn("/w/q"),
        zk_store::Txn::Delete {
            path: "/w/q".into(),
            version: -1,
        },
    ] {
        let tr = t.apply(txn).triggers;
        got.extend(fire(&mut w, &tr));
    }
    assert_eq!(
        got,
        vec![
            ev(1, NodeDataChanged, "/w"),
            ev(1, NodeChildrenChanged, "/w"),
            ev(1, NodeChildrenChanged, "/w")
        ]
    );
    assert_eq!(
        w.remove_watches("/w", WatcherKind::Data, 1),
        Err(ErrorCode::NoWatcher)
    );
    assert_eq!(w.check_watches("/w", WatcherKind::Children, 1), Ok(()));
    assert_eq!(w.remove_watches("/w", WatcherKind::Children, 1), Ok(()));
    assert_eq!(
        w.remove_watches("/w", WatcherKind::Any, 1),
        Err(ErrorCode::NoWatcher)
    );
}

#[test]
fn recursive_added_after_child_watch_swallows_it() {
    // Measured (close-session probe): child watch on /e then addWatch recursive /e from the
    // same connection: deleting children of /e gave NodeDeleted events but no
    // NodeChildrenChanged, because the child table's entry became recursive.
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/e").unwrap();
    t.session = 77;
    t.create_mode("/e/eph", zk_wire::CreateMode::Ephemeral)
        .unwrap();
    t.create_mode("/e/eph2", zk_wire::CreateMode::Ephemeral)
        .unwrap();
    w.add_data_watch("/e/eph", 2);
    w.add_child_watch("/e", 2);
    w.add_persistent_watch("/e", 2, true);
    let tr = t
        .apply(zk_store::Txn::CloseSession { session_id: 77 })
        .triggers;
    assert_eq!(
        fire(&mut w, &tr),
        vec![ev(2, NodeDeleted, "/e/eph"), ev(2, NodeDeleted, "/e/eph2")]
    );
}

#[test]
fn several_watchers_each_get_one_event_in_id_order() {
    let mut t = T::new();
    let mut w = WatchRegistry::new();
    t.create("/a").unwrap();
    for id in [5, 3, 9] {
        w.add_data_watch("/a", id);
    }
    w.add_persistent_watch("/", 4, true);
    let tr = t
        .apply(zk_store::Txn::SetData {
            path: "/a".into(),
            data: None,
            version: -1,
        })
        .triggers;
    let ids: Vec<u32> = fire(&mut w, &tr).into_iter().map(|e| e.0).collect();
    assert_eq!(ids, vec![3, 4, 5, 9]);
}

#[test]
fn remove_watcher_drops_everything() {
    let mut w: WatchRegistry<u32> = WatchRegistry::new();
    w.add_data_watch("/a", 1);
    w.add_child_watch("/b", 1);
    w.add_persistent_watch("/c", 1, true);
    w.add_data_watch("/a", 2);
    w.remove_watcher(1);
    assert_eq!(w.len(), 1);
    let got = fire(
        &mut w,
        &[Trigger {
            path: "/c/x".into(),
            event: NodeCreated,
        }],
    );
    assert!(
        got.is_empty(),
        "recursive watch of the gone watcher must not fire"
    );
    assert_eq!(w.check_watches("/a", WatcherKind::Data, 2), Ok(()));
    assert_eq!(
        w.remove_watches("/a", WatcherKind::Children, 2),
        Err(ErrorCode::NoWatcher)
    );
    assert_eq!(w.remove_watches("/a", WatcherKind::Any, 2), Ok(()));
    assert!(w.is_empty());
}

#[test]
fn watcher_kind_codes() {
    // Measured: checkWatches with type 4 is MarshallingError on 3.8.0 (only 1..3 exist).
    assert_eq!(WatcherKind::from_code(1), Some(WatcherKind::Children));
    assert_eq!(WatcherKind::from_code(2), Some(WatcherKind::Data));
    assert_eq!(WatcherKind::from_code(3), Some(WatcherKind::Any));
    assert_eq!(WatcherKind::from_code(4), None);
    assert_eq!(
        zk_store::WatchMode::from_add_watch_mode(1),
        Some(zk_store::WatchMode::PersistentRecursive)
    );
    assert_eq!(zk_store::WatchMode::from_add_watch_mode(2), None);
}

#[test]
fn set_watches_fires_or_registers() {
    // DataTree.setWatches: data watch on a missing node → NodeDeleted; mzxid > relZxid →
    // NodeDataChanged; exist watch on an existing node → NodeCreated; child watch missing →
    // NodeDeleted; pzxid > relZxid → NodeChildrenChanged; otherwise registered.
    let mut t = T::new();
    t.create("/same").unwrap(); // zxid 1
    t.create("/changed").unwrap(); // zxid 2
    t.create("/kids").unwrap(); // zxid 3
    let rel = t.zxid;
    t.set("/changed", b"x", -1).unwrap();
    t.create("/kids/k").unwrap();
    t.create("/appeared").unwrap();
    let mut w = WatchRegistry::new();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let events = w.set_watches(
        &t.tree,
        rel,
        &s(&["/gone", "/changed", "/same"]),
        &s(&["/appeared", "/notyet"]),
        &s(&["/gone2", "/kids", "/same"]),
        &s(&["/p"]),
        &s(&["/rec"]),
        7u32,
    );
    let got: Vec<(EventType, &str)> = events
        .iter()
        .map(|e| (e.event_type, e.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (NodeDeleted, "/gone"),
            (NodeDataChanged, "/changed"),
            (NodeCreated, "/appeared"),
            (NodeDeleted, "/gone2"),
            (NodeChildrenChanged, "/kids"),
        ]
    );
    assert_eq!(w.check_watches("/same", WatcherKind::Data, 7), Ok(()));
    assert_eq!(w.check_watches("/same", WatcherKind::Children, 7), Ok(()));
    assert_eq!(w.check_watches("/notyet", WatcherKind::Data, 7), Ok(()));
    assert_eq!(
        w.check_watches("/kids", WatcherKind::Any, 7),
        Err(ErrorCode::NoWatcher)
    );
    assert_eq!(w.check_watches("/p", WatcherKind::Children, 7), Ok(()));
    let tr = t.apply(create_txn("/rec")).triggers;
    let tr2 = t.apply(create_txn("/rec/x")).triggers;
    let mut got = fire(&mut w, &tr);
    got.extend(fire(&mut w, &tr2));
    assert_eq!(
        got,
        vec![ev(7, NodeCreated, "/rec"), ev(7, NodeCreated, "/rec/x")]
    );
}
