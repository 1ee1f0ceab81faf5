//! A chat server with its browser page: rooms, broadcasts, acknowledgements, images (binary),
//! volatile typing notices, a connect middleware checking the nickname.
//!
//! ```sh
//! bash scripts/demo.sh   # then open http://127.0.0.1:3000/ in two windows
//! ```
//!
//! The page loads the official browser client (`socket.io-client`'s `dist/socket.io.min.js`)
//! from this server at `/socket.io.min.js`, so the demo works offline. The file comes from
//! `tests/node_modules` (`scripts/demo.sh` installs it) or from `$SIO_CLIENT_BUNDLE`. `PORT`
//! picks the port (default 3000); the server listens on 127.0.0.1 only.
//!
//! # On several nodes (sio-redis)
//!
//! `--redis URL` makes the server one node of a cluster sharing that Redis (sio-redis's classic
//! adapter, `@socket.io/redis-adapter`'s `createAdapter`): messages, join and leave notices
//! reach the room's members on every node, and the `here` list of a join names them all.
//! `--name NAME` names the node (default `chat`); each node prints who connects to it, over
//! which transport. Behind a load balancer, HTTP long-polling needs sticky sessions (see
//! sio-redis's guide "Using multiple nodes", and `tests/tests/cluster_nginx.rs`).
//!
//! ```sh
//! redis-server --port 6379 &
//! PORT=3001 cargo run -p sio-server --example chat -- --redis redis://127.0.0.1:6379 --name a
//! PORT=3002 cargo run -p sio-server --example chat -- --redis redis://127.0.0.1:6379 --name b
//! ```
//!
//! # The Admin UI (sio-admin)
//!
//! The server instruments itself for the official Socket.IO Admin UI (`@socket.io/admin-ui`):
//! its page is served at `/admin/` (from `tests/node_modules/@socket.io/admin-ui/ui/dist`, or
//! `$SIO_ADMIN_UI_DIR`) and its namespace is `/admin`. With no variable set the namespace needs
//! no login and runs in development mode (every event is shown). `SIO_ADMIN_PASSWORD` (or a
//! bcrypt hash in `SIO_ADMIN_PASSWORD_HASH`) turns basic auth on for user `SIO_ADMIN_USER`
//! (default `admin`), `SIO_ADMIN_MODE=production` sends aggregates only, and
//! `SIO_ADMIN_READONLY=1` refuses the actions. In the page, the server URL is this server's
//! (`http://127.0.0.1:3000`).

use std::path::PathBuf;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sio_redis::RedisAdapter;
use sio_redis::conn::RedisConfig;
use sio_server::{Ack, Error, Socket, SocketIo, SocketIoConfig};

#[derive(Clone)]
struct Nick(String);

/// The socket's `data`, which every node of a cluster sees (`fetch_sockets`).
#[derive(Serialize)]
struct Shared<'a> {
    nick: &'a str,
}

/// The room a socket chats in (one at a time).
#[derive(Clone)]
struct Room(String);

#[derive(Serialize, Deserialize)]
struct Message {
    from: String,
    text: String,
}

/// An image as the page sends it: a MIME type and the bytes (a binary attachment).
#[derive(Deserialize)]
struct ImageIn {
    name: String,
    #[serde(rename = "type")]
    mime: String,
    data: Bytes,
}

/// An image as the others receive it.
#[derive(Serialize)]
struct ImageOut {
    from: String,
    name: String,
    #[serde(rename = "type")]
    mime: String,
    data: Bytes,
}

/// Images up to 512 KiB (the Engine.IO default limit on a message is 1 MB).
const MAX_IMAGE: usize = 512 * 1024;

fn nick(socket: &Socket) -> String {
    socket.data::<Nick>().map(|n| n.0).unwrap_or_default()
}

fn room(socket: &Socket) -> Option<String> {
    socket.data::<Room>().map(|r| r.0)
}

/// The browser bundle of socket.io-client: `$SIO_CLIENT_BUNDLE`, or the copy npm installed in
/// `tests/node_modules`.
fn client_bundle() -> Result<Vec<u8>, String> {
    let path = std::env::var_os("SIO_CLIENT_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/node_modules/socket.io-client/dist/socket.io.min.js")
        });
    std::fs::read(&path).map_err(|e| {
        format!(
            "cannot read the browser client {} ({e}).\nRun `bash scripts/demo.sh`: it installs \
             the npm packages (npm ci in tests/) and starts this example; or set \
             SIO_CLIENT_BUNDLE to a socket.io.min.js of socket.io-client 4.x.",
            path.display()
        )
    })
}

const HELP: &str = "\
chat: the sio chat demo (open http://127.0.0.1:PORT/ in two windows)

usage: chat [--redis URL [--name NAME]]

  --redis URL   one node of a cluster sharing that Redis (sio-redis's classic adapter)
  --name NAME   this node's name in the cluster (default chat)
  -h, --help    print this help and exit

environment:
  PORT                      the port on 127.0.0.1 (default 3000)
  SIO_CLIENT_BUNDLE         socket.io.min.js to serve (default: tests/node_modules)
  SIO_ADMIN_PASSWORD        basic auth on the Admin UI's namespace /admin (default: no auth)
  SIO_ADMIN_PASSWORD_HASH   the same, given as a bcrypt hash
  SIO_ADMIN_USER            the Admin UI's user name (default admin)
  SIO_ADMIN_MODE            development (default: every event) or production (aggregates)
  SIO_ADMIN_READONLY        1: the Admin UI cannot join, leave or disconnect sockets
  SIO_ADMIN_UI_DIR          the Admin UI's page (default: tests/node_modules/@socket.io/admin-ui/ui/dist)

The Admin UI page is at http://127.0.0.1:PORT/admin/.";

/// The command line: `--redis URL` and `--name NAME`. `--help` prints the usage and exits 0;
/// an unknown argument or a missing value prints an error and the usage and exits 2.
fn parse_args() -> (Option<String>, Option<String>) {
    let fail = |message: String| -> ! {
        eprintln!("error: {message}\n\n{HELP}");
        std::process::exit(2)
    };
    let (mut redis, mut name) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            "--redis" => &mut redis,
            "--name" => &mut name,
            _ => fail(format!("unknown argument `{arg}`")),
        };
        let Some(value) = args.next() else {
            fail(format!("{arg} takes a value"))
        };
        // The first occurrence wins, as before.
        slot.get_or_insert(value);
    }
    (redis, name)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (redis, name) = parse_args();
    let bundle = match client_bundle() {
        Ok(bundle) => Bytes::from(bundle),
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    };
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().unwrap_or_else(|_| {
            eprintln!("error: PORT={port} is not a port number");
            std::process::exit(1);
        }),
        Err(_) => 3000,
    };
    let name = name.unwrap_or_else(|| "chat".to_owned());

    let io = match &redis {
        None => SocketIo::new(SocketIoConfig::default()),
        Some(url) => match RedisAdapter::classic(RedisConfig::standalone(url.as_str())).await {
            Ok(adapter) => SocketIo::with_adapter(SocketIoConfig::default(), adapter.factory()),
            Err(e) => {
                eprintln!("error: cannot use the Redis at {url}: {e}");
                std::process::exit(1);
            }
        },
    };
    let admin = sio_admin::InstrumentOptions::from_env().map_err(std::io::Error::other)?;
    sio_admin::instrument(&io, admin).map_err(std::io::Error::other)?;
    let admin_ui = sio_admin::AdminUi::from_env_or_node_modules(concat!(
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
        eprintln!(
            "error: cannot read the Admin UI's page ({e}{cause}); run `bash scripts/demo.sh`"
        );
        std::process::exit(1);
    });
    let cluster = redis.is_some();
    let chat = io.of("/");
    chat.use_middleware(|socket| async move {
        let nick = socket
            .handshake()
            .auth
            .get("nick")
            .and_then(|n| n.as_str())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if nick.is_empty() || nick.chars().count() > 32 {
            return Err(Error::rejected("invalid nickname").with_data(&"1 to 32 characters"));
        }
        let _ = socket.set_data(&Shared { nick: &nick });
        socket.insert_data(Nick(nick));
        Ok(())
    });
    chat.on_connection(move |socket| {
        if cluster {
            println!(
                "{} connected to {name} ({})",
                nick(&socket),
                socket.transport()
            );
        }
        handlers(socket)
    });

    let app = Router::new()
        .route("/", get(|| async { Html(include_str!("index.html")) }))
        .route(
            "/socket.io.min.js",
            get(move || {
                let bundle = bundle.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                        bundle,
                    )
                        .into_response()
                }
            }),
        )
        .fallback_service(admin_ui)
        .layer(io.layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!("open http://{addr}/");
    println!("admin UI: http://{addr}/admin/ (server URL http://{addr})");
    axum::serve(listener, app).await
}

/// The handlers of a connected socket.
async fn handlers(socket: Socket) {
    // Joins a room (leaving the previous one); the ack lists who is there.
    socket.on(
        "join",
        |socket: Socket, (name,): (String,), ack: Ack| async move {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 32 {
                let _ = ack.send(&JoinError {
                    error: "the room name takes 1 to 32 characters",
                });
                return;
            }
            if let Some(old) = room(&socket) {
                socket.leave(old.clone()).await;
                let _ = socket.to(old).emit("left", &nick(&socket)).await;
            }
            socket.join(name.clone()).await;
            socket.insert_data(Room(name.clone()));
            let _ = socket.to(name.clone()).emit("joined", &nick(&socket)).await;
            let mut nicks: Vec<String> = socket
                .namespace()
                .to(name)
                .fetch_sockets()
                .await
                .unwrap_or_default()
                .iter()
                // On any node of the cluster: the nick is in the socket's shared data.
                .filter_map(|s| s.data().get("nick")?.as_str().map(str::to_owned))
                .collect();
            nicks.sort();
            let _ = ack.send(&Joined { here: nicks });
        },
    );
    // A message: to everyone else in the room; the ack tells the sender it went out.
    socket.on(
        "message",
        |socket: Socket, text: String, ack: Ack| async move {
            let Some(room) = room(&socket) else {
                let _ = ack.send(&"join a room first");
                return;
            };
            let message = Message {
                from: nick(&socket),
                text,
            };
            let _ = socket.to(room).emit("message", &message).await;
            let _ = ack.send(&"sent");
        },
    );
    // An image: its bytes travel as a binary attachment.
    socket.on(
        "image",
        |socket: Socket, (image,): (ImageIn,), ack: Ack| async move {
            let Some(room) = room(&socket) else {
                let _ = ack.send(&"join a room first");
                return;
            };
            if !image.mime.starts_with("image/") || image.data.len() > MAX_IMAGE {
                let _ = ack.send(&"not an image of at most 512 KiB");
                return;
            }
            let image = ImageOut {
                from: nick(&socket),
                name: image.name,
                mime: image.mime,
                data: image.data,
            };
            let _ = socket.to(room).emit("image", &image).await;
            let _ = ack.send(&"sent");
        },
    );
    // Typing notices may be lost: volatile.
    socket.on("typing", |socket: Socket, (): (), _| async move {
        if let Some(room) = room(&socket) {
            let _ = socket
                .to(room)
                .volatile()
                .emit("typing", &nick(&socket))
                .await;
        }
    });
    socket.on_disconnect(|socket, reason| async move {
        println!("{} left ({reason})", nick(&socket));
        if let Some(room) = room(&socket) {
            let _ = socket
                .namespace()
                .to(room)
                .emit("left", &nick(&socket))
                .await;
        }
    });
}

/// The answer to a `join`.
#[derive(Serialize)]
struct Joined {
    here: Vec<String>,
}

/// A refused `join`.
#[derive(Serialize)]
struct JoinError {
    error: &'static str,
}
