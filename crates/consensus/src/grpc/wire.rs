//! openraft's messages and errors inside the protobuf envelopes, postcard both ways.

use openraft::error::RaftError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::Status;

use crate::grpc::pb;
use crate::grpc::pb::raft_reply::Result as ReplyResult;
use crate::types::TypeConfig;

/// Encodes with postcard.
pub(crate) fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(v)
}

/// Decodes a request payload; garbage is the caller's fault (INVALID_ARGUMENT).
pub(crate) fn decode_request<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Status> {
    postcard::from_bytes(bytes)
        .map_err(|e| Status::invalid_argument(format!("undecodable {what}: {e}")))
}

/// The reply to a Raft RPC handled by the local Raft (openraft 0.10's RPCs refuse only by
/// having stopped: no API error travels).
pub(crate) fn reply<T: Serialize>(
    res: Result<T, RaftError<TypeConfig>>,
) -> Result<pb::RaftReply, Status> {
    let result = match res {
        Ok(v) => ReplyResult::Ok(encode(&v).map_err(internal)?),
        Err(e) => ReplyResult::RaftError(encode(&e).map_err(internal)?),
    };
    Ok(pb::RaftReply {
        result: Some(result),
    })
}

fn internal(e: postcard::Error) -> Status {
    Status::internal(format!("cannot encode the reply: {e}"))
}

/// A reply that does not decode as what the RPC returns.
#[derive(Debug, thiserror::Error)]
#[error("bad reply from peer: {0}")]
pub(crate) struct BadReply(String);

/// The client's view of a reply: the response, or the remote Raft's refusal.
pub(crate) fn parse_reply<T: DeserializeOwned>(
    reply: pb::RaftReply,
) -> Result<Result<T, RaftError<TypeConfig>>, BadReply> {
    let bad = |e: postcard::Error| BadReply(e.to_string());
    match reply.result {
        Some(ReplyResult::Ok(bytes)) => postcard::from_bytes(&bytes).map(Ok).map_err(bad),
        Some(ReplyResult::RaftError(bytes)) => postcard::from_bytes(&bytes).map(Err).map_err(bad),
        None => Err(BadReply("empty reply".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use openraft::error::Fatal;

    use super::*;

    #[test]
    fn replies_round_trip() {
        let ok: Result<u64, RaftError<TypeConfig>> = Ok(7);
        let back: Result<u64, RaftError<TypeConfig>> = parse_reply(reply(ok).unwrap()).unwrap();
        assert_eq!(back, Ok(7));

        let stopped: Result<u64, RaftError<TypeConfig>> = Err(RaftError::Fatal(Fatal::Stopped));
        let back: Result<u64, RaftError<TypeConfig>> =
            parse_reply(reply(stopped).unwrap()).unwrap();
        assert_eq!(back, Err(RaftError::Fatal(Fatal::Stopped)));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let r = pb::RaftReply {
            result: Some(ReplyResult::Ok(vec![0xff; 3])),
        };
        assert!(parse_reply::<String>(r).is_err());
        assert!(parse_reply::<u64>(pb::RaftReply { result: None }).is_err());
        assert_eq!(
            decode_request::<String>("x", &[0xff]).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }
}
