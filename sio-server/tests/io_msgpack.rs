//! The msgpack parser (`SocketIoConfig::parser(Parser::MsgPack)`) with a raw peer: every
//! packet is one binary message in the format of socket.io-msgpack-parser, both ways.

#![cfg(feature = "msgpack")]

use sio_test_support::io as io_support;

use std::time::Duration;

use bytes::Bytes;
use io_support::{Peer, server};
use sio_server::protocol::socket::{
    Args, Decoder, DecoderConfig, Encoder, Packet, PacketData, Parser,
};
use sio_server::protocol::{Map, Value};
use sio_server::{Ack, Error, Socket, SocketIo, SocketIoConfig};

fn config() -> SocketIoConfig {
    SocketIoConfig::default().parser(Parser::MsgPack)
}

async fn send(peer: &mut Peer, packet: Packet) {
    let encoded = Encoder::new(Parser::MsgPack).encode(&packet).unwrap();
    assert!(encoded.attachments.is_empty());
    for frame in encoded.into_frames() {
        match frame {
            sio_server::protocol::engine::Frame::Binary(data) => peer.send_binary(&data).await,
            sio_server::protocol::engine::Frame::Text(t) => panic!("msgpack wrote text {t}"),
        }
    }
}

async fn recv(peer: &mut Peer) -> Packet {
    let data = peer.binary().await;
    let mut decoder = Decoder::new(DecoderConfig::default().with_parser(Parser::MsgPack));
    decoder
        .decode_binary(Bytes::from(data))
        .expect("a valid msgpack packet")
        .expect("a whole packet")
}

fn values(args: &Args) -> Vec<Value> {
    args.to_values().unwrap()
}

fn json(v: serde_json::Value) -> Value {
    Args::new(&v).unwrap().into_values().unwrap().remove(0)
}

/// An EVENT's name, arguments and id.
fn event(packet: Packet, nsp: &str) -> (String, Vec<Value>, Option<u64>) {
    assert_eq!(&*packet.nsp, nsp);
    match packet.data {
        PacketData::Event { name, args, id } => (name.as_str().to_owned(), values(&args), id),
        other => panic!("expected an EVENT, got {other:?}"),
    }
}

/// Sends CONNECT and expects the reply `{sid}`; returns the socket id.
async fn join(peer: &mut Peer, nsp: &str, auth: Option<serde_json::Value>) -> String {
    send(
        peer,
        Packet::new(nsp.to_owned(), PacketData::Connect(auth.map(json))),
    )
    .await;
    let reply = recv(peer).await;
    assert_eq!(&*reply.nsp, nsp);
    let PacketData::Connect(Some(Value::Object(map))) = reply.data else {
        panic!("CONNECT reply: {reply:?}")
    };
    assert_eq!(map.keys().collect::<Vec<_>>(), ["sid"]);
    map["sid"].as_str().unwrap().to_owned()
}

fn echo(io: &SocketIo) {
    io.of("/").on_connection(|socket| async move {
        let _ = socket.emit("auth", &socket.handshake().auth).await;
        socket.on_args("echo", |socket, args: Args, _| async move {
            let _ = socket.emit_args("echo-back", args).await;
        });
        socket.on_args("call", |_, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
        socket.on("ask", |socket: Socket, (): (), _| async move {
            let bin = Value::Binary(Bytes::from_static(&[7, 8, 9]));
            let answer = socket
                .emit_with_ack("question", &("q", bin))
                .timeout(Duration::from_secs(10))
                .await;
            let _ = match answer {
                Ok(args) => socket.emit_args("answer", args).await,
                Err(e) => socket.emit("answer", &format!("error {e}")).await,
            };
        });
        socket.on(
            "join",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.join(room).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "to",
            |socket: Socket, (room, text): (String, String), ack: Ack| async move {
                let bin = Value::Binary(Bytes::from_static(&[1, 2]));
                socket.to(room).emit("msg", &(text, bin)).await.unwrap();
                let _ = ack.send(&());
            },
        );
    });
    io.of("/custom").on_connection(|socket| async move {
        let _ = socket.emit("auth", &socket.handshake().auth).await;
    });
}

#[tokio::test]
async fn connect_reply_bytes_are_those_of_socket_io() {
    let s = server(config(), echo).await;
    let mut peer = Peer::connect(s.addr).await;
    // socket.io-client without auth: `data` is notepack.io's undefined.
    send(&mut peer, Packet::new("/", PacketData::Connect(None))).await;
    let reply = peer.binary().await;
    // {type: 0, data: {sid}, nsp: "/"}, the key order of socket.io's `_onconnect`.
    let mut expected = vec![0x83, 0xa4, b't', b'y', b'p', b'e', 0x00];
    expected.extend_from_slice(&[0xa4, b'd', b'a', b't', b'a', 0x81, 0xa3, b's', b'i', b'd']);
    expected.push(0xb4);
    expected.extend_from_slice(&reply[expected.len()..expected.len() + 20]);
    expected.extend_from_slice(&[0xa3, b'n', b's', b'p', 0xa1, b'/']);
    assert_eq!(reply, expected);
    let (name, args, id) = event(recv(&mut peer).await, "/");
    assert_eq!(
        (name.as_str(), args, id),
        ("auth", vec![json(serde_json::json!({}))], None)
    );
}

#[tokio::test]
async fn auth_events_binary_and_acks_both_ways() {
    let s = server(config(), echo).await;
    let mut peer = Peer::connect(s.addr).await;
    let id = join(&mut peer, "/", Some(serde_json::json!({"token": "abc"}))).await;
    assert_eq!(id.len(), 20);
    let (name, args, _) = event(recv(&mut peer).await, "/");
    assert_eq!(name, "auth");
    assert_eq!(args, [json(serde_json::json!({"token": "abc"}))]);
    join(&mut peer, "/custom", None).await;
    let (name, args, _) = event(recv(&mut peer).await, "/custom");
    assert_eq!(
        (name.as_str(), args),
        ("auth", vec![json(serde_json::json!({}))])
    );

    // An event with binary nested anywhere, echoed: msgpack bin both ways.
    let mut obj = Map::new();
    obj.insert(
        "b".to_owned(),
        Value::Binary(Bytes::from_static(&[4, 5, 6])),
    );
    let sent = vec![
        Value::from(1.5),
        Value::Binary(Bytes::from_static(&[1, 2, 3])),
        Value::Object(obj),
    ];
    let args = Args::from_values(sent.clone());
    send(&mut peer, Packet::event("/", "echo", args.clone(), None)).await;
    let (name, got, id) = event(recv(&mut peer).await, "/");
    assert_eq!((name.as_str(), id), ("echo-back", None));
    assert_eq!(got, sent);

    // A client ack request, answered with the same arguments.
    send(&mut peer, Packet::event("/", "call", args, Some(42))).await;
    let ack = recv(&mut peer).await;
    assert_eq!(&*ack.nsp, "/");
    let PacketData::Ack { args, id } = ack.data else {
        panic!("{ack:?}")
    };
    assert_eq!((id, values(&args)), (42, sent));

    // A server ack request, answered by the client with binary.
    send(
        &mut peer,
        Packet::event("/", "ask", Args::from_values(vec![]), None),
    )
    .await;
    let (name, args, id) = event(recv(&mut peer).await, "/");
    assert_eq!(name, "question");
    assert_eq!(
        args,
        [
            Value::from("q"),
            Value::Binary(Bytes::from_static(&[7, 8, 9]))
        ]
    );
    let answer = vec![Value::Binary(Bytes::from_static(&[0xff]))];
    let ack = Packet::ack(
        "/",
        Args::from_values(answer.clone()),
        id.expect("an ack id"),
    );
    send(&mut peer, ack).await;
    let (name, args, _) = event(recv(&mut peer).await, "/");
    assert_eq!((name.as_str(), args), ("answer", answer));
}

#[tokio::test]
async fn broadcasts_to_rooms_are_msgpack() {
    let s = server(config(), echo).await;
    let mut peers = Vec::new();
    for _ in 0..3 {
        let mut peer = Peer::connect(s.addr).await;
        join(&mut peer, "/", None).await;
        recv(&mut peer).await; // auth
        peers.push(peer);
    }
    for (i, peer) in peers.iter_mut().enumerate().take(2) {
        let args = Args::from_values(vec![Value::from("red")]);
        send(peer, Packet::event("/", "join", args, Some(i as u64))).await;
        assert!(matches!(recv(peer).await.data, PacketData::Ack { .. }));
    }
    let args = Args::from_values(vec![Value::from("red"), Value::from("hi")]);
    send(&mut peers[2], Packet::event("/", "to", args, Some(9))).await;
    assert!(matches!(
        recv(&mut peers[2]).await.data,
        PacketData::Ack { id: 9, .. }
    ));
    let expected = vec![
        Value::from("hi"),
        Value::Binary(Bytes::from_static(&[1, 2])),
    ];
    for peer in &mut peers[..2] {
        let (name, args, id) = event(recv(peer).await, "/");
        assert_eq!((name.as_str(), args, id), ("msg", expected.clone(), None));
    }
    // Namespace-wide, from the server.
    s.io.of("/").emit("all", &(1,)).await.unwrap();
    for peer in &mut peers {
        let (name, args, _) = event(recv(peer).await, "/");
        assert_eq!((name.as_str(), args), ("all", vec![Value::from(1)]));
    }
    peers[2].quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn refusals_are_connect_errors_in_msgpack() {
    let s = server(config(), |io| {
        echo(io);
        io.of("/admin")
            .use_middleware(|_| async move {
                Err(Error::rejected("not authorized").with_data(&serde_json::json!({"code": 42})))
            })
            .on_connection(|_| async move {});
    })
    .await;
    let mut peer = Peer::connect(s.addr).await;
    send(&mut peer, Packet::new("/admin", PacketData::Connect(None))).await;
    let error = recv(&mut peer).await;
    assert_eq!(&*error.nsp, "/admin");
    assert_eq!(
        error.data,
        PacketData::ConnectError(json(
            serde_json::json!({"message": "not authorized", "data": {"code": 42}})
        ))
    );
    send(
        &mut peer,
        Packet::new("/nowhere", PacketData::Connect(None)),
    )
    .await;
    let error = recv(&mut peer).await;
    assert_eq!(&*error.nsp, "/nowhere");
    assert_eq!(
        error.data,
        PacketData::ConnectError(json(serde_json::json!({"message": "Invalid namespace"})))
    );
    // The connection stays usable.
    join(&mut peer, "/", None).await;
}

#[tokio::test]
async fn a_json_packet_closes_the_connection() {
    let s = server(config(), echo).await;
    let mut peer = Peer::connect(s.addr).await;
    peer.send("0").await;
    peer.closed().await;
}

#[tokio::test]
async fn the_json_parser_stays_the_default() {
    let s = server(SocketIoConfig::default(), echo).await;
    assert_eq!(s.io.config().parser, Parser::Json);
    let mut peer = Peer::connect(s.addr).await;
    peer.connect_nsp("/", None).await;
    assert_eq!(peer.text().await, r#"2["auth",{}]"#);
}
