//! The WebSocket transport, driven by the manager's task itself: no reader or writer task and
//! no channel per connection (the memory of an idle client). The engine polls
//! [`WsConn::poll`] for what happened and queues frames with [`WsConn::send`].
//!
//! The opening handshake uses tungstenite's request and response helpers; after it, the
//! frames are ours: reads go through a buffer on the stack into the client's role of the
//! sans-IO [`FrameDecoder`] (`sio_protocol::websocket`), which keeps only the bytes of a frame
//! that is not whole yet, and frames to send are masked into one buffer each, freed once
//! written. An idle WebSocket holds its socket, the decoder's few words and no buffer.
//!
//! What the server sends is bounded by a limit the engine sets (and raises once the handshake
//! announces `maxPayload`): the decoder refuses a frame, or a fragmented message, whose
//! declared length goes over it as soon as the frame's header is read, before its payload is
//! buffered. A refused frame (over the limit, malformed, text that is not UTF-8) fails the
//! WebSocket at once, and our close frame with the code that says why (1009, 1002, 1007)
//! still goes out, as `ws` sends it.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::cookie::CookieStore as _;
use reqwest::header::COOKIE;
use sio_protocol::engine::Frame;
use sio_protocol::websocket::{
    FrameDecoder, FrameDecoderConfig, Opcode, WsMessage, close_payload, masked_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::{IntoClientRequest as _, uri_mode};
use tokio_tungstenite::tungstenite::error::{ProtocolError, SubProtocolError, UrlError};
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response, generate_request};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::machine::TryParse as _;
use tokio_tungstenite::tungstenite::stream::Mode;
use url::Url;

use super::endpoint::Endpoint;
use super::io::Io;
use crate::error::{Error, io_cause};

/// socket.io-client's message for a failed WebSocket.
const WS_ERROR: &str = "websocket error";

fn ws_error(cause: impl Into<crate::error::BoxError>) -> Error {
    Error::transport(WS_ERROR, cause)
}

/// How long a frame may wait to be written before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the closing handshake may take once the engine is done.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes read from the socket at once, into a buffer on the stack (borrowed for one
/// read only: nothing is kept while idle).
const READ_SIZE: usize = 16 * 1024;

/// How many reads one poll may do before it yields to the other tasks.
const READS_PER_POLL: usize = 16;

/// How many queued frames one vectored write takes at most.
const WRITE_SLICES: usize = 32;

/// The handshake response is read in pieces of this size.
const RESPONSE_READ_SIZE: usize = 512;

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

/// The open byte stream and the bytes read after the handshake response (the first frames).
type Opened = (ByteStream, Vec<u8>);

type Connecting = Pin<Box<dyn Future<Output = Result<Opened, WsError>> + Send>>;

/// The longest handshake response accepted.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// Connects (TCP, TLS for `wss`) and runs the opening handshake, as tokio-tungstenite's
/// `connect_async_tls_with_config` does with the same pieces of tungstenite (request, response
/// parser, checks, errors), reading the response with a buffer freed once it is parsed.
async fn open(
    request: Request,
    #[cfg(feature = "tls")] tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Opened, WsError> {
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
        buf.reserve(RESPONSE_READ_SIZE);
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
    Ok((stream, tail))
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
    /// The bound of the server's frames and messages, for the decoder made once the
    /// handshake is done.
    limit: usize,
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

/// How the server's side of an open WebSocket ended.
enum End {
    /// A close frame (answered).
    Closed,
    /// A frame was refused (too long, not a valid frame, invalid UTF-8): our close frame with
    /// the code that says why (1009, 1002, 1007) is queued, as `ws` and tungstenite send it.
    Refused(Error),
    /// A read failed, or the stream ended without a close frame.
    Error(Error),
}

struct Open {
    stream: ByteStream,
    decoder: FrameDecoder,
    /// Frames decoded and not yet reported (one read may complete several); empty, and
    /// unallocated, while idle.
    inbox: VecDeque<Frame>,
    /// How the server's side ended, to report after the frames of `inbox`.
    end: Option<End>,
    /// Masked frames waiting to be written, each in one buffer (empty, and unallocated,
    /// while idle).
    out: VecDeque<Vec<u8>>,
    /// Bytes of the front frame of `out` already written.
    written: usize,
    /// Written bytes may still sit in the TLS layer.
    flush: bool,
    /// Our close frame is queued: nothing is queued after it.
    close_sent: bool,
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
                    limit,
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
        let connecting = open(request, endpoint.tls.clone());
        #[cfg(not(feature = "tls"))]
        let connecting = open(request);
        WsConn {
            state: State::Connecting(Box::pin(connecting)),
            limit,
        }
    }

    /// Changes the bound of the server's frames and messages, from the next frame header on.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        if let State::Open(open) = &mut self.state {
            open.decoder.set_max_message_size(limit);
        }
    }

    /// Queues one Engine.IO packet's frame (written by the next [`poll`](Self::poll)). False
    /// when the WebSocket is not open.
    pub(crate) fn send(&mut self, frame: Frame) -> bool {
        let State::Open(open) = &mut self.state else {
            return false;
        };
        if open.close_sent {
            return false;
        }
        match frame {
            Frame::Text(text) => open.queue(Opcode::Text, text.as_bytes()),
            Frame::Binary(data) => open.queue(Opcode::Binary, &data),
        }
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
                    Ok((stream, tail)) => {
                        self.state = State::Open(Box::new(Open::new(stream, &tail, self.limit)));
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
                match ready!(open.poll_read(cx)) {
                    Ok(frame) => Poll::Ready(Io::WsFrame(frame)),
                    Err(End::Closed) => {
                        // Politely: the frames still queued, then our answer to the close.
                        if let State::Open(open) = std::mem::replace(&mut self.state, State::Done) {
                            open.retire();
                        }
                        Poll::Ready(Io::WsClosed(None))
                    }
                    Err(End::Refused(error)) => {
                        // The frames still queued and our close frame with its code go out
                        // (bounded in time) while the engine goes on with the failure; nothing
                        // more is read from this server.
                        if let State::Open(open) = std::mem::replace(&mut self.state, State::Done) {
                            open.fail();
                        }
                        Poll::Ready(Io::WsClosed(Some(error)))
                    }
                    Err(End::Error(error)) => {
                        self.state = State::Done;
                        Poll::Ready(Io::WsClosed(Some(error)))
                    }
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
    /// The WebSocket on `stream`, whose first bytes `early` were read with the handshake.
    fn new(stream: ByteStream, early: &[u8], limit: usize) -> Open {
        let mut open = Open {
            stream,
            decoder: FrameDecoder::new(FrameDecoderConfig::client().max_message_size(limit)),
            inbox: VecDeque::new(),
            end: None,
            out: VecDeque::new(),
            written: 0,
            flush: false,
            close_sent: false,
            blocked_since: None,
        };
        if !early.is_empty() {
            open.received(early);
        }
        open
    }

    /// Queues a frame, masked with a fresh key.
    fn queue(&mut self, opcode: Opcode, payload: &[u8]) {
        self.out
            .push_back(masked_frame(opcode, payload, rand::random()));
    }

    /// Queues the answer to a ping. A pong still waiting whole at the end of the queue is
    /// replaced (RFC 6455 5.5.3 lets a client answer only the latest ping, as tungstenite
    /// does): a server that sends pings and does not read its socket makes us queue one pong,
    /// not one per ping, until the write timeout ends the connection.
    fn queue_pong(&mut self, payload: &[u8]) {
        let last_is_unsent_pong = self.out.back().is_some_and(|frame| {
            frame.first() == Some(&0x8a) // FIN and opcode 10: a pong
                && (self.out.len() > 1 || self.written == 0)
        });
        if last_is_unsent_pong {
            self.out.pop_back();
        }
        self.queue(Opcode::Pong, payload);
    }

    /// Queues our close frame (`code`, or none), once.
    fn queue_close(&mut self, code: Option<u16>) {
        if !self.close_sent {
            self.close_sent = true;
            let payload = code.map(close_payload).unwrap_or_default();
            self.queue(Opcode::Close, &payload);
        }
    }

    /// Reads: the next frame, or how the server's side ended.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Frame, End>> {
        for _ in 0..READS_PER_POLL {
            if let Some(frame) = self.inbox.pop_front() {
                if self.inbox.is_empty() {
                    self.inbox = VecDeque::new();
                }
                return Poll::Ready(Ok(frame));
            }
            if let Some(end) = self.end.take() {
                return Poll::Ready(Err(end));
            }
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_SIZE];
            let mut buf = ReadBuf::uninit(&mut chunk);
            match ready!(Pin::new(&mut self.stream).poll_read(cx, &mut buf)) {
                Err(e) => self.end = Some(End::Error(ws_error(e))),
                Ok(()) if buf.filled().is_empty() => {
                    let e = WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake);
                    self.end = Some(End::Error(ws_error(e)));
                }
                Ok(()) => self.received(buf.filled()),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Decodes bytes read from the server: frames for the engine, pings answered, the end.
    fn received(&mut self, data: &[u8]) {
        let mut messages = Vec::new();
        let result = self.decoder.decode(data, &mut messages);
        for message in messages {
            match message {
                WsMessage::Text(text) => self.inbox.push_back(Frame::Text(text)),
                WsMessage::Binary(data) => self.inbox.push_back(Frame::Binary(data)),
                WsMessage::Ping(payload) => {
                    if !self.close_sent {
                        self.queue_pong(&payload);
                    }
                }
                WsMessage::Pong(_) => {}
                WsMessage::Close(code) => {
                    // Answered with the same code, as tungstenite and `ws` do.
                    self.queue_close(code);
                    self.end = Some(End::Closed);
                    return;
                }
                // permessage-deflate is never offered, so the decoder refuses RSV1.
                WsMessage::Compressed { .. } => {
                    let e = std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "compressed message without permessage-deflate",
                    );
                    self.queue_close(Some(1002));
                    self.end = Some(End::Refused(ws_error(e)));
                    return;
                }
            }
        }
        if let Err(e) = result {
            self.queue_close(Some(e.close_code().unwrap_or(1002)));
            self.end = Some(End::Refused(ws_error(e)));
        }
    }

    /// Writes the queued frames (vectored, several at once) and flushes them, as far as the
    /// socket takes them.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        let result = self.write_queued(cx);
        self.blocked_since = if self.out.is_empty() && !self.flush {
            None
        } else {
            self.blocked_since.or_else(|| Some(now()))
        };
        result
    }

    fn write_queued(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let mut count = 0;
            for (i, frame) in self.out.iter().take(WRITE_SLICES).enumerate() {
                let skip = if i == 0 { self.written } else { 0 };
                slices[count] = IoSlice::new(frame.get(skip..).unwrap_or_default());
                count += 1;
            }
            let n = match Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..count]) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Err(e),
            };
            self.flush = true;
            self.advance(n);
        }
        if self.out.capacity() > 0 {
            // Nothing waits: an idle connection keeps no queue memory.
            self.out = VecDeque::new();
        }
        if self.flush {
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.flush = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(())
    }

    /// `n` more bytes were written: the frames written whole are freed.
    fn advance(&mut self, mut n: usize) {
        while let Some(frame) = self.out.front() {
            let left = frame.len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.written = 0;
            self.out.pop_front();
        }
    }

    /// Writes what is queued and our close frame, then waits (briefly) for the server to end
    /// the connection, on a detached task that never hangs on a dead peer for long.
    fn retire(mut self: Box<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.queue_close(None);
        runtime.spawn(async move {
            if !self.flush_all().await {
                return;
            }
            // The server answers our close frame (or has sent its own) and closes the
            // connection: read, and drop, what it still sends until then.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async move {
                let mut chunk = [0u8; 1024];
                while let Ok(n) = self.stream.read(&mut chunk).await
                    && n > 0
                {}
            })
            .await;
        });
    }

    /// After a refused frame: writes what is queued (our close frame with its code last), ends
    /// our side of the stream and drops the connection, on a detached task bounded in time.
    /// Unlike [`retire`](Self::retire), it reads nothing more: a server that goes on sending
    /// (an endless message) gets no more of our reads.
    fn fail(mut self: Box<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if self.flush_all().await {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.stream.shutdown()).await;
            }
        });
    }

    /// Writes and flushes every queued frame, within [`WRITE_TIMEOUT`]; false when that
    /// fails or times out.
    async fn flush_all(&mut self) -> bool {
        let written = tokio::time::timeout(
            WRITE_TIMEOUT,
            poll_fn(|cx| match self.poll_write(cx) {
                Err(e) => Poll::Ready(Err(e)),
                Ok(()) if self.out.is_empty() && !self.flush => Poll::Ready(Ok(())),
                Ok(()) => Poll::Pending,
            }),
        )
        .await;
        matches!(written, Ok(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sio_protocol::Str;
    use sio_protocol::websocket::FrameHeader;

    fn response(head: &str) -> Response {
        let (_, response) = Response::try_parse(head.as_bytes())
            .expect("parses")
            .expect("complete");
        response
    }

    /// A server's frame (unmasked): FIN, opcode, payload.
    fn frame(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        let mut out = FrameHeader::new(opcode, false, payload.len())
            .as_bytes()
            .to_vec();
        if !fin {
            out[0] &= 0x7f;
        }
        out.extend_from_slice(payload);
        out
    }

    /// A connected pair: the client's open WebSocket (`early` read with the handshake) and
    /// the server's end of the TCP connection.
    async fn pair(early: &[u8], limit: usize) -> (Box<Open>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (tcp, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let open = Open::new(ByteStream::Plain(tcp.expect("connect")), early, limit);
        (Box::new(open), accepted.expect("accept").0)
    }

    async fn next(open: &mut Open) -> Result<Frame, End> {
        poll_fn(|cx| {
            open.poll_write(cx).expect("write");
            open.poll_read(cx)
        })
        .await
    }

    /// What the client wrote, read by the server's role of the decoder (frames must be
    /// masked), until `count` messages came.
    async fn client_frames(peer: &mut TcpStream, count: usize) -> Vec<WsMessage> {
        let mut decoder = FrameDecoder::new(FrameDecoderConfig::default());
        let mut out = Vec::new();
        let mut chunk = [0u8; 1024];
        while out.len() < count {
            let n = peer.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the client closed early");
            decoder
                .decode(&chunk[..n], &mut out)
                .expect("masked frames");
        }
        out
    }

    /// A burst of frames (some read with the handshake), fragments, a ping between them and a
    /// close: the frames arrive in order, the ping and the close are answered with masked
    /// frames, and nothing is kept once the frames are taken.
    #[tokio::test]
    async fn frames_arrive_pings_and_close_are_answered() {
        let early = frame(true, Opcode::Text, b"0{}");
        let (mut open, mut peer) = pair(&early, 1000).await;
        let mut sent = Vec::new();
        for i in 0..400 {
            sent.extend(frame(true, Opcode::Text, format!("4event {i}").as_bytes()));
        }
        sent.extend(frame(false, Opcode::Binary, &[1, 2]));
        sent.extend(frame(true, Opcode::Ping, b"beat"));
        sent.extend(frame(true, Opcode::Continuation, &[3]));
        sent.extend(frame(true, Opcode::Close, &close_payload(1000)));
        peer.write_all(&sent).await.expect("write");

        assert_eq!(
            next(&mut open).await.ok(),
            Some(Frame::Text(Str::from("0{}")))
        );
        for i in 0..400 {
            let expected = Frame::Text(Str::from(format!("4event {i}")));
            assert_eq!(next(&mut open).await.ok(), Some(expected));
        }
        assert_eq!(
            next(&mut open).await.ok(),
            Some(Frame::Binary(bytes::Bytes::from_static(&[1, 2, 3])))
        );
        assert!(matches!(next(&mut open).await, Err(End::Closed)));
        assert_eq!((open.inbox.capacity(), open.decoder.buffered()), (0, 0));
        // Our frames: the pong, then the close answered with the server's code.
        let answers = client_frames(&mut peer, 2).await;
        assert_eq!(
            answers,
            vec![
                WsMessage::Pong(bytes::Bytes::from_static(b"beat")),
                WsMessage::Close(Some(1000)),
            ]
        );
        assert!(open.close_sent && open.out.is_empty() && open.out.capacity() == 0);
    }

    /// Pings that arrive while our pong is still unsent get one pong, for the latest ping;
    /// a pong behind another frame of ours is kept.
    #[tokio::test]
    async fn unsent_pongs_are_replaced_by_the_latest() {
        let (mut open, mut peer) = pair(&[], 1000).await;
        let mut pings = Vec::new();
        for i in 0..1000 {
            pings.extend(frame(true, Opcode::Ping, format!("{i}").as_bytes()));
        }
        open.received(&pings);
        assert_eq!(open.out.len(), 1);
        open.queue(Opcode::Text, b"40");
        open.received(&frame(true, Opcode::Ping, b"last"));
        assert_eq!(open.out.len(), 3);
        assert!(open.flush_all().await, "write");
        assert_eq!(
            client_frames(&mut peer, 3).await,
            vec![
                WsMessage::Pong(bytes::Bytes::from_static(b"999")),
                WsMessage::Text(Str::from("40")),
                WsMessage::Pong(bytes::Bytes::from_static(b"last")),
            ]
        );
    }

    /// Frames sent by the client are masked, and written in order.
    #[tokio::test]
    async fn sent_frames_are_masked() {
        let (mut open, mut peer) = pair(&[], 1000).await;
        open.queue(Opcode::Text, b"40");
        open.queue(Opcode::Binary, &[0; 70_000]);
        assert!(open.flush_all().await, "write");
        assert_eq!(open.blocked_since, None);
        let frames = client_frames(&mut peer, 2).await;
        assert_eq!(
            frames,
            vec![
                WsMessage::Text(Str::from("40")),
                WsMessage::Binary(bytes::Bytes::from(vec![0; 70_000])),
            ]
        );
    }

    /// A frame over the limit fails at its header (the payload never comes), with the sizes
    /// in the error, and is answered by a close frame with code 1009; a raised limit applies
    /// to the next frame.
    #[tokio::test]
    async fn a_long_frame_fails_at_its_header() {
        let (mut open, mut peer) = pair(&[], 10).await;
        open.decoder.set_max_message_size(100);
        peer.write_all(&frame(true, Opcode::Text, &[b'a'; 100]))
            .await
            .expect("write");
        assert!(next(&mut open).await.is_ok());
        let header = FrameHeader::new(Opcode::Binary, false, 8 << 20);
        peer.write_all(header.as_bytes()).await.expect("write");
        let Err(End::Refused(error)) = next(&mut open).await else {
            panic!("not refused");
        };
        let mut text = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(e) = cause {
            text.push_str(&format!(": {e}"));
            cause = e.source();
        }
        assert_eq!(
            text,
            "websocket error: websocket message too big: message of 8388608 bytes, over the limit of 100"
        );
        assert_eq!(open.decoder.buffered(), 0);
        assert!(open.flush_all().await, "write");
        assert_eq!(
            client_frames(&mut peer, 1).await,
            vec![WsMessage::Close(Some(1009))]
        );
    }

    /// The end of the stream without a close frame is an error; a masked frame from the
    /// server is refused with a close frame with code 1002, text that is not UTF-8 with 1007.
    #[tokio::test]
    async fn end_of_stream_and_masked_frames_are_errors() {
        let (mut open, peer) = pair(&[], 100).await;
        drop(peer);
        let Err(End::Error(error)) = next(&mut open).await else {
            panic!("no error");
        };
        assert_eq!(error.to_string(), "websocket error");
        assert!(!open.close_sent);
        let (mut open, mut peer) = pair(&[], 100).await;
        peer.write_all(&masked_frame(Opcode::Text, b"4x", [1, 2, 3, 4]))
            .await
            .expect("write");
        let Err(End::Refused(error)) = next(&mut open).await else {
            panic!("no error");
        };
        let cause = std::error::Error::source(&error).expect("cause");
        assert_eq!(
            cause.to_string(),
            "websocket protocol error: MASK must be clear"
        );
        assert!(open.flush_all().await, "write");
        assert_eq!(
            client_frames(&mut peer, 1).await,
            vec![WsMessage::Close(Some(1002))]
        );
        let (mut open, mut peer) = pair(&[], 100).await;
        peer.write_all(&frame(true, Opcode::Text, &[b'4', 0xff]))
            .await
            .expect("write");
        assert!(matches!(next(&mut open).await, Err(End::Refused(_))));
        assert!(open.flush_all().await, "write");
        assert_eq!(
            client_frames(&mut peer, 1).await,
            vec![WsMessage::Close(Some(1007))]
        );
    }

    /// Through the connection's own polling: a refused frame ends the WebSocket at once (the
    /// error goes to the engine), the frames still queued then our close frame with the code
    /// are written on, and our side of the stream ends without waiting for the server.
    #[tokio::test]
    async fn a_refused_frame_is_reported_and_answered_with_its_code() {
        let (open, mut peer) = pair(&[], 100).await;
        let mut conn = WsConn {
            state: State::Open(open),
            limit: 100,
        };
        assert!(conn.send(Frame::Text(Str::from("42[\"a\"]"))));
        peer.write_all(FrameHeader::new(Opcode::Text, false, 101).as_bytes())
            .await
            .expect("write");
        let Io::WsClosed(Some(error)) = poll_fn(|cx| conn.poll(cx)).await else {
            panic!("not closed with an error");
        };
        assert!(error.to_string().starts_with("websocket error"));
        assert!(matches!(conn.state, State::Done));
        assert_eq!(
            client_frames(&mut peer, 2).await,
            vec![
                WsMessage::Text(Str::from("42[\"a\"]")),
                WsMessage::Close(Some(1009)),
            ]
        );
        let mut rest = [0u8; 16];
        let end = tokio::time::timeout(Duration::from_secs(5), peer.read(&mut rest)).await;
        assert_eq!(end.expect("our side ends").expect("read"), 0);
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
