//! The engine.io options with their JavaScript defaults: `allowRequest`, `cookie`,
//! `httpCompression`, `perMessageDeflate` (unsupported), `initialPacket`, and the `Origin`
//! header check.

use sio_test_support::engine as support;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sio_server::{AllowRequest, Cookie, EngineConfig, HttpCompression, Message, PerMessageDeflate};
use support::*;

fn upgrade_request(query: &str, extra: &str) -> String {
    format!(
        "GET /engine.io/?{query} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: DXR4dX615eRds8nRmlhqtw==\r\n{extra}\r\n"
    )
}

/// Reads the head of a `101` (the connection stays open, so `raw` cannot be used).
async fn upgrade_head(addr: std::net::SocketAddr, request: &str) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::time::timeout(WAIT, async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before the head");
            buf.extend_from_slice(&chunk[..n]);
        }
        parse(&buf)
    })
    .await
    .expect("head in time")
}

#[tokio::test]
async fn allow_request_refuses_handshakes_only() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let hook = AllowRequest::new(move |head| {
        counter.fetch_add(1, Ordering::SeqCst);
        let token = head
            .headers
            .get("x-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let has_addr = head.extensions.get::<std::net::SocketAddr>().is_some();
        async move {
            tokio::task::yield_now().await;
            assert!(has_addr);
            match token.as_deref() {
                Some("good") => Ok(()),
                Some("empty") => Err(String::new()),
                _ => Err("bad \"token\"".to_owned()),
            }
        }
    });
    let server = echo_server(EngineConfig::default().allow_request(hook)).await;
    let q = "/engine.io/?EIO=4&transport=polling";

    let resp = request(server.addr, "GET", q, &[], b"").await;
    assert_eq!(resp.status, 403);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.text(), r#"{"code":4,"message":"bad \"token\""}"#);
    let resp = request(server.addr, "GET", q, &[("x-token", "empty")], b"").await;
    assert_eq!(resp.text(), r#"{"code":4,"message":"Forbidden"}"#);

    // On the WebSocket handshake: engine.io's abortUpgrade (400, the message as text/html).
    let req = upgrade_request("EIO=4&transport=websocket", "");
    let resp = raw(server.addr, req.as_bytes()).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("content-type"), Some("text/html"));
    assert_eq!(resp.text(), r#"bad "token""#);
    assert_eq!(server.engine.session_count(), 0);

    let resp = request(server.addr, "GET", q, &[("x-token", "good")], b"").await;
    assert_eq!(resp.status, 200);
    let text = resp.text();
    let open: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // Requests of an open session are not asked about.
    let resp = post(
        server.addr,
        &format!("EIO=4&transport=polling&sid={sid}"),
        b"4x",
    )
    .await;
    assert_eq!(resp.status, 200);
    let resp = get(server.addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(resp.text(), "4x");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn cookie_on_the_handshake_only() {
    // Off by default.
    let server = echo_server(EngineConfig::default()).await;
    let resp = get(server.addr, "EIO=4&transport=polling").await;
    assert!(resp.header("set-cookie").is_none());

    let server = echo_server(EngineConfig::default().cookie(Cookie::default())).await;
    let resp = get(server.addr, "EIO=4&transport=polling").await;
    let text = resp.text();
    let open: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap();
    assert_eq!(
        resp.header("set-cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax").as_str())
    );
    let resp = post(
        server.addr,
        &format!("EIO=4&transport=polling&sid={sid}"),
        b"4x",
    )
    .await;
    assert!(resp.header("set-cookie").is_none());
    let resp = get(server.addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert!(resp.header("set-cookie").is_none());

    // The 101 of a WebSocket handshake carries it; the 101 of an upgrade does not.
    let server =
        echo_server(EngineConfig::default().cookie(Cookie::default().name("sticky"))).await;
    let head = upgrade_head(
        server.addr,
        &upgrade_request("EIO=4&transport=websocket", ""),
    )
    .await;
    assert_eq!(head.status, 101);
    let cookie = head.header("set-cookie").unwrap();
    assert!(cookie.starts_with("sticky=") && cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"));
    let (sid, _) = handshake(server.addr).await;
    let query = format!("EIO=4&transport=websocket&sid={sid}");
    let head = upgrade_head(server.addr, &upgrade_request(&query, "")).await;
    assert_eq!(head.status, 101);
    assert!(head.header("set-cookie").is_none());
}

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn http_compression_of_polling_responses() {
    let big = format!("4{}", "a".repeat(2000));
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");

    // At least 1024 bytes and gzip accepted: compressed.
    post(
        server.addr,
        &format!("EIO=4&transport=polling&sid={sid}"),
        big.as_bytes(),
    )
    .await;
    let resp = request(
        server.addr,
        "GET",
        &target,
        &[("Accept-Encoding", "gzip, deflate")],
        b"",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    assert!(resp.body.len() < 200);
    assert_eq!(gunzip(&resp.body), big);

    // deflate is zlib data, as Node's createDeflate writes it.
    post(
        server.addr,
        &format!("EIO=4&transport=polling&sid={sid}"),
        big.as_bytes(),
    )
    .await;
    let resp = request(
        server.addr,
        "GET",
        &target,
        &[("Accept-Encoding", "deflate")],
        b"",
    )
    .await;
    assert_eq!(resp.header("content-encoding"), Some("deflate"));
    let mut out = String::new();
    flate2::read::ZlibDecoder::new(&resp.body[..])
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, big);

    // Not accepted, or under the threshold: as is.
    post(
        server.addr,
        &format!("EIO=4&transport=polling&sid={sid}"),
        big.as_bytes(),
    )
    .await;
    let resp = request(server.addr, "GET", &target, &[], b"").await;
    assert!(resp.header("content-encoding").is_none());
    assert_eq!(resp.text(), big);
    post(
        server.addr,
        &format!("EIO=4&transport=polling&sid={sid}"),
        b"4small",
    )
    .await;
    let resp = request(
        server.addr,
        "GET",
        &target,
        &[("Accept-Encoding", "gzip")],
        b"",
    )
    .await;
    assert!(resp.header("content-encoding").is_none());
    assert_eq!(resp.text(), "4small");

    // Off, or another threshold.
    for (config, compressed) in [
        (EngineConfig::default().http_compression(None), false),
        (
            EngineConfig::default().http_compression(HttpCompression::default().threshold(4000)),
            false,
        ),
        (
            EngineConfig::default().http_compression(HttpCompression::default().threshold(10)),
            true,
        ),
    ] {
        let server = echo_server(config).await;
        let (sid, _) = handshake(server.addr).await;
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        post(
            server.addr,
            &format!("EIO=4&transport=polling&sid={sid}"),
            big.as_bytes(),
        )
        .await;
        let resp = request(
            server.addr,
            "GET",
            &target,
            &[("Accept-Encoding", "gzip")],
            b"",
        )
        .await;
        assert_eq!(resp.header("content-encoding").is_some(), compressed);
    }
}

#[tokio::test]
async fn per_message_deflate_negotiation_on_the_handshake() {
    // Off by default: an offer is ignored.
    assert_eq!(EngineConfig::default().per_message_deflate, None);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let off = echo_server(EngineConfig::default()).await;
    let head = upgrade_head(
        off.addr,
        &upgrade_request("EIO=4&transport=websocket", offer),
    )
    .await;
    assert_eq!(head.status, 101);
    assert!(head.header("sec-websocket-extensions").is_none());

    let config = EngineConfig::default().per_message_deflate(PerMessageDeflate::default());
    let on = echo_server(config).await;
    let head = upgrade_head(
        on.addr,
        &upgrade_request("EIO=4&transport=websocket", offer),
    )
    .await;
    assert_eq!(head.status, 101);
    assert_eq!(
        head.header("sec-websocket-extensions"),
        Some("permessage-deflate; server_no_context_takeover")
    );
    // An offer the server cannot honour (a 10-bit window for its messages): no extension.
    let narrow = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n";
    let head = upgrade_head(
        on.addr,
        &upgrade_request("EIO=4&transport=websocket", narrow),
    )
    .await;
    assert_eq!(head.status, 101);
    assert!(head.header("sec-websocket-extensions").is_none());
    // An invalid header refuses the handshake, as `ws` does.
    let bad = "Sec-WebSocket-Extensions: permessage-deflate; foo=1\r\n";
    let head = upgrade_head(on.addr, &upgrade_request("EIO=4&transport=websocket", bad)).await;
    assert_eq!(head.status, 400);
}

#[tokio::test]
async fn initial_packet_follows_the_open_packet() {
    let config = EngineConfig::default().initial_packet(Message::Text("welcome".into()));
    let server = echo_server(config).await;
    let resp = get(server.addr, "EIO=4&transport=polling").await;
    let text = resp.text();
    let (open, rest) = text.split_once('\x1e').expect("two packets");
    assert!(open.starts_with("0{"), "{text}");
    assert_eq!(rest, "4welcome");

    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with("0{"));
    assert_eq!(ws_text(&mut ws).await, "4welcome");
}

#[tokio::test]
async fn invalid_origin_characters_are_refused() {
    let server = echo_server(EngineConfig::default()).await;
    // hyper's parser refuses these bytes before the engine sees them (engine.io refuses them
    // with 400 code 3): either way a 400 and the server carries on.
    let req = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://a\x01b\r\nConnection: close\r\n\r\n";
    let resp = raw(server.addr, req).await;
    assert_eq!(resp.status, 400);
    // Bytes 0x80-0xff are allowed, as in engine.io.
    let req = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://\xc3\xa9.example\r\nConnection: close\r\n\r\n";
    let resp = raw(server.addr, req).await;
    assert_eq!(resp.status, 200);
    let (_sid, _) = handshake(server.addr).await;
}
