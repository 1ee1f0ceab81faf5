//! Serving the Socket.IO layer: `SocketIo::serve` with a graceful shutdown that closes every
//! socket with "server shutting down", and `SocketIo::layer` inside an axum app.

use sio_test_support::io as io_support;

use std::sync::{Arc, Mutex};

use io_support::{Peer, until};
use sio_server::{SocketIo, SocketIoConfig};

fn greeter(io: &SocketIo, reasons: Arc<Mutex<Vec<String>>>) {
    io.of("/").on_connection(move |socket| {
        let reasons = reasons.clone();
        async move {
            let _ = socket.emit("hello", &socket.transport().as_str()).await;
            socket.on_disconnect(move |_, reason| {
                let reasons = reasons.clone();
                async move { reasons.lock().unwrap().push(reason.to_string()) }
            });
        }
    });
}

#[tokio::test]
async fn serve_with_graceful_shutdown() {
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let io = SocketIo::new(SocketIoConfig::default());
    greeter(&io, reasons.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(tokio::sync::Notify::new());
    let (closing, signal) = (io.clone(), stop.clone());
    let served = tokio::spawn(
        io.serve(listener)
            .with_graceful_shutdown(async move {
                signal.notified().await;
                closing.close().await;
            })
            .into_future(),
    );
    let (mut peer, _) = Peer::join(addr, "/").await;
    assert_eq!(peer.text().await, r#"2["hello","websocket"]"#);
    stop.notify_one();
    peer.closed().await;
    tokio::time::timeout(io_support::WAIT, served)
        .await
        .expect("serve ends")
        .unwrap()
        .unwrap();
    until(|| reasons.lock().unwrap().len() == 1).await;
    assert_eq!(*reasons.lock().unwrap(), ["server shutting down"]);
}

#[tokio::test]
async fn mounted_in_an_axum_app() {
    use axum::Router;
    use axum::routing::get;
    let io = SocketIo::new(SocketIoConfig::default());
    greeter(&io, Arc::default());
    let app = Router::new()
        .route("/hi", get(|| async { "hi" }))
        .layer(io.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (mut peer, _) = Peer::join(addr, "/").await;
    assert_eq!(peer.text().await, r#"2["hello","websocket"]"#);
    server.abort();
}
