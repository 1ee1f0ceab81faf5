//! A chat server with its browser page: rooms, broadcasts, acknowledgements, volatile typing
//! notices, a connect middleware checking the nickname.
//!
//! ```sh
//! cargo run -p sio-server --example chat   # then open http://127.0.0.1:3000/
//! ```

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use sio_server::{ConnectError, SocketIo, SocketIoConfig};

#[derive(Clone)]
struct Nick(String);

#[derive(Serialize, Deserialize)]
struct Message {
    from: String,
    text: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new(SocketIoConfig::default());
    let chat = io.of("/");
    chat.use_middleware(|socket| async move {
        let nick = socket
            .handshake()
            .auth
            .get("nick")
            .and_then(|n| n.as_str())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if nick.is_empty() || nick.len() > 32 {
            return Err(ConnectError::new("invalid nickname").with_data(&"1 to 32 characters"));
        }
        socket.insert_data(Nick(nick));
        Ok(())
    });
    chat.on_connection(|socket| async move {
        let nick = socket.data::<Nick>().map(|n| n.0).unwrap_or_default();
        socket.join("general").await;
        let _ = socket.to("general").emit("joined", &nick).await;

        // A message: to everyone else in the room; the ack tells the sender it went out.
        socket.on("message", |socket, text: String, ack| async move {
            let from = socket.data::<Nick>().map(|n| n.0).unwrap_or_default();
            let message = Message { from, text };
            let _ = socket.to("general").emit("message", &message).await;
            let _ = ack.send(&"sent");
        });
        // Typing notices may be lost: volatile.
        socket.on("typing", |socket, (): (), _| async move {
            let from = socket.data::<Nick>().map(|n| n.0).unwrap_or_default();
            let _ = socket.to("general").volatile().emit("typing", &from).await;
        });
        socket.on("who", |socket, (): (), ack| async move {
            let mut nicks: Vec<String> = socket
                .namespace()
                .to("general")
                .fetch_sockets()
                .await
                .iter()
                .filter_map(|s| s.data::<Nick>().map(|n| n.0))
                .collect();
            nicks.sort();
            let _ = ack.send(&nicks);
        });
        socket.on_disconnect(|socket, reason| async move {
            let nick = socket.data::<Nick>().map(|n| n.0).unwrap_or_default();
            println!("{nick} left ({reason})");
            let _ = socket.namespace().to("general").emit("left", &nick).await;
        });
    });

    let app = Router::new()
        .route("/", get(|| async { Html(include_str!("index.html")) }))
        .layer(io.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("open http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await
}
