//! The Socket.IO Admin UI (sio-admin) against the official pieces of `@socket.io/admin-ui`
//! 0.5.1, with the Node.js server instrumented by its `instrument()` as the reference:
//!
//! - on the wire, with official socket.io-client 4.8 clients playing the UI
//!   (`tests/js/admin-clients.js`): authentication, the development-mode events and the
//!   actions, read-only, production mode; the same scenario runs against the Rust server and
//!   the Node.js one (`tests/js/admin-node-server.js`), and the shapes of what they send are
//!   compared;
//! - across a cluster: two Rust servers sharing a Redis (sio-redis), the UI on one of them;
//! - in headless Chromium: the UI's own page, served by `sio-admin/examples/admin.rs` (and by
//!   the Node.js server), logs in and acts on two clients (`tests/js/browser-admin.js`).

#[allow(dead_code)]
mod browser_support;
mod redis_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use redis_support::{JsDriver, NodeProcess};
use serde_json::{Value as Json, json};
use sio_admin::{Auth, InstrumentOptions, Mode, instrument};
use sio_server::{Ack, ServerHandle, Socket, SocketIo, SocketIoConfig};

/// `require("bcryptjs").hashSync("changeit", 4)`: cost 4 keeps logins fast in tests.
const HASH: &str = "$2a$04$5vCrdvPCrZ6U0y2pI1DP6OHHph54j0yhkY5je8ytacVNUEOU36k1C";
const WAIT: Duration = Duration::from_secs(10);

/// The app both servers run on `/` (as `sio-admin/examples/admin.rs` and
/// `tests/js/admin-node-server.js`).
fn app(io: &SocketIo) {
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
    // The barrier of the Node.js server: answered after the admin socket's earlier events.
    io.of("/admin").on_connection(|socket| async move {
        socket.on("probe", |_, (): (), ack: Ack| async move {
            let _ = ack.send(&"probed");
        });
    });
}

/// A server under test: the Rust one in this process (its own runtime), or the reference.
enum Server {
    Rust {
        _rt: tokio::runtime::Runtime,
        _io: SocketIo,
        _handle: ServerHandle,
        url: String,
    },
    Node {
        _process: NodeProcess,
        url: String,
    },
}

impl Server {
    fn rust(options: InstrumentOptions) -> Server {
        Server::rust_with(options, async { SocketIo::new(SocketIoConfig::default()) })
    }

    /// The Rust server made by `make`, in a runtime of its own.
    fn rust_with(
        options: InstrumentOptions,
        make: impl std::future::Future<Output = SocketIo>,
    ) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (io, handle) = rt.block_on(async {
            let io = make.await;
            app(&io);
            instrument(&io, options.stats_interval(Duration::from_millis(200))).unwrap();
            let handle = io.listen("127.0.0.1:0").await.unwrap();
            (io, handle)
        });
        let url = format!("http://{}", handle.local_addr());
        Server::Rust {
            _rt: rt,
            _io: io,
            _handle: handle,
            url,
        }
    }

    fn node(config: Json) -> Server {
        let mut process = NodeProcess::spawn("admin-node-server.js", &[&config.to_string()]);
        let port = process.wait_event("listening", WAIT)["port"]
            .as_u64()
            .unwrap();
        Server::Node {
            _process: process,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn url(&self) -> &str {
        match self {
            Server::Rust { url, .. } | Server::Node { url, .. } => url,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Server::Rust { .. } => "rust",
            Server::Node { .. } => "node",
        }
    }
}

/// The official clients.
struct Clients(JsDriver);

impl Clients {
    fn new() -> Clients {
        Clients(JsDriver::spawn("admin-clients.js", &[]))
    }

    fn connect(&mut self, name: &str, url: &str, extra: Json) -> Result<String, String> {
        let mut args = json!({"name": name, "url": url});
        if let (Some(args), Some(extra)) = (args.as_object_mut(), extra.as_object()) {
            args.extend(extra.clone());
        }
        self.0
            .call("connect", args)
            .map(|id| id.as_str().unwrap().to_owned())
    }

    fn admin(&mut self, name: &str, server: &Server, auth: Json) -> Result<String, String> {
        self.connect(name, server.url(), json!({"nsp": "/admin", "auth": auth}))
    }

    fn emit(&mut self, client: &str, event: &str, args: Json) {
        self.0
            .call(
                "emit",
                json!({"client": client, "event": event, "args": args}),
            )
            .unwrap();
    }

    fn ask(&mut self, client: &str, event: &str, args: Json) -> Result<Json, String> {
        self.0.call(
            "ask",
            json!({"client": client, "event": event, "args": args}),
        )
    }

    /// The admin socket's earlier events were handled.
    fn barrier(&mut self, admin: &str) {
        assert_eq!(self.ask(admin, "probe", json!([])).unwrap(), "probed");
    }

    /// The arguments of every `event` `client` received so far.
    fn received(&self, client: &str, event: &str) -> Vec<Json> {
        self.0
            .events()
            .into_iter()
            .filter(|e| e["event"] == "received" && e["client"] == client && e["name"] == event)
            .map(|e| e["args"].clone())
            .collect()
    }

    /// Waits until `client` received an `event` whose arguments satisfy `pred`; returns them.
    fn wait(&self, client: &str, event: &str, pred: impl Fn(&Json) -> bool) -> Json {
        let what = format!("{event} on {client}");
        self.0.wait_events(WAIT, &what, |events| {
            events.iter().any(|e| {
                e["event"] == "received"
                    && e["client"] == client
                    && e["name"] == event
                    && pred(&e["args"])
            })
        });
        self.received(client, event)
            .into_iter()
            .find(|args| pred(args))
            .unwrap()
    }

    fn wait_disconnected(&self, client: &str) -> String {
        self.0
            .wait_events(WAIT, &format!("{client} disconnected"), |events| {
                events
                    .iter()
                    .any(|e| e["event"] == "disconnected" && e["client"] == client)
            });
        self.0
            .events()
            .into_iter()
            .find(|e| e["event"] == "disconnected" && e["client"] == client)
            .unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn rooms(&mut self, client: &str) -> BTreeSet<String> {
        let rooms = self.ask(client, "rooms", json!([])).unwrap();
        rooms
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    }
}

/// The keys of a JSON object, sorted.
fn keys(value: &Json) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn is_iso_date(value: &Json) -> bool {
    let s = value.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

// ----- authentication -----

/// Basic authentication: no credentials, a wrong password or username, or an unknown session
/// id are refused with "invalid credentials"; the right password gets a session id, which
/// then logs in alone.
fn check_basic_auth(server: &Server) {
    let name = server.name();
    let mut c = Clients::new();
    for (i, auth) in [
        json!({}),
        json!({"username": "admin", "password": "wrong"}),
        json!({"username": "root", "password": "changeit"}),
        json!({"sessionId": "0123456789abcdef"}),
        // Crashes the Node.js server (bcryptjs throws on a missing password): Rust only.
        json!({"username": "admin"}),
    ]
    .into_iter()
    .enumerate()
    {
        if matches!(server, Server::Node { .. })
            && auth.get("password").is_none()
            && auth.get("username").is_some()
        {
            continue;
        }
        let refused = c.admin(&format!("intruder{i}"), server, auth.clone());
        assert_eq!(
            refused,
            Err("invalid credentials".to_owned()),
            "{name}: {auth} must be refused"
        );
    }
    c.admin(
        "ui",
        server,
        json!({"username": "admin", "password": "changeit"}),
    )
    .unwrap_or_else(|e| panic!("{name}: login refused: {e}"));
    let session = c.wait("ui", "session", |_| true)[0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(session.len(), 16, "{name}: session id {session}");
    assert!(session.bytes().all(|b| b.is_ascii_hexdigit()));
    c.wait("ui", "config", |_| true);

    c.admin("again", server, json!({"sessionId": session}))
        .unwrap_or_else(|e| panic!("{name}: the session id was refused: {e}"));
    c.wait("again", "config", |_| true);
    assert!(c.received("again", "session").is_empty());
}

#[test]
fn basic_auth_refuses_wrong_credentials_and_grants_sessions() {
    check_basic_auth(&Server::rust(InstrumentOptions::new(
        Auth::basic("admin", HASH).unwrap(),
    )));
    check_basic_auth(&Server::node(
        json!({"auth": {"type": "basic", "username": "admin", "password": HASH}}),
    ));
}

#[test]
fn a_password_that_is_no_bcrypt_hash_is_refused() {
    let e = Auth::basic("admin", "changeit").unwrap_err();
    assert_eq!(e.kind(), sio_admin::ErrorKind::InvalidPasswordHash);
    assert_eq!(
        e.to_string(),
        "the `password` field must be a valid bcrypt hash"
    );
}

// ----- development mode and the actions -----

/// What one server did in [`check_development`], for the comparison with the other.
struct Seen {
    features: Json,
    socket_keys: BTreeSet<String>,
    handshake_keys: BTreeSet<String>,
    stats_keys: BTreeSet<String>,
}

/// Two clients in rooms; the UI lists them, makes one join and leave a room, sends it an
/// event, and disconnects the other; every step shows on the clients and in the events the
/// UI gets.
fn check_development(server: &Server) -> Seen {
    let name = server.name();
    let url = server.url().to_owned();
    let mut c = Clients::new();
    let alice = c
        .connect("alice", &url, json!({"query": {"room": "lobby"}}))
        .unwrap();
    let bob = c
        .connect("bob", &url, json!({"query": {"room": "games"}}))
        .unwrap();
    let ui = c.admin("ui", server, json!({})).unwrap();

    let config = c.wait("ui", "config", |_| true);
    let all = c.wait("ui", "all_sockets", |_| true)[0].clone();
    let find = |id: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {id} missing from all_sockets {all:#}"))
    };
    let a = find(&alice);
    assert_eq!(a["nsp"], "/", "{name}");
    assert_eq!(a["transport"], "websocket", "{name}");
    assert_eq!(a["clientId"].as_str().unwrap().len(), 12, "{name}");
    assert_eq!(a["handshake"]["query"]["room"], "lobby", "{name}");
    assert!(
        a["handshake"]["auth"].is_null(),
        "{name}: auth must not be listed"
    );
    let rooms_of = |s: &Json| -> BTreeSet<String> {
        s["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(rooms_of(&a), set(&[&alice, "lobby"]), "{name}");
    assert_eq!(rooms_of(&find(&bob)), set(&[&bob, "games"]), "{name}");
    // The UI's own socket is listed too, as in JavaScript.
    assert_eq!(find(&ui)["nsp"], "/admin", "{name}");

    // join
    c.emit("ui", "join", json!(["/", "vip", alice]));
    let joined = c.wait("ui", "room_joined", |args| args[1] == "vip");
    assert_eq!(joined[0], "/", "{name}");
    assert_eq!(joined[2], alice.as_str(), "{name}");
    assert!(is_iso_date(&joined[3]), "{name}: {joined}");
    assert_eq!(c.rooms("alice"), set(&[&alice, "lobby", "vip"]), "{name}");
    assert_eq!(c.rooms("bob"), set(&[&bob, "games"]), "{name}");

    // An event of the client, as the UI sees it (development mode).
    c.ask("alice", "join", json!(["extra"])).unwrap();
    let received = c.wait("ui", "event_received", |args| args[2][0] == "join");
    assert_eq!(received[0], "/", "{name}");
    assert_eq!(received[1], alice.as_str(), "{name}");
    assert_eq!(received[2], json!(["join", "extra"]), "{name}");

    // leave
    c.emit("ui", "leave", json!(["/", "vip", alice]));
    let left = c.wait("ui", "room_left", |args| args[1] == "vip");
    assert_eq!(left[2], alice.as_str(), "{name}");
    assert_eq!(c.rooms("alice"), set(&[&alice, "lobby", "extra"]), "{name}");

    // emit, to a room
    c.emit("ui", "emit", json!(["/", "lobby", "news", 1, "two"]));
    let news = c.wait("alice", "news", |_| true);
    assert_eq!(news, json!([1, "two"]), "{name}");

    // disconnect
    c.emit("ui", "_disconnect", json!(["/", false, bob]));
    assert_eq!(c.wait_disconnected("bob"), "io server disconnect", "{name}");
    let gone = c.wait("ui", "socket_disconnected", |args| args[1] == bob.as_str());
    assert_eq!(gone[0], "/", "{name}");
    assert_eq!(gone[2], "server namespace disconnect", "{name}");
    assert!(is_iso_date(&gone[3]), "{name}");
    c.barrier("ui");
    assert_eq!(c.rooms("alice"), set(&[&alice, "lobby", "extra"]), "{name}");

    // A new client is announced with its rooms: those it had when announced (JavaScript
    // announces it before the app's connection handler runs, Rust after) and those it joined
    // since.
    let carol = c
        .connect("carol", &url, json!({"query": {"room": "lobby"}}))
        .unwrap();
    let connected = c.wait("ui", "socket_connected", |args| {
        args[0]["id"] == carol.as_str()
    });
    assert!(is_iso_date(&connected[1]), "{name}");
    let mut seen = rooms_of(&connected[0]);
    if !seen.contains("lobby") {
        c.wait("ui", "room_joined", |args| {
            args[1] == "lobby" && args[2] == carol.as_str()
        });
        seen.insert("lobby".to_owned());
    }
    assert_eq!(seen, set(&[&carol, "lobby"]), "{name}");

    let stats = c.wait("ui", "server_stats", |args| {
        args[0]["namespaces"].as_array().is_some_and(|ns| {
            ns.iter()
                .any(|n| n["name"] == "/" && n["socketsCount"] == 2)
        })
    })[0]
        .clone();
    assert!(
        stats["clientsCount"].as_u64().unwrap() >= 3,
        "{name}: {stats}"
    );
    assert_eq!(stats["pollingClientsCount"], 0, "{name}: {stats}");

    Seen {
        features: config[0]["supportedFeatures"].clone(),
        socket_keys: keys(&a),
        handshake_keys: keys(&a["handshake"]),
        stats_keys: keys(&stats),
    }
}

#[test]
fn development_mode_lists_sockets_and_carries_out_actions_like_javascript() {
    let rust = check_development(&Server::rust(InstrumentOptions::new(Auth::None)));
    let node = check_development(&Server::node(json!({"auth": false})));
    assert_eq!(rust.features, node.features);
    assert_eq!(rust.socket_keys, node.socket_keys);
    assert_eq!(rust.handshake_keys, node.handshake_keys);
    assert_eq!(rust.stats_keys, node.stats_keys);
}

/// Namespaces created after `instrument` (here the children of a dynamic namespace, which
/// share their connection handlers) are watched too, each socket announced once.
#[test]
fn namespaces_created_later_are_watched() {
    let server = Server::rust_with(InstrumentOptions::new(Auth::None), async {
        let io = SocketIo::new(SocketIoConfig::default());
        io.of_dynamic(|name, _| name.starts_with("/dyn-"));
        io
    });
    let url = server.url().to_owned();
    let mut c = Clients::new();
    c.admin("ui", &server, json!({})).unwrap();
    c.wait("ui", "all_sockets", |_| true);
    let one = c.connect("one", &url, json!({"nsp": "/dyn-1"})).unwrap();
    let two = c.connect("two", &url, json!({"nsp": "/dyn-2"})).unwrap();
    for (id, nsp) in [(&one, "/dyn-1"), (&two, "/dyn-2")] {
        let connected = c.wait("ui", "socket_connected", |args| {
            args[0]["id"] == id.as_str()
        });
        assert_eq!(connected[0]["nsp"], nsp);
        c.wait("ui", "room_joined", |args| {
            args[0] == nsp && args[2] == id.as_str()
        });
    }
    c.emit("two", "hello", json!([]));
    c.wait("ui", "event_received", |args| {
        args[0] == "/dyn-2" && args[2] == json!(["hello"])
    });
    c.wait("ui", "server_stats", |args| {
        args[0]["namespaces"].as_array().is_some_and(|ns| {
            ns.iter()
                .any(|n| n["name"] == "/dyn-2" && n["socketsCount"] == 1)
        })
    });
    for id in [&one, &two] {
        let announced = c
            .received("ui", "socket_connected")
            .iter()
            .filter(|args| args[0]["id"] == id.as_str())
            .count();
        assert_eq!(announced, 1, "{id} announced {announced} times");
    }
}

// ----- read-only -----

fn check_read_only(server: &Server) {
    let name = server.name();
    let url = server.url().to_owned();
    let mut c = Clients::new();
    let alice = c.connect("alice", &url, json!({})).unwrap();
    c.admin("ui", server, json!({})).unwrap();
    let config = c.wait("ui", "config", |_| true);
    assert_eq!(
        config[0]["supportedFeatures"],
        json!(["AGGREGATED_EVENTS", "ALL_EVENTS"]),
        "{name}"
    );
    c.emit("ui", "join", json!(["/", "vip", alice]));
    c.emit("ui", "emit", json!(["/", "", "news", 1]));
    c.emit("ui", "_disconnect", json!(["/", true, alice]));
    c.barrier("ui");
    // Still connected, in its own room only, and no news.
    assert_eq!(c.rooms("alice"), set(&[&alice]), "{name}");
    assert!(c.received("alice", "news").is_empty(), "{name}");
    assert!(
        !c.0.events()
            .iter()
            .any(|e| e["event"] == "disconnected" && e["client"] == "alice"),
        "{name}"
    );
}

#[test]
fn a_read_only_server_refuses_the_actions() {
    check_read_only(&Server::rust(
        InstrumentOptions::new(Auth::None).read_only(true),
    ));
    check_read_only(&Server::node(json!({"auth": false, "readonly": true})));
}

// ----- production mode -----

fn check_production(server: &Server) {
    let name = server.name();
    let url = server.url().to_owned();
    let mut c = Clients::new();
    c.admin("ui", server, json!({})).unwrap();
    let config = c.wait("ui", "config", |_| true);
    assert_eq!(
        config[0]["supportedFeatures"],
        json!([
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
            "AGGREGATED_EVENTS"
        ]),
        "{name}"
    );
    c.connect("alice", &url, json!({})).unwrap();
    c.connect("bob", &url, json!({})).unwrap();
    c.wait("ui", "server_stats", |args| {
        args[0]["namespaces"].as_array().is_some_and(|ns| {
            ns.iter()
                .any(|n| n["name"] == "/" && n["socketsCount"] == 2)
        })
    });
    // The two connections are counted, in the statistics sent since the UI connected.
    let counted = |events: &[Json]| -> u64 {
        events
            .iter()
            .filter(|e| e["event"] == "received" && e["name"] == "server_stats")
            .flat_map(|e| {
                e["args"][0]["aggregatedEvents"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|e| e["type"] == "rawConnection")
            .map(|e| e["count"].as_u64().unwrap())
            .sum()
    };
    c.0.wait_events(WAIT, "two connections counted", |events| {
        counted(events) >= 2
    });
    for event in ["all_sockets", "socket_connected", "room_joined"] {
        assert!(c.received("ui", event).is_empty(), "{name}: {event} sent");
    }
}

#[test]
fn production_mode_sends_aggregates_only() {
    check_production(&Server::rust(
        InstrumentOptions::new(Auth::None).mode(Mode::Production),
    ));
    check_production(&Server::node(json!({"auth": false, "mode": "production"})));
}

// ----- a cluster -----

#[test]
fn every_server_of_a_cluster_reports_and_obeys() {
    if redis_support::redis_missing() {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let node = |id: &str| {
        let config = sio_redis::conn::RedisConfig::standalone(redis.url());
        Server::rust_with(InstrumentOptions::new(Auth::None).server_id(id), async {
            let adapter = sio_redis::RedisAdapter::classic(config).await.unwrap();
            SocketIo::with_adapter(SocketIoConfig::default(), adapter.factory())
        })
    };
    let one = node("one");
    let two = node("two");
    let mut c = Clients::new();
    let early = c
        .connect("early", two.url(), json!({"query": {"room": "lobby"}}))
        .unwrap();
    c.admin("ui", &one, json!({})).unwrap();
    // The list comes from both servers.
    let all = c.wait("ui", "all_sockets", |_| true)[0].clone();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == early.as_str()
                && s["rooms"].as_array().unwrap().contains(&json!("lobby"))
                && s["clientId"].as_str().is_some_and(|id| id.len() == 12)),
        "the socket of the other server is listed: {all:#}"
    );
    // Both servers report.
    for id in ["one", "two"] {
        c.wait("ui", "server_stats", |args| args[0]["serverId"] == id);
    }
    // The other server's events reach the UI.
    let late = c.connect("late", two.url(), json!({})).unwrap();
    c.wait("ui", "socket_connected", |args| {
        args[0]["id"] == late.as_str()
    });
    // The actions reach the other server's sockets.
    c.emit("ui", "join", json!(["/", "vip", late]));
    c.wait("ui", "room_joined", |args| {
        args[1] == "vip" && args[2] == late.as_str()
    });
    assert!(c.rooms("late").contains("vip"));
    c.emit("ui", "_disconnect", json!(["/", false, early]));
    assert_eq!(c.wait_disconnected("early"), "io server disconnect");
    c.wait("ui", "socket_disconnected", |args| {
        args[1] == early.as_str()
    });
    drop((one, two));
}

/// A Rust server and a Node.js server instrumented by `@socket.io/admin-ui` in one Redis
/// cluster (`@socket.io/redis-adapter` on the Node.js side): the UI connected to either sees
/// and acts on the other's sockets, and gets both servers' statistics.
#[test]
fn a_rust_and_a_javascript_server_share_their_admin_ui() {
    if redis_support::redis_missing() {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let config = sio_redis::conn::RedisConfig::standalone(redis.url());
    let rust = Server::rust_with(
        InstrumentOptions::new(Auth::None).server_id("rust"),
        async {
            let adapter = sio_redis::RedisAdapter::classic(config).await.unwrap();
            SocketIo::with_adapter(SocketIoConfig::default(), adapter.factory())
        },
    );
    let node = Server::node(json!({"auth": false, "serverId": "node", "redis": redis.url()}));
    let mut c = Clients::new();
    let on_node = c
        .connect("on-node", node.url(), json!({"query": {"room": "lobby"}}))
        .unwrap();
    let on_rust = c
        .connect("on-rust", rust.url(), json!({"query": {"room": "games"}}))
        .unwrap();

    // The UI on the Rust server.
    c.admin("ui-rust", &rust, json!({})).unwrap();
    let all = c.wait("ui-rust", "all_sockets", |_| true)[0].clone();
    let listed = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == on_node.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("the Node.js server's socket is not listed: {all:#}"));
    assert!(
        listed["rooms"]
            .as_array()
            .unwrap()
            .contains(&json!("lobby"))
    );
    assert_eq!(listed["transport"], "websocket");
    assert_eq!(listed["clientId"].as_str().unwrap().len(), 12);
    for id in ["rust", "node"] {
        c.wait("ui-rust", "server_stats", |args| args[0]["serverId"] == id);
    }
    let late = c.connect("late", node.url(), json!({})).unwrap();
    c.wait("ui-rust", "socket_connected", |args| {
        args[0]["id"] == late.as_str()
    });
    c.emit("ui-rust", "join", json!(["/", "vip", on_node]));
    c.wait("ui-rust", "room_joined", |args| {
        args[1] == "vip" && args[2] == on_node.as_str()
    });
    assert!(c.rooms("on-node").contains("vip"));

    // The UI on the Node.js server.
    c.admin("ui-node", &node, json!({})).unwrap();
    let all = c.wait("ui-node", "all_sockets", |_| true)[0].clone();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == on_rust.as_str()
                && s["rooms"].as_array().unwrap().contains(&json!("games"))
                && s["clientId"].as_str().is_some_and(|id| id.len() == 12)),
        "the Rust server's socket is not listed by the Node.js server: {all:#}"
    );
    c.wait("ui-node", "server_stats", |args| {
        args[0]["serverId"] == "rust"
    });
    c.emit("ui-node", "_disconnect", json!(["/", false, on_rust]));
    assert_eq!(c.wait_disconnected("on-rust"), "io server disconnect");
    c.wait("ui-node", "socket_disconnected", |args| {
        args[1] == on_rust.as_str()
    });
}

// ----- the UI's page in headless Chromium -----

/// Builds `sio-admin/examples/admin.rs` (a no-op when it is fresh) and returns its path.
async fn build_admin_example() -> PathBuf {
    if let Some(path) = std::env::var_os("SIO_ADMIN_EXAMPLE") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = tokio::process::Command::new(cargo)
        .args([
            "build",
            "--workspace",
            "--all-features",
            "--example",
            "admin",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(browser_support::tests_dir().join(".."))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), build)
        .await
        .expect("`cargo build --example admin` finished in 10 minutes")
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cargo build --example admin failed:\n{stderr}"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Json>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "admin")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no admin executable:\n{stderr}"))
}

/// What `tests/js/browser-admin.js` reports, checked.
fn check_browser_run(server: &str, out: &Json) {
    let strings = |v: &Json| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("{server}: not an array: {v}"))
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let alice = out["alice"].as_str().unwrap();
    let bob = out["bob"].as_str().unwrap();
    let listed = strings(&out["listed"]);
    for id in [alice, bob] {
        assert!(
            listed.iter().any(|c| c == id),
            "{server}: {id} not listed: {listed:?}"
        );
    }
    let shown = strings(&out["roomsShown"]);
    for room in ["lobby", "vip"] {
        assert!(
            shown.iter().any(|c| c == room),
            "{server}: {room} not shown: {shown:?}"
        );
    }
    let rooms: BTreeSet<String> = strings(&out["aliceRooms"]).into_iter().collect();
    assert_eq!(rooms, set(&[alice, "lobby", "vip"]), "{server}");
    assert_eq!(out["bobReason"], "io server disconnect", "{server}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_ui_page_logs_in_lists_and_acts_in_chromium() {
    browser_support::require_chromium();
    let example = build_admin_example().await;
    let mut server = tokio::process::Command::new(&example)
        .env("PORT", "0")
        .env("SIO_ADMIN_PASSWORD_HASH", HASH)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", example.display()));
    let stdout = server.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split_once("(server URL ") {
                return rest.1.trim_end_matches(')').to_owned();
            }
        }
        panic!("the example printed no server URL")
    })
    .await
    .expect("the example started within 30 s");
    let args = |url: &str| vec![url.to_owned(), "admin".to_owned(), "changeit".to_owned()];
    let out =
        browser_support::run_driver("browser-admin.js", &args(&url), Duration::from_secs(90)).await;
    check_browser_run("rust", &out);
    drop(server);

    // The reference: the same page and scenario against the Node.js server.
    let node = tokio::task::spawn_blocking(|| {
        Server::node(json!({"auth": {"type": "basic", "username": "admin", "password": HASH}}))
    })
    .await
    .unwrap();
    let out = browser_support::run_driver(
        "browser-admin.js",
        &args(node.url()),
        Duration::from_secs(90),
    )
    .await;
    check_browser_run("node", &out);
}
