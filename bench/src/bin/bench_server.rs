//! Our Socket.IO server under test: default options (ping 25 s / 20 s), compression off, an
//! `echo` event acknowledged with its arguments. One thread, like Node; the benchmark scripts
//! pin it to one core.
//!
//! ```text
//! bench_server [PORT]     prints "PORT <n>", exits when stdin closes
//! ```

use sio_server::protocol::socket::Args;
use sio_server::{EngineConfig, SocketIo, SocketIoConfig};
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let engine = EngineConfig::default()
        .path("/socket.io/")
        .http_compression(None);
    let io = SocketIo::new(SocketIoConfig::default().engine(engine));
    io.of("/").on_connection(|socket| async move {
        socket.on_args("echo", |_socket, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
    });
    let server = io.listen(("127.0.0.1", port)).await?;
    println!("PORT {}", server.local_addr().port());
    eprintln!("sio-server {}", env!("CARGO_PKG_VERSION"));
    // Until stdin closes.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    Ok(())
}
