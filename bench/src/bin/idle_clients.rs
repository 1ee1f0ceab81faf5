//! Opens N idle Socket.IO connections over WebSocket (Engine.IO v4, Socket.IO v5) to a server and
//! holds them, answering pings, so that the server's memory per idle connection can be measured.
//!
//! ```text
//! idle_clients URL N [SECONDS]
//! idle_clients http://127.0.0.1:3000/socket.io/ 10000 30
//! ```
//!
//! The client is deliberately minimal (raw frames through sio-protocol's codec, 1 KiB buffers)
//! so that one process holds 19,000 connections. Source addresses rotate over 127.0.0.1,
//! 127.0.0.2, ... (20,000 connections each at most) to stay clear of the ephemeral port limit.
//! It prints one JSON line when every connection is up (or failed), then holds them for
//! SECONDS (default 30) and exits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sio_protocol::Str;
use sio_protocol::engine::{Frame, Packet, ProtocolVersion};
use tokio::net::TcpSocket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const PER_SOURCE: usize = 20_000;
const V4: ProtocolVersion = ProtocolVersion::V4;

fn usage() -> ! {
    eprintln!("usage: idle_clients URL N [SECONDS]");
    std::process::exit(2)
}

/// `http://host:port/path/` → (socket address, host:port, path).
fn parse_url(url: &str) -> Option<(SocketAddr, String, String)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr: SocketAddr = authority.parse().ok()?;
    Some((addr, authority.to_owned(), format!("/{path}")))
}

/// One connection; `permit` (a handshake slot) is released once it is connected.
async fn client(
    index: usize,
    server: SocketAddr,
    request: String,
    up: Arc<AtomicUsize>,
    mut permit: Option<OwnedSemaphorePermit>,
) -> Result<(), String> {
    let source = Ipv4Addr::new(127, 0, 0, 1 + u8::try_from(index / PER_SOURCE).unwrap_or(0));
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .map_err(|e| e.to_string())?;
    let stream = socket.connect(server).await.map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| e.to_string())?;
    let mut connected = false;
    while let Some(msg) = ws.next().await {
        let frame = match msg.map_err(|e| e.to_string())? {
            Message::Text(t) => Frame::Text(Str::from(t.as_str().to_owned())),
            Message::Binary(b) => Frame::Binary(b),
            Message::Close(_) => break,
            _ => continue,
        };
        match Packet::from_frame(frame, V4).map_err(|e| e.to_string())? {
            Packet::Open(_) => {
                ws.send(Message::text("40"))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Packet::Ping(_) => {
                ws.send(Message::text("3"))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Packet::Message(m) if !connected && m.starts_with("0") => {
                connected = true;
                permit = None;
                up.fetch_add(1, Ordering::Relaxed);
            }
            Packet::Close => break,
            _ => {}
        }
    }
    drop(permit);
    if connected {
        up.fetch_sub(1, Ordering::Relaxed);
    }
    Err("closed by the server".into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(n)) = (
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        usage()
    };
    let hold = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(30u64);
    let Some((server, authority, path)) = parse_url(url) else {
        usage()
    };
    let request = format!("ws://{authority}{path}?EIO=4&transport=websocket");

    let up = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    // At most 256 handshakes in flight: the accept queue of the server stays short.
    let gate = Arc::new(Semaphore::new(256));
    let start = Instant::now();
    for i in 0..n {
        let permit = gate.clone().acquire_owned().await.ok();
        let (up, failed, request) = (up.clone(), failed.clone(), request.clone());
        tokio::spawn(async move {
            if let Err(e) = client(i, server, request, up, permit).await
                && failed.fetch_add(1, Ordering::Relaxed) == 0
            {
                eprintln!("first failure: {e}");
            }
        });
    }
    // Wait until every client is up or failed.
    let deadline = Instant::now() + Duration::from_secs(120);
    while up.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{{\"connected\":{},\"failed\":{},\"seconds\":{:.2}}}",
        up.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(hold)).await;
}
