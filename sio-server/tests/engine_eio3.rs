//! Engine.IO v3 (`allow_eio3`) on the wire, against a scripted raw peer: length-prefixed
//! polling payloads, `b64=1`, the XHR2 binary format both ways, the reversed heartbeat, and
//! the v3 WebSocket binary frames.

mod support;

use std::time::Duration;

use futures_util::SinkExt;
use sio_server::EngineConfig;
use support::*;
use tokio_tungstenite::tungstenite::Message;

fn v3() -> EngineConfig {
    EngineConfig::default().allow_eio3(true)
}

async fn handshake_v3(addr: std::net::SocketAddr) -> String {
    let resp = get(addr, "EIO=3&transport=polling").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    let text = resp.text();
    let (len, open) = text.split_once(':').expect("length prefix");
    assert_eq!(len.parse::<usize>().unwrap(), open.encode_utf16().count());
    let json: serde_json::Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    assert!(json["pingInterval"].is_u64() && json["maxPayload"] == 1_000_000);
    json["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn v3_polling_payloads() {
    let server = echo_server(v3()).await;
    let sid = handshake_v3(server.addr).await;
    let q = format!("EIO=3&transport=polling&sid={sid}");
    let q64 = format!("{q}&b64=1");

    // Text, lengths in UTF-16 code units.
    let resp = post(server.addr, &q, "6:4hello2:4€".as_bytes()).await;
    assert_eq!(resp.text(), "ok");
    let resp = get(server.addr, &q).await;
    assert_eq!(resp.text(), "6:4hello2:4€");

    // Binary sent as base64 in a text payload; answered in the XHR2 format without b64...
    let resp = post(server.addr, &q, b"6:b4AQID").await;
    assert_eq!(resp.text(), "ok");
    let resp = get(server.addr, &q).await;
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(resp.body, [1, 4, 0xff, 4, 1, 2, 3]);

    // ... and as base64 with b64=1.
    let resp = post(server.addr, &q, b"6:b4AQID").await;
    assert_eq!(resp.text(), "ok");
    let resp = get(server.addr, &q64).await;
    assert_eq!(resp.text(), "6:b4AQID");

    // A POST in the XHR2 binary format: a string packet and a binary one.
    let mut body = vec![0, 6, 0xff];
    body.extend_from_slice(b"4hello");
    body.extend_from_slice(&[1, 5, 0xff, 4, 9, 8, 7, 6]);
    let resp = request(
        server.addr,
        "POST",
        &format!("/engine.io/?{q}"),
        &[("Content-Type", "application/octet-stream")],
        &body,
    )
    .await;
    assert_eq!(resp.status, 200);
    let resp = get(server.addr, &q).await;
    let mut expected = vec![0, 6, 0xff];
    expected.extend_from_slice(b"4hello");
    expected.extend_from_slice(&[1, 5, 0xff, 4, 9, 8, 7, 6]);
    assert_eq!(resp.body, expected);

    // The client pings, the server answers.
    let resp = post(server.addr, &q, b"1:2").await;
    assert_eq!(resp.text(), "ok");
    let resp = get(server.addr, &q).await;
    assert_eq!(resp.text(), "1:3");
}

#[tokio::test]
async fn v3_server_does_not_ping_and_times_out_without_client_pings() {
    let config = v3()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200));
    let server = echo_server(config).await;
    let sid = handshake_v3(server.addr).await;
    let q = format!("EIO=3&transport=polling&sid={sid}");
    // A GET waits: the server never pings in v3; after pingInterval + pingTimeout without a
    // client ping the session closes and the GET ends.
    let resp = get(server.addr, &q).await;
    assert!(!resp.text().contains(":2"), "{}", resp.text());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn v3_websocket_frames_and_upgrade() {
    let server = echo_server(v3()).await;
    let mut ws = ws_connect(server.addr, "EIO=3&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with("0{"));
    ws_send(&mut ws, "4hi").await;
    assert_eq!(ws_text(&mut ws).await, "4hi");
    // v3 binary frame: the type byte 4, then the data.
    ws.send(Message::binary(vec![4u8, 1, 2, 3])).await.unwrap();
    match ws_next(&mut ws).await {
        Some(Message::Binary(data)) => assert_eq!(&data[..], [4, 1, 2, 3]),
        other => panic!("expected a binary frame, got {other:?}"),
    }
    ws_send(&mut ws, "2").await;
    assert_eq!(ws_text(&mut ws).await, "3");

    // Upgrade from polling.
    let sid = handshake_v3(server.addr).await;
    let mut probe = ws_connect(server.addr, &format!("EIO=3&transport=websocket&sid={sid}")).await;
    ws_send(&mut probe, "2probe").await;
    assert_eq!(ws_text(&mut probe).await, "3probe");
    ws_send(&mut probe, "5").await;
    ws_send(&mut probe, "4upgraded").await;
    assert_eq!(ws_text(&mut probe).await, "4upgraded");
    // A v4 request for a v3 session is refused.
    let resp = get(server.addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(resp.status, 400);
}
