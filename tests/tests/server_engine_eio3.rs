//! Our Engine.IO server with `allow_eio3` against the real engine.io-client 3.5.6 (the engine of
//! socket.io-client 2.x, Engine.IO v3): polling with XHR2 binary payloads, polling with
//! `b64=1`, WebSocket, and the upgrade; text and binary echo, a client ping, close.

use std::time::Duration;

use serde_json::{Value, json};
use sio_server::{EngineConfig, EngineIo, ProtocolVersion};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_v3_polling_websocket_and_upgrade() {
    let engine = EngineIo::new(EngineConfig::default().allow_eio3(true));
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let acceptor = engine.clone();
    tokio::spawn(async move {
        while let Some(mut conn) = acceptor.accept().await {
            assert_eq!(conn.protocol(), ProtocolVersion::V3);
            tokio::spawn(async move {
                while let Some(message) = conn.recv().await {
                    if conn.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let results = Value::Array(
        sio_test_support::run_node_driver(
            "server-engine-eio3.js",
            server.local_addr().port(),
            &[],
            Duration::from_secs(60),
        )
        .await,
    );
    let expected_got = json!(["hello", {"bin": [1, 2, 3]}, "é ☃ 😀"]);
    let expected = ["polling", "polling", "websocket", "websocket"];
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), expected.len());
    for (result, transport) in results.iter().zip(expected) {
        assert_eq!(result.get("error"), None, "{result}");
        assert_eq!(result["got"], expected_got, "{result}");
        assert_eq!(result["transport"], transport, "{result}");
        assert_eq!(result["closeReason"], "forced close", "{result}");
        assert_eq!(result["sid"].as_str().map(str::len), Some(20), "{result}");
    }
    assert_eq!(results[3]["upgraded"], true);
}
