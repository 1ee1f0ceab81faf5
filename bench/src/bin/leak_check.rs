//! Leak check: many short Socket.IO connections against one server process, whose resident
//! memory must not grow with their number (`scripts/leak-check.sh` runs it).
//!
//! ```text
//! leak_check [--cycles 100000] [--first 1000] [--checkpoints 4] [--concurrency 48]
//!            [--max-growth 0.10] [--threads 1] [--src 127.3.0.1] [--per-src 5000]
//!            [--only KIND] [--inject-leak BYTES]
//! leak_check server [--threads 1] [--inject-leak BYTES]   (started by the check itself)
//! ```
//!
//! The check starts `leak_check server` as a child process: a `SocketIo` with default options
//! except shorter timers (ping every 2 s, 5 s to answer, 3 s to join a namespace, so that
//! abandoned sessions end within seconds) and an `echo` handler that acknowledges its
//! arguments, on a tokio runtime with `--threads` workers (1, the default: a current-thread
//! runtime, like `bench_server`; with 2 workers the RSS after 100,000 cycles measured 5-9 %
//! above the RSS after 1,000 with the same live heap, freed memory that glibc's allocator
//! keeps (with `MALLOC_ARENA_MAX=1` too), too close to the limit for a stable check; 2-4 %
//! with one thread). It answers `stats` on its stdin with its open Engine.IO sessions, its
//! connected Socket.IO sockets and its live heap (bytes and blocks, counted by a global
//! allocator that wraps the system's). The check reads its RSS (`VmRSS`) and its open file
//! descriptors in `/proc/PID`.
//!
//! Then `--concurrency` tasks run `--cycles` cycles with raw Engine.IO v4 / Socket.IO v5
//! frames: each one connects, emits `echo` with an ack id, checks the ack, and disconnects.
//! Half the cycles start on WebSocket and half on HTTP long-polling; of every 100 cycles:
//!
//! | cycles | transport | how it ends |
//! |---|---|---|
//! | 30 | WebSocket | `41`, close frame |
//! | 10 | WebSocket | TCP closed after the ack (no close frame) |
//! | 5 | WebSocket | Engine.IO close packet `1` |
//! | 4 | WebSocket, binary attachment | `41`, close frame |
//! | 1 | WebSocket, never joins a namespace | close frame after the open packet |
//! | 20 | polling | POST `41` + `1` |
//! | 5 | polling, binary attachment (base64) | POST `41` + `1` |
//! | 10 | polling | TCP closed while a GET waits at the server (for 10 ms) |
//! | 15 | polling, upgraded to WebSocket (probe while a GET is pending) | `41`, close frame |
//!
//! and, instead, once in 10,000 cycles each: a polling client vanishes after its handshake
//! (the session ends at the connect timeout), after leaving the namespace (at the ping
//! timeout), or right after sending a GET (at the ping timeout too, see `PollGetAndClose`);
//! once in 2,000 cycles each: a WebSocket and a polling client wait for a ping and answer it
//! before their emit. Each kind occurs in the first 1,000 cycles too. The sessions of the first
//! three outlive their cycle by seconds: they are rare so that the sessions open at once stay
//! those of the cycles in flight, which the first 1,000 cycles already reach. (Were they
//! frequent, a few dozen more sessions would be open at once in the later cycles than in the
//! first ones, and the allocator's high-water mark, which RSS keeps, would rise after the
//! first 1,000 cycles without any leak.) `--only KIND` runs one kind of cycle only (the names
//! in the summary line).
//!
//! Checkpoints: after the first `--first` cycles, then at `--checkpoints` evenly spaced points
//! up to `--cycles`, the check waits for the cycles in flight, then until the server has no
//! session, no socket and no more file descriptors than before the first cycle (at most 30 s),
//! and reads its RSS and heap. It passes when no cycle failed, the server drained at every
//! checkpoint, the RSS at the end is at most `--max-growth` above the RSS after the first
//! cycles, and the live heap blocks at the end are at most one per 100 cycles more than after
//! the first cycles (a leak of whole allocations, counted exactly, whatever the allocator
//! keeps of freed memory). It prints one line per checkpoint (with the peaks sampled every 100 ms while the
//! cycles ran) and a summary line ending in PASS or FAIL; exit status 0 when it passes, 1 when
//! not, 2 on a usage or setup error. `--inject-leak BYTES` makes the server leak that many
//! bytes per Socket.IO connection, to see the check fail.
//!
//! Every TCP connection binds its source address to `--src` + (its number / `--per-src`):
//! the TIME_WAIT sockets of 100,000 short connections would exhaust the ephemeral ports of one
//! source address. `scripts/leak-check.sh` runs this in a network namespace of its own.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sio_server::protocol::socket::Args;
use sio_server::{EngineConfig, SocketIo, SocketIoConfig};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

type Ws = WebSocketStream<TcpStream>;
type Res<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The server's timers (short, so that abandoned sessions end quickly).
const PING_INTERVAL: Duration = Duration::from_secs(2);
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest one cycle may take.
const CYCLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest the server may take to close everything after the last cycle.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The binary attachment of the binary variants, and its base64 form (polling).
const BLOB: [u8; 4] = [1, 2, 3, 4];
const BLOB_B64: &str = "AQIDBA==";

// ---------------------------------------------------------------------------------------------
// Options

struct Opts(HashMap<String, String>);

impl Opts {
    /// `--key value` pairs, each key one of `known`.
    fn parse(args: &[String], known: &[&str]) -> Opts {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(k) = it.next() {
            match k.strip_prefix("--") {
                Some(k) if known.contains(&k) => {
                    map.insert(k.to_owned(), it.next().cloned().unwrap_or_default());
                }
                _ => {
                    eprintln!("leak_check: unknown argument {k}");
                    usage()
                }
            }
        }
        Opts(map)
    }

    fn get<T: FromStr>(&self, key: &str, default: T) -> T {
        match self.0.get(key) {
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("leak_check: bad value for --{key}: {v}");
                std::process::exit(2)
            }),
            None => default,
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: leak_check [--cycles N] [--first N] [--checkpoints K] [--concurrency C] \
         [--max-growth F] [--threads T] [--src IP] [--per-src N] [--only KIND] \
         [--inject-leak B]\n       \
         leak_check server [--threads T] [--inject-leak B]\n(see the doc comment of bench/src/bin/leak_check.rs)"
    );
    std::process::exit(2)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("server") {
        let o = Opts::parse(&args[1..], &["threads", "inject-leak"]);
        server(o.get("threads", 1usize), o.get("inject-leak", 0usize))
    } else {
        let o = Opts::parse(
            &args,
            &[
                "cycles",
                "first",
                "checkpoints",
                "concurrency",
                "max-growth",
                "threads",
                "src",
                "per-src",
                "only",
                "inject-leak",
            ],
        );
        check(&o)
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("leak_check: {e}");
            std::process::exit(2)
        }
    }
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test

fn server(threads: usize, inject_leak: usize) -> Res<bool> {
    runtime(threads).map_err(err)?.block_on(async {
        let engine = EngineConfig::default()
            .path("/socket.io/")
            .ping_interval(PING_INTERVAL)
            .ping_timeout(PING_TIMEOUT);
        let io = SocketIo::new(
            SocketIoConfig::default()
                .engine(engine)
                .connect_timeout(CONNECT_TIMEOUT),
        );
        io.of("/").on_connection(move |socket| async move {
            if inject_leak > 0 {
                // The check's own test: memory that is never freed, per connection
                // (`black_box`: the compiler may not drop an allocation nothing reads).
                std::hint::black_box(Box::leak(vec![1u8; inject_leak].into_boxed_slice()));
            }
            socket.on_args("echo", |_socket, args: Args, ack| async move {
                let _ = ack.send_args(args);
            });
        });
        let listener = sio_bench::listener(0).map_err(err)?;
        println!("PORT {}", listener.local_addr().map_err(err)?.port());
        let serve = io.serve(listener);
        tokio::spawn(async move {
            let _ = serve.await;
        });
        // Commands on stdin, until it closes.
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim() == "stats" {
                let heap = INSTRUMENTED_SYSTEM.stats();
                println!(
                    "{}",
                    json!({
                        "sessions": io.engine().session_count(),
                        "sockets": io.of("/").sockets().len(),
                        "heap_bytes": heap.bytes_allocated.saturating_sub(heap.bytes_deallocated),
                        "heap_blocks": heap.allocations.saturating_sub(heap.deallocations),
                    })
                );
            }
        }
        Ok(true)
    })
}

// ---------------------------------------------------------------------------------------------
// Connections

struct Target {
    addr: SocketAddr,
    authority: String,
    src: Ipv4Addr,
    per_src: usize,
    /// TCP connections opened so far (their source addresses rotate).
    conns: AtomicUsize,
}

impl Target {
    async fn tcp(&self) -> Res<TcpStream> {
        let n = self.conns.fetch_add(1, Ordering::Relaxed);
        let step = u32::try_from(n / self.per_src).unwrap_or(0);
        let src = Ipv4Addr::from(u32::from(self.src).wrapping_add(step));
        let socket = TcpSocket::new_v4().map_err(err)?;
        socket
            .bind(SocketAddr::new(src.into(), 0))
            .map_err(|e| format!("bind {src}: {e}"))?;
        let stream = socket
            .connect(self.addr)
            .await
            .map_err(|e| format!("connect from {src}: {e}"))?;
        stream.set_nodelay(true).map_err(err)?;
        Ok(stream)
    }

    /// A WebSocket (`extra`: more query parameters, e.g. `&sid=...`).
    async fn ws(&self, extra: &str) -> Res<WsClient> {
        let stream = self.tcp().await?;
        let request = format!(
            "ws://{}/socket.io/?EIO=4&transport=websocket{extra}",
            self.authority
        );
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| format!("websocket handshake: {e}"))?;
        Ok(WsClient { ws })
    }

    /// A polling session: its handshake done.
    async fn polling(&self) -> Res<PollClient> {
        let mut http = Http {
            stream: self.tcp().await?,
            buf: Vec::new(),
            authority: self.authority.clone(),
        };
        let open = http
            .request("GET", "/socket.io/?EIO=4&transport=polling", b"")
            .await?;
        let open = String::from_utf8_lossy(&open).into_owned();
        let sid = sid_of(&open)?;
        Ok(PollClient {
            http,
            uri: format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
            sid,
            queue: VecDeque::new(),
        })
    }
}

fn sid_of(open: &str) -> Res<String> {
    if !open.starts_with("0{") {
        return Err(format!("not an open packet: {open:?}"));
    }
    Ok(open
        .split_once("\"sid\":\"")
        .and_then(|(_, r)| r.split_once('"'))
        .ok_or_else(|| format!("no sid in {open:?}"))?
        .0
        .to_owned())
}

/// A minimal HTTP/1.1 client on one keep-alive connection (the server answers with a
/// `Content-Length`).
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
    authority: String,
}

impl Http {
    /// Writes a request without waiting for its response.
    async fn send(&mut self, method: &str, uri: &str, body: &[u8]) -> Res<()> {
        let mut head = format!("{method} {uri} HTTP/1.1\r\nHost: {}\r\n", self.authority);
        if method == "POST" {
            head.push_str(&format!(
                "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        self.stream.write_all(&out).await.map_err(err)
    }

    /// Reads one response: its body if the status is 200.
    async fn response(&mut self) -> Res<Vec<u8>> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status = lines.next().unwrap_or_default().to_owned();
                let mut len = None;
                for line in lines {
                    let Some((name, value)) = line.split_once(':') else {
                        continue;
                    };
                    if name.eq_ignore_ascii_case("content-length") {
                        len = value.trim().parse::<usize>().ok();
                    } else if name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(format!("unexpected transfer-encoding: {}", value.trim()));
                    }
                }
                let len = len.ok_or_else(|| format!("no content-length in {head:?}"))?;
                while self.buf.len() < end + 4 + len {
                    self.read_more().await?;
                }
                let body = self.buf[end + 4..end + 4 + len].to_vec();
                self.buf.drain(..end + 4 + len);
                if !status.starts_with("HTTP/1.1 200") {
                    return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
                }
                return Ok(body);
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> Res<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.map_err(err)?;
        if n == 0 {
            return Err("connection closed by the server".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn request(&mut self, method: &str, uri: &str, body: &[u8]) -> Res<Vec<u8>> {
        self.send(method, uri, body).await?;
        self.response().await
    }
}

/// A long-polling client: packets of the GETs are queued and taken one at a time; pings are
/// answered on the way.
struct PollClient {
    http: Http,
    uri: String,
    sid: String,
    queue: VecDeque<String>,
}

impl PollClient {
    async fn post(&mut self, packets: &str) -> Res<()> {
        let body = self
            .http
            .request("POST", &self.uri, packets.as_bytes())
            .await?;
        if body != b"ok" {
            return Err(format!(
                "POST answered {:?}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(())
    }

    /// The next packet that is neither a ping nor a noop (pings are answered); `pinged` is set
    /// when a ping was seen.
    async fn next(&mut self, pinged: &mut bool) -> Res<String> {
        loop {
            while let Some(p) = self.queue.pop_front() {
                match p.as_str() {
                    "2" => {
                        *pinged = true;
                        self.post("3").await?;
                    }
                    "6" => {}
                    "1" => return Err("closed by the server (close packet)".into()),
                    _ => return Ok(p),
                }
            }
            let uri = self.uri.clone();
            let body = self.http.request("GET", &uri, b"").await?;
            let body = String::from_utf8(body).map_err(err)?;
            self.queue.extend(body.split('\x1e').map(str::to_owned));
        }
    }

    /// Joins the namespace `/`.
    async fn join(&mut self) -> Res<()> {
        self.post("40").await?;
        let p = self.next(&mut false).await?;
        if !p.starts_with("40{") {
            return Err(format!("expected a CONNECT, got {p:?}"));
        }
        Ok(())
    }

    /// Emits `echo` with ack id 1 and checks the ack.
    async fn call(&mut self, i: usize, binary: bool) -> Res<()> {
        let (packets, expect) = emit(i, binary);
        let packets = match binary {
            true => format!("{packets}\x1eb{BLOB_B64}"),
            false => packets,
        };
        self.post(&packets).await?;
        let ack = self.next(&mut false).await?;
        check_ack(&ack, &expect)?;
        if binary {
            let blob = self.next(&mut false).await?;
            if blob != format!("b{BLOB_B64}") {
                return Err(format!("expected the attachment, got {blob:?}"));
            }
        }
        Ok(())
    }
}

/// A WebSocket client; pings are answered on the way.
struct WsClient {
    ws: Ws,
}

impl WsClient {
    async fn send(&mut self, text: &str) -> Res<()> {
        self.ws.send(Message::text(text)).await.map_err(err)
    }

    /// The next frame that is not a ping; `pinged` is set when a ping was seen.
    async fn next(&mut self, pinged: &mut bool) -> Res<Message> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) if &*t == "2" => {
                    *pinged = true;
                    self.send("3").await?;
                }
                Some(Ok(Message::Text(t))) if &*t == "1" => {
                    return Err("closed by the server (close packet)".into());
                }
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => return Ok(m),
                Some(Ok(Message::Close(_))) | None => return Err("closed by the server".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
            }
        }
    }

    async fn text(&mut self, pinged: &mut bool) -> Res<String> {
        match self.next(pinged).await? {
            Message::Text(t) => Ok(t.to_string()),
            m => Err(format!("expected a text frame, got {m:?}")),
        }
    }

    /// Reads the open packet and joins the namespace `/`.
    async fn join(&mut self) -> Res<()> {
        let open = self.text(&mut false).await?;
        sid_of(&open)?;
        self.send("40").await?;
        let p = self.text(&mut false).await?;
        if !p.starts_with("40{") {
            return Err(format!("expected a CONNECT, got {p:?}"));
        }
        Ok(())
    }

    /// Emits `echo` with ack id 1 and checks the ack.
    async fn call(&mut self, i: usize, binary: bool) -> Res<()> {
        let (packet, expect) = emit(i, binary);
        self.send(&packet).await?;
        if binary {
            self.ws
                .send(Message::binary(BLOB.to_vec()))
                .await
                .map_err(err)?;
        }
        let ack = self.text(&mut false).await?;
        check_ack(&ack, &expect)?;
        if binary {
            match self.next(&mut false).await? {
                Message::Binary(b) if b[..] == BLOB[..] => {}
                m => return Err(format!("expected the attachment, got {m:?}")),
            }
        }
        Ok(())
    }

    /// Waits for the server's ping (nothing else may come first) and answers it.
    async fn wait_ping(&mut self) -> Res<()> {
        match self.ws.next().await {
            Some(Ok(Message::Text(t))) if &*t == "2" => self.send("3").await,
            m => Err(format!("expected a ping, got {m:?}")),
        }
    }

    /// Leaves the namespace and closes the WebSocket: waits for the server's close frame.
    async fn leave_and_close(mut self) -> Res<()> {
        self.send("41").await?;
        self.close().await
    }

    async fn close(mut self) -> Res<()> {
        self.ws.close(None).await.map_err(err)?;
        while let Some(m) = self.ws.next().await {
            if m.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Reads until the server closes.
    async fn until_closed(mut self) -> Res<()> {
        while let Some(m) = self.ws.next().await {
            match m {
                Ok(Message::Close(_)) | Err(_) => break,
                _ => {}
            }
        }
        Ok(())
    }
}

/// The `echo` event with ack id 1 for cycle `i` (with a binary attachment or not), and the
/// ack expected: its exact text, or for binary its start.
fn emit(i: usize, binary: bool) -> (String, String) {
    if binary {
        (
            format!("451-1[\"echo\",{{\"i\":{i}}},{{\"_placeholder\":true,\"num\":0}}]"),
            "461-1[".to_owned(),
        )
    } else {
        let body = format!("{{\"i\":{i},\"p\":\"leak-check payload\"}}");
        (format!("421[\"echo\",{body}]"), format!("431[{body}]"))
    }
}

fn check_ack(ack: &str, expect: &str) -> Res<()> {
    let ok = match expect.strip_prefix("461-1[") {
        Some(_) => ack.starts_with(expect) && ack.contains("\"_placeholder\":true"),
        None => ack == expect,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected the ack {expect:?}, got {ack:?}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Cycles

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    WsClean,
    WsAbrupt,
    WsEngineClose,
    WsBinary,
    WsNoNamespace,
    WsPing,
    PollClean,
    PollBinary,
    PollAbortGet,
    PollUpgrade,
    PollPing,
    PollVanishBeforeJoin,
    PollVanishAfterLeave,
    PollGetAndClose,
}

impl Kind {
    const ALL: [Kind; 14] = [
        Kind::WsClean,
        Kind::WsAbrupt,
        Kind::WsEngineClose,
        Kind::WsBinary,
        Kind::WsNoNamespace,
        Kind::WsPing,
        Kind::PollClean,
        Kind::PollBinary,
        Kind::PollAbortGet,
        Kind::PollUpgrade,
        Kind::PollPing,
        Kind::PollVanishBeforeJoin,
        Kind::PollVanishAfterLeave,
        Kind::PollGetAndClose,
    ];

    fn of(i: usize) -> Kind {
        // The cycles whose session outlives them (by seconds) or that last seconds are rare,
        // and all occur in the first 1,000 cycles as later.
        match i % 10_000 {
            250 => return Kind::PollVanishBeforeJoin,
            251 => return Kind::PollVanishAfterLeave,
            252 => return Kind::PollGetAndClose,
            _ => {}
        }
        match i % 2000 {
            500 => return Kind::WsPing,
            501 => return Kind::PollPing,
            _ => {}
        }
        let r = i % 100;
        let k = r / 2;
        if r.is_multiple_of(2) {
            match k {
                0..30 => Kind::WsClean,
                30..40 => Kind::WsAbrupt,
                40..45 => Kind::WsEngineClose,
                45..49 => Kind::WsBinary,
                _ => Kind::WsNoNamespace,
            }
        } else {
            match k {
                0..20 => Kind::PollClean,
                20..25 => Kind::PollBinary,
                25..35 => Kind::PollAbortGet,
                _ => Kind::PollUpgrade,
            }
        }
    }

    fn websocket(self) -> bool {
        matches!(
            self,
            Kind::WsClean
                | Kind::WsAbrupt
                | Kind::WsEngineClose
                | Kind::WsBinary
                | Kind::WsNoNamespace
                | Kind::WsPing
        )
    }
}

async fn cycle(t: &Target, i: usize, kind: Kind) -> Res<()> {
    match kind {
        Kind::WsClean | Kind::WsBinary => {
            let mut ws = t.ws("").await?;
            ws.join().await?;
            ws.call(i, kind == Kind::WsBinary).await?;
            ws.leave_and_close().await
        }
        Kind::WsAbrupt => {
            let mut ws = t.ws("").await?;
            ws.join().await?;
            ws.call(i, false).await?;
            drop(ws);
            Ok(())
        }
        Kind::WsEngineClose => {
            let mut ws = t.ws("").await?;
            ws.join().await?;
            ws.call(i, false).await?;
            ws.send("1").await?;
            ws.until_closed().await
        }
        Kind::WsNoNamespace => {
            let mut ws = t.ws("").await?;
            sid_of(&ws.text(&mut false).await?)?;
            ws.close().await
        }
        Kind::WsPing => {
            let mut ws = t.ws("").await?;
            ws.join().await?;
            ws.wait_ping().await?;
            ws.call(i, false).await?;
            ws.leave_and_close().await
        }
        Kind::PollClean | Kind::PollBinary => {
            let mut p = t.polling().await?;
            p.join().await?;
            p.call(i, kind == Kind::PollBinary).await?;
            p.post("41\x1e1").await
        }
        Kind::PollAbortGet | Kind::PollGetAndClose => {
            let mut p = t.polling().await?;
            p.join().await?;
            p.call(i, false).await?;
            // A GET the server holds (nothing to send), then the connection is closed: the
            // session ends at once ("poll connection closed prematurely"). A real client's
            // GET waits at the server for seconds before it goes away; this one waits 10 ms.
            // Without that pause (`PollGetAndClose`) the request and the end of the connection
            // arrive together: hyper then reads both at once and drops the request before the
            // server's handler ever ran, so the session does not learn of the GET and ends at
            // the ping timeout only (Node closes it at once: bench/leak/get-and-close.js).
            let uri = p.uri.clone();
            p.http.send("GET", &uri, b"").await?;
            if kind == Kind::PollAbortGet {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            drop(p);
            Ok(())
        }
        Kind::PollPing => {
            let mut p = t.polling().await?;
            p.join().await?;
            // The next GET waits for the ping (PING_INTERVAL), answered; then the emit.
            let (packets, expect) = emit(i, false);
            let uri = p.uri.clone();
            let body = p.http.request("GET", &uri, b"").await?;
            if body != b"2" {
                return Err(format!(
                    "expected a ping, got {:?}",
                    String::from_utf8_lossy(&body)
                ));
            }
            p.post("3").await?;
            p.post(&packets).await?;
            check_ack(&p.next(&mut false).await?, &expect)?;
            p.post("41\x1e1").await
        }
        Kind::PollUpgrade => {
            let mut p = t.polling().await?;
            p.join().await?;
            // A GET pending while the WebSocket probes (what the JavaScript client does).
            let uri = p.uri.clone();
            p.http.send("GET", &uri, b"").await?;
            let mut ws = t.ws(&format!("&sid={}", p.sid)).await?;
            ws.send("2probe").await?;
            let probe = ws.text(&mut false).await?;
            if probe != "3probe" {
                return Err(format!("expected 3probe, got {probe:?}"));
            }
            // The server ends the pending GET with a noop once probed; like the JavaScript
            // client, this one waits for that (polling paused) before it sends the upgrade.
            let body = p.http.response().await?;
            if !String::from_utf8_lossy(&body)
                .split('\x1e')
                .any(|p| p == "6")
            {
                return Err(format!(
                    "expected a noop for the pending GET, got {:?}",
                    String::from_utf8_lossy(&body)
                ));
            }
            ws.send("5").await?;
            drop(p);
            ws.call(i, false).await?;
            ws.leave_and_close().await
        }
        Kind::PollVanishBeforeJoin => {
            drop(t.polling().await?);
            Ok(())
        }
        Kind::PollVanishAfterLeave => {
            let mut p = t.polling().await?;
            p.join().await?;
            p.call(i, false).await?;
            p.post("41").await?;
            drop(p);
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The check

/// The server process under test: its stdin (commands), its stdout (answers), its pid.
struct Server {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    pid: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    sessions: u64,
    sockets: u64,
    heap_bytes: u64,
    heap_blocks: u64,
    rss_kib: u64,
    fds: u64,
}

impl Server {
    async fn start(threads: usize, inject_leak: usize) -> Res<(Server, u16)> {
        let exe = std::env::current_exe().map_err(err)?;
        let mut child = tokio::process::Command::new(exe)
            .args(["server", "--threads", &threads.to_string()])
            .args(["--inject-leak", &inject_leak.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let pid = child.id().ok_or("the server exited")?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let first = lines.next_line().await.map_err(err)?.unwrap_or_default();
        let port = first
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("the server did not start: {first:?}"))?;
        Ok((
            Server {
                child,
                stdin,
                lines,
                pid,
            },
            port,
        ))
    }

    async fn stats(&mut self) -> Res<Stats> {
        self.stdin.write_all(b"stats\n").await.map_err(err)?;
        let line = self
            .lines
            .next_line()
            .await
            .map_err(err)?
            .ok_or("the server exited")?;
        let v: Value = serde_json::from_str(&line).map_err(err)?;
        let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
        Ok(Stats {
            sessions: n("sessions"),
            sockets: n("sockets"),
            heap_bytes: n("heap_bytes"),
            heap_blocks: n("heap_blocks"),
            rss_kib: sio_bench::rss_kib(self.pid).ok_or("no RSS for the server")?,
            fds: std::fs::read_dir(format!("/proc/{}/fd", self.pid))
                .map_err(err)?
                .count() as u64,
        })
    }

    /// Waits until the server has no session, no socket and at most `fds` descriptors.
    async fn drained(&mut self, fds: u64) -> Res<(Stats, bool)> {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        loop {
            let s = self.stats().await?;
            let done = s.sessions == 0 && s.sockets == 0 && s.fds <= fds;
            if done || Instant::now() >= deadline {
                if done {
                    // Let the tasks that just ended free what they held.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return Ok((self.stats().await?, true));
                }
                return Ok((s, false));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[derive(Default)]
struct Tally {
    done: HashMap<Kind, usize>,
    errors: Vec<(usize, Kind, String)>,
    failed: usize,
}

/// Runs cycles `from..to` with `concurrency` in flight.
async fn run_cycles(
    target: &Arc<Target>,
    from: usize,
    to: usize,
    concurrency: usize,
    tally: &Arc<Mutex<Tally>>,
    only: Option<Kind>,
) {
    let next = Arc::new(AtomicUsize::new(from));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (target, next, tally) = (target.clone(), next.clone(), tally.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= to {
                        break;
                    }
                    let kind = only.unwrap_or_else(|| Kind::of(i));
                    let r = tokio::time::timeout(CYCLE_TIMEOUT, cycle(&target, i, kind))
                        .await
                        .unwrap_or_else(|_| Err("timed out".into()));
                    let mut t = lock(&tally);
                    *t.done.entry(kind).or_default() += 1;
                    if let Err(e) = r {
                        t.failed += 1;
                        if t.errors.len() < 10 {
                            t.errors.push((i, kind, e));
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
}

fn kib(bytes: u64) -> u64 {
    bytes / 1024
}

fn check(o: &Opts) -> Res<bool> {
    runtime(1).map_err(err)?.block_on(check_async(o))
}

async fn check_async(o: &Opts) -> Res<bool> {
    let cycles: usize = o.get("cycles", 100_000);
    let first: usize = o.get("first", 1_000).min(cycles);
    let checkpoints: usize = o.get("checkpoints", 4).max(1);
    let concurrency: usize = o.get("concurrency", 48);
    let max_growth: f64 = o.get("max-growth", 0.10);
    let threads: usize = o.get("threads", 1);
    let only = match o.0.get("only") {
        Some(name) => Some(
            Kind::ALL
                .into_iter()
                .find(|k| format!("{k:?}").eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("unknown kind {name:?} (kinds: {:?})", Kind::ALL))?,
        ),
        None => None,
    };
    let inject_leak: usize = o.get("inject-leak", 0);
    let (mut server, port) = Server::start(threads, inject_leak).await?;
    let target = Arc::new(Target {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        authority: format!("127.0.0.1:{port}"),
        src: o.get("src", Ipv4Addr::new(127, 3, 0, 1)),
        per_src: o.get("per-src", 5000usize).max(1),
        conns: AtomicUsize::new(0),
    });
    let start_stats = server.stats().await?;
    let base_fds = start_stats.fds;
    println!(
        "leak-check: server pid {} ({threads} runtime threads), {cycles} cycles, {concurrency} in flight; \
         at start: RSS {} KiB, heap {} KiB in {} blocks, {} fds",
        server.pid,
        start_stats.rss_kib,
        kib(start_stats.heap_bytes),
        start_stats.heap_blocks,
        base_fds
    );
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut points = vec![first];
    for k in 1..=checkpoints {
        let p = first + (cycles - first) * k / checkpoints;
        if p > *points.last().unwrap_or(&0) {
            points.push(p);
        }
    }
    let started = Instant::now();
    let mut from = 0;
    let mut results: Vec<(usize, Stats)> = Vec::new();
    let mut drained_all = true;
    let mut cycling = Duration::ZERO;
    for &to in &points {
        let t0 = Instant::now();
        // While the cycles run, the server's peaks are sampled every 100 ms.
        let mut peak = Stats::default();
        {
            let run = run_cycles(&target, from, to, concurrency, &tally, only);
            tokio::pin!(run);
            loop {
                tokio::select! {
                    () = &mut run => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {
                        let s = server.stats().await?;
                        peak.sessions = peak.sessions.max(s.sessions);
                        peak.heap_bytes = peak.heap_bytes.max(s.heap_bytes);
                        peak.rss_kib = peak.rss_kib.max(s.rss_kib);
                        peak.fds = peak.fds.max(s.fds);
                    }
                }
            }
        }
        let ran = t0.elapsed();
        let lingering = server.stats().await?;
        cycling += ran;
        let rate = (to - from) as f64 / ran.as_secs_f64();
        from = to;
        let (s, drained) = server.drained(base_fds).await?;
        drained_all &= drained;
        println!(
            "leak-check: after {to:>7} cycles ({:6.1} s, {rate:5.0} cycles/s): RSS {:>7} KiB, heap {:>6} KiB in {:>6} blocks, \
             sessions {}, sockets {}, fds {}{}, cycles failed {}; peaks while cycling: RSS {} KiB, \
             heap {} KiB, {} sessions, {} fds; {} sessions left right after the cycles",
            started.elapsed().as_secs_f64(),
            s.rss_kib,
            kib(s.heap_bytes),
            s.heap_blocks,
            s.sessions,
            s.sockets,
            s.fds,
            if drained { "" } else { " (NOT DRAINED)" },
            lock(&tally).failed,
            peak.rss_kib,
            kib(peak.heap_bytes),
            peak.sessions,
            peak.fds,
            lingering.sessions,
        );
        results.push((to, s));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (_, base) = results[0];
    let (_, end) = results[results.len() - 1];
    let growth = end.rss_kib as f64 / base.rss_kib.max(1) as f64 - 1.0;
    let t = std::mem::take(&mut *lock(&tally));
    let mut kinds: Vec<_> = t.done.iter().collect();
    kinds.sort();
    let ws: usize = kinds
        .iter()
        .filter(|(k, _)| k.websocket())
        .map(|(_, n)| **n)
        .sum();
    let upgraded = t.done.get(&Kind::PollUpgrade).copied().unwrap_or(0);
    println!(
        "leak-check: cycles by kind: {}",
        kinds
            .iter()
            .map(|(k, n)| format!("{k:?} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, kind, e) in &t.errors {
        println!("leak-check: cycle {i} ({kind:?}) failed: {e}");
    }
    // Live heap blocks: a leak of whole allocations shows here exactly, whatever the
    // allocator keeps of freed memory (which RSS includes).
    let more_blocks = end.heap_blocks as i64 - base.heap_blocks as i64;
    let block_limit = ((cycles - first) / 100) as i64;
    let mut failures = Vec::new();
    if t.failed > 0 {
        failures.push(format!("{} cycles failed", t.failed));
    }
    if !drained_all {
        failures.push(format!(
            "the server still had sessions, sockets or connections {} s after a checkpoint",
            DRAIN_TIMEOUT.as_secs()
        ));
    }
    if growth > max_growth {
        failures.push(format!(
            "the RSS grew by {:+.1} % (limit {:+.0} %)",
            growth * 100.0,
            max_growth * 100.0
        ));
    }
    if more_blocks > block_limit {
        failures.push(format!(
            "{more_blocks} more live heap blocks than after the first {first} cycles \
             (limit {block_limit}: one per 100 cycles)"
        ));
    }
    println!(
        "leak-check: {} cycles ({} starting on WebSocket, {} on polling of which {} upgraded) in \
         {:.1} s ({:.1} s cycling), {} failed; server RSS {} KiB after {} cycles -> {} KiB after {} \
         ({:+.1} %, limit {:+.0} %); live heap {} -> {} KiB in {} -> {} blocks; at the end {} \
         sessions, {} sockets, {} fds (at start {}): {}",
        cycles,
        ws,
        cycles - ws,
        upgraded,
        elapsed,
        cycling.as_secs_f64(),
        t.failed,
        base.rss_kib,
        first,
        end.rss_kib,
        cycles,
        growth * 100.0,
        max_growth * 100.0,
        kib(base.heap_bytes),
        kib(end.heap_bytes),
        base.heap_blocks,
        end.heap_blocks,
        end.sessions,
        end.sockets,
        end.fds,
        base_fds,
        if failures.is_empty() {
            "PASS".to_owned()
        } else {
            format!("FAIL: {}", failures.join("; "))
        }
    );
    let pass = failures.is_empty();
    drop(server.stdin);
    let _ = tokio::time::timeout(Duration::from_secs(5), server.child.wait()).await;
    Ok(pass)
}
