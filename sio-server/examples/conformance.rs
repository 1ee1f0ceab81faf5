//! The servers the official protocol test suites expect, on 127.0.0.1 at port `PORT`
//! (default 3000), with ping interval 300 ms, ping timeout 200 ms, max payload 1,000,000 and
//! CORS `*`:
//!
//! - default: the Socket.IO v5 suite (`socket.io-protocol` `test-suite`): connect timeout
//!   1000 ms, namespaces `/` (emits `auth`, echoes `message` as `message-back`, answers
//!   `message-with-ack` with its arguments) and `/custom` (emits `auth`);
//! - `--eio3`: the same, also accepting Engine.IO v3 / Socket.IO 2.x clients;
//! - `--engine-io`: the Engine.IO v4 suite: an Engine.IO echo server on `/engine.io/`
//!   (with `--eio3` too: the Engine.IO v3 suite).
//! - `--recovery`: connection state recovery on (`max_disconnection_duration` 5 s,
//!   `skip_middlewares`).
//!
//! In every mode, `/` also has these acknowledged events (for the interop tests of
//! connection state recovery and of clusters):
//!
//! - `join` (room): joins it; acks `true`;
//! - `rooms`: acks the socket's rooms, sorted;
//! - `ticks` (n, every_ms): acks `true`, then emits `tick` (i) for i = 0..n-1 to this
//!   socket, one every `every_ms` (plain events: neither volatile nor acknowledged);
//! - `status`: acks `{id, recovered}` of this socket.
//!
//! ```sh
//! PORT=3000 cargo run -p sio-server --example conformance
//! PORT=3000 cargo run -p sio-server --example conformance -- --engine-io
//! ```

use std::time::Duration;

use sio_server::protocol::socket::Args;
use sio_server::{Cors, EngineConfig, EngineIo, Socket, SocketIo, SocketIoConfig};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let flags: Vec<String> = std::env::args().skip(1).collect();
    let engine_only = flags.iter().any(|f| f == "--engine-io");
    let eio3 = flags.iter().any(|f| f == "--eio3");
    let engine = EngineConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .allow_eio3(eio3)
        .cors(Cors::any());
    if engine_only {
        return engine_echo(engine.path("/engine.io/"), port).await;
    }
    let config = SocketIoConfig::default()
        .engine(engine.path("/socket.io/"))
        .connect_timeout(Duration::from_millis(1000));
    // ---- connection state recovery (`--recovery`) ----
    let config = if flags.iter().any(|f| f == "--recovery") {
        let recovery = sio_server::ConnectionStateRecovery::default()
            .max_disconnection_duration(Duration::from_secs(5))
            .skip_middlewares(true);
        config.connection_state_recovery(recovery)
    } else {
        config
    };
    // ---- end of connection state recovery ----
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
    // ---- `join`, `rooms`, `ticks`, `status` on `/` (connection state recovery tests) ----
    io.of("/")
        .on_connection(|socket| async move { recovery_events(&socket) });
    // ---- end of `join`, `rooms`, `ticks`, `status` ----
    io.of("/custom").on_connection(|socket| async move {
        let _ = socket.emit("auth", &socket.handshake().auth);
    });
    let server = io.listen(("127.0.0.1", port)).await?;
    println!("listening on {}", server.local_addr());
    std::future::pending::<()>().await;
    Ok(())
}

// ---- `join`, `rooms`, `ticks`, `status` on `/` (connection state recovery tests) ----

/// The events the interop tests of connection state recovery use.
fn recovery_events(socket: &Socket) {
    socket.on("join", |socket, (room,): (String,), ack| async move {
        socket.join(room).await;
        let _ = ack.send(&true);
    });
    socket.on("rooms", |socket, (): (), ack| async move {
        let mut rooms: Vec<String> = socket.rooms().await.iter().map(|r| r.to_string()).collect();
        rooms.sort();
        let _ = ack.send(&(rooms,));
    });
    socket.on(
        "ticks",
        |socket, (n, every_ms): (u32, u64), ack| async move {
            let _ = ack.send(&true);
            // On a task of its own: the socket's later events are not held back. With recovery
            // on, ticks emitted while the connection is cut reach the socket that recovers this
            // one's session.
            tokio::spawn(async move {
                for i in 0..n.min(100_000) {
                    tokio::time::sleep(Duration::from_millis(every_ms.max(1))).await;
                    let _ = socket.emit("tick", &i);
                }
            });
        },
    );
    socket.on("status", |socket, (): (), ack| async move {
        let status =
            serde_json::json!({"id": socket.id().as_str(), "recovered": socket.recovered()});
        let _ = ack.send(&status);
    });
}

// ---- end of `join`, `rooms`, `ticks`, `status` ----

/// `socket.on("data", (...a) => socket.send(...a))`.
async fn engine_echo(config: EngineConfig, port: u16) -> std::io::Result<()> {
    let engine = EngineIo::new(config);
    let server = engine.listen(("127.0.0.1", port)).await?;
    println!("listening on {}", server.local_addr());
    while let Some(mut conn) = engine.accept().await {
        tokio::spawn(async move {
            while let Some(message) = conn.recv().await {
                if conn.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
