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

use std::path::PathBuf;

use axum::Router;
use sio_admin::{AdminUi, Auth, InstrumentOptions, Mode, instrument};
use sio_server::{SocketIo, SocketIoConfig};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn fail(message: String) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: admin (configured by environment: PORT, SIO_ADMIN_USER, SIO_ADMIN_PASSWORD \
             or SIO_ADMIN_PASSWORD_HASH, SIO_ADMIN_MODE=development|production, \
             SIO_ADMIN_READONLY=1, SIO_ADMIN_UI_DIR)"
        );
        return Ok(());
    }
    let port: u16 = match env("PORT") {
        Some(port) => port
            .parse()
            .unwrap_or_else(|_| fail(format!("PORT={port} is not a port number"))),
        None => 3000,
    };
    let user = env("SIO_ADMIN_USER").unwrap_or_else(|| "admin".to_owned());
    let hash = match (env("SIO_ADMIN_PASSWORD_HASH"), env("SIO_ADMIN_PASSWORD")) {
        (Some(hash), _) => Some(hash),
        (None, Some(password)) => Some(
            bcrypt::hash(password, 10)
                .unwrap_or_else(|e| fail(format!("cannot hash the password: {e}"))),
        ),
        (None, None) => None,
    };
    let auth = match hash {
        Some(hash) => Auth::basic(user, hash).unwrap_or_else(|e| fail(e.to_string())),
        None => Auth::None,
    };
    let mode: Mode = env("SIO_ADMIN_MODE")
        .map(|m| {
            m.parse()
                .unwrap_or_else(|e| fail(format!("SIO_ADMIN_MODE: {e}")))
        })
        .unwrap_or_default();
    let read_only = env("SIO_ADMIN_READONLY").is_some_and(|v| v == "1" || v == "true");
    let ui_dir = env("SIO_ADMIN_UI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/node_modules/@socket.io/admin-ui/ui/dist")
        });
    let ui = AdminUi::from_dir(&ui_dir).unwrap_or_else(|e| {
        fail(format!(
            "cannot read the Admin UI page in {}: {e} (run `npm ci` in tests/, or set SIO_ADMIN_UI_DIR)",
            ui_dir.display()
        ))
    });

    let io = SocketIo::new(SocketIoConfig::default());
    io.of("/").on_connection(|socket| async move {
        if let Some(room) = socket.handshake().query_param("room") {
            socket.join(room.to_owned()).await;
        }
        socket.on("join", |socket, (room,): (String,), ack| async move {
            socket.join(room.clone()).await;
            let _ = ack.send(&room);
        });
        socket.on("rooms", |socket, (): (), ack| async move {
            let _ = ack.send(&socket.rooms().await);
        });
    });
    let auth_on = matches!(auth, Auth::Basic { .. });
    instrument(
        &io,
        InstrumentOptions::new(auth).mode(mode).read_only(read_only),
    )
    .unwrap_or_else(|e| fail(e.to_string()));

    let app = Router::new().fallback_service(ui).layer(io.layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!(
        "admin UI: mode {}, authentication {}, {}",
        mode.as_str(),
        if auth_on { "basic" } else { "off" },
        if read_only {
            "read-only"
        } else {
            "actions allowed"
        }
    );
    println!("open http://{addr}/admin/ (server URL http://{addr})");
    axum::serve(listener, app).await
}
