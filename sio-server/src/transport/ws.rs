//! WebSocket: the handshake checks, and one reader and one writer task per socket.
//!
//! The reader turns frames into packets for the session task (`data` channel, which pushes
//! back when full, so a slow session stops the reads); the writer takes frames from a bounded
//! queue. The session task never awaits the socket.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sio_protocol::Str;
use sio_protocol::engine::{Frame, Packet, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
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

type Stream = WebSocketStream<WsIo>;

/// The connection under a WebSocket. When the server's own listener accepted it (a
/// `TcpStream`), the upgraded connection is unwrapped down to the socket: hyper's 8 KiB read
/// buffer, which the generic [`Upgraded`] keeps alive for its whole life, is dropped after the
/// handshake (DESIGN example 12: idle connections hold almost nothing).
#[derive(Debug)]
pub(crate) enum WsIo {
    /// A TCP socket, with hyper's buffers gone.
    Tcp(TcpStream),
    /// Any other connection, as hyper hands it over.
    Upgraded(TokioIo<Upgraded>),
}

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_read(cx, buf),
            WsIo::Upgraded(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_write(cx, buf),
            WsIo::Upgraded(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_flush(cx),
            WsIo::Upgraded(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_shutdown(cx),
            WsIo::Upgraded(io) => Pin::new(io).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            WsIo::Upgraded(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WsIo::Tcp(io) => io.is_write_vectored(),
            WsIo::Upgraded(io) => io.is_write_vectored(),
        }
    }
}

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
    let stream = match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            // Bytes the client sent right after its handshake: copied out, so that hyper's
            // read buffer they point into is freed.
            let early = parts.read_buf.to_vec();
            let io = WsIo::Tcp(parts.io.into_inner());
            WebSocketStream::from_partially_read(io, early, Role::Server, Some(config)).await
        }
        Err(upgraded) => {
            let io = WsIo::Upgraded(TokioIo::new(upgraded));
            WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await
        }
    };
    Some(stream)
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
    /// Boxed frames: the channel allocates 32 slots up front (an idle socket holds 32
    /// pointers, not 32 messages).
    tx: mpsc::Sender<Box<WsOut>>,
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
        data: mpsc::Sender<Box<DataIn>>,
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
            .try_send(Box::new(WsOut::Frame(message)))
            .map_err(|_| QueueFull)
    }

    /// Closes the socket after the queued frames (with `code`, if any); drops it after a
    /// short grace period whatever the peer does.
    pub(crate) fn close(self, code: Option<u16>) {
        let WsConn {
            tx, reader, writer, ..
        } = self;
        if tx.try_send(Box::new(WsOut::Close(code))).is_err() {
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
    mut rx: mpsc::Receiver<Box<WsOut>>,
) {
    while let Some(out) = rx.recv().await {
        match *out {
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
    data: mpsc::Sender<Box<DataIn>>,
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
        if data.send(Box::new(DataIn { source, input })).await.is_err() || last {
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
