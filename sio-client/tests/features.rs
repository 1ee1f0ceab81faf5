//! socket.io-client features against the real Node.js socket.io server
//! (`tests/js/client-server.js`, run from the workspace's `tests/` directory): the `io()`
//! manager cache, volatile emits, `ack_timeout`, `retries`, the event stream,
//! `remember_upgrade`, the msgpack parser.
//!
//! Every wait is bounded ([`WAIT`]); the Node child is killed on drop.

use std::time::Duration;

use futures_util::StreamExt as _;
use serde::Deserialize;
use sio_client::{
    DisconnectReason, Manager, ManagerEvent, Options, Socket, SocketEvent, TransportKind, Value, io,
};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// The longest any single step may take (a loaded 2-core machine).
const WAIT: Duration = Duration::from_secs(30);

use sio_test_support::node as support;

use support::NodeServer;

/// The server's URL with a namespace.
fn url(server: &NodeServer, nsp: &str) -> String {
    format!("{}{nsp}", server.url())
}

async fn recv<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(value)) => value,
        Ok(None) => panic!("{what}: channel closed"),
        Err(_) => panic!("{what}: nothing within {WAIT:?}"),
    }
}

fn events(socket: &Socket, event: &str) -> UnboundedReceiver<Vec<Value>> {
    let (tx, rx) = unbounded_channel();
    socket.on(event, move |msg: sio_client::Message| {
        let _ = tx.send(msg.args().to_values().expect("decodable args"));
    });
    rx
}

fn connects(socket: &Socket) -> UnboundedReceiver<()> {
    let (tx, rx) = unbounded_channel();
    socket.on_connect(move || {
        let _ = tx.send(());
    });
    rx
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    nsp: String,
    engine_id: String,
    transport: String,
    cookies: Vec<Option<String>>,
}

async fn info(socket: &Socket) -> Info {
    let args = socket
        .timeout(WAIT)
        .emit_with_ack("info", &())
        .await
        .expect("info ack");
    args.deserialize().expect("an Info")
}

fn options() -> Options {
    Options::default()
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_caches_one_manager_per_server() {
    let server = NodeServer::start(0, &[]);
    let main = io(&url(&server, "/"), options()).unwrap();
    // Another namespace of the same server: the same manager, the same engine connection.
    let admin = io(&url(&server, "/admin"), options().auto_connect(false)).unwrap();
    admin
        .set_auth(&serde_json::json!({"token": "secret"}))
        .unwrap();
    let mut admin_connects = connects(&admin);
    admin.connect();
    recv(&mut admin_connects, "admin connect").await;
    let (a, b) = (info(&main).await, info(&admin).await);
    assert_eq!((a.nsp.as_str(), b.nsp.as_str()), ("/", "/admin"));
    assert_eq!(a.engine_id, b.engine_id);
    // The same namespace again: a new manager.
    let again = io(&url(&server, "/"), options()).unwrap();
    assert_ne!(info(&again).await.engine_id, a.engine_id);
    // force_new and multiplex(false): new managers too.
    let forced = io(&url(&server, "/other"), options().force_new(true)).unwrap();
    let single = io(&url(&server, "/another"), options().multiplex(false)).unwrap();
    let mut forced_errors = unbounded_channel();
    let tx = forced_errors.0.clone();
    forced.on_connect_error(move |e| {
        let _ = tx.send(e.to_string());
    });
    let tx = forced_errors.0.clone();
    single.on_connect_error(move |e| {
        let _ = tx.send(e.to_string());
    });
    // (Neither namespace exists: both are refused, each by its own connection.)
    for _ in 0..2 {
        assert_eq!(
            recv(&mut forced_errors.1, "connect_error").await,
            "Invalid namespace"
        );
    }
    // Still the cached manager for a new namespace: the main connection.
    let mut admin2_errors = unbounded_channel();
    // (Connected after its handler is in place: on a connection already open, the refusal
    // may come back before a handler added after `io` returns.)
    let third = io(&url(&server, "/nope"), options().auto_connect(false)).unwrap();
    let tx = admin2_errors.0.clone();
    third.on_connect_error(move |e| {
        let _ = tx.send(e.to_string());
    });
    third.connect();
    recv(&mut admin2_errors.1, "connect_error").await;
    assert_eq!(info(&main).await.engine_id, a.engine_id);
    for s in [main, admin, again, forced, single, third] {
        s.disconnect();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_emits_are_dropped_while_not_writable() {
    let server = NodeServer::start(0, &[]);
    let options = options().transports([TransportKind::WebSocket]);
    let manager = Manager::new(&url(&server, "/"), options).unwrap();
    let socket = manager.socket("/");
    let mut echoes = events(&socket, "echo");
    let mut connected = connects(&socket);
    // No connection yet: the volatile one is dropped, the other buffered.
    socket.volatile().emit("echo", &"lost").unwrap();
    socket.emit("echo", &"kept").unwrap();
    socket.connect();
    recv(&mut connected, "connect").await;
    assert_eq!(recv(&mut echoes, "echo").await, vec![Value::from("kept")]);
    // Connected over a WebSocket: volatile emits go out.
    socket.volatile().emit("echo", &"now").unwrap();
    assert_eq!(recv(&mut echoes, "echo").await, vec![Value::from("now")]);
    // An ack round trip later, nothing else came.
    info(&socket).await;
    assert!(echoes.try_recv().is_err());
    socket.disconnect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_timeout_option() {
    let server = NodeServer::start(0, &[]);
    let options = options().ack_timeout(Some(Duration::from_millis(300)));
    let socket = io(&url(&server, "/"), options).unwrap();
    let err = socket
        .emit_with_ack("no-ack", &())
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err}");
    // Answered acks are unaffected, and `timeout()` overrides the option.
    let args = socket.emit_with_ack("echo-ack", &1).await.unwrap();
    assert_eq!(args.to_values().unwrap(), vec![Value::from(1.0)]);
    let started = tokio::time::Instant::now();
    let err = socket
        .timeout(Duration::from_millis(1500))
        .emit_with_ack("no-ack", &())
        .await
        .unwrap_err();
    assert!(err.is_timeout() && started.elapsed() >= Duration::from_millis(1400));
    socket.disconnect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_resend_until_acknowledged() {
    let server = NodeServer::start(0, &[]);
    let options = options()
        .retries(Some(2))
        // Long enough for an answered try on a loaded machine.
        .ack_timeout(Some(Duration::from_millis(1000)));
    let socket = io(&url(&server, "/"), options).unwrap();
    // Answered on the 3rd try: retries = 2 allows it.
    let args = socket.emit_with_ack("flaky", &("a", 3)).await.unwrap();
    assert_eq!(args.to_values().unwrap(), vec![Value::from(3.0)]);
    // Would be answered on the 4th: the emit fails after 3 tries.
    let err = socket.emit_with_ack("flaky", &("b", 4)).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let args = socket.emit_with_ack("flaky", &("b", 0)).await.unwrap();
    assert_eq!(args.to_values().unwrap(), vec![Value::from(4.0)]);
    // One packet in flight at a time, in order: the second waits for the first's retries
    // (sent at once, it would be the one answered 2).
    let first = socket.emit_with_ack("flaky", &("e", 2));
    let second = socket.emit_with_ack("flaky", &("e", 0));
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap().to_values().unwrap(), vec![Value::from(2.0)]);
    assert_eq!(second.unwrap().to_values().unwrap(), vec![Value::from(3.0)]);
    socket.disconnect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_as_a_stream() {
    let server = NodeServer::start(0, &[]);
    let manager = Manager::new(&url(&server, "/"), options()).unwrap();
    let socket = manager.socket("/");
    let mut stream = socket.events();
    socket.connect();
    let mut next = async || match tokio::time::timeout(WAIT, stream.next()).await {
        Ok(Some(event)) => event,
        other => panic!("no event: {other:?}"),
    };
    assert!(matches!(next().await, SocketEvent::Connect));
    socket.emit("echo", &("x", 1)).unwrap();
    match next().await {
        SocketEvent::Message(msg) => {
            assert_eq!(msg.event(), "echo");
            assert_eq!(msg.deserialize::<(String, u32)>().unwrap(), ("x".into(), 1));
        }
        other => panic!("{other:?}"),
    }
    socket.emit("kick", &()).unwrap();
    assert!(matches!(
        next().await,
        SocketEvent::Disconnect(DisconnectReason::IoServerDisconnect)
    ));
    assert!(!socket.recovered());
    // Every handle gone: the stream ends.
    drop((socket, manager));
    assert!(
        tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the end of the stream")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remember_upgrade_starts_on_websocket() {
    let server = NodeServer::start(0, &[]);
    let manager = Manager::new(&url(&server, "/"), options().remember_upgrade(true)).unwrap();
    let (tx, mut upgrades) = unbounded_channel();
    manager.on(move |e| {
        if let ManagerEvent::Upgrade(t) = e {
            let _ = tx.send(*t);
        }
    });
    let socket = manager.socket("/");
    let mut connected = connects(&socket);
    socket.connect();
    recv(&mut connected, "connect").await;
    assert_eq!(
        recv(&mut upgrades, "upgrade").await,
        TransportKind::WebSocket
    );
    // The server ends the socket; the manager closes; connecting again goes straight to a
    // WebSocket: no polling request, no upgrade.
    socket.emit("kick", &()).unwrap();
    sio_test_support::wait::until(|| !socket.connected()).await;
    socket.connect();
    recv(&mut connected, "connect again").await;
    let second = info(&socket).await;
    assert_eq!(second.transport, "websocket");
    assert!(second.cookies.is_empty(), "{:?}", second.cookies);
    // No upgrade: an upgrade from polling would have been reported before the answer to
    // `info` came over the WebSocket (the client switches, and emits `upgrade`, before it
    // sends anything over the new transport).
    assert!(upgrades.try_recv().is_err());
    socket.disconnect();
}

#[cfg(feature = "msgpack")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_parser() {
    use sio_client::Parser;

    for transports in [
        vec![TransportKind::Polling],
        vec![TransportKind::Polling, TransportKind::WebSocket],
    ] {
        let server = NodeServer::start(0, &["--msgpack"]);
        let options = options().parser(Parser::MsgPack).transports(transports);
        let socket = io(&url(&server, "/"), options).unwrap();
        let mut echoes = events(&socket, "echo");
        let data = bytes::Bytes::from_static(&[0, 1, 2, 255]);
        socket.emit("echo", &("bin", &data, 1.5)).unwrap();
        let got = recv(&mut echoes, "echo").await;
        assert_eq!(got[0], Value::from("bin"));
        assert_eq!(got[1].as_binary(), Some(&data));
        assert_eq!(got[2], Value::from(1.5));
        let reply = socket
            .timeout(WAIT)
            .emit_with_ack("echo-ack", &("a", &data))
            .await
            .unwrap();
        let values = reply.to_values().unwrap();
        assert_eq!(values[1].as_binary(), Some(&data));
        socket.disconnect();
    }
}
