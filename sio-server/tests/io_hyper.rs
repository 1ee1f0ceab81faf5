//! The `hyper_server` example in-process: the user's own hyper server answers its routes and
//! passes `/socket.io/` to Socket.IO (polling and WebSocket).

#[path = "../examples/hyper_server.rs"]
#[allow(dead_code)]
mod hyper_server;
use sio_test_support::io as io_support;

use std::net::SocketAddr;

use io_support::{Peer, WAIT};
use sio_server::{SocketIo, SocketIoConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 GET on its own connection: the status line and the body.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    tokio::time::timeout(WAIT, async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("a response");
        let status = head.lines().next().unwrap_or_default().to_owned();
        (status, body.to_owned())
    })
    .await
    .expect("a response in time")
}

#[tokio::test]
async fn the_users_routes_and_socket_io_on_one_hyper_server() {
    let io = SocketIo::new(SocketIoConfig::default());
    hyper_server::setup(&io);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(hyper_server::serve(listener, io));

    assert_eq!(
        get(addr, "/").await,
        ("HTTP/1.1 200 OK".to_owned(), "hello".to_owned())
    );
    let (status, _) = get(addr, "/elsewhere").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    // Polling: the Engine.IO handshake comes from Socket.IO, not from the routes.
    let (status, body) = get(addr, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.starts_with(r#"0{"sid":""#), "{body}");

    // WebSocket: needs `with_upgrades()`.
    let (mut peer, _) = Peer::join(addr, "/").await;
    assert_eq!(peer.text().await, r#"2["hello","websocket"]"#);
    peer.send(r#"2["echo",1,{"a":"b"}]"#).await;
    assert_eq!(peer.text().await, r#"2["echo-back",1,{"a":"b"}]"#);
    peer.close().await;
    server.abort();
}
