//! A scripted raw Socket.IO peer over WebSocket (Engine.IO frames written by hand) for the
//! `io_*` tests of `sio-server`, an in-process server, a polling client with no socket (for
//! tokio's paused time) and a capture of `sio_server`'s logs.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sio_server::{ServerHandle, SocketIo, SocketIoConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous bound for anything that should happen "now" on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Server {
    pub io: SocketIo,
    pub handle: ServerHandle,
    pub addr: SocketAddr,
}

pub async fn server(config: SocketIoConfig, setup: impl FnOnce(&SocketIo)) -> Server {
    let io = SocketIo::new(config);
    setup(&io);
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    Server { io, handle, addr }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A Socket.IO packet (the Engine.IO `4` removed).
    Text(String),
    Binary(Vec<u8>),
}

pub struct Peer {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub sid: String,
}

impl Peer {
    pub async fn connect(addr: SocketAddr) -> Peer {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("websocket handshake");
        let mut peer = Peer {
            ws,
            sid: String::new(),
        };
        let open = peer.next_raw().await.expect("open packet");
        let Message::Text(open) = open else {
            panic!("open: {open:?}")
        };
        assert!(open.starts_with('0'), "{open}");
        let v: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        peer.sid = v["sid"].as_str().unwrap().to_owned();
        peer
    }

    /// Connects and joins `nsp` (`/` or `/name`), returning the socket id.
    pub async fn join(addr: SocketAddr, nsp: &str) -> (Peer, String) {
        let mut peer = Peer::connect(addr).await;
        let id = peer.connect_nsp(nsp, None).await;
        (peer, id)
    }

    /// Sends CONNECT for `nsp` and expects the CONNECT reply; returns the socket id.
    pub async fn connect_nsp(&mut self, nsp: &str, auth: Option<&str>) -> String {
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        self.send(&format!("0{prefix}{}", auth.unwrap_or(""))).await;
        let reply = self.text().await;
        let body = reply
            .strip_prefix(&format!("0{prefix}"))
            .unwrap_or_else(|| panic!("CONNECT reply for {nsp}: {reply}"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.keys().collect::<Vec<_>>(), ["sid"], "{reply}");
        let id = obj["sid"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 20);
        id
    }

    async fn next_raw(&mut self) -> Option<Message> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")?
                .ok()?;
            match &message {
                Message::Text(t) if t.as_str() == "2" => {
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Message::Ping(_) | Message::Pong(_) => {}
                Message::Close(_) => return None,
                _ => return Some(message),
            }
        }
    }

    /// The next Socket.IO frame.
    pub async fn recv(&mut self) -> Frame {
        match self.next_raw().await.expect("connection open") {
            Message::Text(t) => {
                let t = t.as_str();
                assert!(t.starts_with('4'), "not a message: {t}");
                Frame::Text(t[1..].to_owned())
            }
            Message::Binary(b) => Frame::Binary(b.to_vec()),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The next frame, which must be text.
    pub async fn text(&mut self) -> String {
        match self.recv().await {
            Frame::Text(t) => t,
            Frame::Binary(b) => panic!("expected text, got binary {b:?}"),
        }
    }

    /// The next frame, which must be binary.
    pub async fn binary(&mut self) -> Vec<u8> {
        match self.recv().await {
            Frame::Binary(b) => b,
            Frame::Text(t) => panic!("expected binary, got {t}"),
        }
    }

    /// Sends a Socket.IO packet as an Engine.IO message.
    pub async fn send(&mut self, packet: &str) {
        let _ = self.ws.send(Message::text(format!("4{packet}"))).await;
    }

    /// Sends an Engine.IO text frame as is.
    pub async fn send_raw_text(&mut self, text: &str) {
        let _ = self.ws.send(Message::text(text.to_owned())).await;
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        let _ = self.ws.send(Message::binary(data.to_vec())).await;
    }

    /// Waits for the server to close the connection (frames before are skipped).
    pub async fn closed(&mut self) {
        tokio::time::timeout(WAIT, async {
            while let Some(Ok(message)) = self.ws.next().await {
                if let Message::Close(_) = message {
                    return;
                }
            }
        })
        .await
        .expect("closed in time");
    }

    /// Asserts nothing but heartbeats arrives for `d`.
    pub async fn quiet(&mut self, d: Duration) {
        let r = tokio::time::timeout(d, self.next_raw()).await;
        if let Ok(Some(m)) = r {
            panic!("unexpected frame {m:?}");
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

pub use crate::wait::{until, until_within};

/// A polling client that calls [`EngineIo::handle`](sio_server::EngineIo::handle) directly (no
/// socket), so that tests can run in tokio's paused time.
pub struct Polling {
    io: SocketIo,
    pub sid: String,
}

impl Polling {
    /// Opens an Engine.IO v4 polling session ([`SocketIo::start`] must have been called).
    pub async fn open(io: &SocketIo) -> Polling {
        let (status, body) = polling_call(io, "GET", "EIO=4&transport=polling", "").await;
        assert_eq!(status, 200, "{body}");
        let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        Polling {
            io: io.clone(),
            sid: open["sid"].as_str().unwrap().to_owned(),
        }
    }

    fn query(&self) -> String {
        format!("EIO=4&transport=polling&sid={}", self.sid)
    }

    /// A GET: its status and the Engine.IO packets of its body, and how long it waited.
    pub async fn get_timed(&self) -> (u16, Vec<String>, Duration) {
        let start = tokio::time::Instant::now();
        let (status, body) = polling_call(&self.io, "GET", &self.query(), "").await;
        let packets = body.split('\u{1e}').map(str::to_owned).collect();
        (status, packets, start.elapsed())
    }

    /// The Socket.IO packets of one GET, which must be answered at once (not by a ping).
    pub async fn get(&self) -> Vec<String> {
        let (status, packets, waited) = self.get_timed().await;
        assert_eq!(status, 200, "{packets:?}");
        assert!(
            waited < Duration::from_secs(1),
            "GET waited {waited:?}: {packets:?}"
        );
        packets
            .into_iter()
            .map(|p| match p.strip_prefix('4') {
                Some(packet) => packet.to_owned(),
                None => panic!("not a message: {p}"),
            })
            .collect()
    }

    /// GETs until a Socket.IO packet `f` accepts arrives; every packet received.
    pub async fn get_until(&self, mut f: impl FnMut(&str) -> bool) -> Vec<String> {
        let mut all = Vec::new();
        for _ in 0..10 {
            let packets = self.get().await;
            let done = packets.iter().any(|p| f(p));
            all.extend(packets);
            if done {
                return all;
            }
        }
        panic!("not received: {all:?}");
    }

    /// POSTs Socket.IO packets (text ones; `b<base64>` records go as they are).
    pub async fn post_status(&self, packets: &[&str]) -> (u16, String) {
        let body: Vec<String> = packets
            .iter()
            .map(|p| {
                if p.starts_with('b') {
                    (*p).to_owned()
                } else {
                    format!("4{p}")
                }
            })
            .collect();
        polling_call(&self.io, "POST", &self.query(), &body.join("\u{1e}")).await
    }

    /// POSTs a body as it is (Engine.IO packets).
    pub async fn post_raw(&self, body: &str) -> (u16, String) {
        polling_call(&self.io, "POST", &self.query(), body).await
    }

    /// POSTs Socket.IO packets, which must be accepted.
    pub async fn post(&self, packets: &[&str]) {
        let (status, body) = self.post_status(packets).await;
        assert_eq!((status, body.as_str()), (200, "ok"));
    }

    /// Joins `nsp` (with the auth object `auth`, if any); the socket id.
    pub async fn join(&self, nsp: &str, auth: Option<&str>) -> String {
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        self.post(&[&format!("0{prefix}{}", auth.unwrap_or(""))])
            .await;
        let reply = self.get().await;
        let body = reply[0]
            .strip_prefix(&format!("0{prefix}"))
            .unwrap_or_else(|| panic!("CONNECT reply for {nsp}: {reply:?}"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["sid"].as_str().unwrap().to_owned()
    }
}

async fn polling_call(io: &SocketIo, method: &str, query: &str, body: &str) -> (u16, String) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .method(method)
        .uri(format!("/socket.io/?{query}"))
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(60), io.engine().handle(req, None))
        .await
        .expect("a response in time");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The events `sio_server` and `sio_client` log, in every test of the binary: the first call
/// installs the global subscriber (a scoped one per test races with the other tests' threads
/// over tracing's global level filter). Tests tell their events apart by ids (`sid=...`,
/// `socket=...`, a client's `url=...`).
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Logs {
    pub fn capture() -> Logs {
        static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            tracing::subscriber::set_global_default(Capture(logs.clone()))
                .expect("no other global subscriber");
            logs
        })
        .clone()
    }

    /// Every event, as `LEVEL field=value ...`.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The events that contain every one of `parts`.
    pub fn matching(&self, parts: &[&str]) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|line| parts.iter().all(|part| line.contains(part)))
            .collect()
    }
}

struct Capture(Logs);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        let target = metadata.target();
        target.starts_with("sio_server") || target.starts_with("sio_client")
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        (self.0).0.lock().unwrap().push(fields.0);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
