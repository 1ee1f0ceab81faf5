//! Our Engine.IO server against the real engine.io-client 6.6.8 (Node.js).

use std::path::Path;
use std::process::Stdio;
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let child = tokio::process::Command::new("node")
        .arg(dir.join("js/server-engine-client.js"))
        .arg(server.local_addr().port().to_string())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let output = tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
        .await
        .expect("node finished in time")
        .expect("node output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_str(stdout.trim()).expect("json");
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
