//! The server the official Socket.IO v5 test suite (`socket.io-protocol` `test-suite`)
//! expects: ping interval 300 ms, ping timeout 200 ms, connect timeout 1000 ms, CORS `*`,
//! namespaces `/` and `/custom`, on 127.0.0.1 at port `PORT` (default 3000).
//!
//! ```sh
//! PORT=3000 cargo run -p sio-server --example conformance
//! ```
//!
//! (The Engine.IO-only and EIO3 modes of the suites are not offered yet.)

use std::time::Duration;

use sio_server::protocol::socket::Args;
use sio_server::{Cors, EngineConfig, SocketIo, SocketIoConfig};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let engine = EngineConfig::default()
        .path("/socket.io/")
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .cors(Cors::any());
    let config = SocketIoConfig::default()
        .engine(engine)
        .connect_timeout(Duration::from_millis(1000));
    let io = SocketIo::new(config);
    io.of("/").on_connection(|socket| async move {
        let _ = socket.emit("auth", &socket.handshake().auth);
        socket.on_args("message", |socket, args: Args, _ack| async move {
            let _ = socket.emit_args("message-back", args);
        });
        socket.on_args("message-with-ack", |_socket, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
    });
    io.of("/custom").on_connection(|socket| async move {
        let _ = socket.emit("auth", &socket.handshake().auth);
    });
    let server = io.listen(("127.0.0.1", port)).await?;
    println!("listening on {}", server.local_addr());
    std::future::pending::<()>().await;
    Ok(())
}
