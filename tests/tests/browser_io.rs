//! Our Socket.IO server against the official browser client (socket.io-client 4.8.4's
//! `dist/socket.io.min.js`) in headless Chromium, in each transport mode (polling only,
//! WebSocket only, polling then upgrade): auth, a middleware's connect_error with data, events,
//! binary both ways as ArrayBuffer and as Blob, acks both ways, rooms and broadcasts, a
//! server-side disconnect, and the upgrade to WebSocket. Then the same (but Blob, which
//! socket.io-msgpack-parser cannot encode) with the client bundle built with the msgpack parser
//! (`dist/socket.io.msgpack.min.js`) against a server configured with `Parser::MsgPack`.
//!
//! The test serves `tests/browser/io.html` and the client bundles from the origin of each
//! Socket.IO server: a small front listener in this process (one per server) answers the static
//! files and passes every connection whose first request is under `/socket.io/` to our server
//! (the `sio-tests` crate has no HTTP framework to mount them side by side). One origin per
//! server, so that the browser never reuses a keep-alive connection of one for the other. The page runs the
//! scenarios; `tests/js/browser-run.js` (playwright-core, Debian's Chromium) prints what it
//! reports.

#[allow(dead_code)] // build_chat is for the chat tests
mod browser_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value as Json, json};
use sio_server::protocol::Value;
use sio_server::protocol::socket::{Args, Parser};
use sio_server::{Ack, Error, Socket, SocketIo, SocketIoConfig, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use browser_support::{client_bundle, require_chromium, run_driver, tests_dir};

/// How the server saw the arguments: binaries as `"bin:<bytes>"`, the rest as JSON.
fn describe(value: &Value) -> Json {
    match value {
        Value::Binary(b) => Json::String(format!(
            "bin:{}",
            b.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
        )),
        Value::Array(items) => Json::Array(items.iter().map(describe).collect()),
        Value::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), describe(v))).collect())
        }
        other => serde_json::to_value(other).unwrap_or(Json::Null),
    }
}

fn setup(io: &SocketIo) {
    io.use_middleware(|socket| async move {
        match socket
            .handshake()
            .auth
            .get("token")
            .and_then(|t| t.as_str())
        {
            Some("ok") => Ok(()),
            _ => Err(Error::rejected("bad token").with_data(&json!({"reason": "token"}))),
        }
    });
    io.of("/").on_connection(|socket| async move {
        let _ = socket.emit("welcome", &socket.handshake().auth).await;
        socket.on_args("echo", |socket, args: Args, _| async move {
            let _ = socket.emit_args("echo-back", args).await;
        });
        socket.on_args("describe", |_, args: Args, ack| async move {
            let values = args.to_values().unwrap_or_default();
            let _ = ack.send(&values.iter().map(describe).collect::<Vec<_>>());
        });
        socket.on_args("ack", |_, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
        socket.on("transport", |socket: Socket, (): (), ack: Ack| async move {
            let name = match socket.transport() {
                TransportKind::Polling => "polling",
                TransportKind::WebSocket => "websocket",
            };
            let _ = ack.send(&name);
        });
        socket.on("ask", |socket: Socket, (n,): (i64,), _| async move {
            let reply = socket
                .emit_with_ack("question", &(n, Bytes::from_static(&[1, 2, 3])))
                .timeout(Duration::from_secs(10))
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
        socket.on(
            "join",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.join(room).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "shout",
            |socket: Socket, (room, text, bin): (String, String, Bytes), ack: Ack| async move {
                let _ = socket.to(room).emit("shout", &(text, bin)).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "announce",
            |socket: Socket, (room, text): (String, String), ack: Ack| async move {
                let _ = socket.namespace().to(room).emit("announce", &text).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "all",
            |socket: Socket, (data,): (Bytes,), ack: Ack| async move {
                let _ = socket.broadcast().emit("all", &data).await;
                let _ = ack.send(&());
            },
        );
        socket.on("kick", |socket: Socket, (): (), _| async move {
            socket.disconnect(false);
        });
    });
}

/// The static files of the front listener: path, content type, body.
type Files = Arc<Vec<(&'static str, &'static str, Vec<u8>)>>;

/// Accepts connections on `listener`: a connection whose first request is under `/socket.io/`
/// is passed through to `backend` (our server: polling, WebSocket upgrades), any other gets
/// its static file and `Connection: close`.
async fn front(listener: TcpListener, backend: SocketAddr, files: Files) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let files = files.clone();
        tokio::spawn(async move {
            let _ = handle(stream, backend, files).await;
        });
    }
}

async fn handle(mut stream: TcpStream, backend: SocketAddr, files: Files) -> std::io::Result<()> {
    // Reads the request line (the bytes read go upstream first when proxied).
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n") {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await? == 0 || head.len() == 2048 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head[..head.len() - 2]).into_owned();
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    if target.starts_with("/socket.io/") {
        let mut upstream = TcpStream::connect(backend).await?;
        upstream.write_all(&head).await?;
        let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
        return Ok(());
    }
    // Reads the rest of the request head (GET, no body).
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let path = target.split('?').next().unwrap_or("/");
    let response = match files.iter().find(|(p, _, _)| *p == path) {
        Some((_, content_type, body)) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
                 cache-control: no-store\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(body);
            r
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
        }
    };
    stream.write_all(&response).await?;
    stream.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_client_in_every_transport_mode() {
    require_chromium();
    let io = SocketIo::new(SocketIoConfig::default());
    setup(&io);
    let server = io.listen("127.0.0.1:0").await.expect("listen");
    // The msgpack server also has permessage-deflate on: Chromium offers it and then
    // compresses the frames it sends, so its WebSocket modes exercise the inflating side.
    let msgpack = SocketIo::new(
        SocketIoConfig::default().parser(Parser::MsgPack).engine(
            sio_server::EngineConfig::default()
                .path("/socket.io/")
                .per_message_deflate(sio_server::PerMessageDeflate::default()),
        ),
    );
    setup(&msgpack);
    let msgpack_server = msgpack.listen("127.0.0.1:0").await.expect("listen");

    let page = std::fs::read(tests_dir().join("browser/io.html")).expect("tests/browser/io.html");
    let bundle = client_bundle();
    let msgpack_bundle = bundle.with_file_name("socket.io.msgpack.min.js");
    let files: Files = Arc::new(vec![
        ("/io.html", "text/html; charset=utf-8", page),
        (
            "/socket.io.min.js",
            "text/javascript",
            std::fs::read(&bundle).expect("the client bundle"),
        ),
        (
            "/socket.io.msgpack.min.js",
            "text/javascript",
            std::fs::read(&msgpack_bundle).expect("the msgpack client bundle"),
        ),
    ]);
    // One origin per server: the page with the default parser, then with msgpack.
    let mut urls = vec!["50000".to_owned()];
    let mut fronts = Vec::new();
    for (backend, query) in [
        (server.local_addr(), ""),
        (msgpack_server.local_addr(), "?parser=msgpack"),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        fronts.push(tokio::spawn(front(listener, backend, files.clone())));
        urls.push(format!("http://127.0.0.1:{port}/io.html{query}"));
    }
    let report = run_driver("browser-run.js", &urls, Duration::from_secs(55)).await;
    for front in fronts {
        front.abort();
    }

    assert_eq!(report["error"], Json::Null, "{report:#}");
    let results = report["results"].as_array().expect("results");
    let modes: Vec<&str> = results.iter().filter_map(|r| r["mode"].as_str()).collect();
    assert_eq!(
        modes,
        [
            "polling",
            "websocket",
            "upgrade",
            "msgpack polling",
            "msgpack websocket",
            "msgpack upgrade"
        ],
        "{report:#}"
    );
    for result in results {
        assert_eq!(result["failed"], json!([]), "{result:#}");
        // All the scenarios; msgpack has no Blob one.
        let expected = if result["mode"]
            .as_str()
            .is_some_and(|m| m.starts_with("msgpack"))
        {
            10
        } else {
            11
        };
        assert_eq!(
            result["passed"].as_array().map(Vec::len),
            Some(expected),
            "{result:#}"
        );
    }
}
