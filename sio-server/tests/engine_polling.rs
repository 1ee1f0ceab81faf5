//! Engine.IO over HTTP long-polling against a scripted raw peer.

use sio_test_support::engine as support;

use std::time::Duration;

use sio_server::EngineConfig;
use support::*;

fn fast() -> EngineConfig {
    EngineConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
}

#[tokio::test]
async fn polling_handshake() {
    let server = echo_server(EngineConfig::default()).await;
    let resp = get(server.addr, "EIO=4&transport=polling").await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert!(resp.header("access-control-allow-origin").is_none());
    let text = resp.text();
    assert!(text.starts_with("0{\"sid\":\""), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
    assert_eq!(json["sid"].as_str().unwrap().len(), 20);
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(json["pingInterval"], 25000);
    assert_eq!(json["pingTimeout"], 20000);
    assert_eq!(json["maxPayload"], 1_000_000);
    assert_eq!(server.engine.session_count(), 1);
}

#[tokio::test]
async fn error_responses() {
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "GET",
            "transport=polling".into(),
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "EIO=abc&transport=polling".into(),
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "EIO=3&transport=polling".into(),
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "EIO=4".into(),
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=abc".into(),
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=__proto__".into(),
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=polling&sid=nope".into(),
            400,
            r#"{"code":1,"message":"Session ID unknown"}"#,
        ),
        (
            "POST",
            "EIO=4&transport=polling".into(),
            400,
            r#"{"code":2,"message":"Bad handshake method"}"#,
        ),
        (
            "PUT",
            "EIO=4&transport=polling".into(),
            400,
            r#"{"code":2,"message":"Bad handshake method"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=websocket".into(),
            400,
            r#"{"code":3,"message":"Bad request"}"#,
        ),
        (
            "GET",
            format!("EIO=3&transport=polling&sid={sid}"),
            400,
            r#"{"code":3,"message":"Bad request"}"#,
        ),
    ];
    for (method, query, status, body) in cases {
        let resp = request(
            server.addr,
            method,
            &format!("/engine.io/?{query}"),
            &[],
            b"",
        )
        .await;
        assert_eq!(resp.status, status, "{method} {query}");
        assert_eq!(resp.text(), body, "{method} {query}");
        assert_eq!(
            resp.header("content-type"),
            Some("application/json"),
            "{method} {query}"
        );
    }
    // Another method on an existing session: 500.
    let resp = request(
        server.addr,
        "PUT",
        &format!("/engine.io/?EIO=4&transport=polling&sid={sid}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(resp.status, 500);
    // Outside the path: 404 from the fallback.
    assert_eq!(
        request(server.addr, "GET", "/other", &[], b"").await.status,
        404
    );
}

#[tokio::test]
async fn messages_both_ways_batched() {
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let resp = post(
        server.addr,
        &q,
        b"4hello\x1ebAQIDBA==\x1e4\xc3\xa9t\xc3\xa9",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "ok");
    assert_eq!(resp.header("content-type"), Some("text/html"));
    // The echoes may be split over several polls; together they are the same, in order.
    let mut got = Vec::new();
    while got.len() < 3 {
        let resp = get(server.addr, &q).await;
        assert_eq!(resp.status, 200);
        got.extend(resp.text().split('\x1e').map(str::to_owned));
    }
    assert_eq!(got, ["4hello", "bAQIDBA==", "4été"]);
}

/// In process (no socket) on tokio's paused clock, so that a sleep returns once the first GET
/// waits in its session.
#[tokio::test(start_paused = true)]
async fn duplicate_get_closes_the_session() {
    let engine = sio_server::EngineIo::new(EngineConfig::default());
    spawn_echo(&engine);
    let sid = open(&engine, "4").await;
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let first = tokio::spawn({
        let (engine, q) = (engine.clone(), q.clone());
        async move { call(&engine, "GET", &q, "").await }
    });
    // virtual time: returns once the first GET waits in its session.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = call(&engine, "GET", &q, "").await;
    assert_eq!(second.0, 400);
    assert_eq!(first.await.unwrap(), (200, "1".to_owned()));
    let after = call(&engine, "GET", &q, "").await;
    assert_eq!(after.1, r#"{"code":1,"message":"Session ID unknown"}"#);
}

/// In process on the paused clock, like the test above.
#[tokio::test(start_paused = true)]
async fn client_close_ends_the_pending_get_with_noop() {
    let engine = sio_server::EngineIo::new(EngineConfig::default());
    spawn_echo(&engine);
    let sid = open(&engine, "4").await;
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let pending = tokio::spawn({
        let (engine, q) = (engine.clone(), q.clone());
        async move { call(&engine, "GET", &q, "").await }
    });
    // virtual time: returns once the GET waits in its session.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(call(&engine, "POST", &q, "1").await.0, 200);
    assert_eq!(pending.await.unwrap(), (200, "6".to_owned()));
    assert_eq!(call(&engine, "GET", &q, "").await.0, 400);
}

#[tokio::test]
async fn server_close_sends_close_packet() {
    let engine = sio_server::EngineIo::new(EngineConfig::default());
    let handle = engine.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let (sid, _) = handshake(addr).await;
    let conn = tokio::time::timeout(WAIT, engine.accept())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conn.sid(), sid.as_str());
    assert!(conn.remote_addr().is_some());
    assert_eq!(conn.query_param("transport"), Some("polling"));
    conn.send(sio_server::Message::Text("bye".into()))
        .await
        .unwrap();
    conn.close();
    let resp = get(addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(resp.text(), "4bye\x1e1");
    let reason = tokio::time::timeout(WAIT, conn.closed()).await.unwrap();
    assert_eq!(reason.to_string(), "forced close");
}

#[tokio::test]
async fn heartbeat_and_ping_timeout() {
    let server = echo_server(fast()).await;
    let (sid, json) = handshake(server.addr).await;
    assert_eq!(json["pingInterval"], 300);
    let q = format!("EIO=4&transport=polling&sid={sid}");
    // ping, pong, ping again.
    assert_eq!(get(server.addr, &q).await.text(), "2");
    assert_eq!(post(server.addr, &q, b"3").await.status, 200);
    assert_eq!(get(server.addr, &q).await.text(), "2");
    // No pong: the session is gone after pingTimeout.
    until(|| server.engine.session_count() == 0).await;
    let resp = get(server.addr, &q).await;
    assert_eq!(resp.text(), r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test]
async fn oversized_post_is_413_and_others_carry_on() {
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let (other, _) = handshake(server.addr).await;
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let big = vec![b'4'; 1_000_001];
    assert_eq!(post(server.addr, &q, &big).await.status, 413);
    // Streamed without Content-Length (chunked): still 413 once over the limit.
    let mut req = format!(
        "POST /engine.io/?{q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..20 {
        req.extend_from_slice(format!("{:x}\r\n", 60_000).as_bytes());
        req.extend_from_slice(&vec![b'4'; 60_000]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(server.addr, &req).await.status, 413);
    // The session survives a 413 (engine.io does not close it); another one is unaffected.
    let oq = format!("EIO=4&transport=polling&sid={other}");
    assert_eq!(post(server.addr, &oq, b"4hi").await.status, 200);
    assert_eq!(get(server.addr, &oq).await.text(), "4hi");
}

#[tokio::test]
async fn octet_stream_post_is_400_and_closes() {
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let resp = request(
        server.addr,
        "POST",
        &target,
        &[("Content-Type", "application/octet-stream")],
        b"4hi",
    )
    .await;
    assert_eq!(resp.status, 400);
    until(|| server.engine.session_count() == 0).await;
    let resp = request(server.addr, "GET", &target, &[], b"").await;
    assert_eq!(resp.text(), r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test]
async fn invalid_packet_closes_the_session() {
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let q = format!("EIO=4&transport=polling&sid={sid}");
    assert_eq!(post(server.addr, &q, b"abc").await.status, 200);
    until(|| server.engine.session_count() == 0).await;
    assert_eq!(get(server.addr, &q).await.status, 400);
}

#[tokio::test]
async fn cancelled_poll_closes_the_session() {
    let logs = Logs::capture();
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    stream
        .write_all(format!("GET /engine.io/?{q} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // The GET waits in its session for packets: cutting its connection now cancels it.
    get_waiting(&logs, &sid, 1).await;
    assert_eq!(server.engine.session_count(), 1);
    drop(stream);
    // The session closes when its poll is cancelled.
    until(|| server.engine.session_count() == 0).await;
}

#[tokio::test]
async fn cors_off_by_default_and_configurable() {
    let server = echo_server(EngineConfig::default()).await;
    let resp = request(
        server.addr,
        "GET",
        "/engine.io/?EIO=4&transport=polling",
        &[("Origin", "http://evil.example"), ("Cookie", "a=b")],
        b"",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert!(resp.header("access-control-allow-origin").is_none());
    assert!(resp.header("access-control-allow-credentials").is_none());

    let server = echo_server(EngineConfig::default().cors(sio_server::Cors::any())).await;
    let resp = request(
        server.addr,
        "GET",
        "/engine.io/?EIO=4&transport=polling",
        &[("Origin", "http://evil.example")],
        b"",
    )
    .await;
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    let resp = request(
        server.addr,
        "OPTIONS",
        "/engine.io/?EIO=4&transport=polling",
        &[
            ("Origin", "http://a.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    )
    .await;
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    assert!(resp.header("access-control-allow-methods").is_some());
}

#[tokio::test]
async fn many_noops_in_one_post_are_linear() {
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let mut body = "6\x1e".repeat(333_333).into_bytes();
    body.push(b'6');
    assert!(body.len() <= 1_000_000);
    let resp = post(server.addr, &q, &body).await;
    assert_eq!(resp.status, 200);
    // Empty messages too: 4\x1e4...: each is echoed; the session stays healthy.
    let body = "4\x1e".repeat(1000) + "4";
    assert_eq!(post(server.addr, &q, body.as_bytes()).await.status, 200);
    let mut count = 0;
    while count < 1001 {
        let resp = get(server.addr, &q).await;
        assert_eq!(resp.status, 200);
        count += resp.text().split('\x1e').count();
    }
    assert_eq!(count, 1001);
}

#[tokio::test]
async fn trailing_slash_option() {
    // Default: the path is `/engine.io/`; `/engine.io?...` is not served.
    let server = echo_server(EngineConfig::default()).await;
    let resp = request(
        server.addr,
        "GET",
        "/engine.io?EIO=4&transport=polling",
        &[],
        b"",
    )
    .await;
    assert_eq!(resp.status, 404);
    // Off: `/engine.io` is a prefix, as in engine.io.
    let server = echo_server(EngineConfig::default().add_trailing_slash(false)).await;
    for target in [
        "/engine.io?EIO=4&transport=polling",
        "/engine.io/?EIO=4&transport=polling",
        "/engine.iofoo?EIO=4&transport=polling",
    ] {
        let resp = request(server.addr, "GET", target, &[], b"").await;
        assert_eq!(resp.status, 200, "{target}");
    }
    let resp = request(
        server.addr,
        "GET",
        "/engine?EIO=4&transport=polling",
        &[],
        b"",
    )
    .await;
    assert_eq!(resp.status, 404);
}

/// A GET that waits for packets holds none of its request's head (URI, headers, extensions):
/// behind hyper, the URI and header values are slices of the connection's 8 KiB read buffer,
/// which hyper would otherwise have to replace to go on reading (BENCHMARKS.md §8).
#[tokio::test]
async fn a_waiting_get_does_not_hold_its_request() {
    let engine = sio_server::EngineIo::new(EngineConfig::default());
    let _echo = spawn_echo(&engine);
    let sid = open(&engine, "4").await;
    let marker = std::sync::Arc::new(());
    let mut req = http::Request::get(format!("/engine.io/?EIO=4&transport=polling&sid={sid}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    req.extensions_mut().insert(marker.clone());
    let mut waiting = std::pin::pin!(engine.handle(req, None));
    assert!(futures_util::FutureExt::now_or_never(waiting.as_mut()).is_none());
    assert_eq!(
        std::sync::Arc::strong_count(&marker),
        1,
        "the request is still held"
    );
    // The GET still gets its answer: the close packet.
    engine.close_all();
    let response = waiting.await;
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap();
    assert_eq!(&body.to_bytes()[..], b"1");
}
