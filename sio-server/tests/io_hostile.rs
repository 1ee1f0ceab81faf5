//! The Socket.IO layer under cheap attacks, measured with a counting allocator: what a client
//! can make the server hold while a socket's handler is slow.

use sio_test_support::io as io_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cap::Cap;
use futures_util::{SinkExt, StreamExt};
use io_support::*;
use sio_server::{EngineConfig, SocketIoConfig};
use sio_test_support::engine::input_paused;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

#[global_allocator]
static HEAP: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

const MB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_for_a_slow_handler_are_bounded_in_bytes() {
    // A handler that does not finish, and a client that sends it 64 events of 256 KB: without a
    // byte bound the socket's queue (64 events) held 16 MB, and a packet of ten 1 MB
    // attachments can make each event 10 MB.
    let logs = Logs::capture();
    let gate = Arc::new(Semaphore::new(0));
    let handled = Arc::new(AtomicUsize::new(0));
    let engine = EngineConfig::default().max_buffered_bytes(MB);
    let config = SocketIoConfig::default().engine(engine.path("/socket.io/"));
    let (g, h) = (gate.clone(), handled.clone());
    let server = server(config, move |io| {
        io.of("/").on_connection(move |socket| {
            let (gate, handled) = (g.clone(), h.clone());
            async move {
                socket.on("big", move |_socket, (text, i): (String, usize), _ack| {
                    let (gate, handled) = (gate.clone(), handled.clone());
                    async move {
                        let _permit = gate.acquire().await.unwrap();
                        assert_eq!(text.len(), 256 * 1024);
                        // In order, none lost.
                        assert_eq!(handled.fetch_add(1, Ordering::SeqCst), i);
                    }
                });
            }
        });
    })
    .await;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let open = ws.next().await.unwrap().unwrap();
    let open: serde_json::Value = serde_json::from_str(&open.to_text().unwrap()[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    ws.send(Message::text("40")).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert!(reply.to_text().unwrap().starts_with("40{"), "{reply:?}");
    let (mut sink, mut stream) = ws.split();
    // Read what the server sends (nothing is expected: the first ping is 25 s away).
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    let before = HEAP.allocated();
    let payload = "z".repeat(256 * 1024);
    let writer = tokio::spawn(async move {
        for i in 0..64 {
            let frame = format!(r#"42["big","{payload}",{i}]"#);
            if sink.send(Message::text(frame)).await.is_err() {
                break;
            }
        }
        sink
    });
    // The session stops reading the client only once the socket's queue (its handler waits
    // for the gate) and the session's own queue are full, in bytes: both bounds hold.
    input_paused(&logs, &sid).await;
    let grown = HEAP.allocated().saturating_sub(before);
    eprintln!("heap +{} KB while the handler waits", grown / 1024);
    // The socket's queue (1 MB), the connection's queue (1 MB), what is being read, and
    // the client's own frame in this process.
    assert!(grown < 6 * MB, "heap grew by {grown} bytes");
    assert!(!writer.is_finished(), "the client was pushed back");
    gate.add_permits(1000);
    let _sink = tokio::time::timeout(WAIT, writer).await.unwrap().unwrap();
    until(|| handled.load(Ordering::SeqCst) == 64).await;
    reader.abort();
}
