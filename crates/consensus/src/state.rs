//! The replicated state and the rules that change it: apply one [`Command`], get its
//! [`Outcome`]. Pure: no lock, no storage, no runtime, no clock (time comes in the command),
//! so every ZooKeeper rule it follows is unit-tested on a bare value (`state/tests.rs`), and
//! every replica applying the same log holds the same state.
//!
//! The Raft adapter (`state_machine`) only feeds it entries under the shared-state lock and
//! publishes what each command did.

use std::collections::BTreeSet;

use crate::types::LogId;
use crate::types::StoredMembership;
use zk_session::ClusterSecret;
use zk_session::SessionId;
use zk_session::SessionTable;
use zk_store::Applied;
use zk_store::DataTree;
use zk_store::TreeConfig;
use zk_store::Txn;
use zk_store::TxnContext;
use zk_wire::ErrorCode;

use crate::command::Command;
use crate::command::CommandOp;
use crate::command::Outcome;
use crate::membership;

#[cfg(test)]
mod tests;

/// The replicated state, as every node holds it.
#[derive(Debug, Clone)]
pub struct State {
    /// The data tree.
    pub tree: DataTree,
    /// Live sessions and their negotiated timeouts.
    pub sessions: SessionTable,
    /// The cluster secret, once the bootstrap `SetSecret` is applied.
    pub secret: Option<ClusterSecret>,
    /// The last applied entry (any kind).
    pub last_applied: Option<LogId>,
    /// The zxid of the last applied command (0 before any). Every command of every entry
    /// takes the next one, so zxids count commands, contiguously, as ZooKeeper's counter does;
    /// blank and membership entries take none.
    pub last_zxid: i64,
    /// The last applied membership config.
    pub last_membership: StoredMembership,
    /// Sessions imported from Apache ZooKeeper (`zk-admin import-zookeeper`), whose
    /// password is the one ZooKeeper derived from the id; each leaves the set when it ends.
    pub zookeeper_sessions: BTreeSet<i64>,
}

impl State {
    /// A fresh state: a new tree, no sessions, no secret, nothing applied.
    pub fn new(config: TreeConfig) -> Self {
        State {
            tree: DataTree::new(config),
            sessions: SessionTable::new(),
            secret: None,
            last_applied: None,
            last_zxid: 0,
            last_membership: StoredMembership::default(),
            zookeeper_sessions: BTreeSet::new(),
        }
    }

    /// The zxid of the last applied command (0 before any).
    pub fn applied_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Where the state stands: the last applied entry's index and command's zxid.
    pub fn applied_point(&self) -> AppliedPoint {
        AppliedPoint {
            index: self.last_applied.map_or(0, |l| l.index),
            zxid: self.last_zxid,
        }
    }

    /// Applies `cmd` as the next command: it takes the next zxid, which is returned with
    /// what it did. Never fails: a refused command is an outcome (and still uses its zxid,
    /// as a failed write does in ZooKeeper).
    pub fn apply(&mut self, cmd: &Command) -> (i64, Outcome) {
        self.last_zxid = self.last_zxid.saturating_add(1);
        let zxid = self.last_zxid;
        (zxid, self.apply_command(zxid, cmd))
    }

    fn apply_command(&mut self, zxid: i64, cmd: &Command) -> Outcome {
        match &cmd.op {
            CommandOp::CreateSession { timeout_ms } => {
                // A zxid names exactly one command forever, on every node: an id made from it
                // is unique and identical everywhere without coordination.
                let Ok(id) = SessionId::from_raw(zxid) else {
                    return Outcome::Rejected(ErrorCode::BadArguments);
                };
                let owner = cmd.origin.map_or(
                    zk_session::Owner { node: 0, token: 0 },
                    crate::command::Origin::owner,
                );
                match self.sessions.create(id, *timeout_ms, owner) {
                    Ok(()) => Outcome::SessionCreated {
                        session_id: id,
                        timeout_ms: *timeout_ms,
                    },
                    // Unreachable with unique log indexes; an outcome, not a crash.
                    Err(_) => Outcome::Rejected(ErrorCode::SystemError),
                }
            }
            CommandOp::CloseSession { session_id, owner } => {
                let Ok(id) = SessionId::from_raw(*session_id) else {
                    return Outcome::Rejected(ErrorCode::BadArguments);
                };
                if let Err(code) = self.check_owner(id, *owner) {
                    return Outcome::Rejected(code);
                }
                let ids = self.sessions.close(id).map(|_| id).into_iter().collect();
                self.zookeeper_sessions.remove(session_id);
                // Runs even if the session was already gone: it owns no ephemerals then, and
                // the tree stays the single judge of what to delete.
                let ctx = TxnContext {
                    zxid,
                    time_ms: cmd.time_ms,
                    session_id: *session_id,
                    auth: &[],
                };
                let applied = self.tree.apply(
                    &ctx,
                    &Txn::CloseSession {
                        session_id: *session_id,
                    },
                );
                Outcome::SessionsClosed { ids, applied }
            }
            CommandOp::ExpireSessions { ids } => {
                let valid: Vec<SessionId> = ids
                    .iter()
                    .filter_map(|&raw| SessionId::from_raw(raw).ok())
                    .collect();
                let removed = valid
                    .iter()
                    .copied()
                    .filter(|&id| self.sessions.close(id).is_some())
                    .collect();
                let raw: Vec<i64> = valid.iter().map(|id| id.get()).collect();
                for id in &raw {
                    self.zookeeper_sessions.remove(id);
                }
                let ctx = TxnContext::system(zxid, cmd.time_ms);
                let applied = self.tree.apply(&ctx, &Txn::ExpireSessions(raw));
                Outcome::SessionsClosed {
                    ids: removed,
                    applied,
                }
            }
            CommandOp::Write {
                session_id,
                owner,
                auth,
                txn,
            } => Outcome::Txn(self.apply_write(zxid, cmd.time_ms, *session_id, *owner, auth, txn)),
            CommandOp::ClaimSession { session_id } => {
                let (Ok(id), Some(origin)) = (SessionId::from_raw(*session_id), cmd.origin) else {
                    return Outcome::Rejected(ErrorCode::BadArguments);
                };
                let owner = origin.owner();
                if self.sessions.claim(id, owner) {
                    Outcome::SessionClaimed {
                        session_id: id,
                        owner,
                    }
                } else {
                    Outcome::Rejected(ErrorCode::SessionExpired)
                }
            }
            CommandOp::SetSecret { secret } => {
                if self.secret.is_some() {
                    Outcome::SecretAlreadySet
                } else {
                    self.secret = Some(secret.clone());
                    Outcome::SecretSet
                }
            }
            CommandOp::Noop => Outcome::Noop,
            CommandOp::Reconfig {
                session_id,
                owner,
                auth,
                spec,
                cur_config_id,
            } => self.judge_reconfig(*session_id, *owner, auth, spec, *cur_config_id),
            CommandOp::ReconfigDone { error: Some(code) } => Outcome::Rejected(*code),
            CommandOp::ReconfigDone { error: None } => self.write_config(zxid, cmd.time_ms, true),
            CommandOp::SyncConfig => self.write_config(zxid, cmd.time_ms, false),
        }
    }

    /// The members of the applied membership (participants and observers) with their
    /// records; `None` while a change is under way (joint).
    pub fn members(&self) -> Option<std::collections::BTreeMap<u64, String>> {
        membership::uniform_members(self.last_membership.membership())
    }

    /// `/zookeeper/config`'s text for the applied membership at `version`; `None` while a
    /// change is under way or for a lone member (nothing to show).
    pub fn rendered_config(&self, version: i64) -> Option<String> {
        self.members().and_then(|m| membership::render(&m, version))
    }

    /// True if `/zookeeper/config` shows other members than the applied membership has.
    pub fn config_stale(&self) -> bool {
        let Some(text) = self.rendered_config(0) else {
            return false;
        };
        let held = String::from_utf8_lossy(self.tree.config_data());
        membership::members_part(&text) != membership::members_part(&held)
    }

    /// ZooKeeper's checks of a reconfig, in PrepRequestProcessor's order as far as they
    /// depend on the replicated state (the leader checks the quorum when it carries it out).
    fn judge_reconfig(
        &self,
        session_id: i64,
        owner: Option<zk_session::Owner>,
        auth: &[zk_wire::Id],
        spec: &membership::ReconfigSpec,
        cur_config_id: i64,
    ) -> Outcome {
        let Ok(id) = SessionId::from_raw(session_id) else {
            return Outcome::Rejected(ErrorCode::BadArguments);
        };
        if !self.sessions.contains(id) {
            return Outcome::Rejected(ErrorCode::SessionExpired);
        }
        if let Err(code) = self.check_owner(id, owner) {
            return Outcome::Rejected(code);
        }
        let Some(current) = self.members() else {
            return Outcome::Rejected(ErrorCode::ReconfigInProgress);
        };
        if cur_config_id != -1 && cur_config_id != self.tree.config_version() {
            return Outcome::Rejected(ErrorCode::BadVersion);
        }
        let members = match membership::target(&current, spec) {
            Ok(m) => m,
            Err((code, _why)) => return Outcome::Rejected(code),
        };
        if let Err(code) = self
            .tree
            .check_perm(zk_store::path::CONFIG, zk_wire::perms::WRITE, auth)
        {
            return Outcome::Rejected(code);
        }
        Outcome::ReconfigStarted { members }
    }

    /// Writes `/zookeeper/config` from the applied membership at `zxid` (its new version):
    /// always for a finished reconfig (ZooKeeper's reconfig txn always sets it), only when the
    /// members differ for a sync.
    fn write_config(&mut self, zxid: i64, time_ms: i64, always: bool) -> Outcome {
        let Some(text) = self.rendered_config(zxid) else {
            return Outcome::Rejected(ErrorCode::ReconfigInProgress);
        };
        if !always && !self.config_stale() {
            return Outcome::Noop;
        }
        Outcome::Txn(self.tree.set_config(zxid, time_ms, text.as_bytes()))
    }

    /// SessionMoved if `owner` is given and another connection owns the live session `id`
    /// (ZooKeeper's `checkSession(id, owner)`); a gone session is left to the caller.
    fn check_owner(
        &self,
        id: SessionId,
        owner: Option<zk_session::Owner>,
    ) -> Result<(), ErrorCode> {
        match (owner, self.sessions.owner(id)) {
            (Some(mine), Some(current)) if mine != current => Err(ErrorCode::SessionMoved),
            _ => Ok(()),
        }
    }

    /// A client (or system) write: the session must be live and owned by the writer's
    /// connection; session txns are not writes.
    fn apply_write(
        &mut self,
        zxid: i64,
        time_ms: i64,
        session_id: i64,
        owner: Option<zk_session::Owner>,
        auth: &[zk_wire::Id],
        txn: &Txn,
    ) -> Applied {
        let refuse = |code| Applied {
            result: Err(code),
            triggers: Vec::new(),
        };
        // Close/expire must go through their own ops, which keep the session table in step.
        if matches!(txn, Txn::CloseSession { .. } | Txn::ExpireSessions(_)) {
            return refuse(ErrorCode::BadArguments);
        }
        match SessionId::from_raw(session_id) {
            // Session 0 is the system: only the cleaner's DeleteContainer.
            Err(_) if !matches!(txn, Txn::DeleteContainer { .. }) => {
                return refuse(ErrorCode::BadArguments)
            }
            Err(_) => {}
            Ok(id) if !self.sessions.contains(id) => return refuse(ErrorCode::SessionExpired),
            Ok(id) => {
                if let Err(code) = self.check_owner(id, owner) {
                    return refuse(code);
                }
            }
        }
        let ctx = TxnContext {
            zxid,
            time_ms,
            session_id,
            auth,
        };
        self.tree.apply(&ctx, txn)
    }
}

/// How far the state has been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppliedPoint {
    /// The last applied entry's log index (every command in it applied).
    pub index: u64,
    /// The last applied command's zxid.
    pub zxid: i64,
}
