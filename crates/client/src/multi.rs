//! multi (atomic writes) and multiRead (independent reads): typed builders and per-op results.

use zk_wire::{
    CheckVersionRequest, DeleteRequest, GetChildrenRequest, GetDataRequest, MultiOp, MultiRequest,
    MultiResponse, MultiResult, SetDataRequest, Stat,
};

use crate::error::{Error, Result};
use crate::ops::{check_path, create_op, version, CreateOptions};

/// Adds a built op to a batch; a bad one is kept as the batch's error (the first wins) and
/// reported when the batch is sent, so builder chains stay infallible.
fn add(ops: &mut Vec<MultiOp>, error: &mut Option<Error>, op: Result<MultiOp>) {
    match op {
        Ok(op) => ops.push(op),
        Err(e) => {
            error.get_or_insert(e);
        }
    }
}

/// An atomic batch of writes and version checks, built op by op.
#[derive(Debug, Clone, Default)]
pub struct Multi {
    pub(crate) ops: Vec<MultiOp>,
    pub(crate) error: Option<Error>,
}

impl Multi {
    /// An empty batch.
    pub fn new() -> Multi {
        Multi::default()
    }

    fn push(mut self, op: Result<MultiOp>) -> Multi {
        add(&mut self.ops, &mut self.error, op);
        self
    }

    /// Creates a node.
    pub fn create(self, path: &str, data: &[u8], opts: &CreateOptions) -> Multi {
        let op = create_op(path, data, opts);
        self.push(op)
    }

    /// Deletes a node (`None`: any version).
    pub fn delete(self, path: &str, version_: Option<i32>) -> Multi {
        let op = check_path(path).map(|_| {
            MultiOp::Delete(DeleteRequest {
                path: path.into(),
                version: version(version_),
            })
        });
        self.push(op)
    }

    /// Sets a node's data (`None`: any version).
    pub fn set_data(self, path: &str, data: &[u8], version_: Option<i32>) -> Multi {
        let op = check_path(path).map(|_| {
            MultiOp::SetData(SetDataRequest {
                path: path.into(),
                data: Some(data.to_vec()),
                version: version(version_),
            })
        });
        self.push(op)
    }

    /// Requires a node's data version.
    pub fn check(self, path: &str, version_: i32) -> Multi {
        let op = check_path(path).map(|_| {
            MultiOp::Check(CheckVersionRequest {
                path: path.into(),
                version: version_,
            })
        });
        self.push(op)
    }

    /// The number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True with no ops.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The result of one op of a multi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// A create: the actual path (sequence suffix included) and, for create2-style ops, the stat.
    Create {
        /// The created path (chroot stripped).
        path: String,
        /// The new node's stat, if the server sent one.
        stat: Option<Stat>,
    },
    /// A delete.
    Delete,
    /// A setData, with the node's new stat.
    SetData {
        /// The node's stat after the change.
        stat: Stat,
    },
    /// A check passed.
    Check,
    /// The op would have succeeded but was rolled back because another failed (R7).
    RolledBack,
    /// The op failed, or was not tried (RuntimeInconsistency) because an earlier one failed.
    Error(Error),
}

/// A batch of reads answered independently (not atomically).
#[derive(Debug, Clone, Default)]
pub struct MultiRead {
    pub(crate) ops: Vec<MultiOp>,
    pub(crate) error: Option<Error>,
}

impl MultiRead {
    /// An empty batch.
    pub fn new() -> MultiRead {
        MultiRead::default()
    }

    fn push(mut self, op: Result<MultiOp>) -> MultiRead {
        add(&mut self.ops, &mut self.error, op);
        self
    }

    /// Reads a node's data and stat.
    pub fn get_data(self, path: &str) -> MultiRead {
        let op = check_path(path).map(|_| {
            MultiOp::GetData(GetDataRequest {
                path: path.into(),
                watch: false,
            })
        });
        self.push(op)
    }

    /// Lists a node's children.
    pub fn get_children(self, path: &str) -> MultiRead {
        let op = check_path(path).map(|_| {
            MultiOp::GetChildren(GetChildrenRequest {
                path: path.into(),
                watch: false,
            })
        });
        self.push(op)
    }

    /// The number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True with no ops.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The result of one read of a multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    /// getData: data (null reads as empty) and stat.
    Data {
        /// The data.
        data: Vec<u8>,
        /// The stat.
        stat: Stat,
    },
    /// getChildren: child names.
    Children(Vec<String>),
    /// This read failed.
    Error(Error),
}

pub(crate) fn op_results(resp: MultiResponse) -> Result<Vec<OpResult>> {
    let results: Vec<OpResult> = resp
        .results
        .into_iter()
        .map(|r| match r {
            MultiResult::Create(c) => OpResult::Create {
                path: c.path,
                stat: None,
            },
            MultiResult::Create2(c) => OpResult::Create {
                path: c.path,
                stat: Some(c.stat),
            },
            MultiResult::Delete => OpResult::Delete,
            MultiResult::SetData(s) => OpResult::SetData { stat: s.stat },
            MultiResult::Check => OpResult::Check,
            MultiResult::Error(e) if e.err == 0 => OpResult::RolledBack,
            MultiResult::Error(e) => OpResult::Error(Error::from_code(e.err)),
            MultiResult::GetData(_) | MultiResult::GetChildren(_) => {
                OpResult::Error(Error::Protocol("read result in a multi".into()))
            }
        })
        .collect();
    let failed = results.iter().enumerate().find_map(|(i, r)| match r {
        OpResult::Error(e) => Some((i, e.clone())),
        _ => None,
    });
    match failed {
        Some((index, error)) => Err(Error::MultiFailed {
            index,
            error: Box::new(error),
            results,
        }),
        None => Ok(results),
    }
}

pub(crate) fn read_results(resp: MultiResponse) -> Vec<ReadResult> {
    resp.results
        .into_iter()
        .map(|r| match r {
            MultiResult::GetData(d) => ReadResult::Data {
                data: d.data.unwrap_or_default(),
                stat: d.stat,
            },
            MultiResult::GetChildren(c) => ReadResult::Children(c.children),
            MultiResult::Error(e) => ReadResult::Error(Error::from_code(e.err)),
            _ => ReadResult::Error(Error::Protocol("write result in a multiRead".into())),
        })
        .collect()
}

pub(crate) fn request(ops: Vec<MultiOp>) -> MultiRequest {
    MultiRequest { ops }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_wire::ErrorResponse;

    /// R7: a failed multi names the failing op and keeps every op's result.
    #[test]
    fn failed_multi_names_the_failing_op() {
        let resp = MultiResponse {
            results: vec![
                MultiResult::Error(ErrorResponse { err: 0 }),
                MultiResult::Error(ErrorResponse { err: -101 }),
                MultiResult::Error(ErrorResponse { err: -2 }),
            ],
        };
        let Err(Error::MultiFailed {
            index,
            error,
            results,
        }) = op_results(resp)
        else {
            panic!("expected MultiFailed");
        };
        assert_eq!(index, 1);
        assert_eq!(*error, Error::NoNode);
        assert_eq!(results[0], OpResult::RolledBack);
        assert_eq!(results[2], OpResult::Error(Error::RuntimeInconsistency));
    }

    #[test]
    fn builder_keeps_the_first_argument_error() {
        let m = Multi::new().delete("bad", None).check("/a", 1);
        assert_eq!(m.len(), 1);
        assert!(matches!(m.error, Some(Error::BadArguments(_))));
    }
}
