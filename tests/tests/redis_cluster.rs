//! Mixed clusters: two Node.js servers (socket.io 4.8.4 + `@socket.io/redis-adapter` 8.3.0,
//! `tests/js/redis-node.js`) and two Rust servers (sio-server's `conformance` example with
//! sio-redis' adapter) on one Redis, with official socket.io-client clients on each
//! (`tests/js/redis-clients.js`, two per server).
//!
//! The same scenario runs from a client of a Rust server and from a client of a Node.js
//! server, with the classic adapter, with the sharded one on a single Redis, and with the
//! sharded one on a Redis Cluster of three masters: broadcasts (to all, to a room, with
//! `except`), `fetchSockets` (rooms and data), `socketsJoin` / `socketsLeave`,
//! `serverSideEmit` with acknowledgements answered by both kinds of server, broadcasts with
//! acknowledgements from clients on all four servers, `serverCount`, `disconnectSockets`.
//! The classic run also takes `@socket.io/redis-emitter`'s messages to the sockets of the Rust
//! servers. `classic_faults` restarts Redis, publishes garbage and kills a node while a
//! `fetchSockets` waits for it.
//!
//! Whether a broadcast reached exactly its targets is checked at a barrier: a second
//! broadcast published by the same server on the same channel, which every server delivers
//! after the first one (Redis keeps the order of one connection's messages on one channel).

mod redis_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis_support::{JsDriver, RedisCluster, RedisServer, RustNode, redis_missing};
use serde_json::{Value as Json, json};
use sio_redis::conn::{RedisConfig, RedisConnection};

const WAIT: Duration = Duration::from_secs(20);

/// One cluster at a time: each runs six processes on a machine with few cores.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Classic,
    Sharded,
    ShardedCluster,
}

const SERVERS: [&str; 4] = ["node1", "node2", "rust1", "rust2"];

struct Mixed {
    mode: Mode,
    rt: tokio::runtime::Runtime,
    redis: RedisConnection,
    nodes: JsDriver,
    rust: Vec<RustNode>,
    clients: JsDriver,
    ports: BTreeMap<&'static str, u16>,
    /// Connected clients: name → (socket id, rooms besides its own).
    model: BTreeMap<String, (String, BTreeSet<String>)>,
    tag: u32,
    standalone: Option<RedisServer>,
    _cluster: Option<RedisCluster>,
}

/// The server of a client (`rust1-a` → `rust1`).
fn server_of(client: &str) -> &str {
    client.split('-').next().unwrap()
}

impl Mixed {
    fn start(mode: Mode, requests_timeout_ms: u64) -> Mixed {
        let (standalone, cluster, urls) = match mode {
            Mode::ShardedCluster => {
                let cluster = RedisCluster::start();
                let urls = cluster.urls();
                (None, Some(cluster), urls)
            }
            _ => {
                let redis = RedisServer::start();
                let url = redis.url();
                (Some(redis), None, vec![url])
            }
        };
        let sharded = mode != Mode::Classic;
        let config = json!({
            "redis": urls,
            "cluster": mode == Mode::ShardedCluster,
            "sharded": sharded,
            "names": ["node1", "node2"],
            "requestsTimeout": requests_timeout_ms,
        });
        let nodes = JsDriver::spawn("redis-node.js", &[&config.to_string()]);
        nodes.wait_event("ready", WAIT);
        let mut ports = BTreeMap::new();
        for event in nodes.events() {
            if event["event"] == "listening" {
                let name = SERVERS
                    .iter()
                    .find(|s| event["name"] == **s)
                    .expect("a known server");
                ports.insert(*name, event["port"].as_u64().unwrap() as u16);
            }
        }
        let timeout = requests_timeout_ms.to_string();
        let mut extra = vec!["--requests-timeout", timeout.as_str()];
        if sharded {
            extra.push("--sharded");
        }
        if mode == Mode::ShardedCluster {
            extra.push("--cluster");
        }
        let rust: Vec<RustNode> = ["rust1", "rust2"]
            .iter()
            .map(|name| RustNode::start(name, &urls[0], &extra))
            .collect();
        ports.insert("rust1", rust[0].port);
        ports.insert("rust2", rust[1].port);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let redis = rt
            .block_on(RedisConnection::connect(if mode == Mode::ShardedCluster {
                RedisConfig::cluster(urls.clone())
            } else {
                RedisConfig::standalone(urls[0].clone())
            }))
            .expect("redis");
        let mut mixed = Mixed {
            mode,
            rt,
            redis,
            nodes,
            rust,
            clients: JsDriver::spawn("redis-clients.js", &[]),
            ports,
            model: BTreeMap::new(),
            tag: 0,
            standalone,
            _cluster: cluster,
        };
        mixed.wait_servers(4);
        for server in SERVERS {
            for (suffix, room) in [("a", "red"), ("b", "blue")] {
                mixed.connect(&format!("{server}-{suffix}"), room);
            }
        }
        mixed.wait_room_channels();
        mixed
    }

    /// Waits until every server is subscribed (the count of the other servers' requests).
    fn wait_servers(&mut self, n: u64) {
        let channel = match self.mode {
            Mode::Classic => "socket.io-request#/#",
            _ => "socket.io#/#",
        };
        self.wait_subscribers(channel, n);
    }

    fn subscribers(&self, channel: &str) -> u64 {
        self.rt
            .block_on(async {
                match self.mode {
                    Mode::Classic => self.redis.numsub(channel).await,
                    _ => self.redis.shardnumsub(channel).await,
                }
            })
            .unwrap_or(0)
    }

    fn wait_subscribers(&mut self, channel: &str, n: u64) {
        let reached = sio_test_support::wait::blocking_first(WAIT, || {
            (self.subscribers(channel) == n).then_some(())
        });
        assert!(
            reached.is_some(),
            "{channel}: {} subscribers, not {n}",
            self.subscribers(channel)
        );
    }

    /// In the dynamic mode of the sharded adapter, each server with a member of a room
    /// listens on the room's channel: here every server has a client in `red` and in `blue`.
    fn wait_room_channels(&mut self) {
        if self.mode != Mode::Classic {
            self.wait_subscribers("socket.io#/#red#", 4);
            self.wait_subscribers("socket.io#/#blue#", 4);
        }
    }

    fn connect(&mut self, name: &str, room: &str) {
        let port = self.ports[server_of(name)];
        let sid = self
            .clients
            .call("connect", json!({"name": name, "port": port}))
            .unwrap();
        let sid = sid.as_str().unwrap().to_owned();
        assert_eq!(self.emit(name, "join", json!([room])), json!(true));
        self.model
            .insert(name.to_owned(), (sid, BTreeSet::from([room.to_owned()])));
    }

    /// `emitWithAck` from client `client`; the acknowledgement.
    fn emit(&mut self, client: &str, event: &str, args: Json) -> Json {
        self.clients
            .call(
                "emit",
                json!({"client": client, "event": event, "args": args}),
            )
            .unwrap_or_else(|e| panic!("{client} {event}: {e}"))
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    /// The clients that received `name` with exactly `args`.
    fn receivers(&self, name: &str, args: &Json) -> BTreeSet<String> {
        self.clients
            .events()
            .iter()
            .filter(|e| e["event"] == "received" && e["name"] == name && e["args"] == *args)
            .map(|e| e["client"].as_str().unwrap().to_owned())
            .collect()
    }

    fn wait_received(&self, name: &str, args: &Json, who: &BTreeSet<String>) {
        let what = format!("{name} {args} at {who:?}");
        self.clients.wait_events(WAIT, &what, |events| {
            let got: BTreeSet<&str> = events
                .iter()
                .filter(|e| e["event"] == "received" && e["name"] == name && e["args"] == *args)
                .map(|e| e["client"].as_str().unwrap())
                .collect();
            who.iter().all(|c| got.contains(c.as_str()))
        });
    }

    /// The connected clients in `room` (all with `None`), not in `except`.
    fn targets(&self, room: Option<&str>, except: Option<&str>) -> BTreeSet<String> {
        self.model
            .iter()
            .filter(|(_, (_, rooms))| room.is_none_or(|r| rooms.contains(r)))
            .filter(|(_, (_, rooms))| except.is_none_or(|r| !rooms.contains(r)))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// `event` from `origin` with `lead` arguments and a fresh tag must reach exactly
    /// `expected`; checked at a barrier broadcast to `barrier_room` from the same origin.
    fn check_broadcast(
        &mut self,
        origin: &str,
        event: &str,
        lead: Vec<Json>,
        expected: BTreeSet<String>,
        barrier_room: Option<&str>,
    ) {
        let tag = self.next_tag();
        let mut args = lead;
        args.push(json!(tag));
        assert_eq!(
            self.emit(origin, event, json!(args)),
            json!(true),
            "{event}"
        );
        let received = json!([tag]);
        self.wait_received("broadcast", &received, &expected);
        let barrier = self.next_tag();
        let ack = self.emit(origin, "broadcast", json!([barrier_room, barrier]));
        assert_eq!(ack, json!(true));
        let barrier_targets = self.targets(barrier_room, None);
        self.wait_received("broadcast", &json!([barrier]), &barrier_targets);
        assert_eq!(
            self.receivers("broadcast", &received),
            expected,
            "{event} {args:?} from {origin}"
        );
    }

    /// `fetch` (or `fetch-data`) of `room` from `origin` must describe the model's sockets.
    fn check_fetch(&mut self, origin: &str, room: Option<&str>, with_data: bool) {
        let event = if with_data { "fetch-data" } else { "fetch" };
        let got = self.emit(origin, event, json!([room]));
        let mut expected: Vec<(String, Json)> = self
            .targets(room, None)
            .iter()
            .map(|name| {
                let (sid, rooms) = &self.model[name];
                let mut all: Vec<&str> = rooms.iter().map(String::as_str).collect();
                all.push(sid);
                all.sort_unstable();
                let mut entry = json!({"id": sid, "rooms": all});
                if with_data {
                    entry["data"] = json!({"node": server_of(name)});
                }
                (sid.clone(), entry)
            })
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let expected: Vec<Json> = expected.into_iter().map(|(_, e)| e).collect();
        assert_eq!(got, json!(expected), "{event} {room:?} from {origin}");
    }

    /// The whole scenario from the client `origin`.
    fn scenario(&mut self, origin: &str) {
        let everyone = self.targets(None, None);
        let red = self.targets(Some("red"), None);
        assert_eq!(everyone.len(), 8);
        assert_eq!(red.len(), 4);

        // serverCount
        assert_eq!(self.emit(origin, "count", json!([])), json!(4), "count");

        // Broadcasts: to all, to a room, with except, binary included.
        self.check_broadcast(
            origin,
            "broadcast",
            vec![Json::Null],
            everyone.clone(),
            None,
        );
        self.check_broadcast(
            origin,
            "broadcast",
            vec![json!("red")],
            red.clone(),
            Some("red"),
        );
        self.check_broadcast(
            origin,
            "broadcast-except",
            vec![Json::Null, json!("blue")],
            red.clone(),
            None,
        );
        let blue_without_rust2 = self.targets(Some("blue"), None);
        self.check_broadcast(
            origin,
            "broadcast-except",
            vec![json!("blue"), json!("red")],
            blue_without_rust2,
            Some("blue"),
        );
        let tag = self.next_tag();
        let payload = json!([tag, {"$bin": "AQID"}, {"nested": [1.5, "x", null, {"$bin": ""}]}]);
        let mut args = vec![Json::Null];
        args.extend(payload.as_array().unwrap().iter().cloned());
        assert_eq!(self.emit(origin, "broadcast", json!(args)), json!(true));
        self.wait_received("broadcast", &payload, &everyone);

        // fetchSockets, with rooms and data.
        self.check_fetch(origin, None, false);
        self.check_fetch(origin, Some("red"), false);
        self.check_fetch(origin, Some("blue"), true);

        // socketsJoin / socketsLeave.
        assert_eq!(
            self.emit(origin, "sockets-join", json!(["blue", "green"])),
            json!(true)
        );
        for (_, rooms) in self.model.values_mut() {
            if rooms.contains("blue") {
                rooms.insert("green".into());
            }
        }
        self.check_fetch(origin, Some("green"), false);
        self.check_fetch(origin, None, false);
        assert_eq!(
            self.emit(origin, "sockets-leave", json!(["green", "green"])),
            json!(true)
        );
        for (_, rooms) in self.model.values_mut() {
            rooms.remove("green");
        }
        self.check_fetch(origin, Some("green"), false);
        self.check_fetch(origin, Some("blue"), false);

        // serverSideEmit with acknowledgements: every other server answers with its name.
        let others: Vec<&str> = SERVERS
            .iter()
            .copied()
            .filter(|s| *s != server_of(origin))
            .collect();
        assert_eq!(self.emit(origin, "sse", json!(["x", 1])), json!(others));

        // Broadcast with acknowledgements: every client answers with its name.
        let all: Vec<&String> = everyone.iter().collect();
        assert_eq!(
            self.emit(origin, "broadcast-ack", json!([null, "q"])),
            json!(all)
        );
        let red_names: Vec<&String> = red.iter().collect();
        assert_eq!(
            self.emit(origin, "broadcast-ack", json!(["red"])),
            json!(red_names)
        );

        // disconnectSockets: the clients in blue go, the others stay.
        let blue = self.targets(Some("blue"), None);
        self.clients.clear_events();
        assert_eq!(
            self.emit(origin, "disconnect-sockets", json!(["blue", false])),
            json!(true)
        );
        let what = format!("{blue:?} disconnected");
        self.clients.wait_events(WAIT, &what, |events| {
            blue.iter().all(|c| {
                events.iter().any(|e| {
                    e["event"] == "disconnected"
                        && e["client"] == c.as_str()
                        && e["reason"] == "io server disconnect"
                })
            })
        });
        for name in &blue {
            self.model.remove(name);
            self.clients.call("close", json!({"client": name})).unwrap();
        }
        let remaining = self.targets(None, None);
        self.check_broadcast(origin, "broadcast", vec![Json::Null], remaining, None);
        assert!(
            !self
                .clients
                .events()
                .iter()
                .any(|e| e["event"] == "disconnected"
                    && !blue.contains(e["client"].as_str().unwrap())),
            "only the clients in blue were disconnected"
        );
        // They come back (new sockets) for the next scenario.
        for name in &blue {
            self.connect(name, "blue");
        }
        self.wait_room_channels();
        self.clients.clear_events();
    }

    /// `@socket.io/redis-emitter` (classic) reaches the sockets of every server.
    fn emitter(&mut self) {
        let everyone = self.targets(None, None);
        let red = self.targets(Some("red"), None);
        let tag = self.next_tag();
        let ok = self.nodes.call(
            "emitter",
            json!({"method": "emit", "args": ["broadcast", tag, {"$bin": "AQID"}]}),
        );
        assert_eq!(ok, Ok(json!(true)));
        self.wait_received("broadcast", &json!([tag, {"$bin": "AQID"}]), &everyone);
        let tag = self.next_tag();
        let ok = self.nodes.call(
            "emitter",
            json!({"method": "emit", "to": ["red"], "args": ["broadcast", tag]}),
        );
        assert_eq!(ok, Ok(json!(true)));
        self.wait_received("broadcast", &json!([tag]), &red);
        // Barrier: the emitter's next message on the same channel.
        let barrier = self.next_tag();
        self.nodes
            .call(
                "emitter",
                json!({"method": "emit", "to": ["red"], "args": ["broadcast", barrier]}),
            )
            .unwrap();
        self.wait_received("broadcast", &json!([barrier]), &red);
        assert_eq!(self.receivers("broadcast", &json!([tag])), red);
        // socketsJoin from the emitter, seen by fetchSockets from both kinds of server.
        self.nodes
            .call(
                "emitter",
                json!({"method": "socketsJoin", "to": ["red"], "args": ["yellow"]}),
            )
            .unwrap();
        for (_, rooms) in self.model.values_mut() {
            if rooms.contains("red") {
                rooms.insert("yellow".into());
            }
        }
        self.check_fetch("rust2-a", Some("yellow"), false);
        self.check_fetch("node2-a", Some("yellow"), false);
    }

    /// What the two kinds of server publish for the same operations must be the same bytes,
    /// but for their uids and request ids (seen with MONITOR, which subscribes to nothing and
    /// so changes no server count).
    fn wire_check(&mut self) {
        let port = self.standalone.as_ref().unwrap().port;
        let monitor = redis_support::Monitor::start(port);
        let ops: [(&str, Json); 8] = [
            ("broadcast", json!(["red", "w", {"$bin": "AQID"}, 1.5])),
            ("broadcast", json!([null, {"a": [true, null]}])),
            ("broadcast-except", json!([null, "blue", "w"])),
            ("broadcast-ack", json!(["red", "q"])),
            ("fetch", json!(["red"])),
            ("sse", json!(["w", 2])),
            ("sockets-join", json!(["red", "w2"])),
            ("sockets-leave", json!(["red", "w2"])),
        ];
        for (event, args) in ops {
            let mut published = Vec::new();
            for origin in ["rust1-a", "node1-a"] {
                monitor.clear();
                let ack = self.emit(origin, event, args.clone());
                assert!(ack.get("error").is_none(), "{origin} {event}: {ack}");
                let message = monitor
                    .find(WAIT, |channel, payload| self.normalized(channel, payload))
                    .unwrap_or_else(|| panic!("{origin} published nothing for {event}"));
                published.push(message);
            }
            assert_eq!(
                published[0], published[1],
                "{event} {args}: rust, then node"
            );
        }
    }

    /// A request or broadcast (not a response) as `(channel, payload)` with its uid and
    /// request id replaced by `@`s; `None` for a response.
    fn normalized(&self, channel: &str, payload: &[u8]) -> Option<(String, String)> {
        use sio_redis::format::classic::{Broadcast, Request};
        use sio_redis::format::cluster::{ClusterBody, ClusterMessage};
        let bytes = bytes::Bytes::copy_from_slice(payload);
        let mut ids: Vec<String> = Vec::new();
        if self.mode == Mode::Classic {
            if channel.starts_with("socket.io-response") {
                return None;
            }
            if let Ok(b) = Broadcast::decode(&bytes) {
                ids.push(b.uid.to_string());
            } else {
                let r = Request::decode(&bytes).ok()?;
                ids.extend(r.uid.as_ref().map(|u| u.to_string()));
                ids.extend(r.request_id().map(|u| u.to_string()));
            }
        } else {
            let c = ClusterMessage::decode(&bytes).ok()?;
            if c.body.is_response() {
                return None;
            }
            ids.push(c.uid.to_string());
            match &c.body {
                ClusterBody::Broadcast {
                    request_id: Some(id),
                    ..
                }
                | ClusterBody::ServerSideEmit {
                    request_id: Some(id),
                    ..
                }
                | ClusterBody::FetchSockets { request_id: id, .. } => ids.push(id.to_string()),
                _ => {}
            }
        }
        let mut payload = payload.to_vec();
        for id in ids {
            let id = id.as_bytes();
            let mut i = 0;
            while i + id.len() <= payload.len() {
                if &payload[i..i + id.len()] == id {
                    payload[i..i + id.len()].fill(b'@');
                    i += id.len();
                } else {
                    i += 1;
                }
            }
        }
        Some((
            channel.to_owned(),
            String::from_utf8_lossy(&payload).into_owned(),
        ))
    }

    fn rust_nodes_alive(&mut self) {
        for node in &mut self.rust {
            assert!(node.is_running(), "rust node {} exited", node.name);
        }
    }
}

fn run(mode: Mode) {
    if redis_missing() {
        return;
    }
    let _serial = serial();
    let started = Instant::now();
    let mut mixed = Mixed::start(mode, 5000);
    eprintln!("{mode:?}: cluster up in {:?}", started.elapsed());
    mixed.scenario("rust1-a");
    mixed.scenario("node1-a");
    if mode != Mode::ShardedCluster {
        mixed.wire_check();
    }
    if mode == Mode::Classic {
        mixed.emitter();
    }
    mixed.rust_nodes_alive();
    eprintln!("{mode:?}: done in {:?}", started.elapsed());
}

/// The Rust nodes' acknowledgement of a failure: `{"error": ...}`.
fn is_error(ack: &Json) -> bool {
    ack.get("error").is_some_and(Json::is_string)
}

#[test]
fn classic_faults() {
    if redis_missing() {
        return;
    }
    let _serial = serial();
    let started = Instant::now();
    let mut mixed = Mixed::start(Mode::Classic, 1500);
    let everyone = mixed.targets(None, None);

    // Garbage on the request and response channels is dropped; the cluster goes on. (Only
    // what the Node.js adapter survives: it throws, and its process exits, on a broadcast
    // that is no msgpack or on a well-formed request of the wrong shape. The Rust adapter
    // drops those too: see redis_adapter.rs.)
    let garbage: [(&str, &[u8]); 4] = [
        ("socket.io-request#/#", b"{\"type\":"),
        ("socket.io-request#/#", b"\xc1 not msgpack"),
        ("socket.io-response#/#", b"{\"requestId\":"),
        ("socket.io-response#/#", b"\xff\xfe"),
    ];
    for (channel, payload) in garbage {
        let redis = mixed.redis.clone();
        mixed
            .rt
            .block_on(redis.publish(channel, bytes::Bytes::from_static(payload)))
            .unwrap();
    }
    for origin in ["rust1-a", "node1-a"] {
        mixed.check_broadcast(
            origin,
            "broadcast",
            vec![Json::Null],
            everyone.clone(),
            None,
        );
        mixed.check_fetch(origin, None, false);
    }
    mixed.rust_nodes_alive();

    // Redis down: a Rust server still serves its own clients, and says what failed.
    mixed.standalone.as_mut().unwrap().stop();
    let tag = mixed.next_tag();
    let ack = mixed.emit("rust1-a", "broadcast", json!([null, tag]));
    assert!(is_error(&ack), "broadcast with Redis down: {ack}");
    let local: BTreeSet<String> = ["rust1-a".to_owned(), "rust1-b".to_owned()].into();
    mixed.wait_received("broadcast", &json!([tag]), &local);
    let ack = mixed.emit("rust2-a", "count", json!([]));
    assert!(is_error(&ack), "count with Redis down: {ack}");
    mixed.rust_nodes_alive();

    // Redis back: every server subscribes again by itself, broadcasts resume both ways.
    mixed.standalone.as_mut().unwrap().restart();
    mixed.wait_servers(4);
    for origin in ["rust2-a", "node2-a"] {
        mixed.check_broadcast(
            origin,
            "broadcast",
            vec![Json::Null],
            everyone.clone(),
            None,
        );
        mixed.check_broadcast(
            origin,
            "broadcast",
            vec![json!("red")],
            mixed.targets(Some("red"), None),
            Some("red"),
        );
        mixed.check_fetch(origin, None, false);
        assert_eq!(mixed.emit(origin, "count", json!([])), json!(4));
    }
    assert_eq!(
        mixed.emit("rust1-a", "sse", json!([])),
        json!(["node1", "node2", "rust2"])
    );
    mixed.rust_nodes_alive();

    // A server hangs, then dies, while requests wait for it: they end at their timeout
    // (1.5 s for fetchSockets, 2 s for serverSideEmit) with the answers that came.
    mixed.rust[1].signal("STOP");
    let monitor = redis_support::Monitor::start(mixed.standalone.as_ref().unwrap().port);
    let asked = Instant::now();
    let from_rust = mixed.clients.send(
        "emit",
        json!({"client": "rust1-a", "event": "fetch", "args": [null]}),
    );
    let from_node = mixed.clients.send(
        "emit",
        json!({"client": "node1-a", "event": "fetch", "args": [null]}),
    );
    let sse = mixed.clients.send(
        "emit",
        json!({"client": "rust1-a", "event": "sse", "args": []}),
    );
    // The server dies while the requests wait for it: once Redis has run the three requests'
    // publishes (each server counted the hung one's subscription before it published).
    let published = std::cell::Cell::new(0);
    let waiting = monitor.find(WAIT, |channel, payload| {
        use sio_redis::format::classic::{Request, RequestType};
        if !channel.starts_with("socket.io-request#") {
            return None;
        }
        let request = Request::decode(&bytes::Bytes::copy_from_slice(payload)).ok()?;
        if matches!(
            request.request_type(),
            RequestType::RemoteFetch | RequestType::ServerSideEmit
        ) {
            published.set(published.get() + 1);
        }
        (published.get() == 3).then_some(())
    });
    assert!(
        waiting.is_some(),
        "{} of 3 requests published",
        published.get()
    );
    mixed.rust[1].kill();
    let ack = mixed.clients.answer(from_rust, WAIT).unwrap();
    let waited = asked.elapsed();
    assert_eq!(
        ack,
        json!({"error": "timeout reached while waiting for fetchSockets response (2 of 3 servers answered)"})
    );
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(4),
        "fetchSockets ended after {waited:?}"
    );
    let ack = mixed.clients.answer(from_node, WAIT).unwrap();
    assert_eq!(
        ack,
        json!({"error": "timeout reached while waiting for fetchSockets response"})
    );
    let ack = mixed.clients.answer(sse, WAIT).unwrap();
    assert_eq!(ack, json!(["node1", "node2"]), "the answers that came");
    assert!(asked.elapsed() < Duration::from_secs(5));

    // The cluster goes on without it.
    for name in ["rust2-a", "rust2-b"] {
        mixed.model.remove(name);
    }
    mixed.wait_servers(3);
    for origin in ["rust1-a", "node1-a"] {
        mixed.check_fetch(origin, None, false);
        assert_eq!(mixed.emit(origin, "count", json!([])), json!(3));
    }
    assert!(mixed.rust[0].is_running());
    eprintln!("faults: done in {:?}", started.elapsed());
}

#[test]
fn classic_mixed_cluster() {
    run(Mode::Classic);
}

#[test]
fn sharded_mixed_cluster_on_one_redis() {
    run(Mode::Sharded);
}

#[test]
fn sharded_mixed_cluster_on_a_redis_cluster() {
    run(Mode::ShardedCluster);
}
