//! sio-redis' decoders (notepack.io msgpack, JSON, the classic adapter's broadcasts, requests
//! and responses, the ClusterAdapter message): arbitrary payloads never panic; a decoded msgpack
//! value re-encodes and decodes to the same value; every decoded message encodes again.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_redis::format::classic::{Broadcast, Request, RequestType, Response};
use sio_redis::format::cluster::ClusterMessage;
use sio_redis::format::{decode_payload, msgpack};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let payload = Bytes::copy_from_slice(rest);
    if let Ok(value) = msgpack::decode(&payload) {
        let again = msgpack::encode(&value).expect("a decoded value encodes");
        assert_eq!(msgpack::decode(&Bytes::from(again)).expect("own encoding decodes"), value);
    }
    let _ = decode_payload(&payload);
    if let Ok(message) = Broadcast::decode(&payload) {
        message.encode().expect("a decoded broadcast encodes");
    }
    if let Ok(request) = Request::decode(&payload) {
        request.encode().expect("a decoded request encodes");
    }
    let kinds = [
        RequestType::Sockets,
        RequestType::AllRooms,
        RequestType::RemoteJoin,
        RequestType::RemoteFetch,
        RequestType::ServerSideEmit,
        RequestType::Broadcast,
    ];
    let kind = kinds[usize::from(selector) % kinds.len()];
    if let Ok(Some(response)) = Response::decode(&payload, |_| Some(kind)) {
        response.encode().expect("a decoded response encodes");
    }
    if let Ok(message) = ClusterMessage::decode(&payload) {
        message.encode().expect("a decoded message encodes");
    }
});
