//! Socket.IO protocol 4 (Socket.IO 2.x clients over Engine.IO v3), with a raw peer: `/` is
//! joined without CONNECT, CONNECT replies carry nothing, auth travels as a query string in
//! the namespace, CONNECT_ERROR carries a string, ids are `<nsp>#<engine id>`.

use sio_test_support::io as io_support;

use futures_util::{SinkExt, StreamExt};
use io_support::{WAIT, server};
use sio_server::protocol::socket::Args;
use sio_server::{EngineConfig, Error, SocketIo, SocketIoConfig};
use tokio_tungstenite::tungstenite::Message;

fn setup(io: &SocketIo) {
    let hello = |socket: sio_server::Socket| async move {
        let _ = socket
            .emit("hello", &(socket.id(), &socket.handshake().auth))
            .await;
        socket.on_args("echo", |socket, args: Args, ack| async move {
            let _ = ack.send_args(args.clone());
            let _ = socket.emit_args("echo", args).await;
        });
    };
    io.of("/").on_connection(hello);
    io.of("/admin")
        .use_middleware(|socket| async move {
            match socket
                .handshake()
                .auth
                .get("token")
                .and_then(|t| t.as_str())
            {
                Some("abc") => Ok(()),
                _ => Err(Error::rejected("not authorized")),
            }
        })
        .on_connection(hello);
}

async fn next_text(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> String {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("frame in time")
            .expect("open")
            .expect("frame");
        match message {
            Message::Text(t) => return t.as_str().to_owned(),
            Message::Binary(b) => return format!("<binary {:?}>", b.to_vec()),
            _ => {}
        }
    }
}

#[tokio::test]
async fn socket_io_2_client_frames() {
    let engine = EngineConfig::default().path("/socket.io/").allow_eio3(true);
    let s = server(SocketIoConfig::default().engine(engine), setup).await;
    let url = format!("ws://{}/socket.io/?EIO=3&transport=websocket", s.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let open = next_text(&mut ws).await;
    let sid = serde_json::from_str::<serde_json::Value>(&open[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Joined to `/` at once, with the engine id.
    assert_eq!(next_text(&mut ws).await, "40");
    assert_eq!(
        next_text(&mut ws).await,
        format!(r#"42["hello","{sid}",{{}}]"#)
    );
    // The client pings in Engine.IO v3.
    ws.send(Message::text("2")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "3");
    // Auth in the namespace's query string; refusal is a plain string.
    ws.send(Message::text("40/admin?token=nope,"))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, r#"44/admin,"not authorized""#);
    ws.send(Message::text("40/admin?token=abc,")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "40/admin,");
    assert_eq!(
        next_text(&mut ws).await,
        format!(r#"42/admin,["hello","/admin#{sid}",{{"token":"abc"}}]"#)
    );
    ws.send(Message::text(r#"42/admin,7["echo",1]"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, "43/admin,7[1]");
    assert_eq!(next_text(&mut ws).await, r#"42/admin,["echo",1]"#);
    // Binary attachments: v3 binary frames start with the type byte 4.
    ws.send(Message::text(
        r#"451-["echo",{"_placeholder":true,"num":0}]"#,
    ))
    .await
    .unwrap();
    ws.send(Message::binary(vec![4u8, 9, 8])).await.unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        r#"451-["echo",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(next_text(&mut ws).await, "<binary [4, 9, 8]>");
}
