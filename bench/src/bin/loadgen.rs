//! The load generator of the side-by-side benchmarks: raw Engine.IO v4 / Socket.IO v5 frames
//! over tokio-tungstenite (and hyper for long-polling), one task per connection on a one-thread
//! runtime, latencies in HDR histograms, one JSON result line on stdout.
//!
//! ```text
//! loadgen SCENARIO --url http://127.0.0.1:PORT/socket.io/ [--src 127.2.0.1] [--per-src 5000]
//!                  [--server-pid PID] [options]
//!
//! idle      --clients N [--transport ws|polling] [--hold S]
//! echo      --clients N --window W --payload BYTES --duration S [--warmup S] [--rate R]
//! recv      --clients N --room R [--stall K] [--hold S]     (fan-out receivers)
//! send      --room R --rounds K --interval-ms I --payload BYTES [--peer-pid PID]
//!           (fan-out driver; `--peer-pid`: a second server whose CPU time is read too)
//! storm     --clients N [--mode ws|upgrade] [--concurrency C] [--hold S]
//! avalanche --clients N [--timeout S]
//! ```
//!
//! Connection `i` binds its socket to the source address `--src` + `i / --per-src`
//! (127.2.0.1, 127.2.0.2, ...): the ephemeral ports of one source address would run out near
//! 28,000 connections, and a fresh range per run also keeps clear of the previous run's
//! TIME_WAIT sockets. With `--server-pid`, the server's CPU time (utime + stime of
//! `/proc/PID/stat`) and resident memory are read around the measured window.
//!
//! `recv` prints `{"ready":N,...}` once its clients joined the room, then records, for each
//! broadcast `b` with `{"seq":S,"t":T}` (T: the sender's `CLOCK_MONOTONIC` in ns), the arrival
//! time minus T, until its stdin closes or `--hold` seconds pass; then it prints its result.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use sio_bench::{cpu_seconds, now_ns, rss_kib};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Ws = WebSocketStream<TcpStream>;
type Res<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

// ---------------------------------------------------------------------------------------------
// Options

struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(k) = it.next() {
            if let Some(k) = k.strip_prefix("--") {
                map.insert(k.to_owned(), it.next().cloned().unwrap_or_default());
            }
        }
        Opts(map)
    }

    fn get<T: FromStr>(&self, key: &str, default: T) -> T {
        match self.0.get(key) {
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("bad value for --{key}: {v}");
                std::process::exit(2)
            }),
            None => default,
        }
    }

    fn str(&self, key: &str, default: &str) -> String {
        self.0
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    authority: String,
    path: String,
    src: Ipv4Addr,
    per_src: usize,
}

impl Target {
    fn from_opts(o: &Opts) -> Target {
        let url = o.str("url", "");
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("ws://"))
            .unwrap_or_else(|| usage());
        let (authority, path) = rest.split_once('/').unwrap_or((rest, "socket.io/"));
        let addr: SocketAddr = authority.parse().unwrap_or_else(|_| usage());
        Target {
            addr,
            authority: authority.to_owned(),
            path: format!("/{path}"),
            src: o.get("src", Ipv4Addr::new(127, 2, 0, 1)),
            per_src: o.get("per-src", 5000usize).max(1),
        }
    }

    fn source(&self, i: usize) -> Ipv4Addr {
        let step = u32::try_from(i / self.per_src).unwrap_or(0);
        Ipv4Addr::from(u32::from(self.src).wrapping_add(step))
    }

    async fn tcp(&self, i: usize) -> Res<TcpStream> {
        let socket = TcpSocket::new_v4().map_err(err)?;
        socket
            .bind(SocketAddr::new(self.source(i).into(), 0))
            .map_err(err)?;
        let stream = socket.connect(self.addr).await.map_err(err)?;
        stream.set_nodelay(true).map_err(err)?;
        Ok(stream)
    }

    /// A WebSocket to the server (`extra`: more query parameters, e.g. `&sid=...`).
    async fn ws(&self, i: usize, extra: &str) -> Res<Ws> {
        let stream = self.tcp(i).await?;
        let request = format!(
            "ws://{}{}?EIO=4&transport=websocket{extra}",
            self.authority, self.path
        );
        let config = WebSocketConfig::default()
            .read_buffer_size(2048)
            .write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(err)?;
        Ok(ws)
    }

    /// A Socket.IO connection over WebSocket, connected to the namespace `/`.
    async fn connect_ws(&self, i: usize) -> Res<Ws> {
        let mut ws = self.ws(i, "").await?;
        loop {
            let text = recv(&mut ws).await?;
            match classify(&text) {
                In::Open => ws.send(Message::text("40")).await.map_err(err)?,
                In::Connect => return Ok(ws),
                In::Close => return Err("closed during the handshake".into()),
                _ => {}
            }
        }
    }

    /// A Socket.IO connection over HTTP long-polling, upgraded to WebSocket once connected (what
    /// the JavaScript client does by default).
    async fn connect_upgrade(&self, i: usize) -> Res<Ws> {
        let mut poll = Polling::open(self, i).await?;
        poll.post("40").await?;
        while !poll.get().await?.iter().any(|p| p.starts_with("40")) {}
        let mut ws = self.ws(i, &format!("&sid={}", poll.sid)).await?;
        ws.send(Message::text("2probe")).await.map_err(err)?;
        loop {
            let text = recv(&mut ws).await?;
            if &*text == "3probe" {
                break;
            }
        }
        ws.send(Message::text("5")).await.map_err(err)?;
        Ok(ws)
    }
}

/// One long-polling client on one keep-alive HTTP/1.1 connection: the GET waits for the server,
/// then the answers to it are POSTed on the same connection.
struct Polling {
    tx: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
    query: String,
    sid: String,
}

impl Polling {
    async fn open(target: &Target, i: usize) -> Res<Polling> {
        let stream = target.tcp(i).await?;
        let (tx, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(err)?;
        tokio::spawn(conn);
        let mut poll = Polling {
            tx,
            authority: target.authority.clone(),
            query: format!("{}?EIO=4&transport=polling", target.path),
            sid: String::new(),
        };
        let open = poll.get().await?;
        let open = open.first().ok_or("empty handshake")?;
        let sid = open
            .split_once("\"sid\":\"")
            .and_then(|(_, r)| r.split_once('"'))
            .ok_or_else(|| format!("no sid in {open}"))?
            .0;
        poll.query = format!("{}&sid={sid}", poll.query);
        poll.sid = sid.to_owned();
        Ok(poll)
    }

    async fn request(&mut self, method: &str, body: &str) -> Res<String> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(&self.query)
            .header("host", &self.authority)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .map_err(err)?;
        let resp = self.tx.send_request(req).await.map_err(err)?;
        let status = resp.status();
        let body = resp.into_body().collect().await.map_err(err)?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {body}"));
        }
        Ok(body)
    }

    /// One long-poll: the packets it brought (`\x1e`-separated in the body).
    async fn get(&mut self) -> Res<Vec<String>> {
        let body = self.request("GET", "").await?;
        Ok(body.split('\x1e').map(str::to_owned).collect())
    }

    async fn post(&mut self, packets: &str) -> Res<()> {
        self.request("POST", packets).await.map(drop)
    }
}

enum In {
    Open,
    Ping,
    Connect,
    Event,
    Ack(u64),
    Close,
    Other,
}

fn classify(t: &str) -> In {
    let b = t.as_bytes();
    match b {
        [b'0', ..] => In::Open,
        [b'1', ..] | [b'4', b'1', ..] | [b'4', b'4', ..] => In::Close,
        [b'2'] => In::Ping,
        [b'4', b'0', ..] => In::Connect,
        [b'4', b'2', ..] => In::Event,
        [b'4', b'3', rest @ ..] => {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            t[2..2 + digits].parse().map(In::Ack).unwrap_or(In::Other)
        }
        _ => In::Other,
    }
}

/// The next text frame; Engine.IO pings are answered on the way.
async fn recv(ws: &mut Ws) -> Res<Utf8Bytes> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if &*t == "2" {
                    ws.send(Message::text("3")).await.map_err(err)?;
                    continue;
                }
                return Ok(t);
            }
            Some(Ok(Message::Close(_))) | None => return Err("closed by the server".into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
        }
    }
}

/// Reads until the connection closes, answering pings.
async fn hold(mut ws: Ws) -> Res<()> {
    loop {
        let t = recv(&mut ws).await?;
        if let In::Close = classify(&t) {
            return Err("disconnected by the server".into());
        }
    }
}

/// Sends `event` with an ack id and waits for the ack (pings answered, events skipped).
async fn call(ws: &mut Ws, id: u64, event: &str, args: &str) -> Res<()> {
    ws.send(Message::text(format!("42{id}[\"{event}\",{args}]")))
        .await
        .map_err(err)?;
    loop {
        let t = recv(ws).await?;
        match classify(&t) {
            In::Ack(a) if a == id => return Ok(()),
            In::Close => return Err("disconnected by the server".into()),
            _ => {}
        }
    }
}

/// Opens `n` connections with `concurrency` handshakes in flight; each one's connect time goes
/// into `hist`. Returns the connections (None: failed) and the first error.
async fn open_many(
    target: &Target,
    n: usize,
    concurrency: usize,
    upgrade: bool,
    hist: Option<Arc<Mutex<Histogram<u64>>>>,
) -> (Vec<Option<Ws>>, Option<String>) {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = gate.clone().acquire_owned().await.ok();
        let (target, hist) = (target.clone(), hist.clone());
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let r = if upgrade {
                target.connect_upgrade(i).await
            } else {
                target.connect_ws(i).await
            };
            drop(permit);
            if r.is_ok()
                && let Some(h) = hist
            {
                let _ = lock(&h).record(ns(start.elapsed()));
            }
            r
        }));
    }
    let mut out = Vec::with_capacity(n);
    let mut first = None;
    for t in tasks {
        match t.await.map_err(err).and_then(|r| r) {
            Ok(ws) => out.push(Some(ws)),
            Err(e) => {
                first.get_or_insert(e);
                out.push(None);
            }
        }
    }
    (out, first)
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1_000, 600_000_000_000, 3).expect("valid histogram bounds")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// p50/p99/p99.9/max in microseconds.
fn percentiles(h: &Histogram<u64>) -> Value {
    let us = |v: u64| (v as f64 / 1000.0 * 10.0).round() / 10.0;
    json!({
        "count": h.len(),
        "p50_us": us(h.value_at_quantile(0.5)),
        "p99_us": us(h.value_at_quantile(0.99)),
        "p999_us": us(h.value_at_quantile(0.999)),
        "max_us": us(h.max()),
    })
}

/// What is read from the server under test around a measured window.
struct ServerProbe {
    pid: Option<u32>,
    cpu: f64,
    rss: u64,
}

impl ServerProbe {
    fn start(pid: Option<u32>) -> ServerProbe {
        ServerProbe {
            pid,
            cpu: pid.and_then(cpu_seconds).unwrap_or(0.0),
            rss: pid.and_then(rss_kib).unwrap_or(0),
        }
    }

    /// Server CPU seconds since `start`, RSS before and now.
    fn finish(&self) -> Value {
        let Some(pid) = self.pid else {
            return Value::Null;
        };
        json!({
            "cpu_s": cpu_seconds(pid).unwrap_or(0.0) - self.cpu,
            "rss_before_kib": self.rss,
            "rss_after_kib": rss_kib(pid).unwrap_or(0),
        })
    }
}

fn own_cpu() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// Resolves when stdin closes (the orchestrator's "stop"), or after `secs` seconds.
async fn stop_signal(secs: u64) {
    let stdin = async {
        let mut sink = [0u8; 64];
        let mut stdin = tokio::io::stdin();
        while let Ok(n) = stdin.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::select! {
        _ = stdin => {}
        _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
    }
}

fn print(v: Value) {
    println!("{v}");
}

fn pad(len: usize) -> String {
    "x".repeat(len)
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async fn idle(o: &Opts, target: Target) {
    let n: usize = o.get("clients", 1000);
    let polling = o.str("transport", "ws") == "polling";
    let probe = ServerProbe::start(o.0.get("server-pid").and_then(|p| p.parse().ok()));
    let up = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let gate = Arc::new(Semaphore::new(256));
    let start = Instant::now();
    for i in 0..n {
        let permit = gate.clone().acquire_owned().await.ok();
        let (target, up, failed, first_error) = (
            target.clone(),
            up.clone(),
            failed.clone(),
            first_error.clone(),
        );
        tokio::spawn(async move {
            let mut permit = permit;
            let r: Res<()> = async {
                if polling {
                    let mut poll = Polling::open(&target, i).await?;
                    poll.post("40").await?;
                    let mut connected = false;
                    loop {
                        let packets = poll.get().await?;
                        for p in &packets {
                            match classify(p) {
                                In::Connect if !connected => {
                                    connected = true;
                                    permit = None;
                                    up.fetch_add(1, Ordering::Relaxed);
                                }
                                In::Ping => poll.post("3").await?,
                                In::Close => return Err("closed by the server".into()),
                                _ => {}
                            }
                        }
                    }
                } else {
                    let ws = target.connect_ws(i).await?;
                    permit = None;
                    up.fetch_add(1, Ordering::Relaxed);
                    hold(ws).await
                }
            }
            .await;
            drop(permit);
            if let Err(e) = r {
                failed.fetch_add(1, Ordering::Relaxed);
                lock(&first_error).get_or_insert(e);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while up.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    print(json!({
        "scenario": "idle",
        "transport": if polling { "polling" } else { "websocket" },
        "clients": n,
        "connected": up.load(Ordering::Relaxed),
        "failed": failed.load(Ordering::Relaxed),
        "first_error": lock(&first_error).clone(),
        "connect_s": start.elapsed().as_secs_f64(),
        "server": probe.finish(),
    }));
    stop_signal(o.get("hold", 600)).await;
    print(json!({"scenario": "idle", "still_connected": up.load(Ordering::Relaxed)}));
}

struct EchoShared {
    hist: Mutex<Histogram<u64>>,
    acks: AtomicU64,
    sent: AtomicU64,
    errors: AtomicU64,
}

#[derive(Clone, Copy)]
struct EchoPlan {
    window: usize,
    /// Open loop: the interval between two sends of one client.
    interval: Option<Duration>,
    phase: Duration,
    start: Instant,
    measure: Instant,
    end: Instant,
}

async fn echo_client(mut ws: Ws, plan: EchoPlan, body: Arc<str>, sh: Arc<EchoShared>) -> Res<()> {
    let mut inflight: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut next_id = 0u64;
    let mut next_send = plan.start + plan.phase;
    tokio::time::sleep_until(plan.start.into()).await;
    if plan.interval.is_none() {
        for _ in 0..plan.window {
            ws.feed(Message::text(format!("42{next_id}{body}")))
                .await
                .map_err(err)?;
            inflight.push_back((next_id, Instant::now()));
            next_id += 1;
        }
        ws.flush().await.map_err(err)?;
    }
    let stop = plan.end + Duration::from_secs(2);
    loop {
        let tick = async {
            match plan.interval {
                Some(_) if next_send < plan.end => tokio::time::sleep_until(next_send.into()).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            msg = recv(&mut ws) => {
                let text = msg?;
                if let In::Ack(id) = classify(&text) {
                    let Some(pos) = inflight.iter().position(|(i, _)| *i == id) else { continue };
                    let (_, sent_at) = inflight.remove(pos).unwrap_or((id, Instant::now()));
                    let now = Instant::now();
                    if sent_at >= plan.measure && now <= plan.end {
                        sh.acks.fetch_add(1, Ordering::Relaxed);
                        let _ = lock(&sh.hist).record(ns(now - sent_at));
                    }
                    if plan.interval.is_none() && now < plan.end {
                        ws.send(Message::text(format!("42{next_id}{body}"))).await.map_err(err)?;
                        inflight.push_back((next_id, Instant::now()));
                        next_id += 1;
                    }
                }
                if Instant::now() >= plan.end && (inflight.is_empty() || Instant::now() >= stop) {
                    return Ok(());
                }
            }
            _ = tick => {
                // Open loop: send every message whose time has come; latency counts from the
                // scheduled time (no coordinated omission).
                let now = Instant::now();
                while next_send <= now && next_send < plan.end {
                    ws.feed(Message::text(format!("42{next_id}{body}"))).await.map_err(err)?;
                    inflight.push_back((next_id, next_send));
                    if next_send >= plan.measure {
                        sh.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    next_id += 1;
                    next_send += plan.interval.unwrap_or(Duration::MAX);
                }
                ws.flush().await.map_err(err)?;
            }
            _ = tokio::time::sleep_until(stop.into()) => return Ok(()),
        }
    }
}

async fn echo(o: &Opts, target: Target) {
    let n: usize = o.get("clients", 100);
    let window: usize = o.get("window", 1);
    let payload: usize = o.get("payload", 60);
    let duration = Duration::from_secs_f64(o.get("duration", 10.0));
    let warmup = Duration::from_secs_f64(o.get("warmup", 2.0));
    let rate: f64 = o.get("rate", 0.0);
    let pid: Option<u32> = o.0.get("server-pid").and_then(|p| p.parse().ok());

    let (conns, first_error) = open_many(&target, n, 256, false, None).await;
    let connected = conns.iter().filter(|c| c.is_some()).count();
    // The Socket.IO packet `42<id>["echo","xxx"]` is about `payload` bytes long.
    let body: Arc<str> = format!("[\"echo\",\"{}\"]", pad(payload.saturating_sub(12))).into();
    let sh = Arc::new(EchoShared {
        hist: Mutex::new(histogram()),
        acks: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let start = Instant::now() + Duration::from_millis(100);
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(connected as f64 / rate));
    let mut tasks = Vec::new();
    for (i, ws) in conns.into_iter().flatten().enumerate() {
        let plan = EchoPlan {
            window,
            interval,
            phase: interval.map_or(Duration::ZERO, |iv| iv.mul_f64(i as f64 / n as f64)),
            start,
            measure: start + warmup,
            end: start + warmup + duration,
        };
        let (body, sh) = (body.clone(), sh.clone());
        tasks.push(tokio::spawn(async move {
            if echo_client(ws, plan, body, sh.clone()).await.is_err() {
                sh.errors.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep_until((start + warmup).into()).await;
    let probe = ServerProbe::start(pid);
    let gen_cpu = own_cpu();
    tokio::time::sleep(duration).await;
    let server = probe.finish();
    let gen_cpu = own_cpu() - gen_cpu;
    for t in tasks {
        let _ = t.await;
    }
    let acks = sh.acks.load(Ordering::Relaxed);
    let secs = duration.as_secs_f64();
    let cpu = server["cpu_s"].as_f64().unwrap_or(0.0);
    print(json!({
        "scenario": "echo",
        "clients": n,
        "connected": connected,
        "first_error": first_error,
        "window": window,
        "payload": payload,
        "offered_per_s": if rate > 0.0 { json!(rate) } else { Value::Null },
        "sent": sh.sent.load(Ordering::Relaxed),
        "acks": acks,
        "acks_per_s": acks as f64 / secs,
        "latency": percentiles(&lock(&sh.hist)),
        "server": server,
        "server_cpu_us_per_ack": if acks > 0 { json!(cpu * 1e6 / acks as f64) } else { Value::Null },
        "generator_cpu_s": gen_cpu,
        "duration_s": secs,
        "errors": sh.errors.load(Ordering::Relaxed),
    }));
}

#[derive(Default)]
struct Rounds {
    /// seq → (deliveries, first latency ns, last latency ns)
    rounds: HashMap<u64, (u64, u64, u64)>,
    hist: Option<Histogram<u64>>,
}

fn field(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    text[at..at + digits].parse().ok()
}

async fn receiver(mut ws: Ws, rounds: Arc<Mutex<Rounds>>, closed: Arc<AtomicUsize>) {
    let r: Res<()> = async {
        loop {
            let text = recv(&mut ws).await?;
            match classify(&text) {
                In::Event if text.starts_with("42[\"b\"") => {
                    let now = now_ns();
                    let (Some(seq), Some(t)) = (field(&text, "\"seq\":"), field(&text, "\"t\":"))
                    else {
                        continue;
                    };
                    let lat = now.saturating_sub(t);
                    let mut r = lock(&rounds);
                    let e = r.rounds.entry(seq).or_insert((0, u64::MAX, 0));
                    e.0 += 1;
                    e.1 = e.1.min(lat);
                    e.2 = e.2.max(lat);
                    if let Some(h) = r.hist.as_mut() {
                        let _ = h.record(lat.max(1_000));
                    }
                }
                In::Close => return Err("disconnected".into()),
                _ => {}
            }
        }
    }
    .await;
    if r.is_err() {
        closed.fetch_add(1, Ordering::Relaxed);
    }
}

async fn recv_scenario(o: &Opts, target: Target) {
    let n: usize = o.get("clients", 1000);
    let room = o.str("room", "r");
    let stall: usize = o.get("stall", 0);
    let (conns, first_error) = open_many(&target, n, 256, false, None).await;
    let rounds = Arc::new(Mutex::new(Rounds {
        hist: Some(histogram()),
        ..Rounds::default()
    }));
    let closed = Arc::new(AtomicUsize::new(0));
    let joined = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::new();
    let mut stalled = Vec::new();
    for (i, ws) in conns.into_iter().flatten().enumerate() {
        let permit = gate.clone().acquire_owned().await.ok();
        let (room, rounds, closed, joined) =
            (room.clone(), rounds.clone(), closed.clone(), joined.clone());
        let handle = tokio::spawn(async move {
            let mut ws = ws;
            let ok = call(&mut ws, 1, "join", &format!("\"{room}\""))
                .await
                .is_ok();
            drop(permit);
            if ok {
                joined.fetch_add(1, Ordering::Relaxed);
            }
            if i < stall {
                // A slow consumer: never reads again (nor answers pings).
                return Some(ws);
            }
            receiver(ws, rounds, closed).await;
            None
        });
        if i < stall {
            stalled.push(handle);
        } else {
            tasks.push(handle);
        }
    }
    let mut stalled_ws = Vec::new();
    for h in stalled {
        if let Ok(Some(ws)) = h.await {
            stalled_ws.push(ws);
        }
    }
    while joined.load(Ordering::Relaxed) < tasks.len() + stalled_ws.len() {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if joined.load(Ordering::Relaxed) + closed.load(Ordering::Relaxed)
            >= tasks.len() + stalled_ws.len()
        {
            break;
        }
    }
    print(json!({"ready": joined.load(Ordering::Relaxed), "first_error": first_error}));
    let cpu = own_cpu();
    stop_signal(o.get("hold", 600)).await;
    let cpu = own_cpu() - cpu;
    let r = lock(&rounds);
    let mut list: Vec<_> = r.rounds.iter().map(|(s, v)| [*s, v.0, v.1, v.2]).collect();
    list.sort_unstable();
    let deliveries: u64 = list.iter().map(|r| r[1]).sum();
    print(json!({
        "scenario": "recv",
        "clients": n,
        "joined": joined.load(Ordering::Relaxed),
        "stalled": stalled_ws.len(),
        "closed": closed.load(Ordering::Relaxed),
        "deliveries": deliveries,
        "latency": r.hist.as_ref().map(percentiles),
        "rounds": list,
        "generator_cpu_s": cpu,
    }));
    drop(stalled_ws);
}

async fn send_scenario(o: &Opts, target: Target) {
    let room = o.str("room", "r");
    let rounds: u64 = o.get("rounds", 10);
    let interval = Duration::from_secs_f64(o.get("interval-ms", 100.0) / 1000.0);
    let payload: usize = o.get("payload", 50);
    let pid: Option<u32> = o.0.get("server-pid").and_then(|p| p.parse().ok());
    let mut ws = match target.connect_ws(usize::MAX / 2).await {
        Ok(ws) => ws,
        Err(e) => {
            print(json!({"scenario": "send", "error": e}));
            std::process::exit(1)
        }
    };
    let pad = pad(payload.saturating_sub(30));
    // Peak RSS of the server while the broadcasts go out, sampled every 2 ms.
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    if let Some(pid) = pid {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
    }
    let peer = ServerProbe::start(o.0.get("peer-pid").and_then(|p| p.parse().ok()));
    let probe = ServerProbe::start(pid);
    let mut emit = histogram();
    let start = Instant::now();
    let mut error = None;
    let mut next = Instant::now();
    for seq in 1..=rounds {
        let t = now_ns();
        let begin = Instant::now();
        let args = format!("\"{room}\",{{\"seq\":{seq},\"t\":{t},\"p\":\"{pad}\"}}");
        if let Err(e) = call(&mut ws, seq, "broadcast", &args).await {
            error = Some(e);
            break;
        }
        let _ = emit.record(ns(begin.elapsed()));
        next += interval;
        tokio::time::sleep_until(next.max(Instant::now()).into()).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    let server = probe.finish();
    let peer = peer.finish();
    print(json!({
        "scenario": "send",
        "peer": peer,
        "rounds": rounds,
        "payload": payload,
        "error": error,
        "elapsed_s": elapsed,
        "emit_to_ack": percentiles(&emit),
        "server": server,
        "server_rss_peak_kib": peak.load(Ordering::Relaxed),
    }));
}

async fn storm(o: &Opts, target: Target) {
    let n: usize = o.get("clients", 1000);
    let upgrade = o.str("mode", "ws") == "upgrade";
    let concurrency: usize = o.get("concurrency", 512);
    let pid: Option<u32> = o.0.get("server-pid").and_then(|p| p.parse().ok());
    let hist = Arc::new(Mutex::new(histogram()));
    let probe = ServerProbe::start(pid);
    let gen_cpu0 = own_cpu();
    let start = Instant::now();
    let (conns, first_error) =
        open_many(&target, n, concurrency, upgrade, Some(hist.clone())).await;
    let elapsed = start.elapsed().as_secs_f64();
    let gen_cpu = own_cpu() - gen_cpu0;
    let server = probe.finish();
    let ok = conns.iter().filter(|c| c.is_some()).count();
    let cpu = server["cpu_s"].as_f64().unwrap_or(0.0);
    print(json!({
        "scenario": "storm",
        "mode": if upgrade { "upgrade" } else { "websocket" },
        "clients": n,
        "concurrency": concurrency,
        "connected": ok,
        "failed": n - ok,
        "first_error": first_error,
        "elapsed_s": elapsed,
        "handshakes_per_s": ok as f64 / elapsed,
        "connect": percentiles(&lock(&hist)),
        "server": server,
        "server_cpu_us_per_handshake": if ok > 0 { json!(cpu * 1e6 / ok as f64) } else { Value::Null },
        // Which side was the bottleneck: the share of one core each used over the storm (the
        // generator is one thread, so near 100 % means it, not the server, set the rate).
        "server_cpu_percent": cpu * 100.0 / elapsed,
        "generator_cpu_s": gen_cpu,
        "generator_cpu_percent": gen_cpu * 100.0 / elapsed,
    }));
    let holders: Vec<_> = conns
        .into_iter()
        .flatten()
        .map(|ws| tokio::spawn(hold(ws)))
        .collect();
    stop_signal(o.get("hold", 0)).await;
    drop(holders);
}

/// Connects `n` clients, cuts them all at once, and lets them all reconnect at once (no
/// handshake limit; a failed attempt retries after 100-300 ms): time until all are back.
async fn avalanche(o: &Opts, target: Target) {
    let n: usize = o.get("clients", 1000);
    let timeout = Duration::from_secs(o.get("timeout", 60));
    let pid: Option<u32> = o.0.get("server-pid").and_then(|p| p.parse().ok());
    let (cut_tx, cut_rx) = watch::channel(false);
    let up = Arc::new(AtomicUsize::new(0));
    let back = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(512));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let hist = Arc::new(Mutex::new(histogram()));
    let cut_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    for i in 0..n {
        let permit = gate.clone().acquire_owned().await.ok();
        let (target, mut cut_rx) = (target.clone(), cut_rx.clone());
        let (up, back, retries, first_error, hist, cut_at) = (
            up.clone(),
            back.clone(),
            retries.clone(),
            first_error.clone(),
            hist.clone(),
            cut_at.clone(),
        );
        tokio::spawn(async move {
            let ws = match target.connect_ws(i).await {
                Ok(ws) => ws,
                Err(e) => {
                    lock(&first_error).get_or_insert(e);
                    return;
                }
            };
            drop(permit);
            up.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                _ = hold(ws) => return,
                _ = cut_rx.wait_for(|c| *c) => {}
            }
            // The old connection is dropped here: every socket closes at once.
            let Some(t0) = *lock(&cut_at) else { return };
            let mut attempt = 0u64;
            loop {
                match target.connect_ws(i + n).await {
                    Ok(ws) => {
                        let _ = lock(&hist).record(ns(t0.elapsed()));
                        back.fetch_add(1, Ordering::Relaxed);
                        let _ = hold(ws).await;
                        return;
                    }
                    Err(e) => {
                        lock(&first_error).get_or_insert(e);
                        retries.fetch_add(1, Ordering::Relaxed);
                        attempt += 1;
                        let jitter = (i as u64 * 7919 + attempt * 104_729) % 200;
                        tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
                    }
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while up.load(Ordering::Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected = up.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probe = ServerProbe::start(pid);
    let t0 = Instant::now();
    *lock(&cut_at) = Some(t0);
    let _ = cut_tx.send(true);
    while back.load(Ordering::Relaxed) < connected && t0.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_back = t0.elapsed().as_secs_f64();
    let server = probe.finish();
    print(json!({
        "scenario": "avalanche",
        "clients": n,
        "connected_before": connected,
        "back": back.load(Ordering::Relaxed),
        "all_back_s": if back.load(Ordering::Relaxed) >= connected { json!(all_back) } else { Value::Null },
        "retries": retries.load(Ordering::Relaxed),
        "first_error": lock(&first_error).clone(),
        "reconnect": percentiles(&lock(&hist)),
        "server": server,
    }));
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen idle|echo|recv|send|storm|avalanche --url http://127.0.0.1:PORT/socket.io/ [options]\n(see the doc comment of bench/src/bin/loadgen.rs)"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(scenario) = args.first() else {
        usage()
    };
    let o = Opts::parse(&args[1..]);
    let target = Target::from_opts(&o);
    match scenario.as_str() {
        "idle" => idle(&o, target).await,
        "echo" => echo(&o, target).await,
        "recv" => recv_scenario(&o, target).await,
        "send" => send_scenario(&o, target).await,
        "storm" => storm(&o, target).await,
        "avalanche" => avalanche(&o, target).await,
        _ => usage(),
    }
    // Do not wait for the connection tasks.
    std::process::exit(0)
}
