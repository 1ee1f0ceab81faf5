//! A cluster of `SocketIo` servers in one process, linked by the in-process bus adapter of
//! `io_cluster_bus` (written against the public API only, as an external crate such as
//! `sio-redis` would): every cluster-wide operation is tested across the nodes with raw
//! clients, and the JSON forms that cross servers against socket.io's.

mod io_cluster_bus;
use sio_test_support::io as io_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_cluster_bus::{Bus, bus_adapter};
use io_support::{Logs, Peer, WAIT, until};
use serde_json::json;
use sio_protocol::socket::Args;
use sio_protocol::{Str, Value};
use sio_server::{
    Ack, BroadcastOptions, ErrorKind, RemoteSocketData, ReplySink, ServerHandle, Socket, SocketIo,
    SocketIoConfig,
};

// ----- the cluster under test -----

struct Member {
    io: SocketIo,
    addr: SocketAddr,
    _handle: ServerHandle,
}

struct Cluster {
    bus: Arc<Bus>,
    nodes: Vec<Member>,
}

impl Cluster {
    fn io(&self, i: usize) -> &SocketIo {
        &self.nodes[i].io
    }

    /// A client of node `i`, connected to `/` as `name` (its CONNECT auth): the socket id.
    async fn client(&self, i: usize, name: &str) -> (Peer, String) {
        let mut peer = Peer::connect(self.nodes[i].addr).await;
        let id = peer
            .connect_nsp("/", Some(&json!({ "name": name }).to_string()))
            .await;
        (peer, id)
    }
}

/// Every node's handlers: the socket's data is `{"name": <auth.name>}`; the client asks to
/// join rooms and to broadcast.
fn app(io: &SocketIo) {
    io.of("/").on_connection(|socket| async move {
        let name = socket.handshake().auth["name"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        socket.set_data(&json!({ "name": name })).unwrap();
        socket.on(
            "join",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.join(room).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "tag",
            |socket: Socket, (tag,): (String,), ack: Ack| async move {
                socket.update_data(|data| {
                    if let Value::Object(map) = data {
                        map.insert("tag".to_owned(), Value::from(tag));
                    }
                });
                let _ = ack.send(&());
            },
        );
        socket.on(
            "others",
            |socket: Socket, (text,): (String,), ack: Ack| async move {
                socket.broadcast().emit("msg", &text).await.unwrap();
                let _ = ack.send(&());
            },
        );
    });
}

async fn cluster(n: u64) -> Cluster {
    let bus = Arc::new(Bus::default());
    let mut nodes = Vec::new();
    for uid in 0..n {
        let io = SocketIo::with_adapter(SocketIoConfig::default(), bus_adapter(bus.clone(), uid));
        app(&io);
        let handle = io.listen("127.0.0.1:0").await.unwrap();
        nodes.push(Member {
            io,
            addr: handle.local_addr(),
            _handle: handle,
        });
    }
    Cluster { bus, nodes }
}

async fn call(peer: &mut Peer, id: u32, packet: &str) {
    peer.send(&format!("2{id}{packet}")).await;
    assert_eq!(peer.text().await, format!("3{id}[]"));
}

/// Marks the end of a step: `marker` goes to everyone from node 0; each peer's next packet
/// must be it (so nothing else reached it before), without waiting for silence.
async fn only_marker(c: &Cluster, peers: &mut [&mut Peer], marker: &str) {
    c.io(0).emit("marker", &marker).await.unwrap();
    for p in peers.iter_mut() {
        assert_eq!(p.text().await, format!(r#"2["marker","{marker}"]"#));
    }
}

/// Asserts that the keys `"k":` first appear in `json` in this order.
fn in_order(json: &str, keys: &[&str]) {
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            json.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("no {k} in {json}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{keys:?} in {json}");
}

/// Reads an EVENT `2<id>[...]` asking for an ack: its id and payload.
fn ack_request(text: &str) -> (String, String) {
    let rest = text.strip_prefix('2').expect("an EVENT");
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert!(!id.is_empty(), "no ack id in {text}");
    (id.clone(), rest[id.len()..].to_owned())
}

// ----- the tests -----

#[tokio::test]
async fn broadcasts_reach_rooms_and_exceptions_on_every_node() {
    let c = cluster(3).await;
    let (mut a, _) = c.client(0, "a").await;
    let (mut b, _) = c.client(1, "b").await;
    let (mut d, _) = c.client(2, "d").await;
    call(&mut a, 1, r#"["join","red"]"#).await;
    call(&mut d, 1, r#"["join","red"]"#).await;

    // To a room, from a node with no socket in it.
    c.io(1).to("red").emit("msg", &"red").await.unwrap();
    assert_eq!(a.text().await, r#"2["msg","red"]"#);
    assert_eq!(d.text().await, r#"2["msg","red"]"#);
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m1").await;

    // Except a room.
    c.io(2).except("red").emit("msg", &"not red").await.unwrap();
    assert_eq!(b.text().await, r#"2["msg","not red"]"#);
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m2").await;

    // socket.broadcast from a client of node 0: every other socket of the cluster.
    call(&mut a, 2, r#"["others","hi"]"#).await;
    assert_eq!(b.text().await, r#"2["msg","hi"]"#);
    assert_eq!(d.text().await, r#"2["msg","hi"]"#);
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m3").await;

    // Binary crosses as a value and is encoded again by each node.
    c.io(2)
        .emit("bin", &bytes::Bytes::from_static(b"\x01\x02"))
        .await
        .unwrap();
    for p in [&mut a, &mut b, &mut d] {
        assert_eq!(
            p.text().await,
            r#"51-["bin",{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(p.binary().await, [1, 2]);
    }

    // local(): node 1's sockets only.
    c.io(1).local().emit("msg", &"local").await.unwrap();
    assert_eq!(b.text().await, r#"2["msg","local"]"#);
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m4").await;
}

#[tokio::test]
async fn fetch_sockets_returns_every_node_s_sockets_with_rooms_data_and_handshake() {
    let c = cluster(3).await;
    let (mut a, a_id) = c.client(0, "a").await;
    let (_b, b_id) = c.client(1, "b").await;
    let (mut d, d_id) = c.client(2, "d").await;
    call(&mut a, 1, r#"["join","red"]"#).await;
    call(&mut d, 1, r#"["join","red"]"#).await;
    call(&mut d, 2, r#"["tag","vip"]"#).await;

    let mut all = c.io(0).fetch_sockets().await.unwrap();
    all.sort_by(|x, y| x.data()["name"].as_str().cmp(&y.data()["name"].as_str()));
    let ids: Vec<&str> = all.iter().map(|s| s.id().as_str()).collect();
    assert_eq!(ids, [a_id.as_str(), b_id.as_str(), d_id.as_str()]);
    let names: Vec<&str> = all
        .iter()
        .map(|s| s.data()["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "d"]);
    // The data as the socket's server last changed it.
    assert_eq!(all[2].data()["tag"].as_str(), Some("vip"));
    assert!(all[1].data().get("tag").is_none());
    // Local sockets hold the live socket; the others do not.
    let local: Vec<bool> = all.iter().map(|s| s.is_local()).collect();
    assert_eq!(local, [true, false, false]);
    assert_eq!(all[0].as_socket().unwrap().id().as_str(), a_id);
    // Rooms as they were, own id included.
    let mut d_rooms: Vec<&str> = all[2].rooms().iter().map(|r| r.as_str()).collect();
    d_rooms.sort();
    let mut expected = vec![d_id.as_str(), "red"];
    expected.sort();
    assert_eq!(d_rooms, expected);
    // The handshake of a remote socket crossed as JSON and reads back.
    let h = all[2].handshake();
    assert_eq!(h.auth["name"].as_str(), Some("d"));
    assert_eq!(h.query_param("EIO"), Some("4"));
    assert_eq!(h.query_param("transport"), Some("websocket"));
    assert_eq!(
        h.address.map(|a| a.ip().to_string()).as_deref(),
        Some("127.0.0.1")
    );
    assert!(h.headers.contains_key("host"));
    assert!(
        h.time().ends_with("GMT+0000 (Coordinated Universal Time)"),
        "{}",
        h.time()
    );
    let local_h = all[0].as_socket().unwrap().handshake();
    assert_eq!(h.url.split('?').next(), local_h.url.split('?').next());

    // The JSON form is socket.io's, in its order.
    let text = serde_json::to_string(&all[1].clone().into_data()).unwrap();
    in_order(
        &text,
        &["id", "handshake", "headers", "time", "address", "xdomain"],
    );
    in_order(
        &text,
        &[
            "xdomain", "secure", "issued", "url", "query", "auth", "rooms", "data",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json.as_object().unwrap().len(), 4);
    let hs = json["handshake"].as_object().unwrap();
    assert_eq!(hs.len(), 9);
    assert_eq!(hs["query"]["EIO"], "4");
    assert_eq!(hs["address"], "127.0.0.1");
    assert_eq!(hs["auth"], json!({"name": "b"}));
    assert!(hs["issued"].is_u64());
    assert_eq!(json["data"], json!({"name": "b"}));

    // A room across nodes; except; local.
    let mut red: Vec<String> = c
        .io(1)
        .to("red")
        .fetch_sockets()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id().to_string())
        .collect();
    red.sort();
    let mut expected = vec![a_id.clone(), d_id.clone()];
    expected.sort();
    assert_eq!(red, expected);
    let not_red = c.io(2).except("red").fetch_sockets().await.unwrap();
    assert_eq!(not_red.len(), 1);
    assert_eq!(not_red[0].id().as_str(), b_id);
    let local = c.io(2).local().fetch_sockets().await.unwrap();
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].id().as_str(), d_id);
}

#[tokio::test]
async fn a_remote_socket_emits_joins_leaves_and_disconnects_across_nodes() {
    let c = cluster(3).await;
    let (mut a, _) = c.client(0, "a").await;
    let (mut b, _) = c.client(1, "b").await;
    let (mut d, d_id) = c.client(2, "d").await;

    let found = c.io(0).fetch_sockets().await.unwrap();
    let remote = found.iter().find(|s| s.id().as_str() == d_id).unwrap();
    assert!(!remote.is_local());

    remote.emit("direct", &"to d").await.unwrap();
    assert_eq!(d.text().await, r#"2["direct","to d"]"#);
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m1").await;

    // join: another node's broadcast to the room reaches d.
    remote.join("blue").await.unwrap();
    // The join crossed the bus: node 2 has the room once it handled it.
    until(|| {
        c.io(2)
            .of("/")
            .adapter()
            .local()
            .socket_rooms(&d_id)
            .iter()
            .any(|r| r.as_str() == "blue")
    })
    .await;
    c.io(1).to("blue").emit("msg", &"blue").await.unwrap();
    assert_eq!(d.text().await, r#"2["msg","blue"]"#);
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m2").await;

    remote.leave("blue").await.unwrap();
    until(|| c.io(2).of("/").adapter().local().socket_rooms(&d_id).len() == 1).await;
    c.io(1).to("blue").emit("msg", &"blue again").await.unwrap();
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m3").await;

    // emit_with_ack: the client of node 2 answers node 0.
    let pending = tokio::spawn({
        let remote = remote.clone();
        async move { remote.emit_with_ack("question", &7).timeout(WAIT).await }
    });
    let (id, payload) = ack_request(&d.text().await);
    assert_eq!(payload, r#"["question",7]"#);
    d.send(&format!(r#"3{id}[42,"ignored"]"#)).await;
    let reply = pending.await.unwrap().unwrap();
    // Across nodes the first argument only, as socket.io.
    assert_eq!(reply.deserialize::<u32>().unwrap(), 42);
    assert_eq!(reply.len(), 1);

    remote.disconnect(false).await.unwrap();
    assert_eq!(d.text().await, "1");
    until(|| c.io(2).of("/").sockets().is_empty()).await;
    // Gone: an ack request finds nobody.
    let gone = remote.emit_with_ack("question", &8).timeout(WAIT).await;
    assert!(
        gone.as_ref().is_err_and(|e| e.is_disconnected()),
        "{gone:?}"
    );
    only_marker(&c, &mut [&mut a, &mut b], "m4").await;
}

#[tokio::test]
async fn sockets_join_leave_and_disconnect_sockets_act_on_every_node() {
    let c = cluster(3).await;
    let (mut a, _) = c.client(0, "a").await;
    let (mut b, b_id) = c.client(1, "b").await;
    let (mut d, _) = c.client(2, "d").await;

    c.io(0).sockets_join("all").await.unwrap();
    let ns2 = c.io(2).of("/");
    until(|| ns2.adapter().local().has_room("all")).await;
    let ns1 = c.io(1).of("/");
    until(|| ns1.adapter().local().has_room("all")).await;
    let in_all = c.io(1).to("all").fetch_sockets().await.unwrap();
    assert_eq!(in_all.len(), 3);

    // Everyone but b leaves, from node 2.
    c.io(2)
        .except(b_id.clone())
        .sockets_leave("all")
        .await
        .unwrap();
    let ns0 = c.io(0).of("/");
    until(|| !ns0.adapter().local().has_room("all")).await;
    until(|| !ns2.adapter().local().has_room("all")).await;
    c.io(0).to("all").emit("msg", &"all").await.unwrap();
    assert_eq!(b.text().await, r#"2["msg","all"]"#);
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m1").await;

    // Disconnect the room's sockets from node 0: b (node 1) goes.
    c.io(0).to("all").disconnect_sockets(false).await.unwrap();
    assert_eq!(b.text().await, "1");
    until(|| ns1.sockets().is_empty()).await;
    only_marker(&c, &mut [&mut a, &mut d], "m2").await;

    // Everyone, closing the connections.
    c.io(1).disconnect_sockets(true).await.unwrap();
    for p in [&mut a, &mut d] {
        assert_eq!(p.text().await, "1");
        p.closed().await;
    }
}

#[tokio::test]
async fn server_side_events_reach_the_other_nodes_with_and_without_acks() {
    let c = cluster(3).await;
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    for i in 0..3 {
        let got = got.clone();
        c.io(i)
            .of("/")
            .on_server_event("hello", move |_ns, (who, n): (String, u32), ack| {
                let got = got.clone();
                async move {
                    got.lock().unwrap().push(format!("{i}:{who}"));
                    let _ = ack.send(&(n * 10 + i as u32));
                }
            })
            .unwrap();
    }
    // Without acks: nodes 1 and 2 handle it, node 0 (the sender) does not.
    c.io(0)
        .server_side_emit("hello", &("zero", 1))
        .await
        .unwrap();
    until(|| got.lock().unwrap().len() == 2).await;
    let mut seen = got.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["1:zero", "2:zero"]);

    // With acks: one answer per other node.
    let replies = c
        .io(1)
        .server_side_emit_with_ack("hello", &("one", 4))
        .timeout(WAIT)
        .await
        .unwrap();
    let mut replies: Vec<u32> = replies.iter().map(|r| r.deserialize().unwrap()).collect();
    replies.sort();
    assert_eq!(replies, [40, 42]);

    // Reserved names are refused, both ways.
    for name in ["connect", "connection", "new_namespace"] {
        let sent = c.io(0).server_side_emit(name, &()).await;
        assert!(sent.as_ref().is_err_and(|e| e.is_args()), "{sent:?}");
        let handler = c
            .io(0)
            .of("/")
            .on_server_event_args(name, |_, _, _| async {});
        assert!(handler.is_err_and(|e| e.is_args() && e.event() == Some(name)));
    }
    // Alone in its namespace: no other server, no answer to wait for.
    let alone = c.io(0).of("/alone");
    let replies = alone.server_side_emit_with_ack("hello", &()).await.unwrap();
    assert!(replies.is_empty());
}

#[tokio::test]
async fn server_side_event_handlers_add_up_one_answer_goes_back_and_off_removes_them() {
    let c = cluster(2).await;
    let ran: Arc<Mutex<Vec<u32>>> = Arc::default();
    for k in [1u32, 2] {
        let ran = ran.clone();
        c.io(1)
            .of("/")
            .on_server_event("multi", move |_ns, (): (), ack| {
                let ran = ran.clone();
                async move {
                    ran.lock().unwrap().push(k);
                    let _ = ack.send(&k);
                }
            })
            .unwrap();
    }
    let replies = c
        .io(0)
        .server_side_emit_with_ack("multi", &())
        .timeout(WAIT)
        .await
        .unwrap();
    // Both handlers ran; node 1 answered once (whichever handler came first).
    until(|| ran.lock().unwrap().len() == 2).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let answer: u32 = replies[0].deserialize().unwrap();
    assert!(answer == 1 || answer == 2, "{answer}");

    // Without handlers, node 1 does not answer: the sender times out with no reply.
    c.io(1).of("/").off_server_event("multi");
    let result = c
        .io(0)
        .server_side_emit_with_ack("multi", &())
        .timeout(Duration::from_millis(300))
        .await;
    let error = result.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(error.replies().is_empty());
    assert_eq!(ran.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn server_side_emit_with_ack_returns_what_it_got_when_a_node_never_answers() {
    let c = cluster(3).await;
    for i in 0..3 {
        c.io(i)
            .of("/")
            .on_server_event("ping", move |_ns, (): (), ack| async move {
                let _ = ack.send(&format!("pong {i}"));
            })
            .unwrap();
    }
    c.bus.mute(2);
    let result = c
        .io(0)
        .server_side_emit_with_ack("ping", &())
        .timeout(Duration::from_secs(1))
        .await;
    let partial = result.unwrap_err();
    assert!(partial.is_timeout(), "{partial:?}");
    assert_eq!(partial.expected_replies(), Some(2));
    assert_eq!(partial.replies().len(), 1);
    assert_eq!(
        partial.replies()[0].deserialize::<String>().unwrap(),
        "pong 1"
    );
    assert_eq!(
        partial.to_string(),
        "operation has timed out: 1 of 2 replies received"
    );

    // fetch_sockets times out as a whole (socket.io rejects it), with the timeout flag.
    let fetched = c
        .io(0)
        .of("/")
        .timeout(Duration::from_secs(1))
        .fetch_sockets()
        .await;
    let error = fetched.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(
        error.to_string(),
        "timeout reached: only 1 responses received out of 2"
    );
}

#[tokio::test]
async fn broadcast_with_ack_collects_replies_from_clients_of_every_node() {
    let c = cluster(3).await;
    let (mut a, _) = c.client(0, "a").await;
    let (mut b, _) = c.client(1, "b").await;
    let (mut d, _) = c.client(2, "d").await;

    let ask = |timeout: Duration| {
        let ns = c.io(1).of("/");
        tokio::spawn(async move { ns.timeout(timeout).emit_with_ack("vote", &1).await })
    };
    let pending = ask(WAIT);
    for (p, answer) in [(&mut a, "x"), (&mut b, "y"), (&mut d, "z")] {
        let (id, payload) = ack_request(&p.text().await);
        assert_eq!(payload, r#"["vote",1]"#);
        p.send(&format!(r#"3{id}["{answer}"]"#)).await;
    }
    let replies = pending.await.unwrap().unwrap();
    let mut replies: Vec<String> = replies.iter().map(|r| r.deserialize().unwrap()).collect();
    replies.sort();
    assert_eq!(replies, ["x", "y", "z"]);

    // d (node 2) does not answer: the timeout error carries the two replies, and the count
    // every node reported.
    let pending = ask(Duration::from_secs(1));
    for (p, answer) in [(&mut a, Some("x")), (&mut b, Some("y")), (&mut d, None)] {
        let (id, _) = ack_request(&p.text().await);
        if let Some(answer) = answer {
            p.send(&format!(r#"3{id}["{answer}"]"#)).await;
        }
    }
    let partial = pending.await.unwrap().unwrap_err();
    assert_eq!(partial.kind(), ErrorKind::Timeout, "{partial:?}");
    assert_eq!(partial.expected_replies(), Some(3));
    let mut replies: Vec<String> = partial
        .replies()
        .iter()
        .map(|r| r.deserialize().unwrap())
        .collect();
    replies.sort();
    assert_eq!(replies, ["x", "y"]);

    // A room on one node only: the other nodes report 0 clients, and the call completes.
    call(&mut d, 1, r#"["join","solo"]"#).await;
    let pending = tokio::spawn({
        let ns = c.io(0).of("/");
        async move { ns.to("solo").timeout(WAIT).emit_with_ack("vote", &2).await }
    });
    let (id, _) = ack_request(&d.text().await);
    d.send(&format!("3{id}[true]")).await;
    let replies = pending.await.unwrap().unwrap();
    assert_eq!(replies.len(), 1);
    // Nobody anywhere: done at once, no reply.
    let none = c
        .io(2)
        .to("nobody")
        .emit_with_ack("vote", &3)
        .await
        .unwrap();
    assert!(none.is_empty());

    // local(): only node 0's client, and only node 0 is waited for.
    let pending = tokio::spawn({
        let ns = c.io(0).of("/");
        async move { ns.local().timeout(WAIT).emit_with_ack("vote", &4).await }
    });
    let (id, _) = ack_request(&a.text().await);
    a.send(&format!(r#"3{id}["only a"]"#)).await;
    let replies = pending.await.unwrap().unwrap();
    assert_eq!(replies.len(), 1);
    only_marker(&c, &mut [&mut a, &mut b, &mut d], "m1").await;
}

#[tokio::test]
async fn server_count_counts_the_nodes_of_the_namespace() {
    let c = cluster(3).await;
    assert_eq!(c.io(0).server_count().await.unwrap(), 3);
    assert_eq!(c.io(2).of("/").server_count().await.unwrap(), 3);
    // A namespace exists where it was created.
    c.io(0).of("/admin");
    c.io(1).of("/admin");
    assert_eq!(c.io(0).of("/admin").server_count().await.unwrap(), 2);
    // A closed node leaves the cluster.
    c.io(2).close().await;
    assert_eq!(c.io(0).server_count().await.unwrap(), 2);
    // A dynamic namespace template has no sockets and does not join the cluster; the
    // namespaces it creates do.
    c.io(0).of_dynamic(|name, _| name.starts_with("/dyn-"));
    assert_eq!(c.bus.count("/_dynamic").unwrap(), 0);
    // Without a cluster adapter: 1.
    let alone = SocketIo::new(SocketIoConfig::default());
    assert_eq!(alone.server_count().await.unwrap(), 1);
    // all_rooms, across nodes.
    let (mut a, a_id) = c.client(0, "a").await;
    let (mut b, b_id) = c.client(1, "b").await;
    call(&mut a, 1, r#"["join","r1"]"#).await;
    call(&mut b, 1, r#"["join","r2"]"#).await;
    let mut rooms: Vec<String> = c
        .io(0)
        .of("/")
        .adapter()
        .all_rooms()
        .await
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    rooms.sort();
    let mut expected = vec![a_id, b_id, "r1".to_owned(), "r2".to_owned()];
    expected.sort();
    assert_eq!(rooms, expected);
}

#[tokio::test]
async fn local_operations_do_not_cross_nodes() {
    let c = cluster(2).await;
    let (mut a, a_id) = c.client(0, "a").await;
    let (mut b, b_id) = c.client(1, "b").await;

    c.io(0).local().sockets_join("here").await.unwrap();
    let here = c.io(1).to("here").fetch_sockets().await.unwrap();
    let ids: Vec<&str> = here.iter().map(|s| s.id().as_str()).collect();
    assert_eq!(ids, [a_id.as_str()]);
    assert!(!c.io(1).of("/").adapter().local().has_room("here"));

    // Both join "both" (cluster-wide); node 1 leaves it locally: node 0's socket stays.
    c.io(1).sockets_join("both").await.unwrap();
    until(|| c.io(0).of("/").adapter().local().has_room("both")).await;
    assert!(c.io(1).of("/").adapter().local().has_room("both"));
    c.io(1).local().sockets_leave("both").await.unwrap();
    assert!(!c.io(1).of("/").adapter().local().has_room("both"));
    let both = c.io(1).to("both").fetch_sockets().await.unwrap();
    let ids: Vec<&str> = both.iter().map(|s| s.id().as_str()).collect();
    assert_eq!(ids, [a_id.as_str()]);
    assert!(c.io(1).of("/").adapter().local().has_room(&b_id));

    c.io(0).local().disconnect_sockets(false).await.unwrap();
    assert_eq!(a.text().await, "1");
    // b is still connected and hears node 0.
    c.io(0).emit("msg", &"still here").await.unwrap();
    assert_eq!(b.text().await, r#"2["msg","still here"]"#);
}

#[tokio::test]
async fn adapter_errors_reach_the_caller() {
    let c = cluster(2).await;
    let (mut a, _) = c.client(0, "a").await;
    let (mut b, _) = c.client(1, "b").await;
    c.io(1)
        .of("/")
        .on_server_event_args("ping", |_, _, ack| async move {
            let _ = ack.send(&"pong");
        })
        .unwrap();
    c.bus.down.store(true, Ordering::SeqCst);

    // The broadcast reached this node's clients, and the error the caller.
    let sent = c.io(0).emit("msg", &"partial").await;
    match sent {
        Err(e) if e.is_adapter() => {
            assert!(e.is_unavailable());
            assert_eq!(
                std::error::Error::source(&e).unwrap().to_string(),
                "bus down"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(a.text().await, r#"2["msg","partial"]"#);

    let fetched = c.io(0).fetch_sockets().await;
    assert!(fetched.unwrap_err().is_unavailable());
    assert!(
        c.io(0)
            .sockets_join("x")
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert!(
        c.io(0)
            .sockets_leave("x")
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert!(
        c.io(0)
            .to("nobody")
            .disconnect_sockets(false)
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert!(c.io(0).server_count().await.unwrap_err().is_unavailable());
    let emitted = c.io(0).server_side_emit("ping", &()).await;
    assert!(
        emitted.as_ref().is_err_and(|e| e.is_adapter()),
        "{emitted:?}"
    );
    let asked = c.io(0).server_side_emit_with_ack("ping", &()).await;
    let partial = asked.unwrap_err();
    assert!(partial.is_unavailable(), "{partial:?}");
    let asked = c.io(0).timeout(WAIT).emit_with_ack("vote", &()).await;
    let partial = asked.unwrap_err();
    assert!(partial.is_unavailable(), "{partial:?}");
    // The local client was asked anyway (it is this server's).
    let (_, payload) = ack_request(&a.text().await);
    assert_eq!(payload, r#"["vote"]"#);

    // Back up: everything works again.
    c.bus.down.store(false, Ordering::SeqCst);
    c.io(0).emit("msg", &"again").await.unwrap();
    assert_eq!(a.text().await, r#"2["msg","again"]"#);
    assert_eq!(b.text().await, r#"2["msg","again"]"#);
}

// ----- the wire forms -----

#[test]
fn broadcast_options_use_socket_io_s_json() {
    let opts = BroadcastOptions::new(vec![Str::from("r1")], vec![Str::from("x")]);
    assert_eq!(
        serde_json::to_value(&opts).unwrap(),
        json!({"rooms": ["r1"], "except": ["x"], "flags": {}})
    );
    let mut opts = opts;
    opts.flags.volatile = true;
    opts.flags.local = true;
    opts.flags.compress = Some(false);
    opts.flags.timeout = Some(Duration::from_millis(1500));
    assert_eq!(
        serde_json::to_value(&opts).unwrap()["flags"],
        json!({"volatile": true, "local": true, "compress": false, "timeout": 1500})
    );
    // What a Node server sends, with flags this server does not use.
    let from_node: BroadcastOptions = serde_json::from_value(json!({
        "rooms": ["a"], "except": [],
        "flags": {"timeout": 2000, "expectSingleResponse": true, "volatile": true, "binary": false}
    }))
    .unwrap();
    assert_eq!(from_node.rooms, [Str::from("a")]);
    assert!(from_node.flags.volatile && !from_node.flags.local);
    assert_eq!(from_node.flags.timeout, Some(Duration::from_secs(2)));
    // Rooms JavaScript wrote as numbers read as their text.
    let numeric: BroadcastOptions =
        serde_json::from_value(json!({"rooms": [1, "b", 2.5], "except": [3]})).unwrap();
    assert_eq!(numeric.rooms, ["1", "b", "2.5"].map(Str::from));
    assert_eq!(numeric.except, [Str::from("3")]);
    // Missing parts read as empty.
    let empty: BroadcastOptions = serde_json::from_value(json!({"rooms": ["b"]})).unwrap();
    assert!(empty.except.is_empty() && empty.flags == Default::default());
}

#[test]
fn a_node_server_s_fetch_answer_reads_as_remote_socket_data() {
    // socket.io 4.8's FETCH_SOCKETS_RESPONSE entry, as a Node server writes it.
    let from_node = json!({
        "id": "Xw8LZmv5M8aFXnMWAAAB",
        "handshake": {
            "headers": {"host": "localhost:3000", "cookie": "a=1; b=2", "set-cookie": ["a=1", "b=2"]},
            "time": "Wed Nov 25 2026 19:52:13 GMT+0100 (Central European Standard Time)",
            "address": "::ffff:127.0.0.1",
            "xdomain": true,
            "secure": false,
            "issued": 1_795_719_133_000u64,
            "url": "/socket.io/?EIO=4&transport=polling&t=abc&tag=1&tag=2",
            "query": {"EIO": "4", "transport": "polling", "t": "abc", "tag": ["1", "2"]},
            "auth": {"token": "secret"}
        },
        "rooms": ["Xw8LZmv5M8aFXnMWAAAB", "room1"],
        "data": {"user": {"id": 7}}
    });
    let data: RemoteSocketData = serde_json::from_value(from_node.clone()).unwrap();
    assert_eq!(data.id.as_str(), "Xw8LZmv5M8aFXnMWAAAB");
    assert_eq!(data.rooms.len(), 2);
    assert_eq!(data.data["user"]["id"].as_u64(), Some(7));
    let h = &data.handshake;
    assert_eq!(h.headers["host"], "localhost:3000");
    assert_eq!(h.headers.get_all("set-cookie").iter().count(), 2);
    assert_eq!(h.query_param("tag"), Some("2"));
    assert_eq!(h.query_param("t"), Some("abc"));
    assert_eq!(h.auth["token"].as_str(), Some("secret"));
    assert!(h.xdomain && !h.secure);
    assert_eq!(h.issued, 1_795_719_133_000);
    assert_eq!(h.address.unwrap().ip().to_string(), "::ffff:127.0.0.1");
    // The time text is kept as the Node server wrote it (its time zone).
    assert!(h.time().contains("GMT+0100"));
    // And it serializes back to the same object.
    assert_eq!(serde_json::to_value(&data).unwrap(), from_node);
    // Sparse answers are accepted: missing parts take their defaults.
    let sparse: RemoteSocketData =
        serde_json::from_value(json!({"id": "s", "handshake": {}})).unwrap();
    assert!(sparse.rooms.is_empty() && sparse.data.is_null());
    assert_eq!(sparse.handshake.auth, Value::Object(Default::default()));
}

#[tokio::test]
async fn a_panicking_server_event_handler_is_logged_and_the_next_events_run() {
    let logs = Logs::capture();
    let c = cluster(2).await;
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    c.io(1)
        .of("/")
        .on_server_event("count", move |_ns, (boom,): (bool,), ack| {
            let s = s.clone();
            async move {
                if boom {
                    panic!("server event boom");
                }
                s.fetch_add(1, Ordering::SeqCst);
                let _ = ack.send(&"counted");
            }
        })
        .unwrap();
    c.io(0).server_side_emit("count", &(true,)).await.unwrap();
    until(|| {
        !logs
            .matching(&["a server-side event handler panicked", "server event boom"])
            .is_empty()
    })
    .await;
    let replies = c
        .io(0)
        .server_side_emit_with_ack("count", &(false,))
        .timeout(WAIT)
        .await
        .unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    // Arguments that do not match the handler's type drop the event: no answer.
    let mismatch = c
        .io(0)
        .server_side_emit_with_ack("count", &("not a bool",))
        .timeout(Duration::from_millis(200))
        .await;
    assert!(mismatch.unwrap_err().is_timeout());
}

#[tokio::test(start_paused = true)]
async fn a_reply_sink_with_a_deadline_closes_then() {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    let sink = ReplySink::from_fn(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    })
    .until(tokio::time::Instant::now() + Duration::from_secs(1));
    sink.client_count(1);
    assert!(!sink.is_closed());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let closed = tokio::spawn({
        let sink = sink.clone();
        async move { sink.closed().await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await; // virtual time
    assert!(closed.is_finished());
    assert!(sink.is_closed());
    sink.reply(Args::empty());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A channel sink closes with its receiver.
    let (sink, rx) = ReplySink::channel();
    assert!(!sink.is_closed());
    drop(rx);
    assert!(sink.is_closed());
    tokio::time::timeout(Duration::from_secs(1), sink.closed())
        .await
        .unwrap();
}
