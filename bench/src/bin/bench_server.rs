//! Our Socket.IO server under test: default options (ping 25 s / 20 s), compression off, the
//! listen backlog of Node (511, see `sio_bench::BACKLOG`). One thread, like Node; the benchmark
//! scripts pin it to one core. The handlers are the same in the
//! three servers under test (`bench/js/node-server.js`, `socketioxide_server.rs`):
//!
//! - `echo` (any arguments): acknowledged with its arguments;
//! - `join` (room): joins the room, then acknowledges;
//! - `broadcast` (room, data): emits `b` (data) to every socket of the room, then acknowledges;
//! - `flood` (n, data): emits `b` (data) n times to the sender, then acknowledges.
//!
//! ```text
//! bench_server [PORT] [--redis URL]     prints "PORT <n>", exits when stdin closes
//! ```
//!
//! With `--redis URL` the server is one node of a cluster on that Redis: sio-redis's classic
//! adapter (key `socket.io`), as `node-server.js --redis URL` uses `@socket.io/redis-adapter`'s
//! `createAdapter` (the cluster scenario of `bench/run.py`). Its tasks share the server's one
//! thread.
//!
//! `bench_server_metrics` (cargo feature `metrics` of sio-bench) is this same server with
//! sio-server's metrics compiled in and a Prometheus recorder installed (BENCHMARKS.md §6).

use serde_json::Value;
use sio_redis::RedisAdapter;
use sio_redis::conn::RedisConfig;
use sio_server::protocol::socket::Args;
use sio_server::{Ack, EngineConfig, Socket, SocketIo, SocketIoConfig};
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let redis = args
        .iter()
        .position(|a| a == "--redis")
        .map(|i| args.get(i + 1).cloned().unwrap_or_default());
    let port: u16 = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let engine = EngineConfig::default()
        .path("/socket.io/")
        .http_compression(None);
    let config = SocketIoConfig::default().engine(engine);
    let io = match redis {
        None => SocketIo::new(config),
        Some(url) => {
            let redis = RedisConfig::standalone(url.as_str());
            let adapter = RedisAdapter::classic(redis)
                .await
                .map_err(|e| std::io::Error::other(format!("Redis at {url}: {e}")))?;
            SocketIo::with_adapter(config, adapter.factory())
        }
    };
    let io2 = io.clone();
    io.of("/").on_connection(move |socket| {
        let io = io2.clone();
        async move {
            socket.on_args("echo", |_socket, args: Args, ack| async move {
                let _ = ack.send_args(args);
            });
            socket.on(
                "join",
                |socket: Socket, room: String, ack: Ack| async move {
                    socket.join(room).await;
                    let _ = ack.send(&());
                },
            );
            socket.on(
                "broadcast",
                move |_socket, (room, data): (String, Value), ack: Ack| {
                    let io = io.clone();
                    async move {
                        let _ = io.to(room).emit("b", &data).await;
                        let _ = ack.send(&());
                    }
                },
            );
            socket.on(
                "flood",
                |socket: Socket, (n, data): (u32, Value), ack: Ack| async move {
                    for _ in 0..n {
                        let _ = socket.emit("b", &data).await;
                    }
                    let _ = ack.send(&());
                },
            );
        }
    });
    // `io.serve` on a listener with Node's backlog (`io.listen` would use tokio's 128).
    let listener = sio_bench::listener(port)?;
    println!("PORT {}", listener.local_addr()?.port());
    let serve = io.serve(listener);
    tokio::spawn(async move {
        let _ = serve.await;
    });
    eprintln!("sio-server {}", env!("CARGO_PKG_VERSION"));
    // Until stdin closes.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    Ok(())
}
