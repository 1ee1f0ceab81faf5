//! A scripted raw Socket.IO peer over WebSocket (Engine.IO frames written by hand) for the
//! `io_*` tests.

#![allow(dead_code, unreachable_pub, missing_docs)]

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

/// Waits until `f` is true, polling.
pub async fn until(mut f: impl FnMut() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition in time");
}
