//! Sequential naming (R6) and the path validation table of `PathUtils.validatePath`, with the
//! per-op answers measured on ZooKeeper 3.8.0.

mod common;

use common::*;
use zk_store::path::{path_error, validate_path};
use zk_wire::{CreateMode, ErrorCode};

#[test]
fn r6_suffix_counts_creations_and_ignores_deletions() {
    // Measured sequence: a→0, b→1, plain create, delete two, c→3; cversion 3, 5, 6.
    let mut t = T::new();
    t.create("/seq").unwrap();
    let a = t
        .create_mode("/seq/a", CreateMode::PersistentSequential)
        .unwrap();
    let b = t
        .create_mode("/seq/b", CreateMode::EphemeralSequential)
        .unwrap();
    assert_eq!(a, "/seq/a0000000000");
    assert_eq!(b, "/seq/b0000000001");
    t.create("/seq/plain").unwrap();
    assert_eq!(t.stat("/seq").cversion, 3);
    t.delete(&a, -1).unwrap();
    t.delete("/seq/plain", -1).unwrap();
    assert_eq!(t.stat("/seq").cversion, 5);
    let c = t
        .create_mode("/seq/c", CreateMode::PersistentSequential)
        .unwrap();
    assert_eq!(c, "/seq/c0000000003");
    assert_eq!(t.stat("/seq").cversion, 6);
    // A trailing slash is fine once the suffix is appended (measured: /seq/0000000004).
    assert_eq!(
        t.create_mode("/seq/", CreateMode::PersistentSequential)
            .unwrap(),
        "/seq/0000000004"
    );
}

#[test]
fn r6_first_sequential_child_of_root_is_zero() {
    // Measured on a fresh server: /s- → /s-0000000000 although / shows cversion -1.
    let mut t = T::new();
    assert_eq!(
        t.create_mode("/s-", CreateMode::PersistentSequential)
            .unwrap(),
        "/s-0000000000"
    );
}

#[test]
fn sequential_makes_dot_names_valid() {
    // Measured: "/." and "/p/.." are BadArguments, but sequential gives "/.0000000000".
    let mut t = T::new();
    assert_eq!(t.create("/."), Err(ErrorCode::BadArguments));
    assert_eq!(
        t.create_mode("/.", CreateMode::PersistentSequential)
            .unwrap(),
        "/.0000000000"
    );
    t.create("/p").unwrap();
    assert_eq!(t.create("/p/.."), Err(ErrorCode::BadArguments));
    assert_eq!(
        t.create_mode("/p/..", CreateMode::PersistentSequential)
            .unwrap(),
        "/p/..0000000000"
    );
}

#[test]
fn sequential_suffix_is_ten_digits() {
    let mut t = T::new();
    t.create("/q").unwrap();
    for i in 0..12 {
        let p = t
            .create_mode("/q/n", CreateMode::PersistentSequential)
            .unwrap();
        assert_eq!(p, format!("/q/n{i:010}"));
    }
}

#[test]
fn validate_path_table() {
    let ok = [
        "/",
        "/a",
        "/a/b",
        "/..a",
        "/a..",
        "/...",
        "/.b",
        "/a/.b",
        "/x\u{e9}",
        "/\u{d7ff}",
        "/\u{ffef}",
        "/zookeeper",
        "/a b",
        "/a:b",
    ];
    for p in ok {
        assert_eq!(validate_path(p), Ok(()), "{p:?} should be valid");
    }
    let bad = [
        "",
        "a",
        "a/b",
        "/a/",
        "//",
        "//a",
        "/a//b",
        "/.",
        "/..",
        "/a/.",
        "/a/..",
        "/a/./b",
        "/a/../b",
        "/a\0b",
        "/\u{1}",
        "/\u{1f}",
        "/\u{7f}",
        "/\u{9f}",
        "/\u{e000}",
        "/\u{f8ff}",
        "/\u{fff0}",
        "/\u{fffe}",
        "/\u{ffff}",
        "/\u{1f600}",
    ];
    for p in bad {
        assert_eq!(
            validate_path(p),
            Err(ErrorCode::BadArguments),
            "{p:?} should be invalid"
        );
        assert!(path_error(p).is_some());
    }
}

#[test]
fn measured_create_answers_for_odd_paths() {
    // Measured with raw requests on 3.8.0 (/p2 existing).
    let mut t = T::new();
    t.create("/p2").unwrap();
    let cases: &[(&str, Result<&str, ErrorCode>)] = &[
        ("a", Err(ErrorCode::BadArguments)),
        ("/p2/", Err(ErrorCode::BadArguments)),
        ("//p2x", Err(ErrorCode::BadArguments)),
        ("/p2//b", Err(ErrorCode::NoNode)),
        ("/p2/../b", Err(ErrorCode::NoNode)),
        ("/p2/.", Err(ErrorCode::BadArguments)),
        ("/p2/\u{f8ff}", Err(ErrorCode::BadArguments)),
        ("/p2/\u{e000}", Err(ErrorCode::BadArguments)),
        ("/p2/\u{fff0}", Err(ErrorCode::BadArguments)),
        ("/p2/\u{fffe}", Err(ErrorCode::BadArguments)),
        ("/p2/.b", Ok("/p2/.b")),
        ("/p2/..b", Ok("/p2/..b")),
        ("/p2/x\u{e9}", Ok("/p2/x\u{e9}")),
        ("/p2/\u{d7ff}", Ok("/p2/\u{d7ff}")),
        ("/p2/\u{ffef}", Ok("/p2/\u{ffef}")),
    ];
    for (p, want) in cases {
        let got = t.create(p);
        assert_eq!(got.as_deref().map_err(|e| *e), *want, "{p:?}");
    }
}
