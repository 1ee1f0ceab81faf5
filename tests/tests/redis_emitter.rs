//! sio-redis' `Emitter` against the real thing: two Node.js socket.io 4.8.4 servers with
//! `@socket.io/redis-adapter` 8.3 on one Redis, official socket.io-client clients, and
//! `@socket.io/redis-emitter` 5.1 as the reference (`tests/js/redis-fleet.js`).
//!
//! Every operation is done twice, by our emitter and by the Node emitter; a third connection
//! subscribed to every channel (`PSUBSCRIBE *`) captures what each one publishes, and the two
//! must be byte for byte the same (channel and payload). Then the clients must have received
//! exactly what the operation targets (twice: once per emitter), checked at a barrier (an
//! event to everyone, which each client receives after the events published before it).

mod redis_support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use redis_support::{NodeProcess, RedisServer, redis_missing};
use serde_json::{Value as Json, json};
use sio_redis::Emitter;
use sio_redis::conn::{Message, Messages, RedisConfig, RedisConnection};

const WAIT: Duration = Duration::from_secs(20);

struct Fixture {
    rt: tokio::runtime::Runtime,
    fleet: NodeProcess,
    emitter: Emitter,
    capture: Messages,
    connected: Vec<&'static str>,
    barrier: u32,
    cmd_id: u32,
    _redis: RedisServer,
    _subscriber: sio_redis::conn::Subscriber,
}

impl Fixture {
    fn start() -> Fixture {
        let redis = RedisServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut fleet = NodeProcess::spawn("redis-fleet.js", &[&redis.port.to_string()]);
        let ready = fleet.wait_event("ready", WAIT);
        assert!(ready["ids"]["a"].is_string());
        let (emitter, subscriber, capture) = rt.block_on(async {
            let conn = RedisConnection::connect(RedisConfig::standalone(redis.url()))
                .await
                .unwrap();
            let (subscriber, capture) = conn.subscriber().await.unwrap();
            subscriber.psubscribe("*").await.unwrap();
            (Emitter::new(conn), subscriber, capture)
        });
        Fixture {
            rt,
            fleet,
            emitter,
            capture,
            connected: vec!["a", "b", "c"],
            barrier: 0,
            cmd_id: 0,
            _redis: redis,
            _subscriber: subscriber,
        }
    }

    fn next_published(&mut self) -> Message {
        self.rt
            .block_on(async { tokio::time::timeout(WAIT, self.capture.recv()).await })
            .expect("a message published within the timeout")
            .expect("capture open")
    }

    /// Runs `ours` (our emitter) then `cmd` (the Node emitter); both must publish the same.
    fn both<F: Future<Output = Result<(), sio_redis::Error>>>(
        &mut self,
        ours: impl FnOnce(Emitter) -> F,
        cmd: Json,
    ) -> Message {
        let emitter = self.emitter.clone();
        self.rt
            .block_on(ours(emitter))
            .expect("our emitter publishes");
        let mine = self.next_published();
        self.cmd_id += 1;
        let mut cmd = cmd;
        cmd["id"] = json!(self.cmd_id);
        self.fleet.send(&cmd);
        let theirs = self.next_published();
        assert_eq!(
            (mine.channel_str(), &mine.payload),
            (theirs.channel_str(), &theirs.payload),
            "what we published vs what @socket.io/redis-emitter published for {cmd}"
        );
        mine
    }

    /// Emits a marker to everyone and returns every `received` event (but markers) and
    /// `server_side` / `disconnected` line seen until each connected client got the marker.
    fn barrier(&mut self) -> Vec<Json> {
        self.barrier += 1;
        let name = format!("barrier-{}", self.barrier);
        let emitter = self.emitter.clone();
        let marker = name.clone();
        self.rt
            .block_on(async move { emitter.emit(&marker, &()).await })
            .unwrap();
        // The marker itself, out of the capture.
        let published = self.next_published();
        assert_eq!(published.channel_str(), "socket.io#/#");
        let mut waiting: Vec<&str> = self.connected.clone();
        let mut seen = Vec::new();
        while !waiting.is_empty() {
            let line = self.fleet.recv(WAIT);
            match line["event"].as_str() {
                Some("received") if line["name"] == name.as_str() => {
                    waiting.retain(|c| line["client"] != *c);
                }
                Some("received" | "server_side" | "disconnected") => seen.push(line),
                _ => {}
            }
        }
        seen
    }

    /// `client -> [event name...]` of the `received` lines.
    fn received(lines: &[Json]) -> BTreeMap<String, Vec<(String, Json)>> {
        let mut out: BTreeMap<String, Vec<(String, Json)>> = BTreeMap::new();
        for line in lines.iter().filter(|l| l["event"] == "received") {
            out.entry(line["client"].as_str().unwrap().to_owned())
                .or_default()
                .push((
                    line["name"].as_str().unwrap().to_owned(),
                    line["args"].clone(),
                ));
        }
        out
    }
}

fn expect(clients: &[&str], name: &str, args: &Json) -> BTreeMap<String, Vec<(String, Json)>> {
    clients
        .iter()
        .map(|c| {
            let event = (name.to_owned(), args.clone());
            (c.to_string(), vec![event.clone(), event])
        })
        .collect()
}

#[test]
fn emitter_reaches_node_clients_and_publishes_what_the_node_emitter_publishes() {
    if redis_missing() {
        return;
    }
    let mut f = Fixture::start();

    // To everyone.
    let args = json!(["x", 1, {"k": [true, null], "f": 1.5, "neg": -7}]);
    let m = f.both(
        |e| async move {
            e.emit(
                "all",
                &("x", 1, json!({"k": [true, null], "f": 1.5, "neg": -7})),
            )
            .await
        },
        json!({"cmd": "emit", "name": "all", "args": args}),
    );
    assert_eq!(m.channel_str(), "socket.io#/#");
    assert_eq!(
        Fixture::received(&f.barrier()),
        expect(&["a", "b", "c"], "all", &args)
    );

    // To one room: the room's own channel.
    let m = f.both(
        |e| async move { e.to("r1").emit("room", &"hi").await },
        json!({"cmd": "emit", "to": ["r1"], "name": "room", "args": ["hi"]}),
    );
    assert_eq!(m.channel_str(), "socket.io#/#r1#");
    assert_eq!(
        Fixture::received(&f.barrier()),
        expect(&["a", "b"], "room", &json!(["hi"]))
    );

    // A room except another; two rooms.
    f.both(
        |e| async move { e.to("r1").except("r2").emit("except", &()).await },
        json!({"cmd": "emit", "to": ["r1"], "except": ["r2"], "name": "except", "args": []}),
    );
    assert_eq!(
        Fixture::received(&f.barrier()),
        expect(&["a"], "except", &json!([]))
    );
    let m = f.both(
        |e| async move { e.to("r1").to("r2").emit("two", &()).await },
        json!({"cmd": "emit", "to": ["r1", "r2"], "name": "two", "args": []}),
    );
    assert_eq!(m.channel_str(), "socket.io#/#");
    assert_eq!(
        Fixture::received(&f.barrier()),
        expect(&["a", "b"], "two", &json!([]))
    );

    // Binary arguments arrive as Buffers, nested too.
    let bin = |b: &[u8]| json!({"$bin": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b)});
    let args = json!([bin(&[1, 2, 3]), {"nested": bin(&[0xff]), "s": "é😀"}]);
    f.both(
        |e| async move {
            e.emit("bin", &(Bytes::from_static(&[1, 2, 3]), json_bin_nested()))
                .await
        },
        json!({"cmd": "emit", "name": "bin", "args": args}),
    );
    assert_eq!(
        Fixture::received(&f.barrier()),
        expect(&["a", "b", "c"], "bin", &args)
    );

    // Flags, in call order.
    f.both(
        |e| async move { e.volatile().compress(false).emit("flags", &0).await },
        json!({"cmd": "emit", "flags": [["volatile", true], ["compress", false]], "name": "flags", "args": [0]}),
    );
    assert_eq!(
        Fixture::received(&f.barrier()),
        expect(&["a", "b", "c"], "flags", &json!([0]))
    );

    // Another namespace (no client there): its own channel, nothing received here.
    let m = f.both(
        |e| async move { e.of("admin").to("r1").emit("nsp", &1).await },
        json!({"cmd": "emit", "nsp": "/admin", "to": ["r1"], "name": "nsp", "args": [1]}),
    );
    assert_eq!(m.channel_str(), "socket.io#/admin#r1#");
    assert_eq!(Fixture::received(&f.barrier()), BTreeMap::new());

    // socketsJoin / socketsLeave.
    let m = f.both(
        |e| async move { e.to("r1").sockets_join(["r3"]).await },
        json!({"cmd": "socketsJoin", "to": ["r1"], "rooms": ["r3"]}),
    );
    assert_eq!(m.channel_str(), "socket.io-request#/#");
    assert_eq!(
        &m.payload[..],
        br#"{"type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["r3"]}"#
    );
    f.barrier();
    f.both(
        |e| async move { e.to("r3").emit("in-r3", &()).await },
        json!({"cmd": "emit", "to": ["r3"], "name": "in-r3", "args": []}),
    );
    assert_eq!(
        Fixture::received(&f.barrier()),
        expect(&["a", "b"], "in-r3", &json!([]))
    );
    f.both(
        |e| async move { e.to("r3").except("r2").sockets_leave(["r3"]).await },
        json!({"cmd": "socketsLeave", "to": ["r3"], "except": ["r2"], "rooms": ["r3"]}),
    );
    f.barrier();
    f.both(
        |e| async move { e.to("r3").emit("in-r3", &()).await },
        json!({"cmd": "emit", "to": ["r3"], "name": "in-r3", "args": []}),
    );
    assert_eq!(
        Fixture::received(&f.barrier()),
        expect(&["b"], "in-r3", &json!([]))
    );

    // serverSideEmit reaches both servers' handlers (twice each: once per emitter).
    let m = f.both(
        |e| async move { e.server_side_emit("hello", &(1, "two")).await },
        json!({"cmd": "serverSideEmit", "name": "hello", "args": [1, "two"]}),
    );
    assert_eq!(
        &m.payload[..],
        br#"{"uid":"emitter","type":6,"data":["hello",1,"two"]}"#
    );
    let lines = f.barrier();
    let servers: Vec<(i64, Json)> = lines
        .iter()
        .filter(|l| l["event"] == "server_side")
        .map(|l| (l["server"].as_i64().unwrap(), json!([l["name"], l["args"]])))
        .collect();
    let hello = json!(["hello", [1, "two"]]);
    let mut sorted = servers.clone();
    sorted.sort_by_key(|(s, _)| *s);
    assert_eq!(
        sorted,
        vec![
            (1, hello.clone()),
            (1, hello.clone()),
            (2, hello.clone()),
            (2, hello)
        ]
    );

    // disconnectSockets: b (in r2) is disconnected by its server.
    f.both(
        |e| async move { e.to("r2").disconnect_sockets(false).await },
        json!({"cmd": "disconnectSockets", "to": ["r2"], "close": false}),
    );
    f.connected = vec!["a", "c"];
    let lines = f.barrier();
    let disconnected: Vec<&Json> = lines
        .iter()
        .filter(|l| l["event"] == "disconnected")
        .collect();
    assert_eq!(disconnected.len(), 1, "{lines:?}");
    assert_eq!(disconnected[0]["client"], "b");
    assert_eq!(disconnected[0]["reason"], "io server disconnect");

    // A reserved event name is refused, as the Node emitter refuses it.
    let e = f.emitter.clone();
    let err =
        f.rt.block_on(async move { e.emit("disconnect", &()).await })
            .unwrap_err();
    assert_eq!(err.kind(), sio_redis::ErrorKind::Args);
    assert_eq!(err.to_string(), "\"disconnect\" is a reserved event name");
}

fn json_bin_nested() -> sio_protocol::Value {
    let mut map = sio_protocol::Map::new();
    map.insert(
        "nested".into(),
        sio_protocol::Value::Binary(Bytes::from_static(&[0xff])),
    );
    map.insert("s".into(), sio_protocol::Value::from("é😀"));
    sio_protocol::Value::Object(map)
}
