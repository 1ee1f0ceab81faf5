//! The echo server of the Engine.IO v4 test suite: `/engine.io/` on 127.0.0.1:$PORT (default
//! 3000), ping interval 300 ms, ping timeout 200 ms, max payload 1e6, CORS origin `*`; every
//! message is sent back. Ctrl-C stops it gracefully (every session is closed first).
//!
//! ```sh
//! PORT=3000 cargo run -p sio-server --example engine_echo
//! ```

use std::time::Duration;

use sio_server::{Cors, EngineConfig, EngineIo};

const USAGE: &str = "\
engine_echo: the echo server of the Engine.IO v4 test suite on 127.0.0.1 at /engine.io/
(ping interval 300 ms, ping timeout 200 ms, max payload 1e6, CORS *); every message is sent
back; Ctrl-C stops it gracefully

usage: engine_echo

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
async fn main() -> std::io::Result<()> {
    parse_args();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let config = EngineConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .cors(Cors::any());
    let engine = EngineIo::new(config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let server = engine.serve(listener);
    println!(
        "engine.io echo server on http://{}/engine.io/",
        server.local_addr()?
    );
    tokio::spawn(async move {
        while let Some(mut conn) = engine.accept().await {
            tokio::spawn(async move {
                while let Some(message) = conn.recv().await {
                    if conn.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    server
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
