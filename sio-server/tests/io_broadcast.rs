//! Rooms and broadcasting with raw peers: rooms, except, socket.broadcast, acks from many
//! clients, fetch/join/leave/disconnect of selected sockets, volatile.

use sio_test_support::io as io_support;

use std::time::Duration;

use io_support::{Peer, server, until};
use sio_server::{Ack, Socket, SocketIo, SocketIoConfig};

fn rooms_server(io: &SocketIo) {
    io.of("/").on_connection(|socket| async move {
        socket.on(
            "join",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.join(room).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "leave",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.leave(room).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "to",
            |socket: Socket, (room, text): (String, String), ack: Ack| async move {
                socket.to(room).emit("msg", &text).await.unwrap();
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

async fn call(peer: &mut Peer, id: u32, packet: &str) {
    peer.send(&format!("2{id}{packet}")).await;
    assert_eq!(peer.text().await, format!("3{id}[]"));
}

#[tokio::test]
async fn rooms_and_broadcasts_reach_exactly_the_right_sockets() {
    let s = server(SocketIoConfig::default(), rooms_server).await;
    let (mut a, _) = Peer::join(s.addr, "/").await;
    let (mut b, _) = Peer::join(s.addr, "/").await;
    let (mut c, c_id) = Peer::join(s.addr, "/").await;
    call(&mut a, 1, r#"["join","red"]"#).await;
    call(&mut b, 1, r#"["join","red"]"#).await;
    call(&mut b, 2, r#"["join","blue"]"#).await;
    call(&mut c, 1, r#"["join","blue"]"#).await;
    let ns = s.io.of("/");

    // To a room (the sender excluded).
    call(&mut a, 2, r#"["to","red","r1"]"#).await;
    assert_eq!(b.text().await, r#"2["msg","r1"]"#);
    // Everyone but the sender.
    call(&mut c, 2, r#"["others","o1"]"#).await;
    assert_eq!(a.text().await, r#"2["msg","o1"]"#);
    assert_eq!(b.text().await, r#"2["msg","o1"]"#);
    // Two rooms: each socket at most once; except a room.
    ns.to("red").to("blue").emit("msg", &"both").await.unwrap();
    for p in [&mut a, &mut b, &mut c] {
        assert_eq!(p.text().await, r#"2["msg","both"]"#);
    }
    ns.except("blue").emit("msg", &"not blue").await.unwrap();
    assert_eq!(a.text().await, r#"2["msg","not blue"]"#);
    // A socket's own room.
    ns.to(c_id.clone()).emit("msg", &"just c").await.unwrap();
    assert_eq!(c.text().await, r#"2["msg","just c"]"#);
    // Binary broadcast: encoded once, same frames for each.
    ns.to("red")
        .emit("bin", &bytes::Bytes::from_static(b"\x01\x02"))
        .await
        .unwrap();
    for p in [&mut a, &mut b] {
        assert_eq!(
            p.text().await,
            r#"51-["bin",{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(p.binary().await, [1, 2]);
    }
    // Leaving.
    call(&mut b, 3, r#"["leave","red"]"#).await;
    ns.to("red").emit("msg", &"red again").await.unwrap();
    assert_eq!(a.text().await, r#"2["msg","red again"]"#);
    // Nobody else got anything more.
    b.quiet(Duration::from_millis(200)).await;
    c.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn fetch_join_leave_and_disconnect_selected_sockets() {
    let s = server(SocketIoConfig::default(), rooms_server).await;
    let (mut a, a_id) = Peer::join(s.addr, "/").await;
    let (mut b, b_id) = Peer::join(s.addr, "/").await;
    call(&mut a, 1, r#"["join","x"]"#).await;
    let ns = s.io.of("/");
    let in_x = ns.to("x").fetch_sockets().await.unwrap();
    assert_eq!(in_x.len(), 1);
    assert_eq!(in_x[0].id(), a_id.as_str());
    ns.except("x").sockets_join("y").await.unwrap();
    let in_y: Vec<_> = ns.to("y").fetch_sockets().await.unwrap();
    assert_eq!(in_y.len(), 1);
    assert_eq!(in_y[0].id(), b_id.as_str());
    ns.broadcast().sockets_leave("x").await.unwrap();
    assert!(ns.to("x").fetch_sockets().await.unwrap().is_empty());
    assert_eq!(ns.broadcast().fetch_sockets().await.unwrap().len(), 2);
    ns.to("y").disconnect_sockets(false).await.unwrap();
    assert_eq!(b.text().await, "1");
    until(|| ns.sockets().len() == 1).await;
    ns.disconnect_sockets(true).await.unwrap();
    assert_eq!(a.text().await, "1");
    a.closed().await;
}

#[tokio::test]
async fn broadcast_with_ack_collects_every_reply_or_times_out() {
    let s = server(SocketIoConfig::default(), rooms_server).await;
    let (mut a, _) = Peer::join(s.addr, "/").await;
    let (mut b, _) = Peer::join(s.addr, "/").await;
    let ns = s.io.of("/");
    let pending = tokio::spawn({
        let ns = ns.clone();
        async move {
            ns.timeout(Duration::from_secs(5))
                .emit_with_ack("vote", &1)
                .await
        }
    });
    for (p, answer) in [(&mut a, "yes"), (&mut b, "no")] {
        let text = p.text().await;
        let rest = text.strip_prefix('2').unwrap();
        let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
        assert_eq!(&rest[id.len()..], r#"["vote",1]"#);
        p.send(&format!(r#"3{id}["{answer}"]"#)).await;
    }
    let replies = pending.await.unwrap().unwrap();
    let mut replies: Vec<String> = replies
        .iter()
        .map(|r| r.deserialize::<String>().unwrap())
        .collect();
    replies.sort();
    assert_eq!(replies, ["no", "yes"]);

    // Only one answers: timeout.
    let pending = tokio::spawn({
        let ns = ns.clone();
        async move {
            ns.timeout(Duration::from_millis(300))
                .emit_with_ack("vote", &2)
                .await
        }
    });
    let text = a.text().await;
    let id: String = text[1..].chars().take_while(char::is_ascii_digit).collect();
    a.send(&format!(r#"3{id}["yes"]"#)).await;
    b.text().await;
    let result = pending.await.unwrap();
    let partial = result.unwrap_err();
    assert_eq!(
        partial.kind(),
        sio_server::ErrorKind::Timeout,
        "{partial:?}"
    );
    // The reply that came is kept, and the expected count is known.
    assert_eq!(partial.replies().len(), 1);
    assert_eq!(partial.replies()[0].deserialize::<String>().unwrap(), "yes");
    assert_eq!(partial.expected_replies(), Some(2));
    // Nobody to ask: no replies, at once.
    let empty = ns.to("nobody").emit_with_ack("vote", &3).await.unwrap();
    assert!(empty.is_empty());
}

#[tokio::test]
async fn volatile_packets_are_dropped_when_the_queue_is_full() {
    // A tiny queue and a polling client that never polls: the queue fills up.
    let engine = sio_server::EngineConfig::default()
        .path("/socket.io/")
        .max_buffered_packets(4);
    let s = server(SocketIoConfig::default().engine(engine), |_| {}).await;
    let (mut ws, _) = Peer::join(s.addr, "/").await;
    let body = http_get(s.addr, "/socket.io/?EIO=4&transport=polling").await;
    let open: serde_json::Value = serde_json::from_str(&body[body.find('{').unwrap()..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    http_post(
        s.addr,
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        "40",
    )
    .await;
    let ns = s.io.of("/");
    until(|| ns.sockets().len() == 2).await;
    // The WebSocket client takes every packet (it reads each before the next is sent); the
    // idle poller's queue fills up and the rest is dropped for it.
    for i in 0..20 {
        ns.volatile().emit("tick", &i).await.unwrap();
        assert_eq!(ws.text().await, format!(r#"2["tick",{i}]"#));
    }
    let polled = http_get(
        s.addr,
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
    )
    .await;
    let ticks = polled.matches("tick").count();
    assert!(ticks < 20, "volatile packets were not dropped: {polled}");
    // A non-volatile emit to a full queue reports it.
    let poller = ns
        .sockets()
        .into_iter()
        .find(|s| s.transport() == sio_server::TransportKind::Polling)
        .unwrap();
    for _ in 0..10 {
        let _ = poller.emit("fill", &()).await;
    }
    assert!(poller.emit("fill", &()).await.is_err_and(|e| e.is_full()));
}

async fn http(addr: std::net::SocketAddr, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::time::timeout(io_support::WAIT, async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf).into_owned();
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    })
    .await
    .expect("HTTP response in time")
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    http(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await
}

async fn http_post(addr: std::net::SocketAddr, path: &str, body: &str) -> String {
    http(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}
