//! delete(2) and deleteContainer(20).

use crate::field::record;
use crate::jute::{DecodeError, Reader, Record};

record! {
    /// delete(2); the reply has no body.
    pub struct DeleteRequest {
        /// The node to delete.
        pub path: String => ustring,
        /// Expected data version, or -1 for any.
        pub version: i32 => int,
    }
}

/// deleteContainer(20). ZooKeeper only issues it internally (ContainerManager), and its body is
/// the bare UTF-8 path with no length prefix (`PrepRequestProcessor` reads the whole buffer as
/// the path), so that is what this decodes. The reply has no body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeleteContainerRequest {
    /// The container to delete.
    pub path: String,
}

impl Record for DeleteContainerRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.path.as_bytes());
    }

    /// Consumes the rest of the body: the path has no length of its own.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let raw = r.read_rest();
        let path = std::str::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8)?;
        Ok(DeleteContainerRequest {
            path: path.to_owned(),
        })
    }
}

#[cfg(test)]
impl DeleteContainerRequest {
    pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::strategy::Strategy;
        crate::field::strat::string()
            .prop_map(|path| DeleteContainerRequest { path })
            .boxed()
    }
}
