//! The Engine.IO echo server mounted in an axum app beside a normal route: `GET /` answers
//! `hello`, `/engine.io/` is the Engine.IO server. 127.0.0.1:$PORT (default 3000).
//!
//! ```sh
//! PORT=3000 cargo run -p sio-server --example engine_axum
//! ```

use axum::Router;
use axum::routing::get;
use sio_server::{EngineConfig, EngineIo};

const USAGE: &str = "\
engine_axum: the Engine.IO echo server mounted in an axum app beside a normal route
(GET / answers hello, /engine.io/ is the Engine.IO server), on 127.0.0.1

usage: engine_axum

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
    let engine = EngineIo::new(EngineConfig::default());
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .layer(engine.layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}/ and /engine.io/", listener.local_addr()?);
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
    axum::serve(listener, app).await
}
