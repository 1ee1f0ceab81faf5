//! permessage-deflate (`EngineConfig::per_message_deflate`) against Node's `ws` 8 and
//! socket.io-client 4.8.4: what the handshake negotiates, that a 200 KB message and its echo
//! cross the socket compressed (byte counts of the client's socket), that small messages and
//! binary come back intact, and that a server with the option off negotiates nothing.

use std::time::Duration;

use serde_json::{Value, json};
use sio_server::protocol::socket::Args;
use sio_server::{EngineConfig, PerMessageDeflate, SocketIo, SocketIoConfig};

fn echo_server(deflate: bool) -> SocketIo {
    let mut engine = EngineConfig::default().path("/socket.io/");
    if deflate {
        engine = engine.per_message_deflate(PerMessageDeflate::default());
    }
    let io = SocketIo::new(SocketIoConfig::default().engine(engine));
    io.of("/").on_connection(|socket| async move {
        socket.on_args("echo", |_, args: Args, ack| async move {
            let _ = ack.send_args(args);
        });
    });
    io
}

fn by_name<'a>(results: &'a [Value], name: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result {name}: {results:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_clients_compress_both_ways() {
    let on = echo_server(true).listen("127.0.0.1:0").await.unwrap();
    let off = echo_server(false).listen("127.0.0.1:0").await.unwrap();
    let off_port = off.local_addr().port().to_string();
    let results = sio_test_support::run_node_driver(
        "server-ws-deflate.js",
        on.local_addr().port(),
        &[&off_port],
        Duration::from_secs(60),
    )
    .await;
    for result in &results {
        assert_eq!(result["error"], Value::Null, "{result}");
    }
    // The 200 KB argument and its echo, compressed: a few KB each way instead of 200 KB.
    for name in ["ws deflate", "ws deflate, client asks no context takeover"] {
        let r = by_name(&results, name);
        assert_eq!(r["intact"], json!(true), "{r}");
        assert!(r["bytesRead"].as_u64().unwrap() < 10_000, "{r}");
        assert!(r["bytesWritten"].as_u64().unwrap() < 10_000, "{r}");
    }
    assert_eq!(
        by_name(&results, "ws deflate")["extensions"],
        "permessage-deflate; server_no_context_takeover"
    );
    assert_eq!(
        by_name(&results, "ws deflate, client asks no context takeover")["extensions"],
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
    );
    // No offer, or the option off: nothing negotiated, the echo crosses uncompressed.
    for name in ["ws without deflate offer", "ws deflate offer, server off"] {
        let r = by_name(&results, name);
        assert_eq!(r["extensions"], Value::Null, "{r}");
        assert_eq!(r["intact"], json!(true), "{r}");
        assert!(r["bytesRead"].as_u64().unwrap() > 200_000, "{r}");
        assert!(r["bytesWritten"].as_u64().unwrap() > 200_000, "{r}");
    }
    let r = by_name(&results, "socket.io-client deflate");
    assert_eq!(r["intact"], json!(true), "{r}");
    assert_eq!(r["count"], json!(3), "{r}");
}
