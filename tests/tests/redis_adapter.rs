//! sio-redis' adapters in one process, several sio servers on a real Redis (single and
//! cluster), for what the mixed-cluster tests (redis_cluster.rs) cannot see: the counters,
//! garbage the Node.js adapter would crash on, a server that never answers, closing, and the
//! room channels of the sharded adapter's subscription modes.

mod redis_support;

use std::time::{Duration, Instant};

use redis_support::{RedisCluster, RedisServer, redis_missing};
use sio_redis::channels::SubscriptionMode;
use sio_redis::conn::{RedisConfig, RedisConnection};
use sio_redis::format::classic::{Request, RequestBody};
use sio_redis::format::cluster::{ClusterBody, ClusterMessage};
use sio_redis::format::{Opts, Packet};
use sio_redis::{ClassicOptions, RedisAdapter, ShardedOptions};
use sio_server::{ServerHandle, SocketIo, SocketIoConfig};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Classic,
    Sharded(SubscriptionMode),
}

/// One sio server of the cluster.
struct Server {
    io: SocketIo,
    adapter: RedisAdapter,
    handle: Option<ServerHandle>,
    /// The server-side events "note" it received.
    notes: mpsc::UnboundedReceiver<String>,
}

impl Server {
    async fn start(name: &'static str, config: RedisConfig, kind: Kind, partial: bool) -> Server {
        let conn = RedisConnection::connect(config).await.unwrap();
        let adapter = match kind {
            Kind::Classic => {
                let options = ClassicOptions::default()
                    .requests_timeout(Duration::from_millis(400))
                    .partial_on_timeout(partial);
                RedisAdapter::classic_with(conn, options).await.unwrap()
            }
            Kind::Sharded(mode) => {
                let options = ShardedOptions::default()
                    .subscription_mode(mode)
                    .requests_timeout(Duration::from_millis(400))
                    .partial_on_timeout(partial);
                RedisAdapter::sharded_with(conn, options).await.unwrap()
            }
        };
        let io = SocketIo::with_adapter(SocketIoConfig::default(), adapter.factory());
        io.of("/")
            .on_server_event_args("ping", move |_ns, _args, ack| async move {
                let _ = ack.send(&format!("pong-{name}"));
            })
            .unwrap();
        let (tx, notes) = mpsc::unbounded_channel();
        io.of("/")
            .on_server_event("note", move |_ns, (text,): (String,), _ack| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(text);
                }
            })
            .unwrap();
        io.of("/").on_connection(|socket| async move {
            let room = socket
                .handshake()
                .query
                .iter()
                .find(|(k, _)| k == "room")
                .map(|(_, v)| v.clone());
            if let Some(room) = room {
                socket.join(room).await;
            }
        });
        Server {
            io,
            adapter,
            handle: None,
            notes,
        }
    }

    async fn listen(&mut self) -> u16 {
        let handle = self.io.listen(("127.0.0.1", 0)).await.unwrap();
        let port = handle.local_addr().port();
        self.handle = Some(handle);
        port
    }
}

/// A client of the server on `port` (WebSocket), in `room` when given; returns once
/// connected.
async fn client(port: u16, room: Option<&str>) -> sio_client::Socket {
    let mut options = sio_client::Options::default()
        .transports([sio_client::TransportKind::WebSocket])
        .force_new(true)
        .reconnection(false);
    if let Some(room) = room {
        options = options.query("room", room);
    }
    let socket = sio_client::io(&format!("http://127.0.0.1:{port}/"), options).unwrap();
    let connected = sio_test_support::wait::holds_within(WAIT, || socket.connected()).await;
    assert!(connected, "client never connected");
    socket
}

async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let done = sio_test_support::wait::first(WAIT, async || f().await.then_some(())).await;
    assert!(done.is_some(), "timed out waiting for {what}");
}

/// Waits until `n` servers count themselves in the cluster.
async fn wait_count(io: &SocketIo, n: usize) {
    until(&format!("{n} servers"), async || {
        io.server_count().await.ok() == Some(n)
    })
    .await;
}

#[test]
fn classic_drops_and_counts_invalid_messages() {
    if redis_missing() {
        return;
    }
    let redis = RedisServer::start();
    runtime().block_on(async {
        let config = RedisConfig::standalone(redis.url());
        let a = Server::start("a", config.clone(), Kind::Classic, false).await;
        let b = Server::start("b", config.clone(), Kind::Classic, false).await;
        wait_count(&a.io, 2).await;
        let raw = RedisConnection::connect(config).await.unwrap();
        // Each is dropped with a log line, by each server.
        let garbage: [(&str, &[u8]); 10] = [
            ("socket.io#/#", b"\xc1 not msgpack"),
            ("socket.io#/#", b"\x92\xa1x\x01"),
            // A broadcast of a packet that is no event, and of one without an event name.
            ("socket.io#/#", b"\x93\xa1x\x82\xa4type\x00\xa4data\x90\x80"),
            (
                "socket.io#/#",
                b"\x93\xa1x\x82\xa4type\x02\xa4data\x91\x01\x80",
            ),
            ("socket.io-request#/#", b"{\"type\":"),
            (
                "socket.io-request#/#",
                b"{\"uid\":\"x\",\"type\":5,\"requestId\":\"r\"}",
            ),
            ("socket.io-request#/#", b"\x81\xa4type\x07"),
            ("socket.io-request#/#", b"{\"uid\":\"x\",\"type\":42}"),
            (
                "socket.io-request#/#",
                b"{\"uid\":\"x\",\"type\":6,\"data\":[1]}",
            ),
            ("socket.io-response#/#", b"\xff\xfe"),
        ];
        for (channel, payload) in garbage {
            raw.publish(channel, bytes::Bytes::from_static(payload))
                .await
                .unwrap();
        }
        // Not garbage: another server's response, a room this server does not have.
        raw.publish(
            "socket.io-response#/#",
            bytes::Bytes::from_static(b"{\"requestId\":\"someone\"}"),
        )
        .await
        .unwrap();
        raw.publish("socket.io#/#nobody#", bytes::Bytes::from_static(b"\xc1"))
            .await
            .unwrap();
        // Not garbage either: a broadcast with acks whose timeout no clock can add.
        let mut opts = Opts::new(Vec::new(), Vec::new());
        opts.flags.set("timeout", u64::MAX);
        let request = Request::new(
            Some("x".into()),
            RequestBody::Broadcast {
                request_id: "r".into(),
                packet: Packet::event(Some("/".into()), "e", Vec::new()),
                opts,
            },
        );
        raw.publish("socket.io-request#/#", request.encode().unwrap())
            .await
            .unwrap();
        for server in [&a, &b] {
            until("10 invalid messages", async || {
                server.adapter.stats().invalid == 10
            })
            .await;
        }
        // Both still work.
        let replies = a.io.server_side_emit_with_ack("ping", &()).await.unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].deserialize::<(String,)>().unwrap().0, "pong-b");
        assert_eq!(a.adapter.stats().invalid, 10);
        assert_eq!(b.adapter.stats().invalid, 10);
    });
}

#[test]
fn sharded_drops_and_counts_invalid_messages() {
    if redis_missing() {
        return;
    }
    let redis = RedisServer::start();
    runtime().block_on(async {
        let config = RedisConfig::standalone(redis.url());
        let kind = Kind::Sharded(SubscriptionMode::Dynamic);
        let a = Server::start("a", config.clone(), kind, false).await;
        let b = Server::start("b", config.clone(), kind, false).await;
        wait_count(&a.io, 2).await;
        let raw = RedisConnection::connect(config).await.unwrap();
        let garbage: [&[u8]; 6] = [
            b"\xc1 not msgpack",
            b"{\"type\":",
            b"{\"type\":77,\"uid\":\"x\",\"nsp\":\"/\"}",
            b"{\"type\":3,\"uid\":\"x\",\"nsp\":\"/\",\"data\":{}}",
            b"{\"type\":3,\"uid\":\"x\",\"nsp\":\"/\",\"data\":{\"packet\":{\"type\":2,\"data\":[1]},\"opts\":{}}}",
            b"{\"type\":9,\"uid\":\"x\",\"nsp\":\"/\",\"data\":{\"packet\":[]}}",
        ];
        for payload in garbage {
            raw.spublish("socket.io#/#", bytes::Bytes::from_static(payload))
                .await
                .unwrap();
        }
        // Not garbage: a broadcast with acks whose timeout no clock can add, another
        // namespace's message, a heartbeat.
        let mut opts = Opts::new(Vec::new(), Vec::new());
        opts.flags.set("timeout", u64::MAX);
        let message = ClusterMessage::new(
            "x".into(),
            "/".into(),
            ClusterBody::Broadcast {
                packet: Packet::event(None, "e", Vec::new()),
                request_id: Some("r".into()),
                opts,
            },
        );
        raw.spublish("socket.io#/#", message.encode().unwrap())
            .await
            .unwrap();
        for payload in [
            &b"{\"type\":2,\"uid\":\"x\",\"nsp\":\"/other\"}"[..],
            b"{\"type\":2,\"uid\":\"x\",\"nsp\":\"/\"}",
        ] {
            raw.spublish("socket.io#/#", bytes::Bytes::copy_from_slice(payload))
                .await
                .unwrap();
        }
        for server in [&a, &b] {
            until("6 invalid messages", async || {
                server.adapter.stats().invalid == 6
            })
            .await;
        }
        let replies = b.io.server_side_emit_with_ack("ping", &()).await.unwrap();
        assert_eq!(replies[0].deserialize::<(String,)>().unwrap().0, "pong-a");
        assert_eq!(a.adapter.stats().invalid, 6);
    });
}

/// With Redis down, a server's cluster calls fail in bounded time (what could not be
/// published is counted), then work again once Redis is back, without any action.
#[test]
fn classic_survives_a_redis_restart() {
    if redis_missing() {
        return;
    }
    let mut redis = RedisServer::start();
    runtime().block_on(async {
        let config = RedisConfig::standalone(redis.url());
        let a = Server::start("a", config.clone(), Kind::Classic, false).await;
        let mut b = Server::start("b", config.clone(), Kind::Classic, false).await;
        wait_count(&a.io, 2).await;
        a.io.server_side_emit("note", &("before",)).await.unwrap();
        assert_eq!(b.notes.recv().await.unwrap(), "before");

        redis.stop();
        let failures = a.adapter.stats().redis.publish_failures;
        let started = Instant::now();
        let e = a.io.emit("x", &1).await.unwrap_err();
        assert!(e.is_adapter() && e.is_unavailable(), "{e}");
        // sio-redis's error is the cause, with the `redis` crate's error (if any) under it.
        let cause = std::error::Error::source(&e)
            .and_then(|c| c.downcast_ref::<sio_redis::Error>())
            .expect("a sio_redis::Error as the cause");
        assert!(cause.is_redis() || cause.is_timeout(), "{cause:?}");
        assert!(a.io.server_count().await.unwrap_err().is_unavailable());
        assert!(a.io.fetch_sockets().await.unwrap_err().is_unavailable());
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "{:?}",
            started.elapsed()
        );
        assert!(a.adapter.stats().redis.publish_failures >= failures + 3);

        redis.restart();
        for server in [&a, &b] {
            until("resubscription", async || {
                server.adapter.stats().redis.resubscriptions >= 1
            })
            .await;
        }
        wait_count(&a.io, 2).await;
        a.io.server_side_emit("note", &("after",)).await.unwrap();
        assert_eq!(b.notes.recv().await.unwrap(), "after");
        let replies = b.io.server_side_emit_with_ack("ping", &()).await.unwrap();
        assert_eq!(replies[0].deserialize::<(String,)>().unwrap().0, "pong-a");
    });
}

/// A server that counts (it is subscribed) but never answers: `fetch_sockets` ends at the
/// timeout, with an error (socket.io's behaviour) or, with `partial_on_timeout`, with the
/// answers that came.
fn silent_server(kind: Kind, cluster: bool) {
    if redis_missing() {
        return;
    }
    let (_single, _cluster, config) = if cluster {
        let c = RedisCluster::start();
        let config = RedisConfig::cluster(c.urls());
        (None, Some(c), config)
    } else {
        let r = RedisServer::start();
        let config = RedisConfig::standalone(r.url());
        (Some(r), None, config)
    };
    runtime().block_on(async {
        let partial = Server::start("p", config.clone(), kind, true).await;
        let strict = Server::start("s", config.clone(), kind, false).await;
        let mut other = Server::start("o", config.clone(), kind, false).await;
        let port = other.listen().await;
        let _client = client(port, Some("r")).await;
        // The silent server: subscribed, never answering.
        let raw = RedisConnection::connect(config).await.unwrap();
        let (mute, _messages) = raw.subscriber().await.unwrap();
        match kind {
            Kind::Classic => mute.subscribe("socket.io-request#/#").await.unwrap(),
            Kind::Sharded(_) => mute.ssubscribe("socket.io#/#").await.unwrap(),
        }
        wait_count(&partial.io, 4).await;

        let started = Instant::now();
        let sockets = partial.io.fetch_sockets().await.unwrap();
        let waited = started.elapsed();
        assert_eq!(sockets.len(), 1, "the other server's socket");
        assert_eq!(sockets[0].rooms().len(), 2);
        assert!(
            waited >= Duration::from_millis(390) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        assert_eq!(partial.adapter.stats().timeouts, 1);

        let e = strict.io.fetch_sockets().await.unwrap_err();
        assert!(e.is_timeout(), "{e}");
        let expected = match kind {
            Kind::Classic => {
                "timeout reached while waiting for fetchSockets response (2 of 3 servers answered)"
            }
            Kind::Sharded(_) => "timeout reached: only 2 responses received out of 3",
        };
        assert_eq!(e.to_string(), expected);
        assert_eq!(strict.adapter.stats().timeouts, 1);
        // Without the silent server, the answer is complete at once.
        drop(mute);
        wait_count(&partial.io, 3).await;
        let started = Instant::now();
        assert_eq!(strict.io.fetch_sockets().await.unwrap().len(), 1);
        assert!(started.elapsed() < Duration::from_millis(390));
        other.io.close().await;
    });
}

#[test]
fn classic_silent_server() {
    silent_server(Kind::Classic, false);
}

#[test]
fn sharded_silent_server_on_a_redis_cluster() {
    silent_server(Kind::Sharded(SubscriptionMode::Dynamic), true);
}

/// `SocketIo::close` takes the server out of the cluster (it unsubscribes).
#[test]
fn close_leaves_the_cluster() {
    if redis_missing() {
        return;
    }
    let redis = RedisServer::start();
    runtime().block_on(async {
        let config = RedisConfig::standalone(redis.url());
        for kind in [Kind::Classic, Kind::Sharded(SubscriptionMode::Static)] {
            let a = Server::start("a", config.clone(), kind, false).await;
            let b = Server::start("b", config.clone(), kind, false).await;
            wait_count(&a.io, 2).await;
            b.io.close().await;
            assert_eq!(a.io.server_count().await.unwrap(), 1, "{kind:?}");
            a.io.close().await;
        }
    });
}

/// The room channels of the sharded adapter: in `dynamic`, a server listens on the channel
/// of each public room it has; in `dynamic-private`, of socket ids too; in `static`, on
/// none. Checked with `PUBSUB SHARDNUMSUB`, then by a broadcast from another server.
#[test]
fn sharded_room_channels_follow_the_rooms() {
    if redis_missing() {
        return;
    }
    let redis = RedisServer::start();
    runtime().block_on(async {
        let config = RedisConfig::standalone(redis.url());
        let raw = RedisConnection::connect(config.clone()).await.unwrap();
        for mode in [
            SubscriptionMode::Static,
            SubscriptionMode::Dynamic,
            SubscriptionMode::DynamicPrivate,
        ] {
            let mut a = Server::start("a", config.clone(), Kind::Sharded(mode), false).await;
            let b = Server::start("b", config.clone(), Kind::Sharded(mode), false).await;
            let port = a.listen().await;
            wait_count(&b.io, 2).await;
            let client = client(port, Some("news")).await;
            let sid = client.id().unwrap();
            let (news, private) = match mode {
                SubscriptionMode::Static => (0, 0),
                SubscriptionMode::Dynamic => (1, 0),
                _ => (1, 1),
            };
            // Joining waits for the subscription: no polling needed.
            assert_eq!(raw.shardnumsub("socket.io#/#news#").await.unwrap(), news);
            assert_eq!(
                raw.shardnumsub(&format!("socket.io#/#{sid}#"))
                    .await
                    .unwrap(),
                private
            );
            // A broadcast from the other server reaches the room, whatever the channel.
            let mut events = client.events();
            b.io.to("news").emit("hello", &("room",)).await.unwrap();
            b.io.to(sid.clone())
                .emit("hello", &("private",))
                .await
                .unwrap();
            let mut got = Vec::new();
            while got.len() < 2 {
                let event = tokio::time::timeout(WAIT, events.recv())
                    .await
                    .unwrap()
                    .unwrap();
                if let sio_client::SocketEvent::Message(m) = event {
                    got.push(m.args().deserialize::<(String,)>().unwrap().0);
                }
            }
            assert_eq!(got, ["room", "private"], "{mode:?}");
            // The channels go with the room.
            client.disconnect();
            until("room channels gone", async || {
                raw.shardnumsub("socket.io#/#news#").await.unwrap() == 0
                    && raw
                        .shardnumsub(&format!("socket.io#/#{sid}#"))
                        .await
                        .unwrap()
                        == 0
            })
            .await;
            a.io.close().await;
            b.io.close().await;
        }
    });
}

/// The classic requests no Node.js 8.x server sends any more but that a server still answers
/// (SOCKETS, ALL_ROOMS, the legacy REMOTE_JOIN / REMOTE_LEAVE / REMOTE_DISCONNECT about one
/// socket), `all_rooms` across servers, and `publishOnSpecificResponseChannel`.
#[test]
fn classic_answers_every_request_type() {
    if redis_missing() {
        return;
    }
    let redis = RedisServer::start();
    runtime().block_on(async {
        let config = RedisConfig::standalone(redis.url());
        let specific = ClassicOptions::default().publish_on_specific_response_channel(true);
        let conn = RedisConnection::connect(config.clone()).await.unwrap();
        let a = RedisAdapter::classic_with(conn.clone(), specific.clone())
            .await
            .unwrap();
        let b = RedisAdapter::classic_with(conn.clone(), specific)
            .await
            .unwrap();
        let io_a = SocketIo::with_adapter(SocketIoConfig::default(), a.factory());
        let io_b = SocketIo::with_adapter(SocketIoConfig::default(), b.factory());
        for io in [&io_a, &io_b] {
            io.of("/").on_connection(|socket| async move {
                let room = socket
                    .handshake()
                    .query
                    .iter()
                    .find(|(k, _)| k == "room")
                    .map(|(_, v)| v.clone());
                if let Some(room) = room {
                    socket.join(room).await;
                }
            });
        }
        let port_b = io_b.listen(("127.0.0.1", 0)).await.unwrap();
        let client = client(port_b.local_addr().port(), Some("r2")).await;
        let sid = client.id().unwrap();
        wait_count(&io_a, 2).await;

        // all_rooms: this server's and the other's, each once.
        let rooms = io_a.of("/").adapter().all_rooms().await.unwrap();
        let mut rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        rooms.sort();
        let mut expected = vec!["r2".to_owned(), sid.clone()];
        expected.sort();
        assert_eq!(rooms, expected);

        // A requester of our own, listening on both response channels. Every server answers
        // SOCKETS, ALL_ROOMS and REMOTE_FETCH (server a with nothing); only the server of the
        // socket answers the legacy requests about it.
        let (sub, mut answers) = conn.subscriber().await.unwrap();
        sub.psubscribe("socket.io-response#/#*").await.unwrap();
        let mut ask = async |request: String, n: usize| -> Vec<(String, String)> {
            conn.publish("socket.io-request#/#", request.into())
                .await
                .unwrap();
            let mut got = Vec::new();
            while got.len() < n {
                let m = tokio::time::timeout(WAIT, answers.recv())
                    .await
                    .unwrap()
                    .unwrap();
                got.push((
                    m.channel_str().into_owned(),
                    String::from_utf8_lossy(&m.payload).into_owned(),
                ));
            }
            got.sort();
            got
        };
        let me = || "socket.io-response#/#me0001#".to_owned();
        let mut expected = vec![
            (me(), r#"{"requestId":"q1","sockets":[]}"#.to_owned()),
            (me(), format!(r#"{{"requestId":"q1","sockets":["{sid}"]}}"#)),
        ];
        expected.sort();
        assert_eq!(
            ask(
                r#"{"uid":"me0001","requestId":"q1","type":0,"rooms":["r2"]}"#.into(),
                2
            )
            .await,
            expected
        );
        let join =
            format!(r#"{{"uid":"me0001","requestId":"q2","type":2,"sid":"{sid}","room":"old"}}"#);
        assert_eq!(
            ask(join, 1).await,
            [(me(), r#"{"requestId":"q2"}"#.to_owned())]
        );
        // The answers of server b (it has the socket) and of server a (empty).
        let split = |answers: Vec<(String, String)>| -> ((String, String), (String, String)) {
            let (mut b, mut a): (Vec<_>, Vec<_>) =
                answers.into_iter().partition(|(_, p)| p.contains(&sid));
            assert_eq!((a.len(), b.len()), (1, 1), "{a:?} {b:?}");
            (b.remove(0), a.remove(0))
        };
        let (rooms, empty) =
            split(ask(r#"{"uid":"me0001","requestId":"q3","type":1}"#.into(), 2).await);
        assert_eq!(empty, (me(), r#"{"requestId":"q3","rooms":[]}"#.to_owned()));
        assert!(rooms.1.contains("\"old\""), "{rooms:?}");
        let leave =
            format!(r#"{{"uid":"me0001","requestId":"q4","type":3,"sid":"{sid}","room":"old"}}"#);
        assert_eq!(
            ask(leave, 1).await,
            [(me(), r#"{"requestId":"q4"}"#.to_owned())]
        );
        let (rooms, _) =
            split(ask(r#"{"uid":"me0001","requestId":"q5","type":1}"#.into(), 2).await);
        assert!(!rooms.1.contains("\"old\""), "{rooms:?}");
        let (fetched, empty) = split(
            ask(
                r#"{"uid":"me0001","requestId":"q6","type":5,"opts":{"rooms":["r2"],"except":[]}}"#
                    .into(),
                2,
            )
            .await,
        );
        assert_eq!(
            empty,
            (me(), r#"{"requestId":"q6","sockets":[]}"#.to_owned())
        );
        let (channel, fetched) = &fetched;
        assert_eq!(*channel, me());
        assert!(
            fetched.starts_with(&format!(
                r#"{{"requestId":"q6","sockets":[{{"id":"{sid}","handshake":{{"headers":"#
            )),
            "{fetched}"
        );
        assert!(fetched.ends_with(r#""data":{}}]}"#), "{fetched}");
        // A server-side event's answer goes to the shared channel, as in JavaScript (server a
        // has no handler: no answer).
        io_b.of("/")
            .on_server_event_args("ping", |_ns, _args, ack| async move {
                let _ = ack.send(&"pong");
            })
            .unwrap();
        assert_eq!(
            ask(
                r#"{"uid":"me0001","requestId":"q7","type":6,"data":["ping"]}"#.into(),
                1
            )
            .await,
            [(
                "socket.io-response#/#".to_owned(),
                r#"{"type":6,"requestId":"q7","data":"pong"}"#.to_owned()
            )]
        );
        let mut events = client.events();
        let disconnect =
            format!(r#"{{"uid":"me0001","requestId":"q8","type":4,"sid":"{sid}","close":false}}"#);
        assert_eq!(
            ask(disconnect, 1).await,
            [(me(), r#"{"requestId":"q8"}"#.to_owned())]
        );
        loop {
            let event = tokio::time::timeout(WAIT, events.recv())
                .await
                .unwrap()
                .unwrap();
            if let sio_client::SocketEvent::Disconnect(reason) = event {
                assert_eq!(reason.to_string(), "io server disconnect");
                break;
            }
        }
    });
}
