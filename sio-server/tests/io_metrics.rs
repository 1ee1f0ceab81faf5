//! The metrics of the `metrics` feature, read from a recorder installed for this test binary:
//! known traffic, and each counter and gauge it implies.

#![cfg(feature = "metrics")]

use sio_test_support::io as io_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use io_support::{Peer, Polling, WAIT, server, until};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use sio_server::metrics as m;
use sio_server::{
    Ack, Adapter, AdapterFactory, BoxFuture, BroadcastOptions, BroadcastPacket, Error,
    InMemoryAdapter, LocalNamespace, ReplySink, SocketIo, SocketIoConfig,
};
use tokio_tungstenite::tungstenite::Message;

/// A metric: its name and its labels, sorted.
type Key = (String, Vec<(String, String)>);

/// The values recorded so far. A snapshot of the debugging recorder resets what it reads
/// (counters and gauges alike), so the snapshots are summed up here.
struct Recorded {
    snapshotter: Snapshotter,
    totals: Mutex<HashMap<Key, f64>>,
}

fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("the only recorder of this binary");
        Recorded {
            snapshotter,
            totals: Mutex::default(),
        }
    })
}

/// The value of `name` with exactly `labels` (0 when never recorded).
fn value(name: &str, labels: &[(&str, &str)]) -> f64 {
    let r = recorded();
    let mut totals = r.totals.lock().unwrap();
    for (key, _, _, v) in r.snapshotter.snapshot().into_vec() {
        let mut l: Vec<(String, String)> = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        l.sort();
        let v = match v {
            DebugValue::Counter(c) => c as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(_) => continue,
        };
        *totals.entry((key.key().name().to_owned(), l)).or_default() += v;
    }
    let mut want: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    want.sort();
    totals.get(&(name.to_owned(), want)).copied().unwrap_or(0.0)
}

/// Waits until `name{labels}` is `expected` (the server counts on its own tasks).
async fn expect(name: &str, labels: &[(&str, &str)], expected: f64) {
    let reached =
        sio_test_support::wait::holds_within(WAIT, || value(name, labels) == expected).await;
    assert!(
        reached,
        "{name}{labels:?}: {} (expected {expected})",
        value(name, labels)
    );
}

const WS: &[(&str, &str)] = &[("transport", "websocket")];
const POLLING: &[(&str, &str)] = &[("transport", "polling")];
const ROOT: &[(&str, &str)] = &[("namespace", "/")];

/// One test: the recorder and its values are global to the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_traffic_gives_the_expected_metrics() {
    recorded();
    let engine = sio_server::EngineConfig::default()
        .path("/socket.io/")
        .max_buffered_packets(4);
    let s = server(SocketIoConfig::default().engine(engine), |io| {
        io.of("/").on_connection(|socket| async move {
            socket.on("echo", |_, (text,): (String,), ack: Ack| async move {
                let _ = ack.send(&text);
            });
        });
    })
    .await;
    let ns = s.io.of("/");

    // Two WebSocket clients join "/": Engine.IO and Socket.IO see them.
    let (mut a, a_id) = Peer::join(s.addr, "/").await;
    let (mut b, b_id) = Peer::join(s.addr, "/").await;
    expect(m::ENGINE_CLIENTS, WS, 2.0).await;
    expect(m::ENGINE_CONNECTIONS, WS, 2.0).await;
    expect(m::SOCKETS, ROOT, 2.0).await;
    expect(m::SOCKET_CONNECTS, ROOT, 2.0).await;
    // Messages: a CONNECT each way per client; bytes: the Engine.IO payloads ("0", and
    // the CONNECT reply `0{"sid":"<20 characters>"}`).
    let (mut received, mut received_bytes) = (2.0, 2.0);
    let (mut sent, mut sent_bytes) = (2.0, 2.0 * 31.0);
    expect(m::ENGINE_MESSAGES_RECEIVED, &[], received).await;
    expect(m::ENGINE_BYTES_RECEIVED, &[], received_bytes).await;
    expect(m::ENGINE_MESSAGES_SENT, &[], sent).await;
    expect(m::ENGINE_BYTES_SENT, &[], sent_bytes).await;

    // An event with an acknowledgement from the client.
    let event = r#"20["echo","hi"]"#;
    a.send(event).await;
    assert_eq!(a.text().await, r#"30["hi"]"#);
    received += 1.0;
    received_bytes += event.len() as f64;
    sent += 1.0;
    sent_bytes += r#"30["hi"]"#.len() as f64;
    expect(m::ENGINE_MESSAGES_RECEIVED, &[], received).await;
    expect(m::ENGINE_BYTES_RECEIVED, &[], received_bytes).await;
    expect(m::ENGINE_MESSAGES_SENT, &[], sent).await;
    expect(m::ENGINE_BYTES_SENT, &[], sent_bytes).await;

    // Broadcasts: to everyone (2 recipients), then to one room (1).
    ns.emit("news", &1).await.unwrap();
    ns.to(a_id.clone()).emit("news", &2).await.unwrap();
    assert_eq!(a.text().await, r#"2["news",1]"#);
    assert_eq!(b.text().await, r#"2["news",1]"#);
    assert_eq!(a.text().await, r#"2["news",2]"#);
    sent += 3.0;
    sent_bytes += 3.0 * r#"2["news",1]"#.len() as f64;
    expect(m::BROADCASTS, &[], 2.0).await;
    expect(m::BROADCAST_RECIPIENTS, &[], 3.0).await;
    expect(m::ENGINE_MESSAGES_SENT, &[], sent).await;
    expect(m::ENGINE_BYTES_SENT, &[], sent_bytes).await;

    // Acknowledgements: one answered, one timed out.
    let socket_a = ns.get_socket(&a_id).unwrap();
    let asked = tokio::spawn(async move { socket_a.emit_with_ack("q", &()).await });
    let question = a.text().await;
    let id = question
        .strip_prefix('2')
        .and_then(|q| q.strip_suffix(r#"["q"]"#))
        .unwrap_or_else(|| panic!("{question}"));
    expect(m::ACKS_PENDING, &[], 1.0).await;
    a.send(&format!("3{id}[7]")).await;
    let answer = asked.await.unwrap().unwrap();
    assert_eq!(answer.deserialize::<(u8,)>().unwrap(), (7,));
    expect(m::ACKS_PENDING, &[], 0.0).await;
    let socket_b = ns.get_socket(&b_id).unwrap();
    let unanswered = socket_b
        .emit_with_ack("q", &())
        .timeout(Duration::from_millis(50));
    assert!(unanswered.await.is_err_and(|e| e.is_timeout()));
    assert!(b.text().await.ends_with(r#"["q"]"#));
    expect(m::ACKS_PENDING, &[], 0.0).await;
    expect(m::ACKS_TIMED_OUT, &[], 1.0).await;

    // An upgrade from polling.
    let p = Polling::open(&s.io).await;
    expect(m::ENGINE_CLIENTS, POLLING, 1.0).await;
    expect(m::ENGINE_CONNECTIONS, POLLING, 1.0).await;
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket&sid={}",
        s.addr, p.sid
    );
    let (mut upgraded, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    upgraded.send(Message::text("2probe")).await.unwrap();
    let probe = upgraded.next().await.unwrap().unwrap();
    assert_eq!(probe, Message::text("3probe"));
    upgraded.send(Message::text("5")).await.unwrap();
    expect(m::ENGINE_UPGRADES, &[], 1.0).await;
    expect(m::ENGINE_CLIENTS, POLLING, 0.0).await;
    expect(m::ENGINE_CLIENTS, WS, 3.0).await;

    // Disconnections: a leaves "/" (its connection stays), b's connection closes, then the
    // upgraded one's.
    a.send("1").await;
    expect(
        m::SOCKET_DISCONNECTS,
        &[("reason", "client namespace disconnect")],
        1.0,
    )
    .await;
    expect(m::SOCKETS, ROOT, 1.0).await;
    b.close().await;
    expect(m::SOCKET_DISCONNECTS, &[("reason", "transport close")], 1.0).await;
    expect(m::SOCKETS, ROOT, 0.0).await;
    expect(m::ENGINE_DISCONNECTS, &[("reason", "transport close")], 1.0).await;
    drop(upgraded);
    expect(m::ENGINE_DISCONNECTS, &[("reason", "transport close")], 2.0).await;
    expect(m::ENGINE_CLIENTS, WS, 1.0).await;
    a.close().await;
    expect(m::ENGINE_DISCONNECTS, &[("reason", "transport close")], 3.0).await;
    expect(m::ENGINE_CLIENTS, WS, 0.0).await;
    expect(m::SOCKET_CONNECTS, ROOT, 2.0).await;

    // Handshakes refused: not a GET, an unknown protocol version.
    let refused = |method: &'static str, query: &'static str| {
        let engine = s.io.engine().clone();
        async move {
            let req = http::Request::builder()
                .method(method)
                .uri(format!("/socket.io/?{query}"))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap();
            engine.handle(req, None).await.status().as_u16()
        }
    };
    assert_eq!(refused("POST", "EIO=4&transport=polling").await, 400);
    assert_eq!(refused("GET", "EIO=9&transport=polling").await, 400);
    expect(
        m::ENGINE_HANDSHAKE_REFUSALS,
        &[("reason", "bad_method")],
        1.0,
    )
    .await;
    expect(
        m::ENGINE_HANDSHAKE_REFUSALS,
        &[("reason", "unsupported_version")],
        1.0,
    )
    .await;

    // Drops: a polling client that never polls, its queue bounded to 4 packets.
    let idle = Polling::open(&s.io).await;
    idle.join("/", None).await;
    let (mut reader, _) = Peer::join(s.addr, "/").await;
    until(|| ns.sockets().len() == 2).await;
    let before = value(m::BROADCAST_RECIPIENTS, &[]);
    for i in 0..20 {
        ns.volatile().emit("tick", &i).await.unwrap();
        assert_eq!(reader.text().await, format!(r#"2["tick",{i}]"#));
    }
    ns.emit("last", &()).await.unwrap();
    assert_eq!(reader.text().await, r#"2["last"]"#);
    // Each packet was either queued for the idle client (it gets them over the next GETs)
    // or dropped, and counted.
    let dropped = value(m::PACKETS_DROPPED, &[("reason", "volatile")]);
    assert!(dropped > 0.0);
    let mut got = Vec::new();
    while (got.iter().filter(|p: &&String| p.contains("tick")).count() as f64) + dropped < 20.0 {
        got.extend(idle.get().await);
    }
    let ticks = got.iter().filter(|p| p.contains("tick")).count() as f64;
    assert_eq!(ticks + dropped, 20.0, "{got:?}");
    assert!(!got.iter().any(|p| p.contains("last")), "{got:?}");
    expect(m::PACKETS_DROPPED, &[("reason", "queue_full")], 1.0).await;
    expect(m::BROADCASTS, &[], 2.0 + 21.0).await;
    expect(m::BROADCAST_RECIPIENTS, &[], before + 21.0 + ticks).await;

    // Connection state recovery (last: its server's traffic is not counted above): one
    // session recovered, one unknown.
    let s = server(
        SocketIoConfig::default().connection_state_recovery(Default::default()),
        |_| {},
    )
    .await;
    let mut peer = Peer::connect(s.addr).await;
    peer.send("0").await;
    let reply: serde_json::Value =
        serde_json::from_str(peer.text().await.strip_prefix('0').unwrap()).unwrap();
    let (sid, pid) = (reply["sid"].clone(), reply["pid"].clone());
    s.io.of("/").emit("e", &1).await.unwrap();
    let event: serde_json::Value =
        serde_json::from_str(peer.text().await.strip_prefix('2').unwrap()).unwrap();
    let offset = event[2].clone();
    drop(peer);
    let ns = s.io.of("/");
    until(|| ns.recovery_stats().unwrap().sessions == 1).await;
    let mut peer = Peer::connect(s.addr).await;
    peer.send(&format!(
        "0{}",
        serde_json::json!({"pid": pid, "offset": offset})
    ))
    .await;
    let reply: serde_json::Value =
        serde_json::from_str(peer.text().await.strip_prefix('0').unwrap()).unwrap();
    assert_eq!(reply["sid"], sid, "recovered");
    expect(m::RECOVERIES, &[("result", "recovered")], 1.0).await;
    let mut stranger = Peer::connect(s.addr).await;
    stranger
        .send(r#"0{"pid":"unknown-pid-of-20-chars","offset":"1"}"#)
        .await;
    let reply = stranger.text().await;
    assert!(!reply.contains(sid.as_str().unwrap()), "{reply}");
    expect(m::RECOVERIES, &[("result", "failed")], 1.0).await;
    expect(m::RECOVERIES, &[("result", "recovered")], 1.0).await;

    // An adapter that cannot reach the rest of its cluster: each event it could not send is
    // counted (this server's sockets still get it).
    let memory = InMemoryAdapter::factory();
    let factory: AdapterFactory = Arc::new(move |local: LocalNamespace| {
        Arc::new(Unreachable(memory(local))) as Arc<dyn Adapter>
    });
    let io = SocketIo::with_adapter(SocketIoConfig::default(), factory);
    io.of("/");
    assert!(
        io.of("/")
            .emit("e", &1)
            .await
            .is_err_and(|e| e.is_adapter())
    );
    expect(m::ADAPTER_PUBLISH_FAILURES, &[], 1.0).await;
    let acks = io.of("/").emit_with_ack("e", &1).await;
    assert!(acks.is_err());
    expect(m::ADAPTER_PUBLISH_FAILURES, &[], 2.0).await;
}

/// An in-memory adapter whose broadcasts fail for the rest of the cluster.
#[derive(Debug)]
struct Unreachable(Arc<dyn Adapter>);

impl Adapter for Unreachable {
    fn local(&self) -> &LocalNamespace {
        self.0.local()
    }

    fn broadcast(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.local().broadcast(&packet, &opts);
        Box::pin(async { Err(Error::adapter("the cluster is unreachable")) })
    }

    fn broadcast_with_ack(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
        acks: ReplySink,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.local().broadcast_with_ack(&packet, &opts, &acks);
        Box::pin(async { Err(Error::adapter("the cluster is unreachable")) })
    }
}
