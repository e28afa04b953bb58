//! Deterministic `apply`: each op validated in PrepRequestProcessor's order, then applied with
//! DataTree's effects and watch triggers. A failed op changes nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use zk_wire::{perms, Acl, CreateMode, ErrorCode, EventType};

use crate::acl;
use crate::node::{Node, NodeKind, StoredStat};
use crate::path;
use crate::tree::DataTree;
use crate::txn::{Applied, OpResult, Trigger, Txn, TxnContext};

/// Largest TTL (`EphemeralType.TTL.maxValue()`, 2^40 - 1 ms); measured: 0, -1 and 2^40 are
/// BadArguments.
pub const MAX_TTL_MS: i64 = (1 << 40) - 1;

/// How to undo one applied op of a multi.
pub(crate) enum Undo {
    Created {
        path: Box<str>,
        parent_stat: StoredStat,
    },
    Deleted {
        path: Box<str>,
        node: Node,
        acl: Arc<[Acl]>,
        parent_stat: StoredStat,
    },
    DataSet {
        path: Box<str>,
        data: Option<Box<[u8]>>,
        stat: StoredStat,
    },
    AclSet {
        path: Box<str>,
        acl: Arc<[Acl]>,
        stat: StoredStat,
    },
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn trigger(triggers: &mut Vec<Trigger>, path: &str, event: EventType) {
    triggers.push(Trigger {
        path: path.to_owned(),
        event,
    });
}

impl DataTree {
    /// Applies one txn. Equal trees and equal txns give equal trees, results and triggers.
    pub fn apply(&mut self, ctx: &TxnContext<'_>, txn: &Txn) -> Applied {
        // Failed txns consume their zxid too, as ZooKeeper's error txns do.
        self.last_zxid = self.last_zxid.max(ctx.zxid);
        if let Txn::Multi(ops) = txn {
            return self.apply_multi(ctx, ops);
        }
        let mut triggers = Vec::new();
        match self.apply_op(ctx, txn, &mut triggers, None) {
            Ok(r) => Applied {
                result: Ok(r),
                triggers,
            },
            Err(e) => Applied::err(e),
        }
    }

    /// One op; pushes its triggers and, inside a multi, its undo record.
    pub(crate) fn apply_op(
        &mut self,
        ctx: &TxnContext<'_>,
        txn: &Txn,
        triggers: &mut Vec<Trigger>,
        undo: Option<&mut Vec<Undo>>,
    ) -> Result<OpResult, ErrorCode> {
        match txn {
            Txn::Create {
                path,
                data,
                acl,
                mode,
                ttl,
            } => self.create(ctx, path, data.as_deref(), acl, *mode, *ttl, triggers, undo),
            Txn::Delete { path, version } => {
                let parent = path::parent_for_delete(path)?;
                let pnode = self.node(parent).ok_or(ErrorCode::NoNode)?;
                acl::require(self.acl_of(pnode), perms::DELETE, ctx.auth)?;
                let node = self.node(path).ok_or(ErrorCode::NoNode)?;
                check_version(node.stat.version, *version)?;
                if !node.children.is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.delete_node(path, ctx.zxid, triggers, undo);
                Ok(OpResult::Deleted)
            }
            Txn::SetData {
                path,
                data,
                version,
            } => {
                path::validate_path(path)?;
                let node = self.node(path).ok_or(ErrorCode::NoNode)?;
                acl::require(self.acl_of(node), perms::WRITE, ctx.auth)?;
                let new_version = check_version(node.stat.version, *version)?;
                let node = self.node_mut(path).ok_or(ErrorCode::NoNode)?;
                let old_data =
                    std::mem::replace(&mut node.data, data.as_deref().map(Box::<[u8]>::from));
                let old_stat = node.stat;
                node.stat.version = new_version;
                node.stat.mtime = ctx.time_ms;
                node.stat.mzxid = ctx.zxid;
                let stat = node.stat();
                if let Some(u) = undo {
                    u.push(Undo::DataSet {
                        path: path.as_str().into(),
                        data: old_data,
                        stat: old_stat,
                    });
                }
                trigger(triggers, path, EventType::NodeDataChanged);
                Ok(OpResult::DataSet(stat))
            }
            Txn::SetAcl { path, acl, version } => {
                path::validate_path(path)?;
                let fixed = acl::fixup_acl(acl, ctx.auth)?;
                let node = self.node(path).ok_or(ErrorCode::NoNode)?;
                acl::require(self.acl_of(node), perms::ADMIN, ctx.auth)?;
                let new_version = check_version(node.stat.aversion, *version)?;
                let old_id = node.acl;
                let old_stat = node.stat;
                let old_acl = self.acls.get(old_id).clone();
                let new_id = self.acls.intern(&fixed);
                self.acls.release(old_id);
                let node = self.node_mut(path).ok_or(ErrorCode::NoNode)?;
                node.acl = new_id;
                node.stat.aversion = new_version;
                let stat = node.stat();
                if let Some(u) = undo {
                    u.push(Undo::AclSet {
                        path: path.as_str().into(),
                        acl: old_acl,
                        stat: old_stat,
                    });
                }
                Ok(OpResult::AclSet(stat))
            }
            Txn::Check { path, version } => {
                path::validate_path(path)?;
                let node = self.node(path).ok_or(ErrorCode::NoNode)?;
                acl::require(self.acl_of(node), perms::READ, ctx.auth)?;
                check_version(node.stat.version, *version)?;
                Ok(OpResult::Checked)
            }
            Txn::CloseSession { session_id } => {
                Ok(self.close_sessions(ctx, std::slice::from_ref(session_id), triggers))
            }
            Txn::ExpireSessions(ids) => Ok(self.close_sessions(ctx, ids, triggers)),
            Txn::DeleteContainer { path } => {
                path::parent_for_delete(path)?;
                let node = self.node(path).ok_or(ErrorCode::NoNode)?;
                if !node.children.is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                // Stricter than ZooKeeper (which would delete any non-ephemeral node here): the
                // cleaner's reasons must still hold when the txn is applied.
                let due = match node.kind {
                    NodeKind::Container => node.stat.cversion > 0,
                    NodeKind::Ttl(ttl) => ctx.time_ms.saturating_sub(node.stat.mtime) > ttl,
                    _ => false,
                };
                if !due {
                    return Err(ErrorCode::BadVersion);
                }
                self.delete_node(path, ctx.zxid, triggers, undo);
                Ok(OpResult::Deleted)
            }
            Txn::Multi(_) => Err(ErrorCode::MarshallingError),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        ctx: &TxnContext<'_>,
        req_path: &str,
        data: Option<&[u8]>,
        req_acl: &[Acl],
        mode: CreateMode,
        ttl: Option<i64>,
        triggers: &mut Vec<Trigger>,
        undo: Option<&mut Vec<Undo>>,
    ) -> Result<OpResult, ErrorCode> {
        // validateCreateRequest
        if mode.is_ttl() && !self.config.ttl_enabled {
            return Err(ErrorCode::Unimplemented);
        }
        if mode.is_ttl() {
            if !ttl.is_some_and(|t| (1..=MAX_TTL_MS).contains(&t)) {
                return Err(ErrorCode::BadArguments);
            }
        } else if ttl.is_some_and(|t| t >= 0) {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = path::parent_for_create(req_path)?;
        let fixed = acl::fixup_acl(req_acl, ctx.auth)?;
        let parent = self.node(parent_path).ok_or(ErrorCode::NoNode)?;
        acl::require(self.acl_of(parent), perms::CREATE, ctx.auth)?;
        let full: String = if mode.is_sequential() {
            // R6: the suffix is the parent's count of children ever created.
            format!("{req_path}{:010}", parent.stat.cversion)
        } else {
            req_path.to_owned()
        };
        path::validate_path(&full)?;
        if self.nodes.contains_key(full.as_str()) {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(parent.kind, NodeKind::Ephemeral(_)) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let kind = match mode {
            CreateMode::Container => NodeKind::Container,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl => {
                NodeKind::Ttl(ttl.unwrap_or(MAX_TTL_MS))
            }
            // ZooKeeper stores owner 0 for a session-less ephemeral: a plain node.
            CreateMode::Ephemeral | CreateMode::EphemeralSequential if ctx.session_id != 0 => {
                NodeKind::Ephemeral(ctx.session_id)
            }
            _ => NodeKind::Persistent,
        };
        let acl_id = self.acls.intern(&fixed);
        let parent_key = path::parent_of(&full);
        let parent = self.node_mut(parent_key).ok_or(ErrorCode::NoNode)?;
        let parent_stat = parent.stat;
        parent.stat.cversion = parent.stat.cversion.wrapping_add(1);
        parent.stat.pzxid = ctx.zxid;
        let node = Node {
            data: data.map(Box::<[u8]>::from),
            stat: StoredStat::new(ctx.zxid, ctx.time_ms),
            acl: acl_id,
            kind,
            children: BTreeSet::new(),
        };
        let stat = node.stat();
        self.insert_node(&full, node);
        trigger(triggers, &full, EventType::NodeCreated);
        trigger(triggers, parent_key, EventType::NodeChildrenChanged);
        if let Some(u) = undo {
            u.push(Undo::Created {
                path: full.as_str().into(),
                parent_stat,
            });
        }
        Ok(OpResult::Created { path: full, stat })
    }

    /// `DataTree.deleteNode` on an existing node: parent pzxid, ACL release, triggers.
    fn delete_node(
        &mut self,
        p: &str,
        zxid: i64,
        triggers: &mut Vec<Trigger>,
        undo: Option<&mut Vec<Undo>>,
    ) {
        let Some(node) = self.remove_node(p) else {
            return;
        };
        let acl = self.acls.get(node.acl).clone();
        self.acls.release(node.acl);
        let parent_key = path::parent_of(p);
        let mut parent_stat = StoredStat::default();
        if let Some(parent) = self.cow_mut(parent_key) {
            parent_stat = parent.stat;
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        }
        trigger(triggers, p, EventType::NodeDeleted);
        trigger(triggers, parent_key, EventType::NodeChildrenChanged);
        if let Some(u) = undo {
            u.push(Undo::Deleted {
                path: p.into(),
                node,
                acl,
                parent_stat,
            });
        }
    }

    /// `killSession` for each session in order: its ephemerals go in path order (any order is
    /// valid since ephemerals have no children; a fixed one keeps replicas equal).
    fn close_sessions(
        &mut self,
        ctx: &TxnContext<'_>,
        sessions: &[i64],
        triggers: &mut Vec<Trigger>,
    ) -> OpResult {
        let mut deleted = Vec::new();
        for s in sessions {
            let Some(paths) = self.ephemerals.remove(s) else {
                continue;
            };
            for p in paths {
                self.delete_node(&p, ctx.zxid, triggers, None);
                deleted.push(p.into_string());
            }
        }
        OpResult::SessionsClosed(deleted)
    }

    /// Reverts applied ops, newest first.
    pub(crate) fn rollback(&mut self, undo: Vec<Undo>) {
        for u in undo.into_iter().rev() {
            match u {
                Undo::Created { path, parent_stat } => {
                    if let Some(node) = self.remove_node(&path) {
                        self.acls.release(node.acl);
                    }
                    if let Some(parent) = self.cow_mut(path::parent_of(&path)) {
                        parent.stat = parent_stat;
                    }
                }
                Undo::Deleted {
                    path,
                    mut node,
                    acl,
                    parent_stat,
                } => {
                    // The old ACL slot may have been freed and reused meanwhile: intern again.
                    node.acl = self.acls.intern_arc(acl);
                    self.insert_node(&path, node);
                    if let Some(parent) = self.cow_mut(path::parent_of(&path)) {
                        parent.stat = parent_stat;
                    }
                }
                Undo::DataSet { path, data, stat } => {
                    if let Some(n) = self.cow_mut(&path) {
                        n.data = data;
                        n.stat = stat;
                    }
                }
                Undo::AclSet { path, acl, stat } => {
                    let id = self.acls.intern_arc(acl);
                    if let Some(n) = self.cow_mut(&path) {
                        let cur = std::mem::replace(&mut n.acl, id);
                        n.stat = stat;
                        self.acls.release(cur);
                    }
                }
            }
        }
    }
}
