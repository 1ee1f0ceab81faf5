//! The client against a scripted raw Engine.IO WebSocket peer: the heartbeat answer, a ping
//! timeout, a packet that cannot be decoded. Short intervals, every wait bounded.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use sio_client::{DisconnectReason, Manager, ManagerEvent, Options, TransportKind, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use sio_test_support::wait::recv;
use sio_test_support::ws::next_text;

const WAIT: Duration = Duration::from_secs(20);

const OPEN: &str = r#"0{"sid":"abcdefghijklmnopqrst","upgrades":[],"pingInterval":300,"pingTimeout":300,"maxPayload":1000000}"#;

/// Accepts one WebSocket, sends the open packet and answers the client's CONNECT for `/`.
async fn accept(listener: &TcpListener) -> WebSocketStream<TcpStream> {
    accept_with(listener, OPEN).await
}

async fn accept_with(listener: &TcpListener, open: &str) -> WebSocketStream<TcpStream> {
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("a connection")
        .expect("accept");
    let mut ws = tokio_tungstenite::accept_async(tcp)
        .await
        .expect("handshake");
    ws.send(Message::text(open)).await.unwrap();
    assert_eq!(next_text(WAIT, &mut ws).await, "40");
    ws.send(Message::text(r#"40{"sid":"socket-id"}"#))
        .await
        .unwrap();
    ws
}

struct Client {
    _manager: Manager,
    socket: sio_client::Socket,
    connects: UnboundedReceiver<()>,
    disconnects: UnboundedReceiver<DisconnectReason>,
    events: UnboundedReceiver<Vec<Value>>,
}

async fn client() -> (TcpListener, Client) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let options = Options::default()
        .transports([TransportKind::WebSocket])
        .reconnection(false);
    let manager = Manager::new(&url, options).unwrap();
    let socket = manager.socket("/");
    let (ctx, connects) = unbounded_channel();
    let (dtx, disconnects) = unbounded_channel();
    let (etx, events) = unbounded_channel();
    socket.on_connect(move || {
        let _ = ctx.send(());
    });
    socket.on_disconnect(move |r| {
        let _ = dtx.send(r);
    });
    socket.on("x", move |msg: sio_client::Message| {
        let _ = etx.send(msg.args().to_values().unwrap());
    });
    socket.connect();
    let client = Client {
        _manager: manager,
        socket,
        connects,
        disconnects,
        events,
    };
    (listener, client)
}

#[tokio::test]
async fn answers_pings_and_receives_events() {
    let (listener, mut c) = client().await;
    let mut ws = accept(&listener).await;
    recv(WAIT, &mut c.connects, "connect").await;
    assert_eq!(c.socket.id().as_deref(), Some("socket-id"));
    // Several heartbeats, each answered; the connection outlives pingInterval + pingTimeout.
    for _ in 0..3 {
        // scenario: the scripted server pings every 200 ms.
        tokio::time::sleep(Duration::from_millis(200)).await;
        ws.send(Message::text("2")).await.unwrap();
        assert_eq!(next_text(WAIT, &mut ws).await, "3");
    }
    ws.send(Message::text(r#"42["x",1,"a"]"#)).await.unwrap();
    assert_eq!(
        recv(WAIT, &mut c.events, "event").await,
        vec![Value::from(1.0), Value::from("a")]
    );
    // After `off`, the event reaches no handler.
    c.socket.off("x");
    ws.send(Message::text(r#"42["x",2]"#)).await.unwrap();
    // A Vec is one argument (a fixed-size array would be spread, like a tuple).
    c.socket.emit("y", &vec![1, 2]).unwrap();
    assert_eq!(next_text(WAIT, &mut ws).await, r#"42["y",[1,2]]"#);
    assert!(c.events.try_recv().is_err());
    assert!(c.disconnects.try_recv().is_err());
}

#[tokio::test]
async fn silent_server_is_a_ping_timeout() {
    let (listener, mut c) = client().await;
    let _ws = accept(&listener).await;
    recv(WAIT, &mut c.connects, "connect").await;
    // No ping within pingInterval + pingTimeout (600 ms).
    assert_eq!(
        recv(WAIT, &mut c.disconnects, "disconnect").await,
        DisconnectReason::PingTimeout
    );
    assert!(!c.socket.connected());
    // Reconnection is off: the socket stays active (as in socket.io-client) but nothing
    // reconnects.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), listener.accept())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn undecodable_packet_is_a_parse_error() {
    let (listener, mut c) = client().await;
    let mut ws = accept(&listener).await;
    recv(WAIT, &mut c.connects, "connect").await;
    ws.send(Message::text("42{not json")).await.unwrap();
    assert_eq!(
        recv(WAIT, &mut c.disconnects, "disconnect").await,
        DisconnectReason::ParseError
    );
}

#[tokio::test]
async fn server_close_is_transport_close() {
    let (listener, mut c) = client().await;
    let mut ws = accept(&listener).await;
    recv(WAIT, &mut c.connects, "connect").await;
    ws.close(None).await.unwrap();
    assert_eq!(
        recv(WAIT, &mut c.disconnects, "disconnect").await,
        DisconnectReason::TransportClose
    );
}

#[tokio::test]
async fn pending_ack_fails_on_disconnect() {
    let (listener, mut c) = client().await;
    let mut ws = accept(&listener).await;
    recv(WAIT, &mut c.connects, "connect").await;
    let socket = c.socket.clone();
    let pending = tokio::spawn(async move { socket.emit_with_ack("q", &1).await });
    assert_eq!(next_text(WAIT, &mut ws).await, r#"420["q",1]"#);
    ws.close(None).await.unwrap();
    let result = tokio::time::timeout(WAIT, pending).await.unwrap().unwrap();
    let err = result.expect_err("the socket disconnected");
    assert!(err.is_disconnected());
    assert_eq!(err.to_string(), "socket has been disconnected");
}

#[tokio::test]
async fn ack_answers_arrive() {
    let (listener, mut c) = client().await;
    let mut ws = accept(&listener).await;
    recv(WAIT, &mut c.connects, "connect").await;
    let socket = c.socket.clone();
    let pending = tokio::spawn(async move { socket.emit_with_ack("q", &()).await });
    assert_eq!(next_text(WAIT, &mut ws).await, r#"420["q"]"#);
    // An unknown id is ignored; the right one completes the emit.
    ws.send(Message::text(r#"437["no"]"#)).await.unwrap();
    ws.send(Message::text(r#"430["yes",2]"#)).await.unwrap();
    let args = tokio::time::timeout(WAIT, pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (a, b): (String, u32) = args.deserialize().unwrap();
    assert_eq!((a.as_str(), b), ("yes", 2));
}

#[tokio::test]
async fn dropping_every_handle_closes_the_connection() {
    let (listener, mut c) = client().await;
    // A heartbeat far away, so that only the drop can close the connection.
    let open = OPEN.replace("300", "60000");
    let mut ws = accept_with(&listener, &open).await;
    recv(WAIT, &mut c.connects, "connect").await;
    drop(c);
    // The manager's task ends and closes the WebSocket.
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => break,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("the connection stayed open"),
        }
    }
}

/// Nobody listens: the first attempt fails, then `reconnection_attempts` retries, with
/// socket.io-client's events in socket.io-client's order.
#[tokio::test]
async fn gives_up_after_the_reconnection_attempts() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = Options::default()
        .transports([TransportKind::WebSocket])
        .reconnection_attempts(Some(2))
        .reconnection_delay(Duration::from_millis(10))
        .reconnection_delay_max(Duration::from_millis(20));
    let manager = Manager::new(&format!("http://127.0.0.1:{port}"), options).unwrap();
    let (tx, mut events) = unbounded_channel();
    manager.on(move |e| {
        let _ = tx.send(e.clone());
    });
    let socket = manager.socket("/");
    let (etx, mut errors) = unbounded_channel();
    socket.on_connect_error(move |e| {
        let _ = etx.send(e.to_string());
    });
    socket.connect();
    let mut seen = Vec::new();
    loop {
        let event = recv(WAIT, &mut events, "manager event").await;
        let done = matches!(event, ManagerEvent::ReconnectError(_)) && seen.contains(&"failed");
        seen.push(match event {
            ManagerEvent::Error(_) => "error",
            ManagerEvent::ReconnectAttempt(1) => "attempt 1",
            ManagerEvent::ReconnectAttempt(2) => "attempt 2",
            ManagerEvent::ReconnectError(_) => "reconnect_error",
            ManagerEvent::ReconnectFailed => "failed",
            other => panic!("unexpected {other:?}"),
        });
        if done {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "error",
            "attempt 1",
            "error",
            "reconnect_error",
            "attempt 2",
            "error",
            "failed",
            "reconnect_error"
        ]
    );
    // Each failed attempt is a `connect_error` for the waiting socket.
    for _ in 0..3 {
        assert!(
            recv(WAIT, &mut errors, "connect_error")
                .await
                .contains("websocket error")
        );
    }
    assert!(!socket.connected());
}

#[tokio::test]
async fn manager_close_is_a_forced_close_without_reconnection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let options = Options::default()
        .transports([TransportKind::WebSocket])
        .reconnection_delay(Duration::from_millis(10));
    let manager = Manager::new(&url, options).unwrap();
    let socket = manager.socket("/");
    let (dtx, mut disconnects) = unbounded_channel();
    socket.on_disconnect(move |r| {
        let _ = dtx.send(r);
    });
    let (ctx, mut connects) = unbounded_channel();
    socket.on_connect(move || {
        let _ = ctx.send(());
    });
    socket.connect();
    let open = OPEN.replace("300", "60000");
    let mut ws = accept_with(&listener, &open).await;
    recv(WAIT, &mut connects, "connect").await;
    manager.close();
    assert_eq!(
        recv(WAIT, &mut disconnects, "disconnect").await,
        DisconnectReason::ForcedClose
    );
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => break,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("the connection stayed open"),
        }
    }
    // No reconnection attempt.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), listener.accept())
            .await
            .is_err()
    );
    assert!(!socket.connected());
}

/// A handler that emits for each event written keeps the manager's command queue from ever
/// being empty: the frames must still go out while the commands keep coming (the WebSocket is
/// written by the manager's task itself, not by a task of its own).
#[tokio::test]
async fn frames_go_out_during_a_flood_of_emits() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let (listener, mut c) = client().await;
    let open = OPEN.replace("300", "60000");
    let mut ws = accept_with(&listener, &open).await;
    recv(WAIT, &mut c.connects, "connect").await;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    {
        let (socket, stop, count) = (c.socket.clone(), Arc::clone(&stop), Arc::clone(&count));
        c.socket.on_any_outgoing(move |_, _| {
            if !stop.load(Ordering::Relaxed) {
                let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                socket.emit("flood", &(n,)).unwrap();
            }
        });
    }
    c.socket.emit("flood", &(0,)).unwrap();
    assert_eq!(next_text(WAIT, &mut ws).await, r#"42["flood",0]"#);
    assert_eq!(next_text(WAIT, &mut ws).await, r#"42["flood",1]"#);
    stop.store(true, Ordering::Relaxed);
    assert!(count.load(Ordering::Relaxed) >= 1);
}
