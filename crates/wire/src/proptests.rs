//! Round-trip properties for every record and both message enums: encode → decode gives the
//! value back and consumes every byte, so what we send is exactly what ZooKeeper's jute reads.

use crate::*;
use proptest::prelude::*;

fn round_trip<R: Record + PartialEq + std::fmt::Debug>(v: &R) -> Result<(), TestCaseError> {
    let bytes = v.to_bytes();
    let mut r = Reader::new(&bytes);
    let back = R::decode(&mut r).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(r.remaining(), 0, "decode left bytes unread");
    prop_assert_eq!(&back, v);
    // Re-encoding the decoded value is byte-exact.
    prop_assert_eq!(back.to_bytes(), bytes);
    Ok(())
}

macro_rules! record_round_trips {
    ($($name:ident: $t:ty = $s:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(v in $s) { round_trip::<$t>(&v)?; }
            )*
        }
    };
}

record_round_trips! {
    id_round_trips: Id = crate::arb::id();
    acl_round_trips: Acl = crate::arb::acl();
    stat_round_trips: Stat = crate::arb::stat();
    watcher_event_round_trips: WatcherEvent = WatcherEvent::arb();
    connect_request_round_trips: ConnectRequest = ConnectRequest::arb();
    connect_response_round_trips: ConnectResponse = ConnectResponse::arb();
    request_header_round_trips: RequestHeader = RequestHeader::arb();
    reply_header_round_trips: ReplyHeader = ReplyHeader::arb();
    error_response_round_trips: ErrorResponse = ErrorResponse::arb();
    create_request_round_trips: CreateRequest = CreateRequest::arb();
    create_ttl_request_round_trips: CreateTtlRequest = CreateTtlRequest::arb();
    create_response_round_trips: CreateResponse = CreateResponse::arb();
    create2_response_round_trips: Create2Response = Create2Response::arb();
    delete_request_round_trips: DeleteRequest = DeleteRequest::arb();
    delete_container_request_round_trips: DeleteContainerRequest = DeleteContainerRequest::arb();
    exists_request_round_trips: ExistsRequest = ExistsRequest::arb();
    exists_response_round_trips: ExistsResponse = ExistsResponse::arb();
    get_data_request_round_trips: GetDataRequest = GetDataRequest::arb();
    get_data_response_round_trips: GetDataResponse = GetDataResponse::arb();
    set_data_request_round_trips: SetDataRequest = SetDataRequest::arb();
    set_data_response_round_trips: SetDataResponse = SetDataResponse::arb();
    check_version_request_round_trips: CheckVersionRequest = CheckVersionRequest::arb();
    get_acl_request_round_trips: GetAclRequest = GetAclRequest::arb();
    get_acl_response_round_trips: GetAclResponse = GetAclResponse::arb();
    set_acl_request_round_trips: SetAclRequest = SetAclRequest::arb();
    set_acl_response_round_trips: SetAclResponse = SetAclResponse::arb();
    get_children_request_round_trips: GetChildrenRequest = GetChildrenRequest::arb();
    get_children_response_round_trips: GetChildrenResponse = GetChildrenResponse::arb();
    get_children2_response_round_trips: GetChildren2Response = GetChildren2Response::arb();
    get_all_children_number_request_round_trips: GetAllChildrenNumberRequest = GetAllChildrenNumberRequest::arb();
    get_all_children_number_response_round_trips: GetAllChildrenNumberResponse = GetAllChildrenNumberResponse::arb();
    sync_request_round_trips: SyncRequest = SyncRequest::arb();
    sync_response_round_trips: SyncResponse = SyncResponse::arb();
    reconfig_request_round_trips: ReconfigRequest = ReconfigRequest::arb();
    get_ephemerals_request_round_trips: GetEphemeralsRequest = GetEphemeralsRequest::arb();
    get_ephemerals_response_round_trips: GetEphemeralsResponse = GetEphemeralsResponse::arb();
    client_info_round_trips: ClientInfo = ClientInfo::arb();
    who_am_i_response_round_trips: WhoAmIResponse = WhoAmIResponse::arb();
    auth_packet_round_trips: AuthPacket = AuthPacket::arb();
    get_sasl_request_round_trips: GetSaslRequest = GetSaslRequest::arb();
    set_sasl_response_round_trips: SetSaslResponse = SetSaslResponse::arb();
    set_watches_round_trips: SetWatches = SetWatches::arb();
    set_watches2_round_trips: SetWatches2 = SetWatches2::arb();
    add_watch_request_round_trips: AddWatchRequest = AddWatchRequest::arb();
    check_watches_request_round_trips: CheckWatchesRequest = CheckWatchesRequest::arb();
    remove_watches_request_round_trips: RemoveWatchesRequest = RemoveWatchesRequest::arb();
    multi_request_round_trips: MultiRequest = MultiRequest::arb();
    multi_response_round_trips: MultiResponse = MultiResponse::arb();
}

proptest! {
    /// MultiHeader's boolean round-trips only as 0/1, as Java writes it; values are exact.
    #[test]
    fn multi_header_round_trips(v in MultiHeader::arb()) { round_trip(&v)?; }

    /// Every request, framed with its header, decodes back to itself and re-encodes exactly.
    #[test]
    fn request_enum_round_trips(req in Request::arb(), xid in any::<i32>()) {
        let mut buf = Vec::new();
        write_frame(&mut buf, |o| req.encode_with_header(xid, o));
        let frame = FrameDecoder::new(usize::MAX >> 1).decode(&buf).unwrap().unwrap();
        prop_assert_eq!(frame.consumed, buf.len());
        let (h, back) = Request::decode_frame(frame.body).unwrap();
        prop_assert_eq!(h, RequestHeader::new(xid, req.opcode()));
        prop_assert_eq!(&back, &req);
        prop_assert_eq!(back.to_bytes(), req.to_bytes());
    }

    /// Every response body decodes back to itself given its opcode.
    #[test]
    fn response_enum_round_trips(rsp in Response::arb()) {
        let bytes = rsp.to_bytes();
        let back = Response::decode(rsp.opcode(), &bytes).unwrap();
        prop_assert_eq!(&back, &rsp);
        prop_assert_eq!(back.to_bytes(), bytes);
        let h = ReplyHeader { xid: 1, zxid: 2, err: 0 };
        prop_assert_eq!(Response::decode_reply(rsp.opcode(), &h, &rsp.to_bytes()), Ok(Some(rsp)));
    }

    /// Arbitrary bytes as any request or response never panic, and what decodes re-encodes to
    /// something that decodes to the same value.
    #[test]
    fn arbitrary_bytes_never_panic(op in any::<i32>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let h = RequestHeader { xid: 1, op_type: op };
        if let Ok(req) = Request::decode(&h, &body) {
            prop_assert_eq!(Request::decode(&h, &req.to_bytes()), Ok(req));
        }
        if let Some(op) = OpCode::from_code(op) {
            if let Ok(rsp) = Response::decode(op, &body) {
                prop_assert_eq!(Response::decode(op, &rsp.to_bytes()), Ok(rsp));
            }
        }
        let _ = ConnectRequest::from_bytes(&body);
        let _ = ConnectResponse::from_bytes(&body);
        let _ = FrameDecoder::default().decode(&body);
    }
}
