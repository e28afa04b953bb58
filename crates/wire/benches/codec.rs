//! Codec cost of the hot ops with 100-byte values: decode + encode of the request and response
//! bodies of getData, setData and create, as a connection handler runs them per request.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use zk_wire::{
    Acl, Create2Response, CreateRequest, GetDataRequest, GetDataResponse, OpCode, Request,
    RequestHeader, Response, SetDataRequest, SetDataResponse, Stat,
};

fn stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0042,
        mzxid: 0x1_0000_0099,
        ctime: 1_795_546_977_942,
        mtime: 1_795_546_977_950,
        version: 7,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 100,
        num_children: 0,
        pzxid: 0x1_0000_0042,
    }
}

fn bench_request(c: &mut Criterion, name: &str, req: Request) {
    let body = req.to_bytes();
    let header = RequestHeader::new(1, req.opcode());
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("request decode+encode", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            let r = Request::decode(&header, black_box(&body)).expect("valid");
            out.clear();
            r.encode(&mut out);
            black_box(&out);
        })
    });
    g.finish();
}

fn bench_response(c: &mut Criterion, name: &str, op: OpCode, rsp: Response) {
    let body = rsp.to_bytes();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("response decode+encode", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            let r = Response::decode(op, black_box(&body)).expect("valid");
            out.clear();
            r.encode(&mut out);
            black_box(&out);
        })
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    let path = "/app/config/service-0000000042".to_string();
    let value = vec![0xa5u8; 100];

    bench_request(
        c,
        "getData",
        Request::GetData(GetDataRequest {
            path: path.clone(),
            watch: true,
        }),
    );
    bench_response(
        c,
        "getData",
        OpCode::GetData,
        Response::GetData(GetDataResponse {
            data: Some(value.clone()),
            stat: stat(),
        }),
    );
    bench_request(
        c,
        "setData",
        Request::SetData(SetDataRequest {
            path: path.clone(),
            data: Some(value.clone()),
            version: -1,
        }),
    );
    bench_response(
        c,
        "setData",
        OpCode::SetData,
        Response::SetData(SetDataResponse { stat: stat() }),
    );
    bench_request(
        c,
        "create",
        Request::Create2(CreateRequest {
            path: path.clone(),
            data: Some(value),
            acl: Acl::open_unsafe(),
            flags: 0,
        }),
    );
    bench_response(
        c,
        "create",
        OpCode::Create2,
        Response::Create2(Create2Response { path, stat: stat() }),
    );
}

criterion_group!(benches, codec);
criterion_main!(benches);
