//! Heartbeats with the default intervals (25 s / 20 s) in virtual time: the requests go to
//! `EngineIo::handle` directly (no socket), so tokio's paused clock jumps to each deadline.

use std::time::Duration;

use sio_server::{CloseReason, DisconnectReason, EngineConfig, EngineIo};
use sio_test_support::engine::{call, open};
use tokio::time::Instant;

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
        tokio::time::sleep(Duration::from_secs(25)).await; // virtual time
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
