//! A scripted raw peer: HTTP/1.1 over a plain TCP socket, WebSocket over tokio-tungstenite,
//! and an in-process echo server.
//!
//! [`call`] and [`open`] skip the socket: they hand requests to [`EngineIo::handle`] in
//! process, so that a test can put tokio's clock on pause (`start_paused = true`): time then
//! moves only once every task waits (a GET parked in its session, say). Over a real socket the
//! paused clock is not safe: it also moves while bytes are in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sio_server::{EngineConfig, EngineIo, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use crate::io::Logs;
pub use crate::wait::until;

use bytes::Bytes;
use http_body_util::BodyExt;

pub const WAIT: Duration = Duration::from_secs(5);

/// The message of the engine's trace event for a polling GET that nothing answered at once: it
/// waits in its session for packets.
pub const GET_WAITING: &str = "polling GET waiting for packets";

/// Waits until `n` polling GETs of the session `sid` have waited in the server for packets, as
/// the engine's trace event ([`GET_WAITING`]) says in `logs` (start the capture before the
/// GETs). The GET was read and is parked in its session, so that the test can act on it (cut
/// its connection, upgrade, shut the server down) without a race.
pub async fn get_waiting(logs: &Logs, sid: &str, n: usize) {
    let sid = format!("sid={sid}");
    until(|| logs.matching(&[GET_WAITING, &sid]).len() >= n).await;
}

/// The message of the engine's trace event for a session that stops reading its client: the
/// application's queue is full (in items or bytes).
pub const INPUT_PAUSED: &str = "input paused: the application's queue is full";

/// Waits until the session `sid` has stopped reading its client because its application's
/// queue is full, as the engine's trace event ([`INPUT_PAUSED`]) says in `logs` (start the
/// capture before the session fills up). With an application that does not read, the session
/// reads nothing more from then on: its client is pushed back by TCP's flow control.
pub async fn input_paused(logs: &Logs, sid: &str) {
    let sid = format!("sid={sid}");
    until(|| !logs.matching(&[INPUT_PAUSED, &sid]).is_empty()).await;
}

pub struct Server {
    pub engine: EngineIo,
    pub handle: ServerHandle,
    pub addr: SocketAddr,
    /// How many echoes are in their sessions' queues (sent or waiting to be).
    pub echoed: Arc<AtomicUsize>,
}

/// A request to [`EngineIo::handle`] directly, in process (no socket): on tokio's paused clock,
/// time moves only once every task of the test waits (a GET parked in its session, say).
/// Returns the status and the body.
pub async fn call(engine: &EngineIo, method: &str, query: &str, body: &str) -> (u16, String) {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("/engine.io/?{query}"))
        .body(http_body_util::Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let resp = engine.handle(req, None).await;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Opens a polling session of Engine.IO version `eio` ("3", "4") with [`call`]; its sid.
pub async fn open(engine: &EngineIo, eio: &str) -> String {
    let (status, body) = call(engine, "GET", &format!("EIO={eio}&transport=polling"), "").await;
    assert_eq!(status, 200);
    let start = body.find("\"sid\":\"").unwrap() + 7;
    body[start..start + 20].to_owned()
}

/// A server that echoes every message.
pub async fn echo_server(config: EngineConfig) -> Server {
    let engine = EngineIo::new(config);
    let handle = engine.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let echoed = spawn_echo(&engine);
    Server {
        engine,
        handle,
        addr,
        echoed,
    }
}

/// Echoes every message of every connection of `engine`; counts the echoes queued.
pub fn spawn_echo(engine: &EngineIo) -> Arc<AtomicUsize> {
    let echoed = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&echoed);
    let acceptor = engine.clone();
    tokio::spawn(async move {
        while let Some(mut conn) = acceptor.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                while let Some(message) = conn.recv().await {
                    if conn.send(message).await.is_err() {
                        break;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    echoed
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends raw bytes, reads until the server closes, parses one response.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Resp {
    tokio::time::timeout(WAIT, async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        parse(&buf)
    })
    .await
    .expect("response in time")
}

pub fn parse(buf: &[u8]) -> Resp {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Resp {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    }
}

pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if method == "POST" || !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes).await
}

pub async fn get(addr: SocketAddr, query: &str) -> Resp {
    request(addr, "GET", &format!("/engine.io/?{query}"), &[], b"").await
}

pub async fn post(addr: SocketAddr, query: &str, body: &[u8]) -> Resp {
    request(addr, "POST", &format!("/engine.io/?{query}"), &[], body).await
}

/// A polling handshake; returns the sid and the open packet's JSON.
pub async fn handshake(addr: SocketAddr) -> (String, serde_json::Value) {
    let resp = get(addr, "EIO=4&transport=polling").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let text = resp.text();
    let json: serde_json::Value = serde_json::from_str(text.strip_prefix('0').unwrap()).unwrap();
    (json["sid"].as_str().unwrap().to_owned(), json)
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn ws_connect(addr: SocketAddr, query: &str) -> Ws {
    let url = format!("ws://{addr}/engine.io/?{query}");
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("ws connect in time")
        .expect("ws connect");
    ws
}

/// The next data frame (text or binary), skipping control frames; `None` when closed.
pub async fn ws_next(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return Some(m),
                _ => return None,
            }
        }
    })
    .await
    .expect("ws frame in time")
}

pub async fn ws_text(ws: &mut Ws) -> String {
    match ws_next(ws).await {
        Some(Message::Text(t)) => t.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub async fn ws_send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// Waits until the socket is closed; returns the close code if a close frame came.
pub async fn ws_closed(ws: &mut Ws) -> Option<u16> {
    tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("ws close in time")
}
