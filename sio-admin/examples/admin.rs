//! A Socket.IO server that instruments itself for the Admin UI and serves the UI's page at
//! `/admin/`, offline.
//!
//! ```text
//! cargo run -p sio-admin --example admin
//! # open http://127.0.0.1:3000/admin/, server URL http://127.0.0.1:3000
//! ```
//!
//! Environment:
//!
//! - `PORT`: the port (default 3000; 0 picks a free one); the server listens on 127.0.0.1;
//! - `SIO_ADMIN_USER` (default `admin`) and `SIO_ADMIN_PASSWORD` (a password, hashed with
//!   bcrypt at start) or `SIO_ADMIN_PASSWORD_HASH` (a bcrypt hash, as JavaScript takes it):
//!   basic authentication; without either, authentication is off;
//! - `SIO_ADMIN_MODE`: `development` (default) or `production`;
//! - `SIO_ADMIN_READONLY=1`: the UI can only watch;
//! - `SIO_ADMIN_UI_DIR`: the page's folder (default: `ui/dist` of `@socket.io/admin-ui` in
//!   this workspace's `tests/node_modules`, which `npm ci` in `tests/` installs).
//!
//! The namespace `/` is a tiny app to watch: a client joins the room named by its `room`
//! query parameter, the event `join` (a room, acknowledged) joins another, and `rooms` answers
//! the socket's rooms.

use axum::Router;
use sio_admin::{AdminUi, InstrumentOptions, instrument};
use sio_server::{Ack, Socket, SocketIo, SocketIoConfig};

fn fail(message: String) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

const USAGE: &str = "\
admin: a Socket.IO server that instruments itself for the Admin UI (@socket.io/admin-ui) and
serves the UI's page at /admin/, offline; on /, a client joins the room of its room query
parameter, join (room, acknowledged) joins another, rooms answers the socket's rooms

usage: admin

  -h, --help   print this help and exit

environment:
  PORT                      the port on 127.0.0.1 (default 3000; 0 picks a free one)
  SIO_ADMIN_USER            the user name of basic authentication (default admin)
  SIO_ADMIN_PASSWORD        a password (hashed with bcrypt at start): basic auth on
  SIO_ADMIN_PASSWORD_HASH   the same, given as a bcrypt hash (default: authentication off)
  SIO_ADMIN_MODE            development (default: every event) or production (aggregates)
  SIO_ADMIN_READONLY        1: the UI can only watch
  SIO_ADMIN_UI_DIR          the UI's page (default: tests/node_modules/@socket.io/admin-ui/ui/dist)";

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
    let port: u16 = match std::env::var("PORT").ok().filter(|p| !p.is_empty()) {
        Some(port) => port
            .parse()
            .unwrap_or_else(|_| fail(format!("PORT={port} is not a port number"))),
        None => 3000,
    };
    let options = InstrumentOptions::from_env().unwrap_or_else(|e| fail(e.to_string()));
    let ui = AdminUi::from_env_or_node_modules(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/node_modules"
    ))
    .unwrap_or_else(|e| {
        let mut cause = String::new();
        let mut next = std::error::Error::source(&e);
        while let Some(c) = next {
            cause.push_str(&format!(": {c}"));
            next = c.source();
        }
        fail(format!("{e}{cause}"))
    });

    let io = SocketIo::new(SocketIoConfig::default());
    io.of("/").on_connection(|socket| async move {
        if let Some(room) = socket.handshake().query_param("room") {
            socket.join(room.to_owned()).await;
        }
        socket.on(
            "join",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.join(room.clone()).await;
                let _ = ack.send(&room);
            },
        );
        socket.on("rooms", |socket: Socket, (): (), ack: Ack| async move {
            let _ = ack.send(&socket.rooms().await);
        });
    });
    println!(
        "admin UI: mode {}, authentication {}, {}",
        options.get_mode().as_str(),
        if options.has_auth() { "basic" } else { "off" },
        if options.is_read_only() {
            "read-only"
        } else {
            "actions allowed"
        }
    );
    instrument(&io, options).unwrap_or_else(|e| fail(e.to_string()));

    let app = Router::new().fallback_service(ui).layer(io.layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!("open http://{addr}/admin/ (server URL http://{addr})");
    axum::serve(listener, app).await
}
