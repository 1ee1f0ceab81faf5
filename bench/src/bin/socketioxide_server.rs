//! socketioxide (the crates.io release pinned in `bench/Cargo.toml`) under test, with the same
//! handlers as `bench_server.rs` and its default options (ping 25 s / 20 s, no compression
//! layer), served by axum on a one-thread tokio runtime, on a listener with Node's backlog
//! (511, see `sio_bench::BACKLOG`).
//!
//! ```text
//! socketioxide_server [PORT]     prints "PORT <n>", exits when stdin closes
//! ```

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let (layer, io) = SocketIo::new_layer();
    let io2 = io.clone();
    io.ns("/", async move |socket: SocketRef| {
        let io = io2.clone();
        socket.on("echo", async |Data::<Value>(data), ack: AckSender| {
            let _ = ack.send(&data);
        });
        socket.on(
            "join",
            async |socket: SocketRef, Data::<String>(room), ack: AckSender| {
                socket.join(room);
                let _ = ack.send(&());
            },
        );
        socket.on(
            "broadcast",
            move |Data::<(String, Value)>((room, data)), ack: AckSender| {
                let io = io.clone();
                async move {
                    let _ = io.to(room).emit("b", &data).await;
                    let _ = ack.send(&());
                }
            },
        );
        socket.on(
            "flood",
            async |socket: SocketRef, Data::<(u32, Value)>((n, data)), ack: AckSender| {
                for _ in 0..n {
                    let _ = socket.emit("b", &data);
                }
                let _ = ack.send(&());
            },
        );
    });
    let app = axum::Router::new().layer(layer);
    let listener = sio_bench::listener(port)?;
    println!("PORT {}", listener.local_addr()?.port());
    eprintln!("socketioxide 0.18.9");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    Ok(())
}
