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
//! # In a cluster (sio-redis)
//!
//! - `--redis URL`: the classic Redis adapter (`@socket.io/redis-adapter`'s `createAdapter`,
//!   key `socket.io`); with `--sharded` the sharded one (`createShardedAdapter`, subscription
//!   mode `dynamic`); with `--cluster` too, `URL` is a seed node of a Redis Cluster.
//! - `--name NAME`: the node's name (default `conformance`); `--requests-timeout MS`: the
//!   adapter's `requests_timeout` (default 5000).
//!
//! On namespace `/`, besides the handlers above, in every mode (each acknowledged; a failure
//! is acknowledged as `{"error": message}`):
//!
//! | event (arguments) | does | acknowledges |
//! |---|---|---|
//! | `join` (room) | `socket.join(room)` | `true` |
//! | `broadcast` (room or null, ...args) | `io.to(room).emit("broadcast", ...args)` (everyone when null) | `true` |
//! | `broadcast-except` (room or null, except, ...args) | the same, `.except(except)` | `true` |
//! | `broadcast-ack` (room or null, ...args) | `io.to(room).timeout(2 s).emitWithAck("ask", ...args)` | the replies, sorted (`{"error", "replies"}` when some are missing) |
//! | `fetch` (room or null) | `io.in(room).fetchSockets()` | `[{id, rooms}]` sorted by id (rooms sorted) |
//! | `fetch-data` (room or null) | the same | `[{id, rooms, data}]` |
//! | `sockets-join` / `sockets-leave` (room or null, room) | `io.in(room).socketsJoin(room2)` / `socketsLeave` | `true` |
//! | `disconnect-sockets` (room or null, close) | `io.in(room).disconnectSockets(close)` | `true` |
//! | `sse` (...args) | `serverSideEmitWithAck("sse", ...args)`, timeout 2 s | the replies, sorted |
//! | `count` | `serverCount()` | the count |
//!
//! Every socket's `data` is `{"node": NAME}`, and every node answers a server-side `sse` with
//! its `NAME`.
//!
//! ```sh
//! PORT=3000 cargo run -p sio-server --example conformance
//! PORT=3000 cargo run -p sio-server --example conformance -- --engine-io
//! PORT=3001 cargo run -p sio-server --example conformance -- --redis redis://127.0.0.1:6379 --name a
//! ```

use std::time::Duration;

use serde::ser::{Serialize, SerializeTuple, Serializer};
use serde_json::json;
use sio_redis::conn::{RedisConfig, RedisConnection};
use sio_redis::{ClassicOptions, RedisAdapter, ShardedOptions};
use sio_server::protocol::Value;
use sio_server::protocol::socket::Args;
use sio_server::{
    Ack, BroadcastOperator, Cors, EngineConfig, EngineIo, Namespace, RemoteSocket, Socket,
    SocketIo, SocketIoConfig,
};

const USAGE: &str = "\
conformance: the servers of the official Socket.IO and Engine.IO protocol test suites, on
127.0.0.1 (ping interval 300 ms, ping timeout 200 ms, max payload 1,000,000, CORS *)

usage: conformance [--eio3] [--engine-io] [--recovery]
                   [--redis URL [--sharded] [--cluster] [--name NAME] [--requests-timeout MS]]

  --eio3                  also accept Engine.IO v3 / Socket.IO 2.x clients
  --engine-io             the Engine.IO suite: an Engine.IO echo server on /engine.io/
                          (default: the Socket.IO v5 suite on /socket.io/)
  --recovery              connection state recovery on (5 s, middlewares skipped)
  --redis URL             one node of a cluster: sio-redis's classic adapter on that Redis
  --sharded               with --redis: the sharded adapter (subscription mode dynamic)
  --cluster               with --redis: URL is a seed node of a Redis Cluster
  --name NAME             this node's name, in every socket's data (default conformance)
  --requests-timeout MS   the adapter's requests timeout in ms (default 5000)
  -h, --help              print this help and exit

environment:
  PORT   the port on 127.0.0.1 (default 3000)";

/// The command line, parsed: the flags present and the values of those that take one.
struct Flags {
    set: Vec<&'static str>,
    values: Vec<(&'static str, String)>,
}

impl Flags {
    /// Parses the arguments: `--help` prints the usage and exits 0; an unknown flag, a
    /// positional argument or a missing value prints an error and the usage and exits 2.
    fn parse() -> Flags {
        const SWITCHES: [&str; 5] = [
            "--eio3",
            "--engine-io",
            "--recovery",
            "--sharded",
            "--cluster",
        ];
        const WITH_VALUE: [&str; 3] = ["--redis", "--name", "--requests-timeout"];
        let fail = |message: String| -> ! {
            eprintln!("error: {message}\n\n{USAGE}");
            std::process::exit(2)
        };
        let mut flags = Flags {
            set: Vec::new(),
            values: Vec::new(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                println!("{USAGE}");
                std::process::exit(0);
            } else if let Some(&name) = SWITCHES.iter().find(|&&f| f == arg) {
                flags.set.push(name);
            } else if let Some(&name) = WITH_VALUE.iter().find(|&&f| f == arg) {
                match args.next() {
                    Some(value) => flags.values.push((name, value)),
                    None => fail(format!("{name} takes a value")),
                }
            } else {
                fail(format!("unknown argument `{arg}`"))
            }
        }
        flags
    }

    fn has(&self, name: &str) -> bool {
        self.set.contains(&name)
    }

    /// The value of a flag given with one (the first when it is given twice).
    fn value(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let flags = Flags::parse();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let has = |name: &str| flags.has(name);
    let value = |name: &str| flags.value(name);
    let engine_only = has("--engine-io");
    let eio3 = has("--eio3");
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
    let config = if has("--recovery") {
        let recovery = sio_server::ConnectionStateRecovery::default()
            .max_disconnection_duration(Duration::from_secs(5))
            .skip_middlewares(true);
        config.connection_state_recovery(recovery)
    } else {
        config
    };
    // ---- end of connection state recovery ----
    let io = match value("--redis") {
        None => SocketIo::new(config),
        Some(url) => {
            let timeout = value("--requests-timeout")
                .and_then(|ms| ms.parse().ok())
                .map_or(Duration::from_secs(5), Duration::from_millis);
            let adapter = redis_adapter(&url, has("--sharded"), has("--cluster"), timeout)
                .await
                .map_err(std::io::Error::other)?;
            SocketIo::with_adapter(config, adapter.factory())
        }
    };
    let name: &'static str = value("--name")
        .map(|n| &*Box::leak(n.into_boxed_str()))
        .unwrap_or("conformance");
    io.of("/")
        .on_server_event_args("sse", move |_ns, _args, ack| async move {
            let _ = ack.send(name);
        })
        .expect("sse is no reserved name");
    io.of("/").on_connection(move |socket| async move {
        let _ = socket.set_data(&json!({ "node": name }));
        let _ = socket.emit("auth", &socket.handshake().auth).await;
        socket.on_args("message", |socket, args: Args, _ack| async move {
            let _ = socket.emit_args("message-back", args).await;
        });
        socket.on_args("message-with-ack", |_socket, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
        cluster_handlers(&socket);
    });
    // ---- `rooms`, `ticks`, `status` on `/` (connection state recovery tests) ----
    io.of("/")
        .on_connection(|socket| async move { recovery_events(&socket) });
    // ---- end of `rooms`, `ticks`, `status` ----
    io.of("/custom").on_connection(|socket| async move {
        let _ = socket.emit("auth", &socket.handshake().auth).await;
    });
    let server = io.listen(("127.0.0.1", port)).await?;
    println!("listening on {}", server.local_addr());
    std::future::pending::<()>().await;
    Ok(())
}

// ---- `join`, `rooms`, `ticks`, `status` on `/` (connection state recovery tests) ----

/// The events the interop tests of connection state recovery use (`join` is one of
/// [`cluster_handlers`]).
fn recovery_events(socket: &Socket) {
    socket.on("rooms", |socket: Socket, (): (), ack: Ack| async move {
        let mut rooms: Vec<String> = socket.rooms().await.iter().map(|r| r.to_string()).collect();
        rooms.sort();
        let _ = ack.send(&(rooms,));
    });
    socket.on(
        "ticks",
        |socket: Socket, (n, every_ms): (u32, u64), ack: Ack| async move {
            let _ = ack.send(&true);
            // On a task of its own: the socket's later events are not held back. With recovery
            // on, ticks emitted while the connection is cut reach the socket that recovers this
            // one's session.
            tokio::spawn(async move {
                for i in 0..n.min(100_000) {
                    tokio::time::sleep(Duration::from_millis(every_ms.max(1))).await;
                    let _ = socket.emit("tick", &i).await;
                }
            });
        },
    );
    socket.on("status", |socket: Socket, (): (), ack: Ack| async move {
        let status =
            serde_json::json!({"id": socket.id().as_str(), "recovered": socket.recovered()});
        let _ = ack.send(&status);
    });
}

// ---- end of `join`, `rooms`, `ticks`, `status` ----

async fn redis_adapter(
    url: &str,
    sharded: bool,
    cluster: bool,
    requests_timeout: Duration,
) -> Result<RedisAdapter, sio_redis::Error> {
    let config = if cluster {
        RedisConfig::cluster([url])
    } else {
        RedisConfig::standalone(url)
    };
    let conn = RedisConnection::connect(config).await?;
    if sharded {
        let options = ShardedOptions::default().requests_timeout(requests_timeout);
        RedisAdapter::sharded_with(conn, options).await
    } else {
        let options = ClassicOptions::default().requests_timeout(requests_timeout);
        RedisAdapter::classic_with(conn, options).await
    }
}

/// Values sent as several arguments (a tuple to `Args::new`).
struct Spread(Vec<Value>);

impl Serialize for Spread {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

/// The arguments of an event, as values.
fn values(args: &Args) -> Vec<Value> {
    args.to_values().unwrap_or_default()
}

/// `io.to(room)`, or everyone when `room` is not a string.
fn target(ns: &Namespace, room: Option<&Value>) -> BroadcastOperator {
    match room.and_then(Value::as_str) {
        Some(room) => ns.to(room.to_owned()),
        None => ns.broadcast(),
    }
}

fn error(e: impl std::fmt::Display) -> serde_json::Value {
    json!({ "error": e.to_string() })
}

fn done<E: std::fmt::Display>(result: Result<(), E>) -> serde_json::Value {
    match result {
        Ok(()) => json!(true),
        Err(e) => error(e),
    }
}

/// Values sorted by their JSON text.
fn sorted(mut replies: Vec<Value>) -> Vec<Value> {
    replies.sort_by_key(|v| v.to_string());
    replies
}

fn first_values(replies: Vec<Args>) -> Vec<Value> {
    replies
        .iter()
        .map(|args| values(args).into_iter().next().unwrap_or(Value::Null))
        .collect()
}

fn describe(sockets: Vec<RemoteSocket>, with_data: bool) -> serde_json::Value {
    let mut out: Vec<(String, serde_json::Value)> = sockets
        .iter()
        .map(|s| {
            let mut rooms: Vec<&str> = s.rooms().iter().map(|r| r.as_str()).collect();
            rooms.sort_unstable();
            let mut entry = json!({ "id": s.id().as_str(), "rooms": rooms });
            if with_data {
                entry["data"] = serde_json::to_value(s.data()).unwrap_or_default();
            }
            (s.id().to_string(), entry)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    json!(out.into_iter().map(|(_, e)| e).collect::<Vec<_>>())
}

/// The handlers of the cluster tests (see the module docs).
fn cluster_handlers(socket: &Socket) {
    socket.on_args("join", |socket, args: Args, ack: Ack| async move {
        if let Some(room) = values(&args).first().and_then(Value::as_str) {
            socket.join(room.to_owned()).await;
        }
        let _ = ack.send(&true);
    });
    socket.on_args("broadcast", |socket, args: Args, ack: Ack| async move {
        let mut args = values(&args);
        let room = (!args.is_empty()).then(|| args.remove(0));
        let op = target(socket.namespace(), room.as_ref());
        let _ = ack.send(&done(op.emit("broadcast", &Spread(args)).await));
    });
    socket.on_args(
        "broadcast-except",
        |socket, args: Args, ack: Ack| async move {
            let mut args = values(&args);
            let room = (!args.is_empty()).then(|| args.remove(0));
            let except = (!args.is_empty()).then(|| args.remove(0));
            let mut op = target(socket.namespace(), room.as_ref());
            if let Some(except) = except.as_ref().and_then(Value::as_str) {
                op = op.except(except.to_owned());
            }
            let _ = ack.send(&done(op.emit("broadcast", &Spread(args)).await));
        },
    );
    socket.on_args("broadcast-ack", |socket, args: Args, ack: Ack| async move {
        let mut args = values(&args);
        let room = (!args.is_empty()).then(|| args.remove(0));
        let op = target(socket.namespace(), room.as_ref()).timeout(Duration::from_secs(2));
        let answer = match op.emit_with_ack("ask", &Spread(args)).await {
            Ok(replies) => json!(sorted(first_values(replies))),
            Err(partial) => {
                let message = partial.to_string();
                json!({ "error": message, "replies": sorted(first_values(partial.into_replies())) })
            }
        };
        let _ = ack.send(&answer);
    });
    for (event, with_data) in [("fetch", false), ("fetch-data", true)] {
        socket.on_args(event, move |socket, args: Args, ack: Ack| async move {
            let room = values(&args).into_iter().next();
            let op = target(socket.namespace(), room.as_ref());
            let answer = match op.fetch_sockets().await {
                Ok(sockets) => describe(sockets, with_data),
                Err(e) => error(e),
            };
            let _ = ack.send(&answer);
        });
    }
    for (event, join) in [("sockets-join", true), ("sockets-leave", false)] {
        socket.on_args(event, move |socket, args: Args, ack: Ack| async move {
            let args = values(&args);
            let op = target(socket.namespace(), args.first());
            let Some(room) = args.get(1).and_then(Value::as_str).map(str::to_owned) else {
                let _ = ack.send(&error("a room is needed"));
                return;
            };
            let result = if join {
                op.sockets_join(room).await
            } else {
                op.sockets_leave(room).await
            };
            let _ = ack.send(&done(result));
        });
    }
    socket.on_args(
        "disconnect-sockets",
        |socket, args: Args, ack: Ack| async move {
            let args = values(&args);
            let op = target(socket.namespace(), args.first());
            let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
            // Acknowledged first: the requesting socket may be among those disconnected.
            let _ = ack.send(&true);
            if let Err(e) = op.disconnect_sockets(close).await {
                eprintln!("disconnect-sockets: {e}");
            }
        },
    );
    socket.on_args("sse", |socket, args: Args, ack: Ack| async move {
        let args = values(&args);
        let result = socket
            .namespace()
            .server_side_emit_with_ack("sse", &Spread(args))
            .timeout(Duration::from_secs(2))
            .await;
        let replies = match result {
            Ok(replies) => replies,
            Err(partial) => partial.into_replies(),
        };
        let _ = ack.send(&sorted(first_values(replies)));
    });
    socket.on_args("count", |socket, _args: Args, ack: Ack| async move {
        let answer = match socket.namespace().server_count().await {
            Ok(n) => json!(n),
            Err(e) => error(e),
        };
        let _ = ack.send(&answer);
    });
}

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
