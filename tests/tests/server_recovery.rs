//! Connection state recovery against the official client: socket.io-client 4.8.4 (Node.js)
//! cut off in the middle of a stream of events by a TCP proxy (over WebSocket and over
//! long-polling) comes back with the same id, rooms and `recovered`, and gets every event
//! once, in order, from our server, and, as the reference of behaviour, from the Node
//! socket.io 4.8.4 server with `connectionStateRecovery` (same script, same assertions).

use std::time::Duration;

use serde_json::{Value, json};
use sio_server::{Ack, ConnectionStateRecovery, Socket, SocketIo, SocketIoConfig};

/// The `conformance` example's `/` with `--recovery`: connection state recovery for 5 s, and
/// the `join`, `rooms`, `ticks`, `status` events.
fn server() -> SocketIo {
    let recovery = ConnectionStateRecovery::default()
        .max_disconnection_duration(Duration::from_secs(5))
        .skip_middlewares(true);
    let io = SocketIo::new(SocketIoConfig::default().connection_state_recovery(recovery));
    io.of("/").on_connection(|socket| async move {
        socket.on(
            "join",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.join(room).await;
                let _ = ack.send(&true);
            },
        );
        socket.on("rooms", |socket: Socket, (): (), ack: Ack| async move {
            let mut rooms: Vec<String> =
                socket.rooms().await.iter().map(|r| r.to_string()).collect();
            rooms.sort();
            let _ = ack.send(&(rooms,));
        });
        socket.on(
            "ticks",
            |socket: Socket, (n, every_ms): (u32, u64), ack: Ack| async move {
                let _ = ack.send(&true);
                tokio::spawn(async move {
                    for i in 0..n {
                        // scenario: the handler emits a tick every `every_ms`.
                        tokio::time::sleep(Duration::from_millis(every_ms)).await;
                        let _ = socket.emit("tick", &i).await;
                    }
                });
            },
        );
        socket.on("status", |socket: Socket, (): (), ack: Ack| async move {
            let _ = ack.send(&json!({"id": socket.id().as_str(), "recovered": socket.recovered()}));
        });
    });
    io
}

/// What every run must show, per transport mode: a fresh connect then a recovered one with
/// the same id, the cut seen as a transport failure, the 30 ticks once and in order, each
/// with its offset, and the rooms and status of the recovered socket.
fn assert_recovered(results: &[Value]) {
    let modes: Vec<&str> = results
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["websocket", "polling"]);
    for result in results {
        let mode = &result["mode"];
        assert_eq!(result.get("error"), None, "{mode}: {result}");
        let id = result["connects"][0]["id"].clone();
        assert_eq!(
            result["connects"],
            json!([{"id": id, "recovered": false}, {"id": id, "recovered": true}]),
            "{mode}"
        );
        let reason = result["reason"].as_str().unwrap();
        assert!(
            matches!(reason, "transport close" | "transport error"),
            "{mode}: {reason}"
        );
        assert_eq!(
            result["ticks"],
            json!((0..30).collect::<Vec<_>>()),
            "{mode}"
        );
        assert_eq!(result["offsets"], json!(vec![true; 30]), "{mode}");
        let mut rooms = vec![json!("room-a"), id.clone()];
        rooms.sort_by_key(|r| r.as_str().unwrap().to_owned());
        assert_eq!(result["rooms"], json!(rooms), "{mode}");
        assert_eq!(
            result["status"],
            json!({"id": id, "recovered": true}),
            "{mode}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_recovers_from_our_server() {
    let io = server();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let port = handle.local_addr().port();
    let results =
        sio_test_support::run_node_driver("server-recovery.js", port, &[], Duration::from_secs(90))
            .await;
    assert_recovered(&results);
    // Each recovery used its session.
    assert_eq!(io.of("/").recovery_stats().unwrap().sessions, 0);
}

#[tokio::test]
async fn the_official_client_recovers_from_the_node_server_the_same_way() {
    let results = sio_test_support::run_node_driver(
        "server-recovery.js",
        0,
        &["--reference"],
        Duration::from_secs(90),
    )
    .await;
    assert_recovered(&results);
}
