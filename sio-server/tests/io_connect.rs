//! CONNECT, namespaces, middlewares, the state rules and malformed input, with a raw peer.

use sio_test_support::io as io_support;

use std::time::Duration;

use io_support::{Peer, server};
use sio_server::protocol::socket::Args;
use sio_server::{Error, SocketIo, SocketIoConfig};

fn echo(io: &SocketIo) {
    io.of("/").on_connection(|socket| async move {
        let _ = socket.emit("auth", &socket.handshake().auth).await;
        socket.on_args("message", |socket, args: Args, _| async move {
            let _ = socket.emit_args("message-back", args).await;
        });
        socket.on_args("message-with-ack", |_, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
    });
    io.of("/custom").on_connection(|socket| async move {
        let _ = socket.emit("auth", &socket.handshake().auth).await;
    });
}

#[tokio::test]
async fn connect_main_and_custom_namespaces_with_auth() {
    let s = server(SocketIoConfig::default(), echo).await;
    let mut peer = Peer::connect(s.addr).await;
    let id = peer.connect_nsp("/", None).await;
    assert_ne!(id, peer.sid, "the socket id is not the engine id");
    assert_eq!(peer.text().await, r#"2["auth",{}]"#);
    peer.connect_nsp("/custom", Some(r#"{"token":"abc"}"#))
        .await;
    assert_eq!(peer.text().await, r#"2/custom,["auth",{"token":"abc"}]"#);
    // Events on both namespaces of one connection.
    peer.send(r#"2["message",1,"2",{"3":[true]}]"#).await;
    assert_eq!(peer.text().await, r#"2["message-back",1,"2",{"3":[true]}]"#);
    peer.send(r#"2456["message-with-ack",1,"2",{"3":[false]}]"#)
        .await;
    assert_eq!(peer.text().await, r#"3456[1,"2",{"3":[false]}]"#);

    let mut other = Peer::connect(s.addr).await;
    other.connect_nsp("/", Some(r#"{"token":"123"}"#)).await;
    assert_eq!(other.text().await, r#"2["auth",{"token":"123"}]"#);
}

#[tokio::test]
async fn binary_attachments_both_ways() {
    let s = server(SocketIoConfig::default(), echo).await;
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.text().await;
    peer.send(r#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .await;
    peer.send_binary(&[1, 2, 3]).await;
    peer.send_binary(&[4, 5, 6]).await;
    assert_eq!(
        peer.text().await,
        r#"52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(peer.binary().await, [1, 2, 3]);
    assert_eq!(peer.binary().await, [4, 5, 6]);
    peer.send(
        r#"52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    )
    .await;
    peer.send_binary(&[1, 2, 3]).await;
    peer.send_binary(&[4, 5, 6]).await;
    assert_eq!(
        peer.text().await,
        r#"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(peer.binary().await, [1, 2, 3]);
    assert_eq!(peer.binary().await, [4, 5, 6]);
}

#[tokio::test]
async fn unknown_namespace_is_refused_and_the_connection_stays() {
    let s = server(SocketIoConfig::default(), echo).await;
    let mut peer = Peer::connect(s.addr).await;
    peer.send("0/random").await;
    assert_eq!(
        peer.text().await,
        r#"4/random,{"message":"Invalid namespace"}"#
    );
    peer.connect_nsp("/", None).await;
    assert_eq!(peer.text().await, r#"2["auth",{}]"#);
}

#[tokio::test]
async fn middlewares_refuse_with_message_and_data() {
    let s = server(SocketIoConfig::default(), |io| {
        io.use_middleware(|socket| async move {
            if socket.handshake().auth.get("banned").is_some() {
                Err(Error::rejected("banned"))
            } else {
                Ok(())
            }
        });
        io.of("/admin")
            .use_middleware(|socket| async move {
                match socket
                    .handshake()
                    .auth
                    .get("token")
                    .and_then(|t| t.as_str())
                {
                    Some("secret") => Ok(()),
                    _ => Err(Error::rejected("not authorized")
                        .with_data(&serde_json::json!({"code": 42}))),
                }
            })
            .on_connection(|socket| async move {
                let _ = socket.emit("welcome", &()).await;
            });
    })
    .await;
    let mut peer = Peer::connect(s.addr).await;
    peer.send(r#"0/admin,{"token":"wrong"}"#).await;
    assert_eq!(
        peer.text().await,
        r#"4/admin,{"message":"not authorized","data":{"code":42}}"#
    );
    peer.send(r#"0/admin,{"token":"secret","banned":1}"#).await;
    assert_eq!(peer.text().await, r#"4/admin,{"message":"banned"}"#);
    peer.connect_nsp("/admin", Some(r#"{"token":"secret"}"#))
        .await;
    assert_eq!(peer.text().await, r#"2/admin,["welcome"]"#);
}

#[tokio::test]
async fn dynamic_namespaces_share_handlers() {
    let s = server(SocketIoConfig::default(), |io| {
        io.of_dynamic(|name, _| name.starts_with("/room-"))
            .use_middleware(|_| async { Ok(()) })
            .on_connection(|socket| async move {
                let _ = socket.emit("where", socket.namespace().name()).await;
            });
    })
    .await;
    let mut peer = Peer::connect(s.addr).await;
    peer.connect_nsp("/room-1", None).await;
    assert_eq!(peer.text().await, r#"2/room-1,["where","/room-1"]"#);
    peer.connect_nsp("/room-2", None).await;
    assert_eq!(peer.text().await, r#"2/room-2,["where","/room-2"]"#);
    peer.send("0/other").await;
    assert_eq!(
        peer.text().await,
        r#"4/other,{"message":"Invalid namespace"}"#
    );
    let mut names = s.io.namespaces();
    names.sort();
    assert_eq!(names, ["/", "/room-1", "/room-2"]);
}

#[cfg(feature = "regex")]
#[tokio::test]
async fn regex_namespaces_match_whole_names() {
    let s = server(SocketIoConfig::default(), |io| {
        io.of_regex(regex::Regex::new(r"^/dynamic-\d+$").unwrap())
            .on_connection(|socket| async move {
                let _ = socket.emit("where", socket.namespace().name()).await;
            });
    })
    .await;
    let mut peer = Peer::connect(s.addr).await;
    peer.connect_nsp("/dynamic-101", None).await;
    assert_eq!(
        peer.text().await,
        r#"2/dynamic-101,["where","/dynamic-101"]"#
    );
    for refused in ["/dynamic-", "/dynamic-1x", "/x/dynamic-1"] {
        peer.send(&format!("0{refused}")).await;
        assert_eq!(
            peer.text().await,
            format!(r#"4{refused},{{"message":"Invalid namespace"}}"#)
        );
    }
    let mut names = s.io.namespaces();
    names.sort();
    assert_eq!(names, ["/", "/dynamic-101"]);
}

#[tokio::test]
async fn connect_timeout_closes_a_connection_without_namespace() {
    let config = SocketIoConfig::default().connect_timeout(Duration::from_millis(300));
    let s = server(config, echo).await;
    let mut idle = Peer::connect(s.addr).await;
    let (mut joined, _) = Peer::join(s.addr, "/").await;
    idle.closed().await;
    // A connection that joined a namespace stays.
    joined.text().await;
    joined.send(r#"2["message","still here"]"#).await;
    assert_eq!(joined.text().await, r#"2["message-back","still here"]"#);
}

#[tokio::test]
async fn leaving_the_last_namespace_keeps_the_connection() {
    let s = server(SocketIoConfig::default(), echo).await;
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.text().await;
    peer.connect_nsp("/custom", None).await;
    peer.text().await;
    peer.send("1/custom,").await;
    peer.send(r#"2["message","x"]"#).await;
    assert_eq!(peer.text().await, r#"2["message-back","x"]"#);
    peer.send("1").await;
    // Rejoin after leaving: a new socket.
    peer.connect_nsp("/", None).await;
    assert_eq!(peer.text().await, r#"2["auth",{}]"#);
}

/// Each input closes the connection; a bystander on the same server carries on.
#[tokio::test]
async fn malformed_input_closes_the_connection_only() {
    let s = server(SocketIoConfig::default(), echo).await;
    let (mut bystander, _) = Peer::join(s.addr, "/").await;
    bystander.text().await;
    let cases: &[(&[&str], &[&[u8]])] = &[
        (&[r#"2[{"toString":"foo"}]"#], &[]),
        (&["2[null]"], &[]),
        (&["2[[]]"], &[]),
        (&["2[true]"], &[]),
        (&["2[]"], &[]),
        (&[r#"2["disconnect"]"#], &[]),
        (&[r#"2["connect"]"#], &[]),
        (&[r#"51000000-["a"]"#], &[b"\x01", b"\x02"]),
        (&["511-"], &[]),
        (&[r#"50-["a"]"#], &[b"\x01"]),
        (
            &[r#"51-["hello",{"_placeholder":true,"num":"splice"}]"#],
            &[b"\x01"],
        ),
        (
            &[r#"51-["hello",{"_placeholder":true,"num":1}]"#],
            &[b"\x01"],
        ),
        (
            &[r#"51-["hello",{"_placeholder":true,"num":-1}]"#],
            &[b"\x01"],
        ),
        (&["0"], &[]),
        (&["1{}"], &[]),
        (&["0[1]"], &[]),
        (&["abc"], &[]),
        (&["2{}"], &[]),
        (&[r#"2abc["a"]"#], &[]),
        (&["4{}"], &[]),
        (&[], &[b"\x01\x02\x03"]),
        (&[r#"2/custom,["message"]"#], &[]),
        (&["3/custom,1[]"], &[]),
        (&["1/custom,"], &[]),
    ];
    for (texts, binaries) in cases {
        let mut peer = Peer::connect(s.addr).await;
        peer.connect_nsp("/", None).await;
        assert_eq!(peer.text().await, r#"2["auth",{}]"#);
        for text in *texts {
            peer.send(text).await;
        }
        for binary in *binaries {
            peer.send_binary(binary).await;
        }
        peer.closed().await;
        bystander.send(r#"2["message",1]"#).await;
        assert_eq!(
            bystander.text().await,
            r#"2["message-back",1]"#,
            "after {texts:?}"
        );
    }
    // EVENT before any CONNECT.
    let mut peer = Peer::connect(s.addr).await;
    peer.send(r#"2["message",1]"#).await;
    peer.closed().await;
    // A huge ack id.
    let mut peer = Peer::connect(s.addr).await;
    peer.connect_nsp("/", None).await;
    peer.send(&format!("2{}[\"a\"]", "9".repeat(100_000))).await;
    peer.closed().await;
    bystander.send(r#"2["message",2]"#).await;
    assert_eq!(bystander.text().await, r#"2["message-back",2]"#);
}

#[tokio::test]
async fn error_event_and_unknown_ack_are_harmless() {
    let s = server(SocketIoConfig::default(), echo).await;
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.text().await;
    peer.send(r#"2["error","x"]"#).await;
    peer.send("3999[]").await;
    peer.send(r#"2[1,"numeric name"]"#).await;
    peer.send(r#"2["message","alive"]"#).await;
    assert_eq!(peer.text().await, r#"2["message-back","alive"]"#);
}
