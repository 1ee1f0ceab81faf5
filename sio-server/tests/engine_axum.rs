//! The Engine.IO server mounted in an axum `Router` with [`EngineIo::layer`].

use sio_test_support::engine as support;

use axum::Router;
use axum::routing::get as route_get;
use sio_server::{EngineConfig, EngineIo};
use support::*;

#[tokio::test]
async fn engine_beside_a_normal_route() {
    let engine = EngineIo::new(EngineConfig::default());
    spawn_echo(&engine);
    let app = Router::new()
        .route("/hello", route_get(|| async { "hello from axum" }))
        .layer(engine.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The normal route and axum's own 404 pass through the layer.
    let resp = request(addr, "GET", "/hello", &[], b"").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hello from axum");
    let resp = request(addr, "GET", "/other", &[], b"").await;
    assert_eq!(resp.status, 404);

    // Polling: handshake, a message in, the echo out.
    let (sid, open) = handshake(addr).await;
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    let resp = post(addr, &format!("EIO=4&transport=polling&sid={sid}"), b"4hi").await;
    assert_eq!(resp.status, 200);
    let resp = get(addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(resp.text(), "4hi");

    // WebSocket through axum's upgrade support, and the upgrade of the polling session.
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with("0{"));
    ws_send(&mut ws, "4echo").await;
    assert_eq!(ws_text(&mut ws).await, "4echo");

    let mut probe = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    ws_send(&mut probe, "2probe").await;
    assert_eq!(ws_text(&mut probe).await, "3probe");
    ws_send(&mut probe, "5").await;
    ws_send(&mut probe, "4upgraded").await;
    assert_eq!(ws_text(&mut probe).await, "4upgraded");
    assert_eq!(engine.session_count(), 2);
}

#[tokio::test]
async fn layer_on_a_tower_service() {
    use tower::{Layer, ServiceExt};
    let engine = EngineIo::new(EngineConfig::default());
    let inner = tower::service_fn(|_req: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("inner")))
    });
    let service = engine.layer().layer(inner);
    let outside = http::Request::get("/x").body(String::new()).unwrap();
    let resp = service.clone().oneshot(outside).await.unwrap();
    assert_eq!(resp.status(), 200);
    let inside = http::Request::get("/engine.io/?EIO=4&transport=nope")
        .body(String::new())
        .unwrap();
    let resp = service.oneshot(inside).await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn remote_address_from_connect_info() {
    use std::net::SocketAddr;

    use axum::extract::{ConnectInfo, Request};
    use axum::middleware::map_request;

    let engine = EngineIo::new(EngineConfig::default());
    // axum keeps the peer address in `ConnectInfo`; the engine reads a `SocketAddr` extension.
    let app = Router::new()
        .route("/hello", route_get(|| async { "hello" }))
        .layer(engine.layer())
        .layer(map_request(
            |ConnectInfo(addr): ConnectInfo<SocketAddr>, mut req: Request| async move {
                req.extensions_mut().insert(addr);
                req
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let (_sid, _) = handshake(addr).await;
    let conn = tokio::time::timeout(WAIT, engine.accept())
        .await
        .unwrap()
        .unwrap();
    let remote = conn.remote_addr().expect("remote address");
    assert!(remote.ip().is_loopback());
    assert_ne!(remote.port(), addr.port());
}
