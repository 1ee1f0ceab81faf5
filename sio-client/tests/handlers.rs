//! Event handlers (typed and async, with or without the ack, several per event, `off`,
//! `off_handler`, the error hook of arguments that do not match) and the error chains of
//! the crate's `Error`, against a scripted raw Engine.IO WebSocket peer. Every wait is bounded.

use std::error::Error as _;
use std::time::Duration;

use futures_util::SinkExt as _;
use serde::Deserialize;
use sio_client::{AckSender, ErrorKind, Manager, Message, Options, Socket, TransportKind};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use sio_test_support::wait::recv;
use sio_test_support::ws::next_text;

const WAIT: Duration = Duration::from_secs(20);

const OPEN: &str = r#"0{"sid":"abcdefghijklmnopqrst","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

/// A manager on a local listener (WebSocket only, no reconnection), not connected yet, and
/// its socket `/`.
async fn client() -> (TcpListener, Manager, Socket) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let options = Options::default()
        .transports([TransportKind::WebSocket])
        .reconnection(false);
    let manager = Manager::new(&url, options).unwrap();
    let socket = manager.socket("/");
    (listener, manager, socket)
}

/// Connects `socket`: accepts its WebSocket, opens the session and answers its CONNECT.
async fn connect(listener: &TcpListener, socket: &Socket) -> WebSocketStream<TcpStream> {
    socket.connect();
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("a connection")
        .expect("accept");
    let mut ws = tokio_tungstenite::accept_async(tcp)
        .await
        .expect("handshake");
    ws.send(WsMessage::text(OPEN)).await.unwrap();
    assert_eq!(next_text(WAIT, &mut ws).await, "40");
    ws.send(WsMessage::text(r#"40{"sid":"socket-id"}"#))
        .await
        .unwrap();
    ws
}

async fn send(ws: &mut WebSocketStream<TcpStream>, packet: &str) {
    ws.send(WsMessage::text(packet)).await.unwrap();
}

#[derive(Debug, Deserialize, PartialEq)]
struct Chat {
    user: String,
    text: String,
}

fn log() -> (UnboundedSender<String>, UnboundedReceiver<String>) {
    unbounded_channel()
}

#[tokio::test]
async fn typed_handlers_with_and_without_ack() {
    let (listener, _manager, socket) = client().await;
    let (tx, mut seen) = log();
    // A struct, without ack.
    let t = tx.clone();
    socket.on("chat", move |_socket: Socket, chat: Chat| {
        let t = t.clone();
        async move {
            let _ = t.send(format!("chat {}: {}", chat.user, chat.text));
        }
    });
    // A tuple of arguments, with the ack, answered after an await (the future runs on).
    let t = tx.clone();
    socket.on(
        "sum",
        move |socket: Socket, (a, b): (i64, i64), ack: AckSender| {
            let t = t.clone();
            async move {
                assert!(ack.is_requested());
                tokio::task::yield_now().await;
                let _ = t.send(format!("sum on {}", socket.nsp()));
                ack.send(&(a + b,)).unwrap();
            }
        },
    );
    // With the ack parameter, for an event without ack request: answering does nothing.
    let t = tx.clone();
    socket.on(
        "note",
        move |_socket: Socket, (n,): (u32,), ack: AckSender| {
            let t = t.clone();
            async move {
                let _ = t.send(format!("note {n} {}", ack.is_requested()));
                ack.send(&"ignored").unwrap();
            }
        },
    );
    let mut ws = connect(&listener, &socket).await;
    send(&mut ws, r#"42["chat",{"user":"ann","text":"hi"}]"#).await;
    assert_eq!(recv(WAIT, &mut seen, "chat").await, "chat ann: hi");
    send(&mut ws, r#"4217["sum",2,40]"#).await;
    assert_eq!(recv(WAIT, &mut seen, "sum").await, "sum on /");
    assert_eq!(next_text(WAIT, &mut ws).await, "4317[42]");
    send(&mut ws, r#"42["note",5]"#).await;
    assert_eq!(recv(WAIT, &mut seen, "note").await, "note 5 false");
    // Nothing was sent for the note: the next frame is the answer to the next request.
    send(&mut ws, r#"423["sum",1,1]"#).await;
    assert_eq!(recv(WAIT, &mut seen, "sum").await, "sum on /");
    assert_eq!(next_text(WAIT, &mut ws).await, "433[2]");
}

#[tokio::test]
async fn every_handler_of_an_event_runs_in_order_and_off_removes_them() {
    let (listener, manager, socket) = client().await;
    let (tx, mut seen) = log();
    let t = tx.clone();
    let first = socket.on("tick", move |_socket: Socket, (n,): (u32,)| {
        let t = t.clone();
        async move {
            let _ = t.send(format!("first {n}"));
        }
    });
    let t = tx.clone();
    socket.on("tick", move |msg: Message| {
        let _ = t.send(format!("raw {}", msg.event()));
    });
    let t = tx.clone();
    socket.once("tick", move |_socket: Socket, (n,): (u32,)| async move {
        let _ = t.send(format!("once {n}"));
    });
    let mut ws = connect(&listener, &socket).await;
    send(&mut ws, r#"42["tick",1]"#).await;
    for expected in ["first 1", "raw tick", "once 1"] {
        assert_eq!(recv(WAIT, &mut seen, expected).await, expected);
    }
    // One handler removed by its id (not by another socket): the other stays.
    assert!(!manager.socket("/other").off_handler(first));
    assert!(socket.off_handler(first));
    assert!(!socket.off_handler(first), "removed already");
    send(&mut ws, r#"42["tick",2]"#).await;
    assert_eq!(recv(WAIT, &mut seen, "raw tick").await, "raw tick");
    // All removed: the next tick reaches nobody, the marker event after it does.
    socket.off("tick");
    let t = tx.clone();
    socket.on("marker", move |_: Message| {
        let _ = t.send("marker".to_owned());
    });
    send(&mut ws, r#"42["tick",3]"#).await;
    send(&mut ws, r#"42["marker"]"#).await;
    assert_eq!(recv(WAIT, &mut seen, "marker").await, "marker");
    assert!(seen.try_recv().is_err());
}

#[tokio::test]
async fn arguments_that_do_not_match_reach_the_error_hook() {
    let (listener, _manager, socket) = client().await;
    let (tx, mut seen) = log();
    let t = tx.clone();
    socket.on("chat", move |_socket: Socket, chat: Chat| {
        let t = t.clone();
        async move {
            let _ = t.send(format!("chat {}", chat.text));
        }
    });
    // The raw handler of the same event still gets it.
    let t = tx.clone();
    socket.on("chat", move |_: Message| {
        let _ = t.send("raw chat".to_owned());
    });
    let (etx, mut errors) = unbounded_channel();
    socket.on_error(move |error| {
        let _ = etx.send(error);
    });
    let mut ws = connect(&listener, &socket).await;
    // `txt` instead of `text`: a typo in a field.
    send(&mut ws, r#"42["chat",{"user":"ann","txt":"hi"}]"#).await;
    let error = recv(WAIT, &mut errors, "error hook").await;
    assert_eq!(error.kind(), ErrorKind::Deserialize);
    assert!(error.is_deserialize());
    assert_eq!(error.event(), Some("chat"));
    assert_eq!(
        error.to_string(),
        r#"the arguments of "chat" do not match the handler's type"#
    );
    let cause = error
        .source()
        .expect("the deserializer's error")
        .to_string();
    assert!(cause.contains("text"), "{cause}");
    assert_eq!(recv(WAIT, &mut seen, "raw chat").await, "raw chat");
    // A matching one goes through.
    send(&mut ws, r#"42["chat",{"user":"ann","text":"hi"}]"#).await;
    assert_eq!(recv(WAIT, &mut seen, "chat").await, "chat hi");
    assert_eq!(recv(WAIT, &mut seen, "raw chat").await, "raw chat");
    assert!(errors.try_recv().is_err());
}

// ----------------------------------------------------------------------------------------------
// Error chains
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_bad_url_keeps_the_parse_error() {
    let error = Manager::new("http://[::1", Options::default()).unwrap_err();
    assert!(error.is_config());
    assert_eq!(error.to_string(), r#"bad url "http://[::1""#);
    let source = error.source().expect("a source");
    assert!(
        source.downcast_ref::<url::ParseError>().is_some(),
        "{source:?}"
    );
}

#[tokio::test]
async fn unserializable_arguments_keep_the_serializer_error() {
    struct Refused;
    impl serde::Serialize for Refused {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused by its Serialize"))
        }
    }
    let (_listener, _manager, socket) = client().await;
    let error = socket.emit("x", &Refused).unwrap_err();
    assert!(error.is_args());
    assert_eq!(error.to_string(), "cannot serialize the arguments");
    let source = error.source().expect("a source");
    assert!(
        source.to_string().contains("refused by its Serialize"),
        "{source}"
    );
}

/// Walks the chain below `error` to the first cause of type `E`.
fn find<E: std::error::Error + 'static>(error: &sio_client::Error) -> Option<&E> {
    let mut cause = error.source();
    while let Some(e) = cause {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        cause = e.source();
    }
    None
}

#[tokio::test]
async fn a_refused_connection_keeps_the_io_error() {
    // A port nobody listens on (just freed).
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    for transport in [TransportKind::Polling, TransportKind::WebSocket] {
        let options = Options::default()
            .transports([transport])
            .reconnection(false);
        let manager = Manager::new(&format!("http://127.0.0.1:{port}"), options).unwrap();
        let socket = manager.socket("/");
        let (tx, mut errors) = unbounded_channel();
        socket.on_connect_error(move |error| {
            let _ = tx.send(error);
        });
        socket.connect();
        let error = recv(WAIT, &mut errors, "connect_error").await;
        assert!(error.is_transport(), "{error:?}");
        let io = find::<std::io::Error>(&error).expect("an io error in the chain");
        assert_eq!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{error:?}"
        );
        match transport {
            TransportKind::Polling => {
                assert_eq!(error.to_string(), "xhr poll error");
                assert!(find::<reqwest::Error>(&error).is_some(), "{error:?}");
            }
            _ => assert_eq!(error.to_string(), "websocket error"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_ack_timeout_is_a_timeout() {
    let (_listener, _manager, socket) = client().await;
    // Never connected: the emit waits in the send buffer until its ack times out.
    let error = socket
        .timeout(Duration::from_millis(50))
        .emit_with_ack("x", &())
        .await
        .unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(error.to_string(), "operation has timed out");
    assert!(error.source().is_none());
}

/// An async handler that waits does not hold up the manager: the next event's handler runs
/// meanwhile. What each does before it waits happens in the order the events arrived.
#[tokio::test]
async fn a_waiting_handler_does_not_hold_up_the_next_events() {
    let (listener, _manager, socket) = client().await;
    let (tx, mut seen) = log();
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let (t, r) = (tx.clone(), release.clone());
    socket.on("slow", move |_socket: Socket, (): ()| {
        let (t, r) = (t.clone(), r.clone());
        async move {
            let _ = t.send("slow start".to_owned());
            r.notified().await;
            let _ = t.send("slow end".to_owned());
        }
    });
    let t = tx.clone();
    socket.on("fast", move |_socket: Socket, (): ()| {
        let t = t.clone();
        async move {
            let _ = t.send("fast".to_owned());
        }
    });
    let mut ws = connect(&listener, &socket).await;
    send(&mut ws, r#"42["slow"]"#).await;
    send(&mut ws, r#"42["fast"]"#).await;
    assert_eq!(recv(WAIT, &mut seen, "slow start").await, "slow start");
    assert_eq!(recv(WAIT, &mut seen, "fast").await, "fast");
    release.notify_one();
    assert_eq!(recv(WAIT, &mut seen, "slow end").await, "slow end");
}
