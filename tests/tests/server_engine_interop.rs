//! Our Engine.IO server against the real engine.io-client 6.6.8 (Node.js).

use std::time::Duration;

use serde_json::{Value, json};
use sio_server::{EngineConfig, EngineIo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_polling_websocket_and_upgrade() {
    let engine = EngineIo::new(EngineConfig::default());
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let acceptor = engine.clone();
    tokio::spawn(async move {
        while let Some(mut conn) = acceptor.accept().await {
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
            "server-engine-client.js",
            server.local_addr().port(),
            &[],
            Duration::from_secs(40),
        )
        .await,
    );
    let expected_got = json!(["hello", {"bin": [1, 2, 3]}, "é ☃ 😀"]);
    for (result, transport) in
        results
            .as_array()
            .unwrap()
            .iter()
            .zip(["polling", "websocket", "websocket"])
    {
        assert_eq!(result.get("error"), None, "{result}");
        assert_eq!(result["got"], expected_got, "{result}");
        assert_eq!(result["transport"], transport, "{result}");
        assert_eq!(result["closeReason"], "forced close", "{result}");
        assert_eq!(result["sid"].as_str().map(str::len), Some(20), "{result}");
    }
    assert_eq!(results[2]["upgraded"], true);
}
