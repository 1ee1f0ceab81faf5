//! Engine.IO v3 (`allow_eio3`) on the wire, against a scripted raw peer: length-prefixed
//! polling payloads, `b64=1`, the XHR2 binary format both ways, the reversed heartbeat, and
//! the v3 WebSocket binary frames.

use sio_test_support::engine as support;

use std::time::Duration;

use futures_util::SinkExt;
use sio_server::EngineConfig;
use support::*;
use tokio_tungstenite::tungstenite::Message;

fn v3() -> EngineConfig {
    EngineConfig::default().allow_eio3(true)
}

async fn handshake_v3(addr: std::net::SocketAddr) -> String {
    handshake_v3_with(addr, "").await
}

/// A handshake with extra query parameters (`&b64=1`).
async fn handshake_v3_with(addr: std::net::SocketAddr, extra: &str) -> String {
    let resp = get(addr, &format!("EIO=3&transport=polling{extra}")).await;
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

    // (The v3 suite's case: text and binary in one XHR2 payload.)
    let resp = post(server.addr, &q, b"6:4hello10:b4AQIDBA==").await;
    assert_eq!(resp.text(), "ok");
    let resp = get(server.addr, &q).await;
    assert_eq!(
        resp.body,
        [
            0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4
        ]
    );

    // ... and as base64 for a session whose handshake had b64=1 (engine.io reads the flag
    // once, when it creates the polling transport: later requests need not repeat it).
    let sid64 = handshake_v3_with(server.addr, "&b64=1").await;
    let q64 = format!("EIO=3&transport=polling&sid={sid64}");
    let resp = post(server.addr, &q64, b"6:4hello10:b4AQIDBA==").await;
    assert_eq!(resp.text(), "ok");
    let resp = get(server.addr, &q64).await;
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(resp.text(), "6:4hello10:b4AQIDBA==");

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
    until(|| server.engine.session_count() == 0).await;
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

/// The remaining cases of the official Engine.IO v3 test suite
/// (`docs/engine.io-protocol/v3-test-suite`), against the suite's server settings.
#[tokio::test]
async fn v3_suite_cases() {
    let config = v3()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200));
    let server = echo_server(config).await;
    let addr = server.addr;

    // Handshake errors.
    assert_eq!(get(addr, "EIO=3").await.status, 400);
    assert_eq!(get(addr, "EIO=3&transport=abc").await.status, 400);
    assert_eq!(post(addr, "EIO=3&transport=polling", b"").await.status, 400);

    // Several packets; an invalid payload closes the session.
    let sid = handshake_v3_with(addr, "&b64=1").await;
    let q = format!("EIO=3&transport=polling&sid={sid}");
    let resp = post(addr, &q, b"6:4test16:4test26:4test3").await;
    assert_eq!(resp.text(), "ok");
    assert_eq!(get(addr, &q).await.text(), "6:4test16:4test26:4test3");
    // engine.io answers the POST "ok" and closes the session (the suite accepts any answer).
    let resp = post(addr, &q, b"abc").await;
    assert_eq!(resp.status, 200);
    until(|| server.engine.session_count() == 0).await;
    assert_eq!(get(addr, &q).await.status, 400);

    // Ping/pong three times, then a ping timeout.
    let sid = handshake_v3_with(addr, "&b64=1").await;
    let q = format!("EIO=3&transport=polling&sid={sid}");
    for _ in 0..3 {
        assert_eq!(post(addr, &q, b"1:2").await.status, 200);
        assert_eq!(get(addr, &q).await.text(), "1:3");
    }
    let sid = handshake_v3_with(addr, "&b64=1").await;
    // Past pingInterval + pingTimeout, this session and the one above are gone.
    until(|| server.engine.session_count() == 0).await;
    let q = format!("EIO=3&transport=polling&sid={sid}");
    assert_eq!(post(addr, &q, b"1:2").await.status, 400);

    // (A close packet ending the pending GET: the test below.)

    // WebSocket: ping/pong, invalid packet, close packet.
    let mut ws = ws_connect(addr, "EIO=3&transport=websocket").await;
    let open = ws_text(&mut ws).await;
    let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    assert_eq!(open["upgrades"], serde_json::json!([]));
    for _ in 0..3 {
        ws_send(&mut ws, "2").await;
        assert_eq!(ws_text(&mut ws).await, "3");
    }
    ws_send(&mut ws, "abc").await;
    ws_closed(&mut ws).await;
    let mut ws = ws_connect(addr, "EIO=3&transport=websocket").await;
    ws_text(&mut ws).await;
    ws_send(&mut ws, "1").await;
    ws_closed(&mut ws).await;
    // Without pings, a v3 WebSocket session times out.
    let mut ws = ws_connect(addr, "EIO=3&transport=websocket").await;
    ws_text(&mut ws).await;
    ws_closed(&mut ws).await;

    // Upgrade: the GET during the probe ends with a noop; polling is refused afterwards.
    let sid = handshake_v3_with(addr, "&b64=1").await;
    let q = format!("EIO=3&transport=polling&sid={sid}");
    let mut probe = ws_connect(addr, &format!("EIO=3&transport=websocket&sid={sid}")).await;
    ws_send(&mut probe, "2probe").await;
    assert_eq!(ws_text(&mut probe).await, "3probe");
    assert_eq!(get(addr, &q).await.text(), "1:6");
    ws_send(&mut probe, "5").await;
    ws_send(&mut probe, "4hello").await;
    assert_eq!(ws_text(&mut probe).await, "4hello");
    assert_eq!(get(addr, &q).await.status, 400);
}

/// The case of the v3 suite above where a close packet from the client ends the pending GET
/// with a noop; in process (no socket) on tokio's paused clock, so that a sleep returns once
/// the GET waits in its session.
#[tokio::test(start_paused = true)]
async fn v3_close_packet_ends_the_pending_get_with_a_noop() {
    let config = v3()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200));
    let engine = sio_server::EngineIo::new(config);
    spawn_echo(&engine);
    let (status, body) = call(&engine, "GET", "EIO=3&transport=polling&b64=1", "").await;
    assert_eq!(status, 200, "{body}");
    let start = body.find("\"sid\":\"").unwrap() + 7;
    let sid = &body[start..start + 20];
    let q = format!("EIO=3&transport=polling&sid={sid}");
    let poll = tokio::spawn({
        let (engine, q) = (engine.clone(), q.clone());
        async move { call(&engine, "GET", &q, "").await }
    });
    // virtual time: returns once the GET waits in its session (before the heartbeat's end).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(call(&engine, "POST", &q, "1:1").await.0, 200);
    assert_eq!(poll.await.unwrap(), (200, "1:6".to_owned()));
    assert_eq!(call(&engine, "GET", &q, "").await.0, 400);
}
