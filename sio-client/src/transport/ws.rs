//! The WebSocket transport with tokio-tungstenite, driven by the manager's task itself: no
//! reader or writer task and no channel per connection (the memory of an idle client). The
//! engine polls [`WsConn::poll`] for what happened and queues frames with [`WsConn::send`].
//!
//! What the server sends is bounded by a limit the engine sets (and raises once the handshake
//! announces `maxPayload`): a [`FrameGuard`] reads every frame header as its bytes arrive,
//! before tungstenite sees them, and fails the read of a frame, or of a fragmented message,
//! whose length goes over the limit. tungstenite's own limits are fixed when the WebSocket is
//! made, too early for a WebSocket-only connection to know the server's `maxPayload`; they
//! stay as a ceiling behind the guard.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures_util::{Sink, SinkExt, Stream};
use reqwest::StatusCode;
use reqwest::cookie::CookieStore as _;
use reqwest::header::COOKIE;
use sio_protocol::Str;
use sio_protocol::engine::Frame;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::{IntoClientRequest as _, uri_mode};
use tokio_tungstenite::tungstenite::error::{ProtocolError, SubProtocolError, UrlError};
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response, generate_request};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::machine::TryParse as _;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::stream::Mode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use url::Url;

use super::endpoint::Endpoint;
use super::io::Io;
use crate::error::{Error, io_cause};
use crate::options::Options;

/// socket.io-client's message for a failed WebSocket.
const WS_ERROR: &str = "websocket error";

fn ws_error(cause: WsError) -> Error {
    Error::transport(WS_ERROR, cause)
}

/// How long a frame may wait to be written before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the closing handshake may take once the engine is done.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// tungstenite's read buffer, allocated for each connection and kept while it is idle (it is
/// also the most tungstenite asks for in one read; [`Guarded`] takes up to
/// [`SOCKET_READ_SIZE`] from the socket at once and hands the rest on in later reads).
/// Socket.IO messages are mostly small; a larger frame still arrives whole (tungstenite
/// reserves its length at once).
const READ_BUFFER_SIZE: usize = 512;

/// Small buffers: an idle connection should hold almost nothing (DESIGN example 12). Frames
/// are written at once (no write buffer). tungstenite's frame and message limits are a
/// ceiling above any limit the guard will apply (`limit`, or at most
/// [`Options::MAX_PAYLOAD_CEILING`](crate::Options::MAX_PAYLOAD_CEILING) later).
fn config(limit: usize) -> WebSocketConfig {
    let ceiling = limit.max(Options::MAX_PAYLOAD_CEILING);
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .write_buffer_size(0)
        .max_frame_size(Some(ceiling))
        .max_message_size(Some(ceiling))
}

type WsStream = WebSocketStream<Guarded>;

/// The most one read call takes from the socket, into a buffer on the stack: a burst of small
/// frames costs one system call per this many bytes rather than one per
/// [`READ_BUFFER_SIZE`] (tungstenite asks for at most that much at a time). What tungstenite
/// did not take waits in [`Guarded::pending`], which is freed once drained.
const SOCKET_READ_SIZE: usize = 16 * 1024;

/// The byte stream with the [`FrameGuard`] on its reads.
struct Guarded {
    stream: ByteStream,
    guard: FrameGuard,
    /// Bytes read from the socket (and seen by the guard) that tungstenite has not taken yet:
    /// `pending[taken..]`. Empty and unallocated between bursts, so an idle connection holds
    /// nothing here.
    pending: Vec<u8>,
    taken: usize,
}

impl Guarded {
    fn new(stream: ByteStream, guard: FrameGuard) -> Guarded {
        Guarded {
            stream,
            guard,
            pending: Vec::new(),
            taken: 0,
        }
    }

    /// Hands `buf` what it can take of the pending bytes; frees them once all are taken.
    fn take_pending(&mut self, buf: &mut ReadBuf<'_>) {
        let rest = self.pending.get(self.taken..).unwrap_or_default();
        let n = rest.len().min(buf.remaining());
        buf.put_slice(rest.get(..n).unwrap_or_default());
        self.taken += n;
        if self.taken >= self.pending.len() {
            self.pending = Vec::new();
            self.taken = 0;
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.taken < this.pending.len() {
            this.take_pending(buf);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= SOCKET_READ_SIZE {
            // A large read (tungstenite never asks for one with our buffer size): straight in.
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
            let read = buf.filled().get(before..).unwrap_or_default();
            // On an error the bytes are not handed on: tungstenite never buffers the frame.
            return Poll::Ready(this.guard.inspect(read));
        }
        let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); SOCKET_READ_SIZE];
        let mut read = ReadBuf::uninit(&mut scratch);
        ready!(Pin::new(&mut this.stream).poll_read(cx, &mut read))?;
        let read = read.filled();
        // On an error the bytes are not handed on: tungstenite never buffers the frame.
        this.guard.inspect(read)?;
        let n = read.len().min(buf.remaining());
        let (now, later) = read.split_at(n);
        buf.put_slice(now);
        if !later.is_empty() {
            this.pending = later.to_vec();
            this.taken = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The longest frame header: 2 bytes, a 64-bit length, a masking key.
const MAX_HEADER: usize = 14;

/// Follows the frames of the server's byte stream (RFC 6455 5.2) to bound what the client
/// buffers: a data frame whose declared length, or a fragmented message whose frames' lengths
/// add up, to more than `limit` bytes fails the read before its payload arrives (tungstenite
/// would reserve a frame's whole declared length at once, and collects a fragmented message
/// without end); a control frame over 125 bytes fails too. Everything else about the frames is
/// tungstenite's to check. No allocation: a header is at most 14 bytes.
#[derive(Debug)]
struct FrameGuard {
    limit: usize,
    /// The bytes of the frame header being read.
    header: [u8; MAX_HEADER],
    header_len: usize,
    /// The payload bytes of the current frame still to come.
    payload_left: u64,
    /// The length so far of the fragmented data message in progress (0 when none).
    message: u64,
}

impl FrameGuard {
    fn new(limit: usize) -> FrameGuard {
        FrameGuard {
            limit,
            header: [0; MAX_HEADER],
            header_len: 0,
            payload_left: 0,
            message: 0,
        }
    }

    /// Follows the next bytes of the stream; an error for a frame or message over the limit.
    fn inspect(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let skip = usize::try_from(self.payload_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                bytes = bytes.get(skip..).unwrap_or_default();
                self.payload_left -= skip as u64;
                continue;
            }
            let Some((&byte, rest)) = bytes.split_first() else {
                break;
            };
            bytes = rest;
            if let Some(slot) = self.header.get_mut(self.header_len) {
                *slot = byte;
                self.header_len += 1;
            }
            if let Some((fin, opcode, len)) = parse_header(&self.header[..self.header_len]) {
                self.header_len = 0;
                self.frame(fin, opcode, len)?;
                self.payload_left = len;
            }
        }
        Ok(())
    }

    /// A frame header arrived.
    fn frame(&mut self, fin: bool, opcode: u8, len: u64) -> std::io::Result<()> {
        let too_long = |what: &str, size: u64, limit: u64| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{what} of {size} bytes, over the limit of {limit}"),
            )
        };
        if opcode & 0x8 != 0 {
            // Control frames stay out of the message; tungstenite refuses them over 125 bytes
            // only after it reserved their length.
            if len > 125 {
                return Err(too_long("control frame", len, 125));
            }
            return Ok(());
        }
        let limit = self.limit as u64;
        let total = if opcode == 0 {
            self.message.saturating_add(len)
        } else {
            len
        };
        if total > limit {
            let what = if opcode == 0 || !fin {
                "fragmented message"
            } else {
                "message"
            };
            return Err(too_long(what, total, limit));
        }
        self.message = if fin { 0 } else { total };
        Ok(())
    }
}

/// A complete frame header: FIN, the opcode and the payload length; `None` while bytes are
/// missing.
fn parse_header(header: &[u8]) -> Option<(bool, u8, u64)> {
    let (&first, rest) = header.split_first()?;
    let (&second, rest) = rest.split_first()?;
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    if rest.len() < extended + mask {
        return None;
    }
    let len = match second & 0x7f {
        126 | 127 => rest
            .get(..extended)?
            .iter()
            .fold(0u64, |len, &b| (len << 8) | u64::from(b)),
        short => u64::from(short),
    };
    Some((first & 0x80 != 0, first & 0x0f, len))
}

/// The bytes under the WebSocket: TCP, or TLS over TCP. The TLS stream is boxed: a rustls
/// connection takes about 1 KB, which a plain connection should not carry (tokio-tungstenite's
/// `MaybeTlsStream` holds it inline).
enum ByteStream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for ByteStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ByteStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ByteStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ByteStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ByteStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            ByteStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ByteStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            ByteStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ByteStream::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            ByteStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ByteStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            ByteStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ByteStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            ByteStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
type Connecting = Pin<Box<dyn Future<Output = Result<WsStream, WsError>> + Send>>;

/// The longest handshake response accepted.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// Connects (TCP, TLS for `wss`) and runs the opening handshake, as tokio-tungstenite's
/// `connect_async_tls_with_config` does with the same pieces of tungstenite (request, response
/// parser, checks, errors), but reading the response with a buffer of our own: tungstenite's
/// handshake hands its 4 KiB read buffer on to the WebSocket, which keeps it for the life of
/// the connection whatever `read_buffer_size` says.
async fn open(
    request: Request,
    limit: usize,
    #[cfg(feature = "tls")] tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<WsStream, WsError> {
    let uri = request.uri();
    let mode = uri_mode(uri)?;
    let host = uri.host().ok_or(WsError::Url(UrlError::NoHostName))?;
    // An IPv6 address without the brackets of the URL.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_owned();
    let port = uri.port_u16().unwrap_or(match mode {
        Mode::Plain => 80,
        Mode::Tls => 443,
    });
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    let mut stream = match mode {
        Mode::Plain => ByteStream::Plain(tcp),
        #[cfg(feature = "tls")]
        Mode::Tls => {
            let config = tls.ok_or(WsError::Url(UrlError::TlsFeatureNotEnabled))?;
            let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| {
                WsError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
            })?;
            let connector = tokio_rustls::TlsConnector::from(config);
            ByteStream::Tls(Box::new(connector.connect(name, tcp).await?))
        }
        #[cfg(not(feature = "tls"))]
        Mode::Tls => return Err(WsError::Url(UrlError::TlsFeatureNotEnabled)),
    };
    let (request, key) = generate_request(request)?;
    stream.write_all(&request).await?;
    drop(request);
    let mut buf = Vec::new();
    let (head_len, response) = loop {
        if buf.len() >= MAX_RESPONSE_HEAD {
            return Err(WsError::AttackAttempt);
        }
        buf.reserve(READ_BUFFER_SIZE);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(WsError::Protocol(ProtocolError::HandshakeIncomplete));
        }
        if let Some(parsed) = Response::try_parse(&buf)? {
            break parsed;
        }
    };
    // What came after the response (the first frames) starts the WebSocket's buffer.
    let tail = buf[head_len..].to_vec();
    drop(buf);
    verify_response(response, &derive_accept_key(key.as_bytes()), &tail)?;
    // The first frames, already read, go through the guard too.
    let mut guard = FrameGuard::new(limit);
    guard.inspect(&tail)?;
    let stream = Guarded::new(stream, guard);
    Ok(WebSocketStream::from_partially_read(stream, tail, Role::Client, Some(config(limit))).await)
}

/// tungstenite's checks of the response (RFC 6455 4.2.2, `VerifyData::verify_response`), with
/// its errors; no subprotocol is asked for.
fn verify_response(mut response: Response, accept_key: &str, tail: &[u8]) -> Result<(), WsError> {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        *response.body_mut() = Some(tail.to_vec());
        return Err(WsError::Http(Box::new(response)));
    }
    let headers = response.headers();
    let header = |name: &str| headers.get(name).and_then(|h| h.to_str().ok());
    if !header("Upgrade").is_some_and(|h| h.eq_ignore_ascii_case("websocket")) {
        return Err(WsError::Protocol(
            ProtocolError::MissingUpgradeWebSocketHeader,
        ));
    }
    if !header("Connection").is_some_and(|h| h.eq_ignore_ascii_case("Upgrade")) {
        return Err(WsError::Protocol(
            ProtocolError::MissingConnectionUpgradeHeader,
        ));
    }
    if headers
        .get("Sec-WebSocket-Accept")
        .is_none_or(|h| h != accept_key)
    {
        return Err(WsError::Protocol(
            ProtocolError::SecWebSocketAcceptKeyMismatch,
        ));
    }
    if headers.get("Sec-WebSocket-Protocol").is_some() {
        return Err(WsError::Protocol(
            ProtocolError::SecWebSocketSubProtocolError(
                SubProtocolError::ServerSentSubProtocolNoneRequested,
            ),
        ));
    }
    Ok(())
}

/// One WebSocket: its handshake, then the open stream.
pub(crate) struct WsConn {
    state: State,
}

enum State {
    /// The handshake (boxed: its state is large and short-lived).
    Connecting(Connecting),
    /// Boxed: the engine keeps a `WsConn` for the life of the connection.
    Open(Box<Open>),
    /// The request could not be made: reported as the handshake's failure.
    Failed(Error),
    /// A write failed: reported as the end of the WebSocket.
    Broken(Error),
    /// Failed or closed: nothing more to report.
    Done,
}

struct Open {
    stream: WsStream,
    /// Frames not yet taken by the stream (empty, and unallocated, while idle).
    out: VecDeque<Message>,
    /// A written frame may still sit in tungstenite's buffer.
    flush: bool,
    /// Since when a frame has been waiting for the socket to take it.
    blocked_since: Option<Instant>,
}

impl std::fmt::Debug for WsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Connecting(_) => "connecting",
            State::Open(_) => "open",
            State::Failed(_) | State::Broken(_) | State::Done => "done",
        };
        f.debug_struct("WsConn").field("state", &state).finish()
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl WsConn {
    /// Starts the handshake; [`poll`](Self::poll) reports [`Io::WsOpen`] when it is done. No
    /// frame or message from the server may be longer than `limit` bytes.
    pub(crate) fn connect(endpoint: &Endpoint, url: &Url, limit: usize) -> WsConn {
        let mut request = match url.as_str().into_client_request() {
            Ok(request) => request,
            Err(e) => {
                return WsConn {
                    state: State::Failed(ws_error(e)),
                };
            }
        };
        for (name, value) in &endpoint.headers {
            request.headers_mut().append(name, value.clone());
        }
        // The cookies of the polling requests (sticky sessions behind a load balancer).
        let mut http_url = url.clone();
        let _ = http_url.set_scheme(if url.scheme() == "wss" {
            "https"
        } else {
            "http"
        });
        if let Some(cookies) = endpoint.jar.get().and_then(|jar| jar.cookies(&http_url)) {
            request.headers_mut().insert(COOKIE, cookies);
        }
        #[cfg(feature = "tls")]
        let connecting = open(request, limit, endpoint.tls.clone());
        #[cfg(not(feature = "tls"))]
        let connecting = open(request, limit);
        WsConn {
            state: State::Connecting(Box::pin(connecting)),
        }
    }

    /// Changes the bound of the server's frames and messages, from the next frame header on
    /// (tungstenite's own ceiling, fixed when the WebSocket was made, stays: the larger of the
    /// first bound and [`Options::MAX_PAYLOAD_CEILING`](crate::Options::MAX_PAYLOAD_CEILING)).
    /// Nothing happens before the WebSocket is open.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        if let State::Open(open) = &mut self.state {
            open.stream.get_mut().guard.limit = limit;
        }
    }

    /// Queues one Engine.IO packet's frame (written by the next [`poll`](Self::poll)). False
    /// when the WebSocket is not open.
    pub(crate) fn send(&mut self, frame: Frame) -> bool {
        let State::Open(open) = &mut self.state else {
            return false;
        };
        let message = match frame {
            Frame::Text(text) => match Utf8Bytes::try_from(text.into_bytes()) {
                Ok(text) => Message::Text(text),
                Err(_) => return false,
            },
            Frame::Binary(data) => Message::Binary(data),
        };
        open.out.push_back(message);
        true
    }

    /// When a frame waiting to be written makes the connection fail (`None`: nothing waits).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Open(open) => open
                .blocked_since
                .and_then(|t| t.checked_add(WRITE_TIMEOUT)),
            _ => None,
        }
    }

    /// Ends the WebSocket if a frame waited too long to be written; returns its error.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Option<Error> {
        if self.poll_timeout().is_some_and(|at| at <= now) {
            self.state = State::Done;
            let cause = io_cause(std::io::ErrorKind::TimedOut, "write timed out");
            return Some(Error::transport(WS_ERROR, cause));
        }
        None
    }

    /// Writes the queued frames as far as the socket takes them (a failure is reported by the
    /// next [`poll`](Self::poll)).
    pub(crate) fn poll_write(&mut self, cx: &mut Context<'_>) {
        if let State::Open(open) = &mut self.state
            && let Err(e) = open.poll_write(cx)
        {
            self.state = State::Broken(ws_error(e));
        }
    }

    /// Writes the queued frames, then reports what happened: [`Io::WsOpen`] once, then each
    /// [`Io::WsFrame`], then [`Io::WsClosed`] (after which it stays pending).
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Io> {
        match &mut self.state {
            State::Connecting(connecting) => {
                let result = ready!(connecting.as_mut().poll(cx));
                match result {
                    Ok(stream) => {
                        self.state = State::Open(Box::new(Open {
                            stream,
                            out: VecDeque::new(),
                            flush: false,
                            blocked_since: None,
                        }));
                        Poll::Ready(Io::WsOpen(Ok(())))
                    }
                    Err(e) => {
                        self.state = State::Done;
                        Poll::Ready(Io::WsOpen(Err(ws_error(e))))
                    }
                }
            }
            State::Open(open) => {
                if let Err(e) = open.poll_write(cx) {
                    self.state = State::Done;
                    return Poll::Ready(Io::WsClosed(Some(ws_error(e))));
                }
                loop {
                    let frame = match ready!(Pin::new(&mut open.stream).poll_next(cx)) {
                        Some(Ok(Message::Text(text))) => match Str::from_utf8(text.into()) {
                            Ok(text) => Frame::Text(text),
                            Err(_) => continue,
                        },
                        Some(Ok(Message::Binary(data))) => Frame::Binary(data),
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                            continue;
                        }
                        Some(Ok(Message::Close(_))) | None => {
                            // Politely: the frames still queued, then our close frame.
                            if let State::Open(open) =
                                std::mem::replace(&mut self.state, State::Done)
                            {
                                open.retire();
                            }
                            return Poll::Ready(Io::WsClosed(None));
                        }
                        Some(Err(e)) => {
                            self.state = State::Done;
                            return Poll::Ready(Io::WsClosed(Some(ws_error(e))));
                        }
                    };
                    return Poll::Ready(Io::WsFrame(frame));
                }
            }
            State::Failed(_) => {
                let State::Failed(error) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!("matched above")
                };
                Poll::Ready(Io::WsOpen(Err(error)))
            }
            State::Broken(_) => {
                let State::Broken(error) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!("matched above")
                };
                Poll::Ready(Io::WsClosed(Some(error)))
            }
            State::Done => Poll::Pending,
        }
    }
}

impl Drop for WsConn {
    /// The frames still queued are written and a close frame follows, on a short-lived task of
    /// its own (bounded in time), as the engine that dropped it is gone or moved on.
    fn drop(&mut self) {
        if let State::Open(open) = std::mem::replace(&mut self.state, State::Done) {
            open.retire();
        }
    }
}

impl Open {
    /// Hands the queued frames to the stream and flushes them, as far as the socket takes them.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<(), WsError> {
        let mut stream = Pin::new(&mut self.stream);
        while !self.out.is_empty() {
            match stream.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    if let Some(message) = self.out.pop_front() {
                        stream.as_mut().start_send(message)?;
                        self.flush = true;
                    }
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        if self.out.is_empty() && self.out.capacity() > 0 {
            // An idle connection keeps no queue memory.
            self.out = VecDeque::new();
        }
        if self.flush {
            match stream.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => self.flush = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        self.blocked_since = if self.out.is_empty() && !self.flush {
            None
        } else {
            self.blocked_since.or_else(|| Some(now()))
        };
        Ok(())
    }

    /// Writes what is queued and closes, on a detached task that never hangs on a dead peer
    /// for long.
    fn retire(self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Open {
            mut stream, out, ..
        } = self;
        runtime.spawn(async move {
            for message in out {
                match tokio::time::timeout(WRITE_TIMEOUT, stream.feed(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => return,
                }
            }
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, SinkExt::close(&mut stream)).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(head: &str) -> Response {
        let (_, response) = Response::try_parse(head.as_bytes())
            .expect("parses")
            .expect("complete");
        response
    }

    /// A server frame's header (unmasked): FIN, opcode, length.
    fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
        let first = if fin { 0x80 } else { 0 } | opcode;
        let mut out = vec![first];
        match len {
            0..=125 => out.push(len as u8),
            126..=0xffff => {
                out.push(126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        out
    }

    fn frame(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut out = header(fin, opcode, len as u64);
        out.resize(out.len() + len, b'x');
        out
    }

    /// Feeds `bytes` in pieces of `step` bytes; the error's message, if one piece failed.
    fn feed(guard: &mut FrameGuard, bytes: &[u8], step: usize) -> Result<(), String> {
        bytes
            .chunks(step)
            .try_for_each(|piece| guard.inspect(piece))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn frames_within_the_limit_pass_in_any_pieces() {
        let mut stream = Vec::new();
        stream.extend(frame(true, 1, 100)); // text, at the limit
        stream.extend(frame(false, 2, 40)); // binary, fragmented...
        stream.extend(frame(true, 9, 125)); // ...a ping in between does not count...
        stream.extend(frame(true, 0, 60)); // ...100 in all
        stream.extend(frame(true, 1, 0));
        stream.extend(frame(true, 8, 2)); // close
        for step in [1, 2, 3, 7, 100, stream.len()] {
            let mut guard = FrameGuard::new(100);
            assert_eq!(feed(&mut guard, &stream, step), Ok(()), "pieces of {step}");
            assert_eq!(
                (guard.header_len, guard.payload_left, guard.message),
                (0, 0, 0)
            );
        }
    }

    #[test]
    fn a_long_frame_fails_at_its_header() {
        for len in [101, 70_000, 1 << 40, u64::MAX] {
            let mut guard = FrameGuard::new(100);
            // The header alone: nothing of the payload needs to arrive.
            let err = feed(&mut guard, &header(true, 2, len), 1).expect_err("too long");
            assert_eq!(
                err,
                format!("message of {len} bytes, over the limit of 100")
            );
        }
        let mut guard = FrameGuard::new(100);
        let err = feed(&mut guard, &header(true, 9, 126), 5).expect_err("control frame");
        assert_eq!(err, "control frame of 126 bytes, over the limit of 125");
    }

    #[test]
    fn an_endless_fragmented_message_fails_once_over_the_limit() {
        let mut guard = FrameGuard::new(100);
        feed(&mut guard, &frame(false, 1, 30), 4).expect("first fragment");
        for _ in 0..2 {
            feed(&mut guard, &frame(false, 0, 30), 4).expect("within the limit");
        }
        let err = feed(&mut guard, &frame(false, 0, 30), 4).expect_err("120 bytes");
        assert_eq!(
            err,
            "fragmented message of 120 bytes, over the limit of 100"
        );
        // Many empty fragments never add up.
        let mut guard = FrameGuard::new(100);
        for _ in 0..1000 {
            feed(&mut guard, &frame(false, 0, 0), 2).expect("empty fragments");
        }
    }

    #[test]
    fn a_raised_limit_applies_from_the_next_header() {
        let mut guard = FrameGuard::new(10);
        assert!(feed(&mut guard, &frame(true, 1, 11), 3).is_err());
        let mut guard = FrameGuard::new(10);
        guard.limit = 1000;
        feed(&mut guard, &frame(true, 1, 1000), 64).expect("raised");
    }

    /// What one socket read brings beyond tungstenite's small buffer is handed on in order,
    /// through later reads that do not touch the socket, and freed once taken.
    #[tokio::test]
    async fn a_large_socket_read_is_handed_on_in_small_pieces() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        // 400 small frames (what a server's burst of events looks like): 20,800 bytes.
        let mut sent = Vec::new();
        for _ in 0..400 {
            sent.extend(frame(true, 1, 50));
        }
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move {
                let (mut peer, _) = listener.accept().await.expect("accept");
                peer.write_all(&sent).await.expect("write");
            })
        };
        let tcp = TcpStream::connect(addr).await.expect("connect");
        writer.await.expect("writer");
        let mut guarded = Guarded::new(ByteStream::Plain(tcp), FrameGuard::new(100));
        let mut received = Vec::new();
        while received.len() < sent.len() {
            let mut piece = [0u8; READ_BUFFER_SIZE];
            let mut buf = ReadBuf::new(&mut piece);
            std::future::poll_fn(|cx| Pin::new(&mut guarded).poll_read(cx, &mut buf))
                .await
                .expect("read");
            assert!(!buf.filled().is_empty(), "no early end of stream");
            received.extend_from_slice(buf.filled());
        }
        assert_eq!(received, sent);
        // Everything was taken: nothing is kept.
        assert_eq!((guarded.pending.capacity(), guarded.taken), (0, 0));
        assert_eq!(guarded.guard.header_len, 0);
    }

    #[test]
    fn handshake_responses_are_checked_as_tungstenite_does() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let accept = derive_accept_key(key.as_bytes());
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let ok = |extra: &str| {
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{extra}\r\n"
            )
        };
        let accepted = ok(&format!("Sec-WebSocket-Accept: {accept}\r\n"));
        assert!(verify_response(response(&accepted), &accept, b"").is_ok());
        let wrong_key = ok("Sec-WebSocket-Accept: AAAA\r\n");
        assert!(matches!(
            verify_response(response(&wrong_key), &accept, b""),
            Err(WsError::Protocol(
                ProtocolError::SecWebSocketAcceptKeyMismatch
            ))
        ));
        let subprotocol = ok(&format!(
            "Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\n"
        ));
        assert!(matches!(
            verify_response(response(&subprotocol), &accept, b""),
            Err(WsError::Protocol(
                ProtocolError::SecWebSocketSubProtocolError(_)
            ))
        ));
        let no_upgrade = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert!(matches!(
            verify_response(response(&no_upgrade), &accept, b""),
            Err(WsError::Protocol(
                ProtocolError::MissingUpgradeWebSocketHeader
            ))
        ));
        let refused = "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\n";
        match verify_response(response(refused), &accept, b"bad") {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), StatusCode::BAD_REQUEST);
                assert_eq!(response.body().as_deref(), Some(&b"bad"[..]));
            }
            other => panic!("not an HTTP error: {other:?}"),
        }
    }
}
