//! A panicking handler costs its own socket only: the socket is disconnected (the client gets
//! DISCONNECT, or CONNECT_ERROR "server error" for a connect middleware), the panic is logged,
//! the disconnect handlers run and the socket leaves its rooms and the namespace, and the same
//! client's other namespaces, its later requests and other clients carry on.
//!
//! The polling tests call the engine directly, in tokio's paused time: a GET that would hang
//! would be answered by a ping 25 virtual seconds later, which `Polling::get` refuses.

use sio_test_support::io as io_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_support::{Logs, Peer, Polling, WAIT, until};
use sio_protocol::Str;
use sio_server::{
    Adapter, AdapterFactory, BoxFuture, Error, InMemoryAdapter, LocalNamespace, Socket, SocketIo,
    SocketIoConfig,
};
use tokio::sync::Notify;

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn has(log: &Log, entry: &str) -> bool {
    log.lock().unwrap().iter().any(|e| e == entry)
}

/// Which handler panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Event,
    Any,
    PacketMiddleware,
    OnError,
    Outgoing,
    Connection,
    Disconnecting,
    Disconnect,
    IoMiddleware,
    NsMiddleware,
}

impl Kind {
    /// The `handler` field of the error log.
    fn handler(self) -> &'static str {
        match self {
            Kind::Event => "event handler",
            Kind::Any => "on_any",
            Kind::PacketMiddleware => "use_middleware",
            Kind::OnError => "on_error",
            Kind::Outgoing => "on_any_outgoing",
            Kind::Connection => "on_connection",
            Kind::Disconnecting => "on_disconnecting",
            Kind::Disconnect => "on_disconnect",
            Kind::IoMiddleware => "io middleware",
            Kind::NsMiddleware => "namespace middleware",
        }
    }
}

fn wants_boom(socket: &Socket) -> bool {
    socket.handshake().auth.get("boom").is_some()
}

fn echo(socket: &Socket) {
    socket.on_args("echo", |_, args, ack| async move {
        let _ = ack.send_args(args);
    });
}

/// `/other` echoes; `/` echoes, joins the room `r`, logs its disconnect handlers, disconnects
/// on `bye`, and has the panicking handler of `kind`.
fn server(kind: Kind, events: &Log) -> SocketIo {
    let io = SocketIo::new(SocketIoConfig::default());
    io.of("/other")
        .on_connection(|socket| async move { echo(&socket) });
    let middleware = |socket: Socket| async move {
        if wants_boom(&socket) {
            panic!("connect middleware boom");
        }
        Ok::<(), Error>(())
    };
    match kind {
        Kind::IoMiddleware => {
            io.use_middleware(middleware);
        }
        Kind::NsMiddleware => {
            io.of("/").use_middleware(middleware);
        }
        _ => {}
    }
    let events = events.clone();
    io.of("/").on_connection(move |socket| {
        let events = events.clone();
        async move {
            push(&events, format!("connect:{}", socket.id()));
            if kind == Kind::Disconnecting {
                socket.on_disconnecting(|_, _| async { panic!("disconnecting boom") });
            }
            let log = events.clone();
            socket.on_disconnecting(move |socket, reason| {
                let log = log.clone();
                async move {
                    // The rooms are still readable.
                    let in_r = socket.rooms().await.iter().any(|r| r == "r");
                    push(
                        &log,
                        format!("disconnecting:{}:{reason}:{in_r}", socket.id()),
                    );
                }
            });
            if kind == Kind::Disconnect {
                socket.on_disconnect(|_, _| async { panic!("disconnect boom") });
            }
            let log = events.clone();
            socket.on_disconnect(move |socket, reason| {
                let log = log.clone();
                async move {
                    let rooms = socket.rooms().await.len();
                    push(&log, format!("disconnect:{}:{reason}:{rooms}", socket.id()));
                }
            });
            echo(&socket);
            socket.on_args(
                "bye",
                |socket, _, _| async move { socket.disconnect(false) },
            );
            match kind {
                Kind::Event => {
                    socket.on_args("boom", |_, _, _| async { panic!("event boom") });
                }
                Kind::Any => socket.on_any(|_, name, _| async move {
                    if name.as_str() == "boom" {
                        panic!("on_any boom");
                    }
                }),
                Kind::PacketMiddleware => socket.use_middleware(|_, name, _| async move {
                    if name.as_str() == "boom" {
                        panic!("middleware boom");
                    }
                    Ok(())
                }),
                Kind::OnError => {
                    socket.use_middleware(|_, name, _| async move {
                        if name.as_str() == "boom" {
                            return Err(Error::rejected("refused"));
                        }
                        Ok(())
                    });
                    socket.on_error(|_, _| panic!("on_error boom"));
                }
                Kind::Outgoing => {
                    socket.on_any_outgoing(|event, _| {
                        if event == "out" {
                            panic!("outgoing boom");
                        }
                    });
                    let log = events.clone();
                    socket.on_args("boom", move |socket, _, _| {
                        let log = log.clone();
                        async move {
                            let sent = socket.emit("out", &()).await;
                            let refused = sent.is_err_and(|e| e.is_disconnected());
                            push(&log, format!("emit refused:{refused}"));
                        }
                    });
                }
                _ => {}
            }
            socket.join("r").await;
            if kind == Kind::Connection && wants_boom(&socket) {
                panic!("connection boom");
            }
        }
    });
    io
}

/// The ids of the sockets of `/` in the room `r`.
async fn in_room(io: &SocketIo) -> Vec<Str> {
    let mut ids: Vec<Str> = io
        .of("/")
        .to("r")
        .fetch_sockets()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id().clone())
        .collect();
    ids.sort();
    ids
}

async fn contained(kind: Kind) {
    let logs = Logs::capture();
    let events: Log = Log::default();
    let io = server(kind, &events);
    io.start();
    let a = Polling::open(&io).await;
    let b = Polling::open(&io).await;
    a.join("/other", None).await;
    let b_id = b.join("/", None).await;

    let boom_auth = r#"0{"boom":true}"#;
    let panicked_id = match kind {
        Kind::IoMiddleware | Kind::NsMiddleware => {
            a.post(&[boom_auth]).await;
            assert_eq!(a.get().await, [r#"4{"message":"server error"}"#]);
            assert_eq!(io.of("/").sockets().len(), 1);
            None
        }
        Kind::Connection => {
            a.post(&[boom_auth]).await;
            let got = a.get_until(|p| p == "1").await;
            assert_eq!(got.len(), 2, "{got:?}");
            let v: serde_json::Value = serde_json::from_str(&got[0][1..]).unwrap();
            Some(v["sid"].as_str().unwrap().to_owned())
        }
        _ => {
            let id = a.join("/", None).await;
            let trigger = match kind {
                Kind::Disconnecting | Kind::Disconnect => r#"2["bye"]"#,
                _ => r#"2["boom"]"#,
            };
            a.post(&[trigger]).await;
            // The client sees the disconnection (DISCONNECT of `/`).
            assert_eq!(a.get().await, ["1"]);
            Some(id)
        }
    };

    if let Some(id) = &panicked_id {
        // The disconnect handlers ran (those after a panicking one too), with the socket still
        // in its rooms for `disconnecting` and out of them for `disconnect`.
        let reason = "server namespace disconnect";
        let disconnecting = format!("disconnecting:{id}:{reason}:true");
        let disconnect = format!("disconnect:{id}:{reason}:0");
        until(|| has(&events, &disconnect)).await;
        assert!(has(&events, &disconnecting), "{events:?}");
        // It left the namespace and its rooms.
        assert!(io.of("/").get_socket(id).is_none());
        assert_eq!(io.of("/").sockets().len(), 1);
        assert!(
            io.of("/")
                .adapter()
                .socket_rooms(Str::from(id.clone()))
                .await
                .is_empty()
        );
        assert_eq!(in_room(&io).await, [b_id.as_str()]);
        if kind == Kind::Outgoing {
            assert!(has(&events, "emit refused:true"), "{events:?}");
        }
    }

    // The panic is logged: which handler, which socket, which namespace, the message.
    let mut parts = vec!["ERROR".to_owned(), format!("handler={}", kind.handler())];
    parts.push(format!("sid={}", a.sid));
    parts.push("nsp=/".to_owned());
    parts.push("boom".to_owned());
    if let Some(id) = &panicked_id {
        parts.push(format!("socket={id}"));
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    assert_eq!(logs.matching(&parts).len(), 1, "{:#?}", logs.lines());

    // The same client: its other namespace answers, its later requests too.
    a.post(&[r#"2/other,1["echo","x"]"#]).await;
    assert_eq!(a.get().await, [r#"3/other,1["x"]"#]);
    // Another client.
    b.post(&[r#"21["echo","y"]"#]).await;
    assert_eq!(b.get().await, [r#"31["y"]"#]);
    // The client can join `/` again.
    let again = a.join("/", None).await;
    a.post(&[r#"27["echo","z"]"#]).await;
    assert_eq!(a.get().await, [r#"37["z"]"#]);
    let mut expected = vec![Str::from(b_id), Str::from(again)];
    expected.sort();
    assert_eq!(in_room(&io).await, expected);
    assert_eq!(io.engine().session_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_event_handler_disconnects_its_socket_only() {
    contained(Kind::Event).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_on_any_handler_disconnects_its_socket_only() {
    contained(Kind::Any).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_per_packet_middleware_disconnects_its_socket_only() {
    contained(Kind::PacketMiddleware).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_on_error_callback_disconnects_its_socket_only() {
    contained(Kind::OnError).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_on_any_outgoing_callback_disconnects_its_socket_only() {
    contained(Kind::Outgoing).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_connection_handler_disconnects_its_socket_only() {
    contained(Kind::Connection).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_disconnecting_handler_lets_the_others_and_the_cleanup_run() {
    contained(Kind::Disconnecting).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_disconnect_handler_lets_the_others_and_the_cleanup_run() {
    contained(Kind::Disconnect).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_io_connect_middleware_refuses_the_connect_only() {
    contained(Kind::IoMiddleware).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_namespace_connect_middleware_refuses_the_connect_only() {
    contained(Kind::NsMiddleware).await;
}

/// A dynamic namespace's matcher runs in the connection's session task: its panic refuses
/// that CONNECT and the connection goes on.
#[tokio::test(start_paused = true)]
async fn a_panicking_namespace_matcher_refuses_the_connect_only() {
    let logs = Logs::capture();
    let io = SocketIo::new(SocketIoConfig::default());
    io.of("/")
        .on_connection(|socket| async move { echo(&socket) });
    io.of_dynamic(|name, _| {
        if name == "/dyn-boom" {
            panic!("matcher boom");
        }
        name.starts_with("/dyn-")
    })
    .on_connection(|socket| async move { echo(&socket) });
    io.start();
    let a = Polling::open(&io).await;
    a.post(&["0/dyn-boom,"]).await;
    assert_eq!(a.get().await, [r#"4/dyn-boom,{"message":"server error"}"#]);
    assert_eq!(
        logs.matching(&[
            "ERROR",
            "handler=namespace matcher",
            "nsp=/dyn-boom",
            "matcher boom"
        ])
        .len(),
        1,
        "{:#?}",
        logs.lines()
    );
    a.join("/dyn-1", None).await;
    a.join("/", None).await;
    a.post(&[r#"2/dyn-1,1["echo",1]"#, r#"22["echo",2]"#]).await;
    let mut got = a.get().await;
    if got.len() < 2 {
        got.extend(a.get().await);
    }
    assert_eq!(got, [r#"3/dyn-1,1[1]"#, "32[2]"]);
}

/// A handler panics while the connection waits for room in its socket's full queue: the
/// queued events are dropped and the connection reads again (before, the socket's task died
/// with its `running` flag set, and the connection waited forever).
#[tokio::test(start_paused = true)]
async fn a_panic_while_the_queue_is_full_frees_the_connection() {
    let release = Arc::new(Notify::new());
    let handled: Log = Log::default();
    let io = SocketIo::new(SocketIoConfig::default().socket_queue(1));
    io.of("/other")
        .on_connection(|socket| async move { echo(&socket) });
    let (r, log) = (release.clone(), handled.clone());
    io.of("/").on_connection(move |socket| {
        let (release, log) = (r.clone(), log.clone());
        async move {
            socket.on_args("boom", move |_, _, _| {
                let release = release.clone();
                async move {
                    release.notified().await;
                    panic!("boom after a wait");
                }
            });
            socket.on_args("later", move |_, _, _| {
                let log = log.clone();
                async move { push(&log, "later") }
            });
        }
    });
    io.start();
    let a = Polling::open(&io).await;
    a.join("/other", None).await;
    a.join("/", None).await;
    // `boom` runs and waits; one `later` fills the queue, the next waits for room, and the
    // `/other` event behind it waits for the connection to read again.
    a.post(&[
        r#"2["boom"]"#,
        r#"2["later"]"#,
        r#"2["later"]"#,
        r#"2/other,5["echo","after"]"#,
    ])
    .await;
    // virtual time: returns once `boom` waits and the queue is full.
    tokio::time::sleep(Duration::from_millis(100)).await;
    release.notify_one();
    let got = a.get_until(|p| p.starts_with("3/other,5")).await;
    assert_eq!(got, ["1", r#"3/other,5["after"]"#]);
    assert!(
        handled.lock().unwrap().is_empty(),
        "queued events are dropped"
    );
    assert!(io.of("/").sockets().is_empty());
}

/// Over WebSocket (real time): an event handler panics, the client sees DISCONNECT for `/`,
/// and its `/other` socket and another client go on.
#[tokio::test]
async fn over_websocket_a_panicking_handler_disconnects_its_socket_only() {
    let events: Log = Log::default();
    let io = server(Kind::Event, &events);
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let (mut a, a_id) = Peer::join(addr, "/").await;
    a.connect_nsp("/other", None).await;
    let (mut b, _) = Peer::join(addr, "/").await;
    a.send(r#"2["boom"]"#).await;
    assert_eq!(a.text().await, "1");
    let disconnect = format!("disconnect:{a_id}:server namespace disconnect:0");
    tokio::time::timeout(WAIT, until(|| has(&events, &disconnect)))
        .await
        .unwrap();
    assert!(io.of("/").get_socket(&a_id).is_none());
    a.send(r#"2/other,3["echo","x"]"#).await;
    assert_eq!(a.text().await, r#"3/other,3["x"]"#);
    b.send(r#"24["echo","y"]"#).await;
    assert_eq!(b.text().await, r#"34["y"]"#);
}

/// An in-memory adapter whose `add_all` panics in `/bad-join` and `del_all` in `/bad-leave`.
#[derive(Debug)]
struct Panicky {
    inner: Arc<dyn Adapter>,
    name: String,
}

impl Adapter for Panicky {
    fn local(&self) -> &LocalNamespace {
        self.inner.local()
    }
    fn add_all(&self, id: Str, rooms: Vec<Str>) -> BoxFuture<'_, ()> {
        if self.name == "/bad-join" {
            panic!("add_all boom");
        }
        self.inner.add_all(id, rooms)
    }
    fn del_all(&self, id: Str) -> BoxFuture<'_, ()> {
        if self.name == "/bad-leave" {
            return Box::pin(async { panic!("del_all boom") });
        }
        self.inner.del_all(id)
    }
}

/// A custom adapter that panics: joining the socket's own room during CONNECT refuses that
/// CONNECT ("server error") and leaves nothing behind; leaving the rooms at the disconnection
/// still lets the socket leave the namespace and its `disconnect` handlers run.
#[tokio::test(start_paused = true)]
async fn a_panicking_adapter_costs_one_connect_or_one_socket_cleanup_only() {
    let logs = Logs::capture();
    let memory = InMemoryAdapter::factory();
    let factory: AdapterFactory = Arc::new(move |local: LocalNamespace| {
        let name = local.namespace().map(|ns| ns.name().to_string());
        Arc::new(Panicky {
            inner: memory(local),
            name: name.unwrap_or_default(),
        }) as Arc<dyn Adapter>
    });
    let events: Log = Log::default();
    let io = SocketIo::with_adapter(SocketIoConfig::default(), factory);
    for name in ["/", "/bad-join", "/bad-leave"] {
        let events = events.clone();
        io.of(name).on_connection(move |socket| {
            let events = events.clone();
            async move {
                echo(&socket);
                socket.on_args(
                    "bye",
                    |socket, _, _| async move { socket.disconnect(false) },
                );
                socket.on_disconnect(move |socket, reason| {
                    let events = events.clone();
                    async move { push(&events, format!("disconnect:{}:{reason}", socket.id())) }
                });
            }
        });
    }
    io.start();
    let a = Polling::open(&io).await;
    a.post(&["0/bad-join,"]).await;
    assert_eq!(a.get().await, [r#"4/bad-join,{"message":"server error"}"#]);
    assert!(io.of("/bad-join").sockets().is_empty());
    let handler = [
        "ERROR",
        "handler=adapter add_all",
        "nsp=/bad-join",
        "add_all boom",
    ];
    assert_eq!(logs.matching(&handler).len(), 1, "{:#?}", logs.lines());

    let id = a.join("/bad-leave", None).await;
    a.post(&[r#"2/bad-leave,["bye"]"#]).await;
    assert_eq!(a.get().await, ["1/bad-leave,"]);
    let disconnect = format!("disconnect:{id}:server namespace disconnect");
    until(|| has(&events, &disconnect)).await;
    assert!(io.of("/bad-leave").sockets().is_empty());
    let socket = format!("socket={id}");
    let handler = ["ERROR", "handler=adapter del_all", &socket, "del_all boom"];
    assert_eq!(logs.matching(&handler).len(), 1, "{:#?}", logs.lines());

    a.join("/", None).await;
    a.post(&[r#"21["echo","ok"]"#]).await;
    assert_eq!(a.get().await, [r#"31["ok"]"#]);
}
