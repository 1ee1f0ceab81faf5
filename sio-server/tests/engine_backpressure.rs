//! Bounded queues: a client that does not read is closed with `SendBufferFull`; an application
//! that does not read pushes back on the client (polling and WebSocket) and loses nothing.

use sio_test_support::engine as support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use sio_server::{DisconnectReason, EngineConfig, EngineIo, Message};
use support::*;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_client_that_does_not_read_is_closed_with_send_buffer_full() {
    let engine = EngineIo::new(EngineConfig::default().max_buffered_packets(4));
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    // The client connects and never reads.
    let _ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    let conn = tokio::time::timeout(WAIT, engine.accept())
        .await
        .unwrap()
        .unwrap();
    let sender = conn.sender();
    let chunk = Bytes::from(vec![7u8; 256 * 1024]);
    let writer = tokio::spawn(async move {
        // At most 4096 * 256 KiB: the socket buffers fill long before.
        for _ in 0..4096 {
            if sender.send(Message::Binary(chunk.clone())).await.is_err() {
                return true;
            }
        }
        false
    });
    let reason = tokio::time::timeout(Duration::from_secs(30), conn.closed())
        .await
        .expect("closed in time");
    assert_eq!(reason, DisconnectReason::SendBufferFull);
    assert!(writer.await.unwrap(), "sends fail once closed");
    assert_eq!(engine.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_client_that_does_not_read_is_closed_past_the_byte_bound() {
    // Many frames allowed, few bytes: the byte bound closes the connection.
    let config = EngineConfig::default()
        .max_buffered_packets(1_000_000)
        .max_buffered_bytes(1024 * 1024);
    let engine = EngineIo::new(config);
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let _ws = ws_connect(server.local_addr(), "EIO=4&transport=websocket").await;
    let conn = tokio::time::timeout(WAIT, engine.accept())
        .await
        .unwrap()
        .unwrap();
    let sender = conn.sender();
    let chunk = Bytes::from(vec![7u8; 16 * 1024]);
    let writer = tokio::spawn(async move {
        // The packet bound never stops these sends: only the close does (the payload is
        // shared, so the queue costs little memory here).
        for _ in 0..1_000_000 {
            if sender.send(Message::Binary(chunk.clone())).await.is_err() {
                return true;
            }
            tokio::task::yield_now().await;
        }
        false
    });
    let reason = tokio::time::timeout(Duration::from_secs(30), conn.closed())
        .await
        .expect("closed in time");
    assert_eq!(reason, DisconnectReason::SendBufferFull);
    assert!(writer.await.unwrap(), "sends fail once closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_post_waits_while_the_application_does_not_read() {
    let engine = EngineIo::new(EngineConfig::default().max_buffered_packets(2));
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let (sid, _) = handshake(addr).await;
    let mut conn = engine.accept().await.unwrap();
    // 100 packets: more than the queues between the POST and the application hold.
    let body: Vec<String> = (0..100).map(|i| format!("4m{i}")).collect();
    let body = body.join("\x1e");
    let query = format!("EIO=4&transport=polling&sid={sid}");
    let mut posting = tokio::spawn(async move { post(addr, &query, body.as_bytes()).await });
    // The POST is not answered while nobody reads.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut posting)
            .await
            .is_err(),
        "the POST must wait for the application"
    );
    for i in 0..100 {
        let message = tokio::time::timeout(WAIT, conn.recv()).await.unwrap();
        assert_eq!(message, Some(Message::Text(format!("m{i}").into())));
    }
    let resp = tokio::time::timeout(WAIT, posting).await.unwrap().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_is_not_read_while_the_application_does_not_read() {
    const COUNT: usize = 1000;
    let logs = Logs::capture();
    let engine = EngineIo::new(EngineConfig::default().max_buffered_packets(4));
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with("0{"));
    let mut conn = engine.accept().await.unwrap();
    // 1000 messages of 32 KiB (32 MiB): more than the socket buffers hold.
    let writer = tokio::spawn(async move {
        for i in 0..COUNT {
            let mut data = vec![0u8; 32 * 1024];
            data[..8].copy_from_slice(&(i as u64).to_be_bytes());
            ws.send(WsMessage::binary(data)).await.unwrap();
        }
        ws
    });
    // The session stops reading once the application's queue holds 4 messages; the
    // application reads nothing, so the session reads nothing more: 32 MiB cannot have gone.
    input_paused(&logs, conn.sid()).await;
    assert!(!writer.is_finished(), "the client must be pushed back");
    for i in 0..COUNT {
        let message = tokio::time::timeout(WAIT, conn.recv()).await.unwrap();
        let Some(Message::Binary(data)) = message else {
            panic!("expected binary message {i}, got {message:?}");
        };
        assert_eq!(data.len(), 32 * 1024);
        assert_eq!(data[..8], (i as u64).to_be_bytes());
    }
    let _ws = tokio::time::timeout(WAIT, writer).await.unwrap().unwrap();
    assert!(!conn.sender().is_closed());
}
