//! Our Socket.IO server against the real socket.io-client 4.8.4 (Node.js), in each transport
//! mode: auth, middleware refusal, two namespaces on one connection, events, binary and acks
//! both ways (with timeouts), rooms and broadcasts, volatile, server-side disconnect, a dynamic
//! namespace matched by a regex; with the
//! JSON parser and with socket.io-msgpack-parser.

use std::time::Duration;

use serde_json::Value;
use sio_server::protocol::socket::{Args, Parser};
use sio_server::{Ack, EngineConfig, Error, Socket, SocketIo, SocketIoConfig};

fn setup(io: &SocketIo) {
    io.use_middleware(|socket| async move {
        match socket
            .handshake()
            .auth
            .get("token")
            .and_then(|t| t.as_str())
        {
            Some("ok") => Ok(()),
            _ => {
                Err(Error::rejected("bad token").with_data(&serde_json::json!({"reason": "token"})))
            }
        }
    });
    io.of("/").on_connection(|socket| async move {
        let _ = socket.emit("welcome", &socket.handshake().auth).await;
        socket.on_args("echo", |socket, args: Args, _| async move {
            let _ = socket.emit_args("echo-back", args).await;
        });
        socket.on_args("ack", |_, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
        socket.on("ask", |socket: Socket, (n,): (i64,), _| async move {
            // Awaiting here holds back this socket's later events, by design.
            let reply = socket
                .emit_with_ack("question", &n)
                .timeout(Duration::from_secs(5))
                .await;
            match reply {
                Ok(args) => {
                    let _ = socket.emit_args("answer", args).await;
                }
                Err(e) => {
                    let _ = socket.emit("answer", &e.to_string()).await;
                }
            }
        });
        socket.on("ask-timeout", |socket: Socket, (): (), _| async move {
            let reply = socket
                .emit_with_ack("no-answer", &())
                .timeout(Duration::from_millis(300))
                .await;
            let text = reply.err().map(|e| e.to_string()).unwrap_or_default();
            let _ = socket.emit("answer", &text).await;
        });
        socket.on(
            "join",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.join(room).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "shout",
            |socket: Socket, (room, text): (String, String), ack: Ack| async move {
                let _ = socket.to(room).emit("shout", &text).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "all",
            |socket: Socket, (data,): (bytes::Bytes,), ack: Ack| async move {
                let _ = socket.broadcast().emit("all", &data).await;
                let _ = ack.send(&());
            },
        );
        socket.on("volatile", |socket: Socket, (): (), _| async move {
            let _ = socket
                .namespace()
                .volatile()
                .to(socket.id().clone())
                .emit("vol", &1)
                .await;
        });
        socket.on("kick", |socket: Socket, (): (), _| async move {
            socket.disconnect(false);
        });
    });
    io.of_regex(regex::Regex::new(r"^/dynamic-\d+$").unwrap())
        .on_connection(|socket| async move {
            let _ = socket.emit("where", socket.namespace().name()).await;
        });
    io.of("/admin").on_connection(|socket| async move {
        let _ = socket.emit("admin-hello", &()).await;
        socket.on_args("echo", |socket, args: Args, _| async move {
            let _ = socket.emit_args("echo-back", args).await;
        });
    });
}

async fn run_node(script: &str, port: u16) -> Vec<Value> {
    run_node_with(script, port, &[]).await
}

async fn run_node_with(script: &str, port: u16, args: &[&str]) -> Vec<Value> {
    sio_test_support::run_node_driver(script, port, args, Duration::from_secs(90)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_client_in_every_transport_mode() {
    let io = SocketIo::new(SocketIoConfig::default());
    setup(&io);
    let server = io.listen("127.0.0.1:0").await.unwrap();
    let results = run_node("server-io-client.js", server.local_addr().port()).await;
    assert_eq!(results.len(), 3);
    for result in &results {
        assert_eq!(
            result["failed"],
            serde_json::json!([]),
            "{}",
            result["mode"]
        );
        assert_eq!(
            result["passed"].as_array().map(Vec::len),
            Some(14),
            "{result}"
        );
    }
}

/// The same scenarios with `parser: require("socket.io-msgpack-parser")` on every client and
/// `Parser::MsgPack` on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_client_with_the_msgpack_parser_in_every_transport_mode() {
    let io = SocketIo::new(SocketIoConfig::default().parser(Parser::MsgPack));
    setup(&io);
    let server = io.listen("127.0.0.1:0").await.unwrap();
    let port = server.local_addr().port();
    let results = run_node_with("server-io-client.js", port, &["--msgpack"]).await;
    assert_eq!(results.len(), 3);
    for result in &results {
        assert_eq!(
            result["failed"],
            serde_json::json!([]),
            "{}",
            result["mode"]
        );
        assert_eq!(
            result["passed"].as_array().map(Vec::len),
            Some(14),
            "{result}"
        );
    }
}

/// socket.io-client 2.5.0: Socket.IO protocol 4 over Engine.IO v3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_client_2_in_every_transport_mode() {
    let engine = EngineConfig::default().path("/socket.io/").allow_eio3(true);
    let io = SocketIo::new(SocketIoConfig::default().engine(engine));
    let hello = |socket: sio_server::Socket| async move {
        let _ = socket
            .emit("hello", &(socket.id(), &socket.handshake().auth))
            .await;
        socket.on_args("echo", |_, args: Args, ack| async move {
            let _ = ack.send_args(args);
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
    let server = io.listen("127.0.0.1:0").await.unwrap();
    let results = run_node("server-io-client-v2.js", server.local_addr().port()).await;
    assert_eq!(results.len(), 3);
    for result in &results {
        assert_eq!(
            result["failed"],
            serde_json::json!([]),
            "{}",
            result["mode"]
        );
    }
    assert_eq!(results[2]["passed"].as_array().map(Vec::len), Some(5));
}
