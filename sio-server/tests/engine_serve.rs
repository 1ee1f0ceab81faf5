//! `EngineIo::serve(listener)` awaited like `axum::serve`, with graceful shutdown.

use sio_test_support::engine as support;

use std::future::IntoFuture;

use sio_server::{EngineConfig, EngineIo};
use support::*;

#[tokio::test]
async fn serve_until_dropped() {
    let engine = EngineIo::new(EngineConfig::default());
    spawn_echo(&engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let serve = engine.serve(listener);
    let addr = serve.local_addr().unwrap();
    let task = tokio::spawn(serve.into_future());
    let resp = request(addr, "GET", "/elsewhere", &[], b"").await;
    assert_eq!(resp.status, 404);
    let (sid, _) = handshake(addr).await;
    assert_eq!(sid.len(), 20);
    task.abort();
}

#[tokio::test]
async fn graceful_shutdown_closes_sessions_and_ends() {
    let logs = Logs::capture();
    let engine = EngineIo::new(EngineConfig::default());
    spawn_echo(&engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let serve = engine.serve(listener);
    let addr = serve.local_addr().unwrap();
    let (stop, signal) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        serve
            .with_graceful_shutdown(async {
                let _ = signal.await;
            })
            .into_future(),
    );

    // A polling session with a GET waiting, and a WebSocket session.
    let (sid, _) = handshake(addr).await;
    let query = format!("EIO=4&transport=polling&sid={sid}");
    let poll = tokio::spawn(async move { get(addr, &query).await });
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with("0{"));
    ws_send(&mut ws, "4before").await;
    assert_eq!(ws_text(&mut ws).await, "4before");
    assert_eq!(engine.session_count(), 2);
    // The GET waits in its session (hyper would close an idle connection at shutdown).
    get_waiting(&logs, &sid, 1).await;

    stop.send(()).unwrap();
    // The polling client gets the close packet, the WebSocket closes; the server future ends.
    let resp = tokio::time::timeout(WAIT, poll).await.unwrap().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "1");
    // engine.io closes a WebSocket session with a bare close frame.
    ws_closed(&mut ws).await;
    tokio::time::timeout(WAIT, server)
        .await
        .expect("serve ends after the signal")
        .unwrap()
        .unwrap();
    // No more connections are accepted.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
