//! WebSocket: the handshake checks, and one reader and one writer task per socket.
//!
//! The reader turns frames into packets for the session task (`data` channel, which pushes
//! back when full, so a slow session stops the reads); the writer takes frames from a bounded
//! queue. The session task never awaits the socket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sio_protocol::Str;
use sio_protocol::engine::{Frame, Packet, ProtocolVersion};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};

use crate::session_task::{DataIn, Input, Source};

/// The ids of WebSockets, so a session can tell its current one from an old one.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How long a closed WebSocket may take to send its close frame before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

type Stream = WebSocketStream<TokioIo<Upgraded>>;

/// Whether the request asks for a WebSocket (an `Upgrade: websocket` header).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get_all(header::UPGRADE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.eq_ignore_ascii_case("websocket"))
    })
}

/// The `Sec-WebSocket-Accept` value, if the request is a valid WebSocket handshake.
pub(crate) fn accept_key(method: &http::Method, headers: &HeaderMap) -> Option<HeaderValue> {
    let connection_upgrade = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
    });
    let version_13 = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "13");
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    if method != http::Method::GET || !connection_upgrade || !version_13 {
        return None;
    }
    HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok()
}

/// The `101 Switching Protocols` response.
pub(crate) fn switching_protocols<B: Default>(accept: HeaderValue) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// Waits for the upgrade and wraps the connection.
pub(crate) async fn upgraded(
    on_upgrade: OnUpgrade,
    max_message_size: usize,
    read_buffer_size: usize,
) -> Option<Stream> {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "websocket upgrade failed");
            return None;
        }
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(read_buffer_size.max(1))
        .write_buffer_size(0)
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size));
    Some(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await)
}

/// To the writer task.
#[derive(Debug)]
enum WsOut {
    Frame(WsMessage),
    Close(Option<u16>),
}

/// A running WebSocket: its id, its write queue, its tasks.
#[derive(Debug)]
pub(crate) struct WsConn {
    id: u64,
    tx: mpsc::Sender<WsOut>,
    reader: AbortHandle,
    writer: AbortHandle,
}

/// The write queue is full or the writer is gone.
#[derive(Debug)]
pub(crate) struct QueueFull;

impl WsConn {
    /// Starts the reader and the writer of `stream`; the reader sends to `data`.
    pub(crate) fn start(
        stream: Stream,
        version: ProtocolVersion,
        data: mpsc::Sender<DataIn>,
        queue: usize,
    ) -> WsConn {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (sink, stream) = stream.split();
        let (tx, rx) = mpsc::channel(queue.max(1));
        let writer = tokio::spawn(write_loop(sink, rx)).abort_handle();
        let reader = tokio::spawn(read_loop(stream, version, data, id)).abort_handle();
        WsConn {
            id,
            tx,
            reader,
            writer,
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Queues a frame.
    pub(crate) fn send(&self, frame: Frame) -> Result<(), QueueFull> {
        let message = match frame {
            Frame::Text(text) => match Utf8Bytes::try_from(text.into_bytes()) {
                Ok(text) => WsMessage::Text(text),
                Err(_) => return Ok(()),
            },
            Frame::Binary(data) => WsMessage::Binary(data),
        };
        self.tx
            .try_send(WsOut::Frame(message))
            .map_err(|_| QueueFull)
    }

    /// Closes the socket after the queued frames (with `code`, if any); drops it after a
    /// short grace period whatever the peer does.
    pub(crate) fn close(self, code: Option<u16>) {
        let WsConn {
            tx, reader, writer, ..
        } = self;
        if tx.try_send(WsOut::Close(code)).is_err() {
            writer.abort();
        }
        drop(tx);
        tokio::spawn(async move {
            tokio::time::sleep(CLOSE_GRACE).await;
            writer.abort();
            reader.abort();
        });
    }
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<Stream, WsMessage>,
    mut rx: mpsc::Receiver<WsOut>,
) {
    while let Some(out) = rx.recv().await {
        match out {
            WsOut::Frame(message) => {
                if sink.send(message).await.is_err() {
                    return;
                }
            }
            WsOut::Close(code) => {
                let frame = code.map(|code| CloseFrame {
                    code: CloseCode::from(code),
                    reason: Utf8Bytes::default(),
                });
                let _ = sink.send(WsMessage::Close(frame)).await;
                let _ = sink.close().await;
                return;
            }
        }
    }
    let _ = sink.close().await;
}

async fn read_loop(
    mut stream: futures_util::stream::SplitStream<Stream>,
    version: ProtocolVersion,
    data: mpsc::Sender<DataIn>,
    id: u64,
) {
    let source = Source::Ws(id);
    loop {
        let (input, last) = match stream.next().await {
            Some(Ok(WsMessage::Close(_))) => (Input::Closed, true),
            Some(Ok(message)) => match decode(message, version) {
                Some(Ok(packet)) => (Input::Packet(packet), false),
                Some(Err(())) => (Input::ParseError, true),
                None => continue,
            },
            Some(Err(WsError::Capacity(_))) => (Input::TooBig, true),
            Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => {
                (Input::Closed, true)
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "websocket read error");
                (Input::Error, true)
            }
        };
        if data.send(DataIn { source, input }).await.is_err() || last {
            return;
        }
    }
}

/// `None` for control frames (tungstenite answers pings itself).
fn decode(message: WsMessage, version: ProtocolVersion) -> Option<Result<Packet, ()>> {
    let frame = match message {
        WsMessage::Text(text) => match Str::from_utf8(Bytes::from(text)) {
            Ok(text) => Frame::Text(text),
            Err(_) => return Some(Err(())),
        },
        WsMessage::Binary(data) => Frame::Binary(data),
        WsMessage::Close(_) | WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {
            return None;
        }
    };
    Some(Packet::from_frame(frame, version).map_err(|_| ()))
}
