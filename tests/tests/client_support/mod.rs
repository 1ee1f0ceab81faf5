//! The client scenarios that run against every server: the Node.js socket.io 4.8 server
//! (`client_node.rs`) and ours (`client_rust.rs`), each in every transport mode.
//!
//! Every wait is bounded ([`WAIT`]); a server is stopped when its guard drops, a failed test
//! included.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sio_client::{
    AckSender, DisconnectReason, Manager, ManagerEvent, Message, Options, Socket, TransportKind,
    Value,
};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// The longest any single step may take (a loaded 2-core machine).
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// A server implementing the handlers of `tests/js/client-server.js`: `echo`, `echo-ack`,
/// `no-ack`, `ask` (which emits `question` with an ack and reports the answer as `answer`),
/// `info`, `flaky`, `kick`, and the namespace `/admin` whose middleware refuses tokens other
/// than `"secret"` with `data` `{code: 42, reason: "bad token"}`. Stopped on drop.
pub(crate) trait TestServer: Sized {
    /// Starts the server on `port` (0: any free port) and waits until it listens.
    fn start(port: u16) -> Self;

    /// The port it listens on.
    fn port(&self) -> u16;

    /// Stops the server from running without closing anything (SIGSTOP for a process).
    fn freeze(&self);

    /// Lets a frozen server run again.
    fn thaw(&self);

    /// `http://127.0.0.1:<port>`.
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    Polling,
    WebSocket,
    Upgrade,
}

impl Mode {
    pub(crate) fn options(self) -> Options {
        let options = Options::default()
            .reconnection_delay(Duration::from_millis(100))
            .reconnection_delay_max(Duration::from_millis(200));
        match self {
            Mode::Polling => options.transports([TransportKind::Polling]),
            Mode::WebSocket => options.transports([TransportKind::WebSocket]),
            Mode::Upgrade => options,
        }
    }

    pub(crate) fn final_transport(self) -> &'static str {
        match self {
            Mode::Polling => "polling",
            Mode::WebSocket | Mode::Upgrade => "websocket",
        }
    }
}

pub(crate) async fn recv<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(value)) => value,
        Ok(None) => panic!("{what}: channel closed"),
        Err(_) => panic!("{what}: nothing within {WAIT:?}"),
    }
}

/// A socket whose `connect`, `disconnect` and `connect_error` go to channels.
pub(crate) struct Watched {
    pub(crate) socket: Socket,
    pub(crate) connects: UnboundedReceiver<()>,
    pub(crate) disconnects: UnboundedReceiver<DisconnectReason>,
    pub(crate) errors: UnboundedReceiver<sio_client::Error>,
}

pub(crate) fn watch(socket: Socket) -> Watched {
    let (ctx, connects) = unbounded_channel();
    let (dtx, disconnects) = unbounded_channel();
    let (etx, errors) = unbounded_channel();
    socket.on_connect(move || {
        let _ = ctx.send(());
    });
    socket.on_disconnect(move |reason| {
        let _ = dtx.send(reason);
    });
    socket.on_connect_error(move |e| {
        let _ = etx.send(e.clone());
    });
    Watched {
        socket,
        connects,
        disconnects,
        errors,
    }
}

/// Events named `event` as their argument lists.
pub(crate) fn events(socket: &Socket, event: &str) -> UnboundedReceiver<Vec<Value>> {
    let (tx, rx) = unbounded_channel();
    socket.on(event, move |msg: Message| {
        let _ = tx.send(msg.args().to_values().expect("decodable args"));
    });
    rx
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Info {
    pub(crate) nsp: String,
    pub(crate) id: String,
    pub(crate) auth: serde_json::Value,
    pub(crate) transport: String,
    pub(crate) engine_id: String,
    /// The Cookie header of each request after the handshake.
    /// (Not known to our server: `None`.)
    #[serde(default)]
    pub(crate) cookies: Option<Vec<Option<String>>>,
    pub(crate) query: serde_json::Value,
    pub(crate) header: Option<String>,
    /// How many WebSocket requests of this session the server refused (`?noupgrade=1`).
    /// (Not known to our server: 0.)
    #[serde(default)]
    pub(crate) refused_probes: u32,
}

pub(crate) async fn info(socket: &Socket) -> Info {
    let args = socket
        .timeout(WAIT)
        .emit_with_ack("info", &())
        .await
        .expect("info ack");
    args.deserialize().expect("an Info")
}

/// The info of `socket` once the server sees it on `transport` (the server's view has no
/// event: asked again every few milliseconds, for at most [`WAIT`]).
pub(crate) async fn info_on(socket: &Socket, transport: &str) -> Info {
    let on = sio_test_support::wait::first(WAIT, || async move {
        let info = info(socket).await;
        (info.transport == transport).then_some(info)
    })
    .await;
    on.unwrap_or_else(|| panic!("not on {transport} within {WAIT:?}"))
}

pub(crate) async fn roundtrip<S: TestServer>(mode: Mode) {
    let server = S::start(0);
    let options = mode
        .options()
        .query("token", "q v")
        .extra_header("x-test", "yes");
    let manager = Manager::new(&server.url(), options).expect("manager");
    let mut main = watch(manager.socket("/"));
    main.socket.set_auth(&json!({"user": "ann"})).unwrap();
    let mut echoes = events(&main.socket, "echo");
    let mut answers = events(&main.socket, "answer");
    main.socket.on(
        "question",
        |_socket: Socket, (q,): (String,), ack: AckSender| async move {
            assert!(ack.is_requested());
            ack.send(&(format!("{q}?"), 7)).unwrap();
        },
    );
    // Emitted before connecting: buffered, then sent in order.
    main.socket.emit("echo", &("early", 1)).unwrap();
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    assert!(main.socket.connected());
    let id = main.socket.id().expect("an id once connected");
    assert_eq!(
        recv(&mut echoes, "early echo").await,
        vec![Value::from("early"), Value::from(1.0)]
    );

    // Typed events both ways.
    #[derive(Debug, Deserialize, PartialEq, serde::Serialize)]
    struct Point {
        x: i32,
        label: String,
    }
    let point = Point {
        x: -3,
        label: "é\u{1F600}".into(),
    };
    // (The handler is in place before the emit: the echo may come back at once.)
    let (tx, mut typed) = unbounded_channel();
    main.socket.on("echo", move |msg: Message| {
        if let Ok(v) = msg.deserialize::<(Point, bool, Vec<u8>)>() {
            let _ = tx.send(v);
        }
    });
    main.socket
        .emit("echo", &(&point, true, [1, 2, 3]))
        .unwrap();
    let _ = recv(&mut echoes, "typed echo").await;
    assert_eq!(
        recv(&mut typed, "typed").await,
        (point, true, vec![1, 2, 3])
    );

    // Binary both ways, several attachments, nested.
    let a = Bytes::from_static(&[0, 1, 2, 255]);
    let b = Bytes::from(vec![7u8; 3000]);
    main.socket
        .emit(
            "echo",
            &("bin", &a, json!({"k": "v"}), vec![b.clone(), Bytes::new()]),
        )
        .unwrap();
    let got = recv(&mut echoes, "binary echo").await;
    assert_eq!(got[0], Value::from("bin"));
    assert_eq!(got[1].as_binary(), Some(&a));
    assert_eq!(got[3][0].as_binary(), Some(&b));
    assert_eq!(got[3][1].as_binary(), Some(&Bytes::new()));

    // Acks: ours answered by the server (binary inside), the server's answered by us.
    let reply = main
        .socket
        .timeout(WAIT)
        .emit_with_ack("echo-ack", &(1, "two", &a))
        .await
        .expect("ack");
    let values = reply.to_values().unwrap();
    assert_eq!(values[0], Value::from(1.0));
    assert_eq!(values[2].as_binary(), Some(&a));
    main.socket.emit("ask", &"why").unwrap();
    assert_eq!(
        recv(&mut answers, "answer").await,
        vec![Value::from("why?"), Value::from(7.0)]
    );

    // An ack that never comes.
    let err = main
        .socket
        .timeout(Duration::from_millis(300))
        .emit_with_ack("no-ack", &())
        .await
        .expect_err("a timeout");
    assert!(err.is_timeout());
    assert_eq!(err.to_string(), "operation has timed out");

    // A second namespace over the same connection, with an auth closure.
    let admin = watch(manager.socket("/admin"));
    let mut admin = admin;
    admin
        .socket
        .set_auth_with(|| Value::from(json!({"token": "secret"})));
    let mut admin_echoes = events(&admin.socket, "echo");
    admin.socket.connect();
    recv(&mut admin.connects, "admin connect").await;
    admin.socket.emit("echo", &"to admin").unwrap();
    main.socket.emit("echo", &"to main").unwrap();
    assert_eq!(
        recv(&mut admin_echoes, "admin echo").await,
        vec![Value::from("to admin")]
    );
    assert_eq!(
        recv(&mut echoes, "main echo").await,
        vec![Value::from("to main")]
    );
    let admin_info = info(&admin.socket).await;
    assert_eq!(admin_info.nsp, "/admin");
    assert_eq!(admin_info.auth, json!({"token": "secret"}));

    // The transport the server sees (after the upgrade, if any).
    let main_info = info_on(&main.socket, mode.final_transport()).await;
    assert_eq!(main_info.id, id);
    assert_eq!(main_info.auth, json!({"user": "ann"}));
    assert_eq!(main_info.query["token"], json!("q v"));
    assert_eq!(main_info.header.as_deref(), Some("yes"));
    // The handshake's cookie came back with every later request (sticky sessions), when the
    // server reports the requests' cookies.
    if let Some(cookies) = &main_info.cookies {
        let expected = format!("io={}", main_info.engine_id);
        // (WebSocket only: the handshake is the only request.)
        assert_eq!(cookies.is_empty(), matches!(mode, Mode::WebSocket));
        for cookie in cookies {
            assert_eq!(cookie.as_deref(), Some(expected.as_str()), "{cookies:?}");
        }
    }

    // Leaving: no reconnection.
    admin.socket.disconnect();
    assert_eq!(
        recv(&mut admin.disconnects, "admin disconnect").await,
        DisconnectReason::IoClientDisconnect
    );
    main.socket.emit("echo", &"still here").unwrap();
    assert_eq!(
        recv(&mut echoes, "echo after admin left").await,
        vec![Value::from("still here")]
    );
    main.socket.disconnect();
    assert_eq!(
        recv(&mut main.disconnects, "disconnect").await,
        DisconnectReason::IoClientDisconnect
    );
    assert!(!main.socket.connected() && !main.socket.active());
    assert!(main.errors.try_recv().is_err());
}

pub(crate) async fn connect_error_with_data<S: TestServer>(mode: Mode) {
    let server = S::start(0);
    let manager = Manager::new(&server.url(), mode.options()).unwrap();
    let mut admin = watch(manager.socket("/admin"));
    admin.socket.set_auth(&json!({"token": "wrong"})).unwrap();
    admin.socket.connect();
    let err = recv(&mut admin.errors, "connect_error").await;
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(err.to_string(), "not authorized");
    let data = err.data().expect("data");
    assert_eq!(data.get("code").and_then(Value::as_u64), Some(42));
    assert_eq!(
        data.get("reason").and_then(Value::as_str),
        Some("bad token")
    );
    assert!(!admin.socket.active() && !admin.socket.connected());
    // Retried by hand with the right token: it connects.
    admin.socket.set_auth(&json!({"token": "secret"})).unwrap();
    admin.socket.connect();
    recv(&mut admin.connects, "connect after retry").await;
    // A namespace the server does not have.
    let mut nope = watch(manager.socket("nope"));
    assert_eq!(nope.socket.nsp(), "/nope");
    nope.socket.connect();
    let err = recv(&mut nope.errors, "connect_error").await;
    assert_eq!(
        (err.to_string().as_str(), err.data()),
        ("Invalid namespace", None)
    );
    // The other namespace is unaffected.
    assert!(admin.socket.connected());
    assert_eq!(info(&admin.socket).await.nsp, "/admin");
}

pub(crate) async fn server_disconnect<S: TestServer>(mode: Mode) {
    let logs = sio_test_support::io::Logs::capture();
    let server = S::start(0);
    let manager = Manager::new(&server.url(), mode.options()).unwrap();
    let (mtx, mut manager_events) = unbounded_channel();
    manager.on(move |e| {
        let _ = mtx.send(e.clone());
    });
    let mut main = watch(manager.socket("/"));
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    main.socket.emit("kick", &()).unwrap();
    assert_eq!(
        recv(&mut main.disconnects, "disconnect").await,
        DisconnectReason::IoServerDisconnect
    );
    assert!(!main.socket.active());
    // The manager closes (no socket left) and does not reconnect: as it closes, the client's
    // session decides whether a reconnection follows (only that decision schedules an
    // attempt), and the client's log of the close says what it decided.
    let url = format!("url={}/", server.url());
    sio_test_support::wait::until(|| !logs.matching(&["connection closed", &url]).is_empty()).await;
    let closed = logs.matching(&["connection closed", &url]);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert!(closed[0].contains("reconnecting=false"), "{closed:?}");
    let mut seen = Vec::new();
    while let Ok(e) = manager_events.try_recv() {
        seen.push(e);
    }
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, ManagerEvent::ReconnectAttempt(_))),
        "{seen:?}"
    );
    assert!(main.connects.try_recv().is_err());
}

/// The server dies and comes back on the same port: the client reconnects by itself, and
/// what was emitted meanwhile arrives, in order.
pub(crate) async fn reconnects<S: TestServer>(mode: Mode) {
    let mut server = S::start(0);
    let port = server.port();
    let manager = Manager::new(&server.url(), mode.options()).unwrap();
    let (mtx, mut manager_events) = unbounded_channel();
    manager.on(move |e| {
        let _ = mtx.send(e.clone());
    });
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    let first_id = main.socket.id();
    // A second namespace, whose auth closure runs at each connection.
    let mut admin = watch(manager.socket("/admin"));
    let auth_calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls = auth_calls.clone();
    admin.socket.set_auth_with(move || {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Value::from(json!({"token": "secret", "n": n}))
    });
    admin.socket.connect();
    recv(&mut admin.connects, "admin connect").await;

    drop(server);
    let reason = recv(&mut main.disconnects, "disconnect").await;
    assert!(reason.reconnects(), "{reason}");
    for i in 0..5 {
        main.socket.emit("echo", &("buffered", i)).unwrap();
    }
    // Let a few attempts fail before the server is back.
    loop {
        if let ManagerEvent::ReconnectError(_) = recv(&mut manager_events, "reconnect_error").await
        {
            break;
        }
    }
    server = S::start(port);
    recv(&mut main.connects, "reconnect").await;
    assert_ne!(main.socket.id(), first_id);
    recv(&mut admin.connects, "admin reconnect").await;
    assert_eq!(
        recv(&mut admin.disconnects, "admin disconnect").await,
        reason
    );
    assert_eq!(
        info(&admin.socket).await.auth,
        json!({"token": "secret", "n": 1})
    );
    assert_eq!(auth_calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    for i in 0..5 {
        assert_eq!(
            recv(&mut echoes, "buffered echo").await,
            vec![Value::from("buffered"), Value::from(f64::from(i))]
        );
    }
    let mut reconnected = false;
    while let Ok(e) = manager_events.try_recv() {
        reconnected |= matches!(e, ManagerEvent::Reconnect(n) if n >= 1);
    }
    assert!(reconnected);
    main.socket.disconnect();
    drop(server);
}

/// The server stops answering without closing its sockets ([`TestServer::freeze`]): the
/// heartbeat notices (`"ping timeout"`, pingInterval + pingTimeout = 4 s), and once it runs
/// again the client reconnects by itself.
pub(crate) async fn dead_server<S: TestServer>(mode: Mode) {
    let server = S::start(0);
    // A connection attempt made while the server is frozen hangs until this timeout (long
    // enough for an attempt on a loaded machine once it runs again).
    let options = mode.options().timeout(Some(Duration::from_millis(3000)));
    let manager = Manager::new(&server.url(), options).unwrap();
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    if let Mode::Upgrade = mode {
        // Wait for the upgrade, so that the WebSocket is the one that goes silent.
        info_on(&main.socket, "websocket").await;
    }
    server.freeze();
    let reason = recv(&mut main.disconnects, "disconnect").await;
    assert_eq!(reason, DisconnectReason::PingTimeout);
    main.socket.emit("echo", &"after the pause").unwrap();
    server.thaw();
    recv(&mut main.connects, "reconnect").await;
    assert_eq!(
        recv(&mut echoes, "buffered echo").await,
        vec![Value::from("after the pause")]
    );
    main.socket.disconnect();
}

/// Over polling, a batch larger than the server's `maxPayload` (1 MB) is split into several
/// POSTs, in order (the server would refuse one large body with 413).
pub(crate) async fn large_batches_are_split<S: TestServer>() {
    let server = S::start(0);
    let manager = Manager::new(&server.url(), Mode::Polling.options()).unwrap();
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    let chunk = "x".repeat(50_000);
    for i in 0..30 {
        main.socket.emit("echo", &(i, &chunk)).unwrap();
    }
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    for i in 0..30 {
        let got = recv(&mut echoes, "echo").await;
        assert_eq!(got[0], Value::from(f64::from(i)));
        assert_eq!(got[1].as_str().map(str::len), Some(50_000));
    }
    assert!(main.disconnects.try_recv().is_err());
    main.socket.disconnect();
}

/// How many numbered events [`upgrade_under_load`] sends.
pub(crate) const UNDER_LOAD: u32 = 3_000;

/// Thousands of numbered events sent while the polling-to-WebSocket upgrade happens, both
/// ways (the server echoes each): every echo arrives once, in order.
///
/// A third are emitted before the connection (buffered, flushed over polling as the probe
/// starts), the rest in batches of 50 a millisecond apart as soon as the socket connects; the
/// upgrade usually ends after 1,000 to 1,600 of them (it is reported on failure).
pub(crate) async fn upgrade_under_load<S: TestServer>() {
    let server = S::start(0);
    let manager = Manager::new(&server.url(), Mode::Upgrade.options()).unwrap();
    let (utx, mut upgrades) = unbounded_channel();
    manager.on(move |e| {
        if let ManagerEvent::Upgrade(t) = e {
            let _ = utx.send(*t);
        }
    });
    let mut main = watch(manager.socket("/"));
    let (tx, mut echoes) = unbounded_channel();
    main.socket.on("echo", move |msg: Message| {
        let _ = tx.send(msg.deserialize::<(u32,)>().expect("a number").0);
    });
    let mut sent = 0u32;
    while sent < UNDER_LOAD / 3 {
        main.socket.emit("echo", &sent).unwrap();
        sent += 1;
    }
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    let mut upgraded_at = None;
    while sent < UNDER_LOAD {
        for _ in 0..50 {
            main.socket.emit("echo", &sent).unwrap();
            sent += 1;
        }
        if upgraded_at.is_none()
            && let Ok(kind) = upgrades.try_recv()
        {
            assert_eq!(kind, TransportKind::WebSocket);
            upgraded_at = Some(sent);
        }
        // scenario: batches of 50 emits a millisecond apart.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!("upgrade_under_load: the upgrade was seen after {upgraded_at:?} of {sent} emits");
    if upgraded_at.is_none() {
        // (A slow machine: the upgrade ends after the last emit.)
        assert_eq!(
            recv(&mut upgrades, "upgrade").await,
            TransportKind::WebSocket
        );
    }
    let mut received = Vec::with_capacity(sent as usize);
    while received.len() < sent as usize {
        match tokio::time::timeout(WAIT, echoes.recv()).await {
            Ok(Some(n)) => received.push(n),
            _ => break,
        }
    }
    if !received.iter().copied().eq(0..sent) {
        // The received numbers as runs of consecutive ones, to see what was lost.
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &n in &received {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == n => *end = n,
                _ => runs.push((n, n)),
            }
        }
        panic!(
            "sent 0..{sent} (the upgrade seen after {upgraded_at:?}), received the runs \
             {runs:?}; disconnection: {:?}",
            main.disconnects.try_recv()
        );
    }
    // Nothing twice: an ack round trip later, no echo is left.
    assert_eq!(info(&main.socket).await.transport, "websocket");
    assert!(echoes.try_recv().is_err());
    assert!(main.disconnects.try_recv().is_err());
    main.socket.disconnect();
}

/// The arguments as JSON text, for the logs of [`catch_all_and_once`].
fn json_args(args: &sio_client::Args) -> String {
    serde_json::to_string(&args.to_values().expect("decodable args")).expect("json")
}

/// `once`, `on_any` / `prepend_any` / `off_any` and `on_any_outgoing` /
/// `prepend_any_outgoing` / `off_any_outgoing`, in the order socket.io-client calls them.
pub(crate) async fn catch_all_and_once<S: TestServer>(mode: Mode) {
    use std::sync::{Arc, Mutex};

    let server = S::start(0);
    let manager = Manager::new(&server.url(), mode.options()).unwrap();
    let mut main = watch(manager.socket("/"));
    let socket = main.socket.clone();
    // What the handlers saw, in order; `seen` ticks once per entry.
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let (tx, mut seen) = unbounded_channel::<()>();
    let push = {
        let log = log.clone();
        move |entry: String| {
            log.lock().unwrap().push(entry);
            let _ = tx.send(());
        }
    };
    let mut wait_for = async |n: usize| -> Vec<String> {
        for _ in 0..n {
            recv(&mut seen, "a handler").await;
        }
        std::mem::take(&mut *log.lock().unwrap())
    };

    // Outgoing: every event as it is written; a buffered one when the buffer is flushed.
    let p = push.clone();
    socket.on_any_outgoing(move |event, args| p(format!("out {event} {}", json_args(args))));
    let p = push.clone();
    socket.prepend_any_outgoing(move |event, _| p(format!("out-first {event}")));
    socket.emit("echo", &"buffered").unwrap();
    // Dropped (volatile while disconnected): never reported.
    socket.volatile().emit("echo", &"dropped").unwrap();

    // Incoming: the catch-all handlers first (a prepended one before the others), then the
    // event's own; a `once` handler runs for the first event only.
    let p = push.clone();
    socket.on_any(move |msg| p(format!("any {}", msg.event())));
    let p = push.clone();
    socket.prepend_any(move |msg| p(format!("any-first {}", msg.event())));
    let p = push.clone();
    socket.once("echo", move |msg: Message| {
        p(format!("once {}", json_args(msg.args())))
    });
    let p = push.clone();
    socket.on("echo", move |msg: Message| {
        p(format!("echo {}", json_args(msg.args())))
    });
    // A `once` removed by `off` before its event: never called.
    let p = push.clone();
    socket.once("answer", move |_: Message| p("once answer".to_owned()));
    socket.off("answer");
    let p = push.clone();
    socket.on("answer", move |msg: Message| {
        p(format!("answer {}", json_args(msg.args())))
    });
    // The server's ack request is answered: an ack is not an outgoing event.
    socket.on("question", |msg: Message| {
        msg.ack(&"yes").unwrap();
    });

    socket.connect();
    recv(&mut main.connects, "connect").await;
    assert_eq!(
        wait_for(6).await,
        [
            "out-first echo",
            r#"out echo ["buffered"]"#,
            "any-first echo",
            "any echo",
            r#"once ["buffered"]"#,
            r#"echo ["buffered"]"#,
        ]
    );
    socket.emit("echo", &1).unwrap();
    assert_eq!(
        wait_for(5).await,
        [
            "out-first echo",
            "out echo [1]",
            "any-first echo",
            "any echo",
            "echo [1]",
        ]
    );

    // emit_with_ack is reported; the ack the client sends is not.
    let reply = socket
        .timeout(WAIT)
        .emit_with_ack("echo-ack", &("a", 2))
        .await
        .unwrap();
    assert_eq!(json_args(&reply), r#"["a",2]"#);
    socket.emit("ask", &"q").unwrap();
    assert_eq!(
        wait_for(9).await,
        [
            "out-first echo-ack",
            r#"out echo-ack ["a",2]"#,
            "out-first ask",
            r#"out ask ["q"]"#,
            "any-first question",
            "any question",
            "any-first answer",
            "any answer",
            r#"answer ["yes"]"#,
        ]
    );

    // Removed: no catch-all handler runs any more, in either direction.
    socket.off_any();
    socket.off_any_outgoing();
    socket.emit("echo", &3).unwrap();
    assert_eq!(wait_for(1).await, ["echo [3]"]);
    socket.disconnect();

    // With `retries`, each try is an outgoing event: the server answers the n-th try with n.
    let options = mode
        .options()
        .retries(Some(5))
        .ack_timeout(Some(Duration::from_millis(500)));
    let manager = Manager::new(&server.url(), options).unwrap();
    let socket = manager.socket("/");
    let (tx, mut tries) = unbounded_channel();
    socket.on_any_outgoing(move |event, args| {
        let _ = tx.send(format!("{event} {}", json_args(args)));
    });
    socket.connect();
    let reply = socket
        .emit_with_ack("flaky", &("outgoing", 2))
        .await
        .unwrap();
    let (n,): (usize,) = reply.deserialize().unwrap();
    assert!(n >= 2, "{n}");
    for _ in 0..n {
        assert_eq!(recv(&mut tries, "a try").await, r#"flaky ["outgoing",2]"#);
    }
    assert!(tries.try_recv().is_err());
    socket.disconnect();
}
