//! socket.io's `compress` flag: recorded for adapters; polling responses are compressed as a
//! whole by the engine's `http_compression`, whatever the flag (see
//! `BroadcastOperator::compress`).

use sio_test_support::engine as support;

use std::io::Read;
use std::net::SocketAddr;

use sio_server::{EngineConfig, SocketIo, SocketIoConfig};
use support::{Resp, request};

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut out)
        .unwrap();
    out
}

async fn poll(addr: SocketAddr, sid: &str) -> Resp {
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let resp = request(addr, "GET", &target, &[("Accept-Encoding", "gzip")], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp
}

/// A polling client joined to `/`; returns its engine id.
async fn join(addr: SocketAddr) -> String {
    let resp = request(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"").await;
    let open: serde_json::Value = serde_json::from_str(&resp.text()[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let resp = request(addr, "POST", &target, &[], b"40").await;
    assert_eq!(resp.text(), "ok");
    let reply = poll(addr, &sid).await.text();
    assert!(reply.starts_with(r#"40{"sid":""#), "{reply}");
    sid
}

#[tokio::test]
async fn the_flag_is_recorded_for_adapters() {
    let io = SocketIo::new(SocketIoConfig::default());
    let ns = io.of("/");
    assert_eq!(ns.to("r").options().flags.compress, None);
    let op = ns.to("r").compress(false);
    assert_eq!(op.options().flags.compress, Some(false));
    assert_eq!(op.compress(true).options().flags.compress, Some(true));
}

#[tokio::test]
async fn polling_responses_are_compressed_as_a_whole_whatever_the_flag() {
    let io = SocketIo::new(SocketIoConfig::default());
    io.of("/").on_connection(|_| async move {});
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let sid = join(addr).await;
    let big = "x".repeat(3000);

    // compress(false): still gzip (engine.io would not compress a response made only of
    // `compress: false` packets).
    io.of("/")
        .broadcast()
        .compress(false)
        .emit("big", &big)
        .await
        .unwrap();
    let resp = poll(addr, &sid).await;
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&resp.body), format!(r#"42["big","{big}"]"#));

    // With `http_compression` off, nothing is compressed: the way to send plain responses.
    let engine = EngineConfig::default()
        .path("/socket.io/")
        .http_compression(None);
    let plain = SocketIo::new(SocketIoConfig::default().engine(engine));
    plain.of("/").on_connection(|_| async move {});
    let handle = plain.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let sid = join(addr).await;
    plain
        .of("/")
        .broadcast()
        .compress(true)
        .emit("big", &big)
        .await
        .unwrap();
    let resp = poll(addr, &sid).await;
    assert_eq!(resp.header("content-encoding"), None);
    assert_eq!(resp.text(), format!(r#"42["big","{big}"]"#));
}
