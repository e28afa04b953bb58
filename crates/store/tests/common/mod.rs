//! Helpers shared by the integration tests: a tree with a zxid/time counter.
#![allow(dead_code)]

use zk_store::{Applied, DataTree, OpResult, TreeConfig, Txn, TxnContext};
use zk_wire::{Acl, CreateMode, ErrorCode, Id, Stat};

/// A tree plus the next zxid; txn time is `1000 * zxid` unless set.
pub struct T {
    pub tree: DataTree,
    pub zxid: i64,
    pub time: Option<i64>,
    pub session: i64,
    pub ids: Vec<Id>,
}

impl T {
    pub fn new() -> Self {
        T::with(TreeConfig::default())
    }

    pub fn ttl() -> Self {
        T::with(TreeConfig { ttl_enabled: true })
    }

    pub fn with(config: TreeConfig) -> Self {
        T {
            tree: DataTree::new(config),
            zxid: 0,
            time: None,
            session: 0x100,
            ids: vec![Id::new("ip", "127.0.0.1")],
        }
    }

    pub fn apply(&mut self, txn: Txn) -> Applied {
        self.zxid += 1;
        let time = self.time.unwrap_or(self.zxid * 1000);
        let ids = self.ids.clone();
        let ctx = TxnContext {
            zxid: self.zxid,
            time_ms: time,
            session_id: self.session,
            auth: &ids,
        };
        self.tree.apply(&ctx, &txn)
    }

    pub fn create_full(
        &mut self,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        mode: CreateMode,
        ttl: Option<i64>,
    ) -> Result<(String, Stat), ErrorCode> {
        match self
            .apply(Txn::Create {
                path: path.into(),
                data: Some(data.to_vec()),
                acl,
                mode,
                ttl,
            })
            .result?
        {
            OpResult::Created { path, stat } => Ok((path, stat)),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn create_mode(&mut self, path: &str, mode: CreateMode) -> Result<String, ErrorCode> {
        self.create_full(path, b"", Acl::open_unsafe(), mode, None)
            .map(|r| r.0)
    }

    pub fn create(&mut self, path: &str) -> Result<String, ErrorCode> {
        self.create_mode(path, CreateMode::Persistent)
    }

    pub fn create_acl(&mut self, path: &str, acl: Vec<Acl>) -> Result<String, ErrorCode> {
        self.create_full(path, b"", acl, CreateMode::Persistent, None)
            .map(|r| r.0)
    }

    pub fn delete(&mut self, path: &str, version: i32) -> Result<(), ErrorCode> {
        self.apply(Txn::Delete {
            path: path.into(),
            version,
        })
        .result
        .map(|_| ())
    }

    pub fn set(&mut self, path: &str, data: &[u8], version: i32) -> Result<Stat, ErrorCode> {
        match self
            .apply(Txn::SetData {
                path: path.into(),
                data: Some(data.to_vec()),
                version,
            })
            .result?
        {
            OpResult::DataSet(s) => Ok(s),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn set_acl(&mut self, path: &str, acl: Vec<Acl>, version: i32) -> Result<Stat, ErrorCode> {
        match self
            .apply(Txn::SetAcl {
                path: path.into(),
                acl,
                version,
            })
            .result?
        {
            OpResult::AclSet(s) => Ok(s),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn stat(&self, path: &str) -> Stat {
        self.tree.stat(path).expect("node exists")
    }

    pub fn children(&self, path: &str) -> Vec<String> {
        self.tree
            .get_children(path, &[])
            .expect("children")
            .0
            .into_iter()
            .map(String::from)
            .collect()
    }
}

pub fn create_txn(path: &str) -> Txn {
    Txn::Create {
        path: path.into(),
        data: Some(Vec::new()),
        acl: Acl::open_unsafe(),
        mode: CreateMode::Persistent,
        ttl: None,
    }
}

pub fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id::new(scheme, id),
    }
}
