//! Heartbeats with the default intervals (25 s / 20 s) in virtual time: the requests go to
//! `EngineIo::handle` directly (no socket), so tokio's paused clock jumps to each deadline.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use sio_server::{CloseReason, DisconnectReason, EngineConfig, EngineIo};
use tokio::time::Instant;

async fn call(engine: &EngineIo, method: &str, query: &str, body: &str) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri(format!("/engine.io/?{query}"))
        .body(http_body_util::Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let resp = engine.handle(req, None).await;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn open(engine: &EngineIo, eio: &str) -> String {
    let (status, body) = call(engine, "GET", &format!("EIO={eio}&transport=polling"), "").await;
    assert_eq!(status, 200);
    let start = body.find("\"sid\":\"").unwrap() + 7;
    body[start..start + 20].to_owned()
}

#[tokio::test(start_paused = true)]
async fn v4_ping_every_25_s_and_timeout_after_20_s() {
    let engine = EngineIo::new(EngineConfig::default());
    let sid = open(&engine, "4").await;
    let conn = engine.accept().await.unwrap();
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let start = Instant::now();
    assert_eq!(call(&engine, "GET", &q, "").await, (200, "2".to_owned()));
    assert_eq!(start.elapsed().as_secs(), 25);
    assert_eq!(call(&engine, "POST", &q, "3").await, (200, "ok".to_owned()));
    assert_eq!(call(&engine, "GET", &q, "").await, (200, "2".to_owned()));
    assert_eq!(start.elapsed().as_secs(), 50);
    // No pong: closed pingTimeout later; the pending GET gets the close packet.
    assert_eq!(call(&engine, "GET", &q, "").await, (200, "1".to_owned()));
    assert_eq!(start.elapsed().as_secs(), 70);
    assert_eq!(
        conn.closed().await,
        DisconnectReason::Engine(CloseReason::PingTimeout)
    );
    assert_eq!(engine.session_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn v3_client_pings_keep_the_session() {
    let engine = EngineIo::new(EngineConfig::default().allow_eio3(true));
    let sid = open(&engine, "3").await;
    let conn = engine.accept().await.unwrap();
    let q = format!("EIO=3&transport=polling&sid={sid}");
    // The client pings every 25 s; the server answers and never pings itself.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert_eq!(
            call(&engine, "POST", &q, "1:2").await,
            (200, "ok".to_owned())
        );
        assert_eq!(call(&engine, "GET", &q, "").await, (200, "1:3".to_owned()));
    }
    // Then silence: closed pingInterval + pingTimeout (45 s) after the last ping.
    let start = Instant::now();
    let reason = conn.closed().await;
    assert_eq!(reason, DisconnectReason::Engine(CloseReason::PingTimeout));
    assert_eq!(start.elapsed().as_secs(), 45);
}
