//! Connection state recovery and the receive buffer, against a scripted WebSocket peer in the
//! same runtime, in virtual time (`start_paused`): the client keeps the server's `pid` and the
//! offset of the last event, sends them back in its next CONNECT (with its auth), reports
//! `recovered()`, and hands out the events that arrive before a CONNECT reply before its
//! `connect` handlers, as socket.io-client does. Also socket.io-client's order around
//! `connect` for buffered emits, and `connect_error` for a socket whose connection fails while
//! it waits for the server's answer.
//!
//! The heartbeat of the scripted handshake is far away and the connect timeout is off: the
//! paused clock may jump to the next timer while a loopback connection is being set up, and
//! then only the reconnection delay (harmless) is due.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value as Json, json};
use sio_client::{Manager, Options, Socket, TransportKind};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Virtual time: far more than any delay here, never reached unless something hangs.
const WAIT: Duration = Duration::from_secs(600);

const OPEN: &str = r#"0{"sid":"abcdefghijklmnopqrst","upgrades":[],"pingInterval":10000000,"pingTimeout":10000000,"maxPayload":1000000}"#;

type Ws = WebSocketStream<TcpStream>;

/// What the socket's handlers saw, in order, with a tick per entry.
struct Log {
    entries: Arc<Mutex<Vec<String>>>,
    ticks: UnboundedReceiver<()>,
}

impl Log {
    /// Records `connect <id> <recovered>`, `disconnect <reason>`, `connect_error <message>`,
    /// `out <event> <args>` and `<event> <args>` for every event.
    fn watch(socket: &Socket) -> Log {
        let entries: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, ticks) = unbounded_channel();
        let push = {
            let entries = Arc::clone(&entries);
            move |entry: String| {
                entries.lock().unwrap().push(entry);
                let _ = tx.send(());
            }
        };
        let p = push.clone();
        let handle = socket.clone();
        socket.on_connect(move || {
            let id = handle.id().unwrap_or_default();
            p(format!("connect {id} {}", handle.recovered()));
        });
        let p = push.clone();
        socket.on_disconnect(move |reason| p(format!("disconnect {reason}")));
        let p = push.clone();
        socket.on_connect_error(move |e| p(format!("connect_error {e}")));
        let p = push.clone();
        socket.on_any(move |msg| p(format!("{} {}", msg.event(), args(msg.args()))));
        socket.on_any_outgoing(move |event, a| push(format!("out {event} {}", args(a))));
        Log { entries, ticks }
    }

    /// The entries so far, once there are at least `n`.
    async fn wait(&mut self, n: usize) -> Vec<String> {
        loop {
            let entries = self.entries.lock().unwrap().clone();
            if entries.len() >= n {
                return entries;
            }
            match tokio::time::timeout(WAIT, self.ticks.recv()).await {
                Ok(Some(())) => {}
                _ => panic!("fewer than {n} entries: {entries:?}"),
            }
        }
    }
}

fn args(args: &sio_client::Args) -> String {
    let values = args.to_values().expect("decodable args");
    serde_json::to_string(&values).expect("json")
}

fn options() -> Options {
    Options::default()
        .transports([TransportKind::WebSocket])
        .randomization_factor(0.0)
        .reconnection_delay(Duration::from_millis(100))
        .timeout(None)
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return text.as_str().to_owned(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no text frame: {other:?}"),
        }
    }
}

/// Accepts the next WebSocket and opens its Engine.IO session; returns it with the payload of
/// the client's CONNECT for `/` (`null` when it has none).
async fn accept(listener: &TcpListener) -> (Ws, Json) {
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("a connection")
        .expect("accept");
    // Each frame leaves at once: Nagle's algorithm would hold the next one for the client's
    // delayed ACK, real time that the paused clock does not wait for.
    tcp.set_nodelay(true).unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp)
        .await
        .expect("handshake");
    ws.send(Message::text(OPEN)).await.unwrap();
    let connect = next_text(&mut ws).await;
    let payload = connect
        .strip_prefix("40")
        .unwrap_or_else(|| panic!("not a CONNECT: {connect}"));
    let payload = if payload.is_empty() {
        Json::Null
    } else {
        serde_json::from_str(payload).expect("a JSON payload")
    };
    (ws, payload)
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// Cuts the connection under the client (no WebSocket close frame).
fn cut(ws: Ws) {
    drop(ws);
}

#[tokio::test(start_paused = true)]
async fn pid_and_offset_go_back_and_missed_events_come_before_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let manager = Manager::new(&url, options()).unwrap();
    let socket = manager.socket("/");
    socket.set_auth(&json!({"token": "t"})).unwrap();
    let mut log = Log::watch(&socket);
    socket.connect();

    // A first session: no pid yet, the plain auth.
    let (mut ws, payload) = accept(&listener).await;
    assert_eq!(payload, json!({"token": "t"}));
    send(&mut ws, r#"40{"sid":"s1","pid":"p1"}"#).await;
    send(&mut ws, r#"42["tick",1,"o1"]"#).await;
    send(&mut ws, r#"42["tick",2,"o2"]"#).await;
    // With an ack id, the last argument is not an offset (in JavaScript it is the callback's
    // place); a last argument that is not a string is none either.
    send(&mut ws, r#"427["tick",3,"not-an-offset"]"#).await;
    send(&mut ws, r#"42["tick",4,4]"#).await;
    let seen = log.wait(5).await;
    assert_eq!(
        seen,
        [
            "connect s1 false",
            r#"tick [1,"o1"]"#,
            r#"tick [2,"o2"]"#,
            r#"tick [3,"not-an-offset"]"#,
            "tick [4,4]",
        ]
    );
    assert!(!socket.recovered());
    cut(ws);

    // The next CONNECT asks for the session back from the last offset, auth merged in. The
    // server replays what the client missed before its CONNECT reply (as socket.io does).
    let (mut ws, payload) = accept(&listener).await;
    assert_eq!(payload, json!({"pid": "p1", "offset": "o2", "token": "t"}));
    send(&mut ws, r#"42["tick",5,"o5"]"#).await;
    send(&mut ws, r#"40{"sid":"s1","pid":"p1"}"#).await;
    let seen = log.wait(8).await;
    assert_eq!(
        seen[5..],
        [
            "disconnect transport error",
            r#"tick [5,"o5"]"#,
            "connect s1 true",
        ]
    );
    assert!(socket.recovered());
    assert_eq!(socket.id().as_deref(), Some("s1"));
    cut(ws);

    // The server forgot the session: a new pid, a new id, not recovered.
    let (mut ws, payload) = accept(&listener).await;
    assert_eq!(payload, json!({"pid": "p1", "offset": "o5", "token": "t"}));
    send(&mut ws, r#"40{"sid":"s2","pid":"p2"}"#).await;
    let seen = log.wait(10).await;
    assert_eq!(
        seen[8..],
        ["disconnect transport error", "connect s2 false"]
    );
    assert!(!socket.recovered());
    // The offsets of the old session mean nothing to the new one: only the new pid goes.
    send(&mut ws, r#"42["tick",6,6]"#).await;
    log.wait(11).await;
    cut(ws);
    let (ws, payload) = accept(&listener).await;
    assert_eq!(payload, json!({"pid": "p2", "token": "t"}));
    drop(ws);
}

/// Missed events replayed on a connection that fails before the CONNECT answer are not kept:
/// the next recovery replays them again (the offset did not move), and each is handed out once.
#[tokio::test(start_paused = true)]
async fn a_replay_cut_before_the_connect_answer_is_not_handed_out_twice() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let manager = Manager::new(&url, options()).unwrap();
    let socket = manager.socket("/");
    let mut log = Log::watch(&socket);
    socket.connect();
    let (mut ws, _) = accept(&listener).await;
    send(&mut ws, r#"40{"sid":"s1","pid":"p1"}"#).await;
    send(&mut ws, r#"42["tick",1,"o1"]"#).await;
    log.wait(2).await;
    cut(ws);
    // The replay starts, and the connection fails before the answer.
    let (mut ws, payload) = accept(&listener).await;
    assert_eq!(payload, json!({"pid": "p1", "offset": "o1"}));
    send(&mut ws, r#"42["tick",2,"o2"]"#).await;
    cut(ws);
    // Again from the same offset: the same replay, answered this time.
    let (mut ws, payload) = accept(&listener).await;
    assert_eq!(payload, json!({"pid": "p1", "offset": "o1"}));
    send(&mut ws, r#"42["tick",2,"o2"]"#).await;
    send(&mut ws, r#"40{"sid":"s1","pid":"p1"}"#).await;
    let mut seen = log.wait(6).await;
    // The socket was waiting for its CONNECT answer when the connection failed.
    assert!(
        seen[3].starts_with("connect_error websocket error"),
        "{seen:?}"
    );
    seen.remove(3);
    assert_eq!(
        seen,
        [
            "connect s1 false",
            r#"tick [1,"o1"]"#,
            "disconnect transport error",
            r#"tick [2,"o2"]"#,
            "connect s1 true",
        ]
    );
    // Nothing else came (a second `tick 2` would be right here).
    send(&mut ws, r#"42["tick",3,"o3"]"#).await;
    assert_eq!(log.wait(7).await[6], r#"tick [3,"o3"]"#);
}

#[tokio::test(start_paused = true)]
async fn without_recovery_early_events_still_come_before_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let manager = Manager::new(&url, options()).unwrap();
    let socket = manager.socket("/");
    let mut log = Log::watch(&socket);
    socket.connect();
    let (mut ws, payload) = accept(&listener).await;
    assert_eq!(payload, Json::Null);
    // An event between the client's CONNECT and the server's reply (a server that emits in
    // its `connection` handler before the reply leaves, or one that replays missed events).
    send(&mut ws, r#"42["early","x"]"#).await;
    send(&mut ws, r#"40{"sid":"s1"}"#).await;
    send(&mut ws, r#"42["late","y"]"#).await;
    assert_eq!(
        log.wait(3).await,
        [r#"early ["x"]"#, "connect s1 false", r#"late ["y"]"#]
    );
    // No pid: no offset is kept, the next CONNECT asks for nothing.
    cut(ws);
    let (ws, payload) = accept(&listener).await;
    assert_eq!(payload, Json::Null);
    drop(ws);
}

#[tokio::test(start_paused = true)]
async fn buffered_emits_leave_before_the_connect_handlers_run() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let manager = Manager::new(&url, options()).unwrap();
    let socket = manager.socket("/");
    let mut log = Log::watch(&socket);
    socket.emit("queued", &1).unwrap();
    socket.connect();
    let (mut ws, _) = accept(&listener).await;
    send(&mut ws, r#"40{"sid":"s1"}"#).await;
    assert_eq!(log.wait(2).await, ["out queued [1]", "connect s1 false"]);
    assert_eq!(next_text(&mut ws).await, r#"42["queued",1]"#);
}

#[tokio::test(start_paused = true)]
async fn a_failed_connection_is_a_connect_error_for_a_socket_still_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let manager = Manager::new(&url, options()).unwrap();
    let socket = manager.socket("/");
    let mut log = Log::watch(&socket);
    socket.connect();
    // The Engine.IO connection is open, the CONNECT unanswered: then the connection fails.
    let (ws, _) = accept(&listener).await;
    cut(ws);
    let seen = log.wait(1).await;
    assert!(
        seen[0].starts_with("connect_error websocket error"),
        "{seen:?}"
    );
    // It is retried: the next connection connects the socket.
    let (mut ws, payload) = accept(&listener).await;
    assert_eq!(payload, Json::Null);
    send(&mut ws, r#"40{"sid":"s1"}"#).await;
    assert_eq!(log.wait(2).await[1], "connect s1 false");
}
