//! The client against hostile servers, scripted here on raw TCP: long-polling answers that are
//! empty, malformed, endless, stalled or declared too large, and WebSocket frames that are too
//! long or a message that never ends. Each one must end the connection attempt (a
//! `connect_error`) or the connection (a `"transport error"` disconnection, then a
//! reconnection) quickly, with what the client read bounded by the server's `maxPayload` (or
//! `Options::DEFAULT_MAX_PAYLOAD` before the handshake).
//!
//! Real time: tokio's paused clock jumps to the next timer whenever the runtime looks idle,
//! which it does for an instant while a loopback TCP connection is being set up, so a
//! paused-time run would see a connection timeout or a heartbeat expire that never happened.
//! The bounds on time are loose ([`QUICK`]) but far below what a client without the fixes
//! takes (the 20 s connection timeout, or a heartbeat of a minute).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use sio_client::{DisconnectReason, Manager, ManagerEvent, Options, Socket, TransportKind};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// The longest any step may take.
const WAIT: Duration = Duration::from_secs(20);

/// "At once": a loopback exchange or two, on a loaded machine.
const QUICK: Duration = Duration::from_secs(2);

/// The server's send buffer (the kernel doubles it); the client's receive buffer is the
/// kernel's to size.
const SEND_BUFFER: u32 = 16 * 1024;

/// What the kernel's socket buffers may hold between the two ends on loopback, on top of what
/// the client read: written by the server before the client gave up, never read by anyone.
const SOCKET_MARGIN: u64 = 2 * 1024 * 1024;

/// How much an endless body or message writes at most: far more than any bound here, so that
/// a client without one shows it, and the test still ends.
const ENDLESS_CAP: u64 = 256 * 1024 * 1024;

/// An open packet with `maxPayload` and a heartbeat of `ping` ms (interval and timeout).
fn open_packet(max_payload: u64, ping: u64) -> String {
    format!(
        r#"0{{"sid":"abcdefghijklmnopqrst","upgrades":[],"pingInterval":{ping},"pingTimeout":{ping},"maxPayload":{max_payload}}}"#
    )
}

/// A listener on a free loopback port, with a small send buffer for the connections it
/// accepts.
fn listener() -> TcpListener {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(SEND_BUFFER).expect("SO_SNDBUF");
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    socket.listen(16).expect("listen")
}

fn url(listener: &TcpListener) -> String {
    format!("http://{}", listener.local_addr().unwrap())
}

// ----------------------------------------------------------------------------------------------
// A scripted HTTP/1.1 server
// ----------------------------------------------------------------------------------------------

/// A request as the server read it.
struct Request {
    method: String,
    /// The path and query.
    target: String,
    body: Vec<u8>,
}

impl Request {
    /// A GET without `sid`: the handshake.
    fn is_handshake(&self) -> bool {
        self.method == "GET" && !self.target.contains("sid=")
    }

    fn is_poll(&self) -> bool {
        self.method == "GET" && self.target.contains("sid=")
    }
}

/// How the server answers a request.
enum Reply {
    /// `200` with this body (`Content-Length`).
    Body(Vec<u8>),
    /// `200`, chunked, a body that never ends, this pattern over and over: written until the
    /// client stops reading.
    Endless(&'static [u8]),
    /// `200` with these extra headers and this start of a body, then nothing more (the
    /// connection stays open until the client closes it).
    Stall {
        headers: &'static str,
        body: &'static str,
    },
}

/// What the server saw of a connection it kept writing to or stalled.
#[derive(Debug)]
struct Gone {
    /// The body bytes written before the client went away.
    written: u64,
    /// The client never went away: the server stopped at [`ENDLESS_CAP`].
    capped: bool,
    /// When the client went away.
    at: Instant,
}

/// Serves every connection of `listener` with `answer`; reports each endless or stalled
/// answer's end.
fn serve(
    listener: TcpListener,
    answer: impl Fn(&Request) -> Reply + Send + Sync + 'static,
) -> UnboundedReceiver<Gone> {
    let (tx, rx) = unbounded_channel();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (answer, tx) = (Arc::clone(&answer), tx.clone());
            tokio::spawn(connection(stream, answer, tx));
        }
    });
    rx
}

async fn connection(
    mut stream: TcpStream,
    answer: Arc<impl Fn(&Request) -> Reply>,
    gone: UnboundedSender<Gone>,
) {
    let mut buf = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buf).await {
        match answer(&request) {
            Reply::Body(body) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(&body).await.is_err()
                {
                    return;
                }
            }
            Reply::Endless(pattern) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n";
                let data = pattern.repeat(0x4000 / pattern.len());
                let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
                chunk.extend_from_slice(&data);
                chunk.extend_from_slice(b"\r\n");
                let mut written = 0u64;
                let ok = stream.write_all(head.as_bytes()).await.is_ok();
                while ok && written < ENDLESS_CAP && stream.write_all(&chunk).await.is_ok() {
                    written += data.len() as u64;
                }
                let capped = written >= ENDLESS_CAP;
                let _ = gone.send(Gone {
                    written,
                    capped,
                    at: Instant::now(),
                });
                return;
            }
            Reply::Stall { headers, body } => {
                let head = format!("HTTP/1.1 200 OK\r\n{headers}\r\n{body}");
                let _ = stream.write_all(head.as_bytes()).await;
                // Until the client closes the connection.
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                let _ = gone.send(Gone {
                    written: body.len() as u64,
                    capped: false,
                    at: Instant::now(),
                });
                return;
            }
        }
    }
}

/// Reads one request (head and `Content-Length` body); `None` when the client is gone.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut more = [0u8; 4096];
        let n = stream.read(&mut more).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&more[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next()?.to_owned();
    let target = words.next()?.to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut more = [0u8; 4096];
        let n = stream.read(&mut more).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&more[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Some(Request {
        method,
        target,
        body,
    })
}

/// A polling server with a working handshake (`open`), whose POSTs are answered `ok`, whose
/// first poll of each session brings the CONNECT reply of `/`, and whose later polls get
/// `later`.
fn session_server(
    listener: TcpListener,
    open: String,
    later: impl Fn() -> Reply + Send + Sync + 'static,
) -> UnboundedReceiver<Gone> {
    let polls = AtomicUsize::new(0);
    serve(listener, move |request| {
        if request.is_handshake() {
            polls.store(0, Ordering::SeqCst);
            Reply::Body(open.clone().into_bytes())
        } else if request.is_poll() {
            match polls.fetch_add(1, Ordering::SeqCst) {
                0 => Reply::Body(br#"40{"sid":"socket-id"}"#.to_vec()),
                _ => later(),
            }
        } else {
            assert_eq!(request.method, "POST");
            assert!(!request.body.is_empty());
            Reply::Body(b"ok".to_vec())
        }
    })
}

// ----------------------------------------------------------------------------------------------
// The client
// ----------------------------------------------------------------------------------------------

/// An error and its causes, as `"error: cause: cause of the cause"`.
fn chain(error: &sio_client::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        text.push_str(&format!(": {e}"));
        cause = e.source();
    }
    text
}

/// What the client reported, in order.
#[derive(Debug, Clone)]
enum Seen {
    Connect,
    ConnectError(String),
    Disconnect(DisconnectReason),
    Manager(ManagerEvent),
    /// An event `big` with the length of its string argument.
    Big(usize),
}

struct Client {
    _manager: Manager,
    socket: Socket,
    seen: UnboundedReceiver<Seen>,
    /// What was seen while looking for something else.
    log: Vec<Seen>,
}

/// A client of `url` whose socket `/` connects at once; reconnection after 10 ms, without
/// jitter.
fn client(url: &str, options: Options) -> Client {
    let options = options
        .reconnection_delay(Duration::from_millis(10))
        .reconnection_delay_max(Duration::from_millis(10))
        .randomization_factor(0.0);
    let manager = Manager::new(url, options).unwrap();
    let (tx, seen) = unbounded_channel();
    let sink = tx.clone();
    manager.on(move |e| {
        let _ = sink.send(Seen::Manager(e.clone()));
    });
    let socket = manager.socket("/");
    let sink = tx.clone();
    socket.on_connect(move || {
        let _ = sink.send(Seen::Connect);
    });
    let sink = tx.clone();
    socket.on_connect_error(move |e| {
        let _ = sink.send(Seen::ConnectError(chain(&e)));
    });
    let sink = tx.clone();
    socket.on_disconnect(move |r| {
        let _ = sink.send(Seen::Disconnect(r));
    });
    socket.on("big", move |msg: sio_client::Message| {
        let (text,): (String,) = msg.deserialize().unwrap();
        let _ = tx.send(Seen::Big(text.len()));
    });
    socket.connect();
    Client {
        _manager: manager,
        socket,
        seen,
        log: Vec::new(),
    }
}

impl Client {
    /// The first report that `pick` takes, within [`WAIT`].
    async fn expect<T>(&mut self, what: &str, pick: impl Fn(&Seen) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.seen.recv()).await {
                Ok(Some(seen)) => {
                    if let Some(found) = pick(&seen) {
                        return found;
                    }
                    self.log.push(seen);
                }
                _ => {
                    let last = &self.log[self.log.len().saturating_sub(12)..];
                    panic!("{what}: not within {WAIT:?}; the last seen: {last:?}")
                }
            }
        }
    }

    async fn connect_error(&mut self) -> String {
        self.expect("connect_error", |s| match s {
            Seen::ConnectError(message) => Some(message.clone()),
            _ => None,
        })
        .await
    }

    async fn connected(&mut self) {
        self.expect("connect", |s| matches!(s, Seen::Connect).then_some(()))
            .await;
    }

    async fn disconnected(&mut self) -> DisconnectReason {
        self.expect("disconnect", |s| match s {
            Seen::Disconnect(reason) => Some(*reason),
            _ => None,
        })
        .await
    }

    /// The manager's `error` (for an open connection: the transport's failure).
    async fn manager_error(&mut self) -> String {
        self.expect("manager error", |s| match s {
            Seen::Manager(ManagerEvent::Error(e)) => Some(chain(e)),
            _ => None,
        })
        .await
    }
}

async fn gone(rx: &mut UnboundedReceiver<Gone>) -> Gone {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(gone)) => gone,
        _ => panic!("the client never closed the connection"),
    }
}

fn polling() -> Options {
    Options::default().transports([TransportKind::Polling])
}

// ----------------------------------------------------------------------------------------------
// Empty and malformed polling bodies
// ----------------------------------------------------------------------------------------------

/// engine.io-parser decodes an empty body as its `error` packet: socket.io-client reports
/// `connect_error` ("server error") at once and retries.
#[tokio::test]
async fn empty_handshake_body_is_a_quick_connect_error() {
    let listener = listener();
    let mut c = client(&url(&listener), polling());
    let start = Instant::now();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&handshakes);
    let _server = serve(listener, move |request| {
        assert!(request.is_handshake(), "{}", request.target);
        counted.fetch_add(1, Ordering::SeqCst);
        Reply::Body(Vec::new())
    });
    let message = c.connect_error().await;
    assert!(message.starts_with("server error"), "{message}");
    // Not the 20 s of the connection timeout: no timer at all is involved.
    assert!(start.elapsed() < QUICK, "{:?}", start.elapsed());
    // The manager keeps retrying with its backoff, each attempt failing the same way.
    for attempt in 1..=2 {
        c.expect("reconnect_attempt", |s| {
            matches!(s, Seen::Manager(ManagerEvent::ReconnectAttempt(n)) if *n == attempt)
                .then_some(())
        })
        .await;
        assert!(c.connect_error().await.starts_with("server error"));
    }
    assert!(handshakes.load(Ordering::SeqCst) >= 3);
    assert!(!c.socket.connected());
}

#[tokio::test]
async fn malformed_handshake_bodies_are_connect_errors() {
    for body in [
        &b"hello"[..],
        b"0{not json",
        b"\x1e\x1e",
        b"0\xff\xfe",
        br#"0{"sid":"x"}"#,
    ] {
        let listener = listener();
        let mut c = client(&url(&listener), polling().reconnection(false));
        let start = Instant::now();
        let _server = serve(listener, move |_| Reply::Body(body.to_vec()));
        let message = c.connect_error().await;
        assert!(
            message.starts_with("server error"),
            "{:?}: {message}",
            String::from_utf8_lossy(body)
        );
        assert!(start.elapsed() < QUICK);
    }
}

/// An open session whose long poll comes back empty: `"transport error"`, then a
/// reconnection that connects again.
#[tokio::test]
async fn empty_poll_is_a_transport_error_then_a_reconnection() {
    let listener = listener();
    let mut c = client(&url(&listener), polling());
    let _server = session_server(listener, open_packet(1_000_000, 60_000), || {
        Reply::Body(Vec::new())
    });
    c.connected().await;
    let start = Instant::now();
    assert!(c.manager_error().await.starts_with("server error"));
    assert_eq!(c.disconnected().await, DisconnectReason::TransportError);
    // Well before the heartbeat (60 s) could have noticed anything.
    assert!(start.elapsed() < QUICK);
    c.expect("reconnect_attempt", |s| {
        matches!(s, Seen::Manager(ManagerEvent::ReconnectAttempt(1))).then_some(())
    })
    .await;
    c.connected().await;
}

// ----------------------------------------------------------------------------------------------
// Endless, stalled and oversized polling bodies
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn endless_handshake_body_stops_at_the_default_bound() {
    let listener = listener();
    let mut c = client(&url(&listener), polling().reconnection(false));
    let mut ends = serve(listener, |_| Reply::Endless(b"x"));
    let message = c.connect_error().await;
    assert_eq!(
        message,
        format!(
            "xhr poll error: packet over {} bytes",
            Options::DEFAULT_MAX_PAYLOAD
        )
    );
    let end = gone(&mut ends).await;
    assert!(!end.capped, "{end:?}");
    let bound = 2 * Options::DEFAULT_MAX_PAYLOAD as u64 + SOCKET_MARGIN;
    assert!(end.written < bound, "{} bytes written", end.written);
}

#[tokio::test]
async fn endless_poll_body_stops_at_the_servers_max_payload() {
    const MAX_PAYLOAD: u64 = 100_000;
    let listener = listener();
    let mut c = client(&url(&listener), polling());
    let mut ends = session_server(listener, open_packet(MAX_PAYLOAD, 60_000), || {
        Reply::Endless(b"x")
    });
    c.connected().await;
    assert_eq!(
        c.manager_error().await,
        format!("xhr poll error: packet over {MAX_PAYLOAD} bytes")
    );
    assert_eq!(c.disconnected().await, DisconnectReason::TransportError);
    let end = gone(&mut ends).await;
    assert!(!end.capped, "{end:?}");
    assert!(
        end.written < 2 * MAX_PAYLOAD + SOCKET_MARGIN,
        "{} bytes written",
        end.written
    );
    // And the client goes on: it reconnects.
    c.connected().await;
}

/// `Options::max_payload` overrides the server's announcement.
#[tokio::test]
async fn max_payload_option_bounds_the_handshake_too() {
    let listener = listener();
    let options = polling().reconnection(false).max_payload(Some(10_000));
    let mut c = client(&url(&listener), options);
    let mut ends = serve(listener, |_| Reply::Endless(b"x"));
    assert_eq!(
        c.connect_error().await,
        "xhr poll error: packet over 10000 bytes"
    );
    assert!(!gone(&mut ends).await.capped);
}

/// A long poll whose body never ends, made of valid packets (noops, and pings that keep the
/// heartbeat alive): nothing piles up, and the poll fails once it has taken pingInterval +
/// pingTimeout + 2 s.
#[tokio::test]
async fn endless_poll_of_valid_packets_ends_at_the_poll_deadline() {
    let listener = listener();
    let mut c = client(&url(&listener), polling().reconnection(false));
    let mut ends = session_server(listener, open_packet(1_000_000, 200), || {
        Reply::Endless(b"6\x1e6\x1e6\x1e2\x1e")
    });
    c.connected().await;
    let start = Instant::now();
    let error = c.manager_error().await;
    assert_eq!(error, "xhr poll error: no complete response within 2.4s");
    assert_eq!(c.disconnected().await, DisconnectReason::TransportError);
    let end = gone(&mut ends).await;
    assert!(!end.capped, "{end:?}");
    let after = end.at - start;
    assert!(
        after >= Duration::from_millis(2400) && after < Duration::from_millis(2400) + QUICK,
        "{after:?}"
    );
}

/// A handshake answer that sends its headers and a start of body, then stalls: the connection
/// `timeout` ends it, and the request is dropped.
#[tokio::test]
async fn stalled_handshake_body_is_a_timeout() {
    let listener = listener();
    let options = polling()
        .reconnection(false)
        .timeout(Some(Duration::from_millis(500)));
    let mut c = client(&url(&listener), options);
    let start = Instant::now();
    let mut ends = serve(listener, |_| Reply::Stall {
        headers: "Content-Length: 100\r\n",
        body: "0{\"sid\":",
    });
    assert_eq!(c.connect_error().await, "timeout");
    let end = gone(&mut ends).await;
    let after = end.at - start;
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_millis(500) + QUICK,
        "{after:?}"
    );
}

/// A long poll that stalls mid-body: the connection ends within pingInterval + pingTimeout
/// (+ slack) and the request is dropped.
#[tokio::test]
async fn stalled_poll_ends_within_the_heartbeat() {
    let listener = listener();
    let mut c = client(&url(&listener), polling().reconnection(false));
    let mut ends = session_server(listener, open_packet(1_000_000, 1_000), || Reply::Stall {
        headers: "Transfer-Encoding: chunked\r\n",
        body: "1\r\n4\r\n",
    });
    c.connected().await;
    let start = Instant::now();
    let reason = c.disconnected().await;
    assert!(
        matches!(
            reason,
            DisconnectReason::PingTimeout | DisconnectReason::TransportError
        ),
        "{reason:?}"
    );
    let end = gone(&mut ends).await;
    // pingInterval + pingTimeout = 2 s, and 5 s of slack for the poll's own bound.
    assert!(
        end.at - start <= Duration::from_secs(7),
        "{:?}",
        end.at - start
    );
}

/// The bound is per packet, not per body: a server batches everything it has queued into one
/// answer (the Node server does), which may be far larger than its `maxPayload`.
#[tokio::test]
async fn poll_bodies_over_max_payload_made_of_smaller_packets_are_read() {
    const MAX_PAYLOAD: usize = 100_000;
    let listener = listener();
    let mut c = client(&url(&listener), polling());
    let _server = session_server(listener, open_packet(MAX_PAYLOAD as u64, 60_000), || {
        let packet = format!(r#"42["big","{}"]"#, "w".repeat(MAX_PAYLOAD - 20));
        Reply::Body(vec![packet.as_str(); 30].join("\x1e").into_bytes())
    });
    c.connected().await;
    for _ in 0..30 {
        let len = c
            .expect("big", |s| match s {
                Seen::Big(len) => Some(*len),
                _ => None,
            })
            .await;
        assert_eq!(len, MAX_PAYLOAD - 20);
    }
}

/// Large packets within the server's `maxPayload` are fine, over the pre-handshake bound too.
#[tokio::test]
async fn poll_bodies_up_to_the_servers_max_payload_are_read() {
    const BIG: usize = 2_000_000;
    let listener = listener();
    let mut c = client(&url(&listener), polling());
    let _server = session_server(listener, open_packet(3_000_000, 60_000), || {
        let mut body = br#"42["big",""#.to_vec();
        body.resize(body.len() + BIG, b'y');
        body.extend_from_slice(br#""]"#);
        Reply::Body(body)
    });
    c.connected().await;
    let len = c
        .expect("big", |s| match s {
            Seen::Big(len) => Some(*len),
            _ => None,
        })
        .await;
    assert_eq!(len, BIG);
}

// ----------------------------------------------------------------------------------------------
// WebSocket
// ----------------------------------------------------------------------------------------------

/// Accepts one WebSocket (the handshake by tungstenite, what follows written raw).
async fn accept_ws(listener: &TcpListener) -> WebSocketStream<TcpStream> {
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("a connection")
        .expect("accept");
    tokio_tungstenite::accept_async(tcp)
        .await
        .expect("handshake")
}

/// Accepts one WebSocket, opens the session and answers the CONNECT of `/`.
async fn accept_session(listener: &TcpListener, open: &str) -> WebSocketStream<TcpStream> {
    let mut ws = accept_ws(listener).await;
    ws.send(Message::text(open)).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.as_str() == "40" => break,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no CONNECT: {other:?}"),
        }
    }
    ws.send(Message::text(r#"40{"sid":"socket-id"}"#))
        .await
        .unwrap();
    ws
}

/// A server frame header (unmasked).
fn frame_header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode, 127];
    out.extend_from_slice(&len.to_be_bytes());
    out
}

/// Writes raw bytes until the client goes away (or [`ENDLESS_CAP`]); the bytes written.
async fn write_until_gone(tcp: &mut TcpStream, mut next: impl FnMut() -> Vec<u8>) -> (u64, bool) {
    let mut written = 0u64;
    while written < ENDLESS_CAP {
        let bytes = next();
        if tcp.write_all(&bytes).await.is_err() {
            return (written, false);
        }
        written += bytes.len() as u64;
    }
    (written, true)
}

fn websocket() -> Options {
    Options::default().transports([TransportKind::WebSocket])
}

/// A message that never ends (continuation frames forever) goes over `maxPayload`: the
/// WebSocket is closed, having taken at most about that much.
#[tokio::test]
async fn endless_fragmented_message_is_cut_at_max_payload() {
    const MAX_PAYLOAD: u64 = 100_000;
    let listener = listener();
    let mut c = client(&url(&listener), websocket());
    let mut ws = accept_session(&listener, &open_packet(MAX_PAYLOAD, 60_000)).await;
    c.connected().await;
    let mut first = true;
    let (written, capped) = write_until_gone(ws.get_mut(), || {
        let opcode = if std::mem::take(&mut first) { 1 } else { 0 };
        let mut frame = frame_header(false, opcode, 10_000);
        frame.resize(frame.len() + 10_000, b'x');
        frame
    })
    .await;
    assert!(!capped);
    assert!(
        written < 2 * MAX_PAYLOAD + SOCKET_MARGIN,
        "{written} bytes written"
    );
    let error = c.manager_error().await;
    assert!(
        error.starts_with("websocket error") && error.contains("over the limit of 100000"),
        "{error}"
    );
    assert_eq!(c.disconnected().await, DisconnectReason::TransportError);
}

/// A frame that declares a huge length, before the handshake: refused at its header (nothing
/// reserved for it), a `connect_error`.
#[tokio::test]
async fn huge_frame_header_is_refused_at_once() {
    let listener = listener();
    let mut c = client(&url(&listener), websocket().reconnection(false));
    let mut ws = accept_ws(&listener).await;
    // 8 MiB: under tungstenite's own frame limit, over the pre-handshake bound.
    let tcp = ws.get_mut();
    tcp.write_all(&frame_header(true, 1, 8 << 20))
        .await
        .unwrap();
    let message = c.connect_error().await;
    assert!(
        message.starts_with("websocket error")
            && message.contains(&format!(
                "message of {} bytes, over the limit of {}",
                8 << 20,
                Options::DEFAULT_MAX_PAYLOAD
            )),
        "{message}"
    );
    // The client closed the connection.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection stayed open");
}

/// A WebSocket-only connection learns `maxPayload` from the open packet, after its WebSocket
/// was made: a message over the pre-handshake bound but within it arrives.
#[tokio::test]
async fn websocket_messages_up_to_the_servers_max_payload_arrive() {
    const BIG: usize = 2_000_000;
    let listener = listener();
    let mut c = client(&url(&listener), websocket());
    let mut ws = accept_session(&listener, &open_packet(3_000_000, 60_000)).await;
    c.connected().await;
    let text = format!(r#"42["big","{}"]"#, "z".repeat(BIG));
    ws.send(Message::text(text)).await.unwrap();
    let len = c
        .expect("big", |s| match s {
            Seen::Big(len) => Some(*len),
            _ => None,
        })
        .await;
    assert_eq!(len, BIG);
}
