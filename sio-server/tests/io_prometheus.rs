//! `/metrics` scraped over HTTP, as in the `prometheus` example: the Prometheus recorder of
//! `metrics-exporter-prometheus`, a route beside Socket.IO, known traffic, and the values it
//! implies in the exposition text.

#![cfg(feature = "metrics")]

use sio_test_support::io as io_support;

use axum::Router;
use axum::routing::get;
use io_support::{Peer, until};
use metrics_exporter_prometheus::PrometheusBuilder;
use sio_server::{SocketIo, SocketIoConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET /metrics`: the body.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the sample `series` (name and labels, as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scraped_during_known_traffic() {
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    let io = SocketIo::new(SocketIoConfig::default());
    io.of("/").on_connection(|_| async {});
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let prometheus = prometheus.clone();
                async move { prometheus.render() }
            }),
        )
        .layer(io.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (mut a, _) = Peer::join(addr, "/").await;
    let (b, _) = Peer::join(addr, "/").await;
    io.of("/").emit("news", &1).await.unwrap();
    assert_eq!(a.text().await, r#"2["news",1]"#);
    b.close().await;
    let ns = io.of("/");
    until(|| ns.sockets().len() == 1).await;

    let expected = [
        (r#"socketio_engine_clients{transport="websocket"}"#, 1.0),
        (
            r#"socketio_engine_connections_total{transport="websocket"}"#,
            2.0,
        ),
        (r#"socketio_socket_connects_total{namespace="/"}"#, 2.0),
        (r#"socketio_sockets{namespace="/"}"#, 1.0),
        ("socketio_broadcasts_total", 1.0),
        ("socketio_broadcast_recipients_total", 2.0),
        (
            r#"socketio_socket_disconnects_total{reason="transport close"}"#,
            1.0,
        ),
        (
            r#"socketio_engine_disconnects_total{reason="transport close"}"#,
            1.0,
        ),
        // Two CONNECTs in, two CONNECT replies and two events out.
        ("socketio_engine_messages_received_total", 2.0),
        ("socketio_engine_messages_sent_total", 4.0),
    ];
    // The session's own counters move when its task ends, just after the socket's.
    let matches = |text: &str| {
        expected
            .iter()
            .all(|(series, value)| sample(text, series) == Some(*value))
    };
    let text = sio_test_support::wait::first(io_support::WAIT, || async {
        let text = scrape(addr).await;
        matches(&text).then_some(text)
    })
    .await;
    let text = match text {
        Some(text) => text,
        None => scrape(addr).await,
    };
    for (series, value) in expected {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
}
