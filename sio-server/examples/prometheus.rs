//! The server's metrics (feature `metrics`, the names in [`sio_server::metrics`]) for
//! Prometheus: `metrics-exporter-prometheus` records them, and this server renders them at
//! `/metrics` beside Socket.IO (an axum router with `io.layer()`).
//!
//! ```sh
//! PORT=3000 cargo run -p sio-server --features metrics --example prometheus
//! curl http://127.0.0.1:3000/metrics
//! ```
//!
//! The Socket.IO side echoes `echo` (with its acknowledgement) and broadcasts `chat` to
//! everyone, so that a client makes every kind of counter move.

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;
use sio_server::protocol::socket::Args;
use sio_server::{Socket, SocketIo, SocketIoConfig};

const USAGE: &str = "\
prometheus: the server's metrics for Prometheus at /metrics beside Socket.IO, on 127.0.0.1
(needs the feature metrics); Socket.IO echoes echo with its ack and broadcasts chat

usage: prometheus

  -h, --help   print this help and exit

environment:
  PORT   the port on 127.0.0.1 (default 3000)";

/// `--help` prints the usage and exits 0; any other argument prints an error and the usage
/// and exits 2.
fn parse_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("error: unknown argument `{arg}`\n\n{USAGE}");
        std::process::exit(2);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    parse_args();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    // The global recorder: everything the server records from now on lands there.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let io = SocketIo::new(SocketIoConfig::default());
    io.of("/").on_connection(|socket| async move {
        socket.on_args("echo", |_, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
        socket.on("chat", |socket: Socket, (text,): (String,), _| async move {
            let _ = socket.namespace().broadcast().emit("chat", &text).await;
        });
    });

    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let prometheus = prometheus.clone();
                async move { prometheus.render() }
            }),
        )
        .layer(io.layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}/metrics", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
