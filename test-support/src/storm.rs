//! The recovery storm: clients receive a numbered stream of broadcasts while a
//! [`FaultProxy`] cuts their connections, with connection state recovery on or off, for any
//! pair of server (ours, or Node's socket.io 4.8.4) and clients (`sio-client`, or the official
//! socket.io-client 4.8.4 under Node). The interop test `recovery_storm` and the benchmark
//! `recovery_bench` (bench/) run it.
//!
//! A run: the server starts (recovery for [`MAX_DISCONNECTION`] when on); the clients connect
//! through the proxy; a *conductor* (a `sio-client` socket connected straight to the server,
//! never cut) asks for the stream with `stream` (count, every_ms), and the server broadcasts
//! `tick` (i) for i = 0..count-1 to every socket of `/`, one every `every_ms`. Meanwhile the
//! proxy cuts the clients' connections ([`Cuts`]). Once the conductor got the last tick, each
//! client gets a [`StormConfig::grace`] to get it too; then what every client received is
//! reported ([`ClientRun`]).
//!
//! Both servers have the same handlers (`tests/js/client-recovery-server.js` for Node,
//! [`our_server`] here): `stream` (count, every_ms) and `info` (ack `{id, recovered}`).

use std::ops::Range;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use sio_server::{Ack, ConnectionStateRecovery, EngineConfig, Socket, SocketIo, SocketIoConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

use crate::proxy::{FaultProxy, ProxyStats};

/// How long a server keeps a session to recover (both servers).
pub const MAX_DISCONNECTION: Duration = Duration::from_secs(10);

/// The longest a step of a run may take (connecting every client, the first tick...).
const STEP: Duration = Duration::from_secs(30);

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// `sio-server` ([`our_server`]), in this process.
    Ours,
    /// socket.io 4.8.4 (`tests/js/client-recovery-server.js`), in a Node.js child.
    Node,
}

/// Which clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// `sio-client`, in this process.
    Ours,
    /// socket.io-client 4.8.4 (`tests/js/recovery-storm-clients.js`), in a Node.js child.
    Official,
}

/// When the proxy cuts.
#[derive(Debug, Clone, PartialEq)]
pub enum Cuts {
    /// Every connection at once, when the conductor got each of these tick numbers, and
    /// new connections refused for [`StormConfig::outage`] after each cut (so that a polling
    /// client, whose requests come and go, cannot slip between a cut and its next request).
    AtTicks(Vec<u64>),
    /// Each connection after a random lifetime in this range (a new one for each new
    /// connection), during the stream.
    Lifetime(Range<Duration>),
}

/// One run of the storm.
#[derive(Debug, Clone)]
pub struct StormConfig {
    /// The server.
    pub server: ServerKind,
    /// The clients.
    pub clients: ClientKind,
    /// Connection state recovery on the server.
    pub recovery: bool,
    /// How many clients.
    pub count: usize,
    /// How many ticks the server broadcasts.
    pub ticks: u64,
    /// One tick every...
    pub every: Duration,
    /// The faults.
    pub cuts: Cuts,
    /// How long new connections are refused after each cut of [`Cuts::AtTicks`].
    pub outage: Duration,
    /// The server's ping interval and ping timeout (how soon it notices a cut it cannot see
    /// on a request).
    pub ping: Duration,
    /// After the conductor's last tick, how long a client may take to get it.
    pub grace: Duration,
}

impl StormConfig {
    /// 10 clients (half over WebSocket, half over long-polling), 400 ticks, one every 10 ms,
    /// cut at ticks 50, 175 and 300 with an outage of 700 ms each, ping 250 ms, grace 3 s.
    ///
    /// The outage is longer than the servers need to notice a cut they cannot see (ping
    /// interval + ping timeout): a recovery needs the old socket gone, and a long poll cut
    /// between two requests, or whose end the server has not read yet, is only noticed by
    /// the heartbeat, or by the `close` packet the client posts when it can.
    pub fn new(server: ServerKind, clients: ClientKind, recovery: bool) -> StormConfig {
        StormConfig {
            server,
            clients,
            recovery,
            count: 10,
            ticks: 400,
            every: Duration::from_millis(10),
            cuts: Cuts::AtTicks(vec![50, 175, 300]),
            outage: Duration::from_millis(700),
            ping: Duration::from_millis(250),
            grace: Duration::from_secs(3),
        }
    }
}

/// What one client received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientRun {
    /// `websocket` or `polling`.
    pub transport: String,
    /// Each `connect`: the socket id and `recovered`.
    pub connects: Vec<(String, bool)>,
    /// The tick numbers, in the order they arrived.
    pub ticks: Vec<u64>,
    /// How many ticks came with an offset (a string last argument).
    pub offsets: usize,
}

impl ClientRun {
    /// Every tick of `0..sent` exactly once, in order.
    pub fn complete(&self, sent: u64) -> bool {
        self.ticks.len() as u64 == sent && self.ticks.iter().copied().eq(0..sent)
    }

    /// The ticks that arrived in order, each once (strictly increasing).
    pub fn in_order_once(&self) -> bool {
        self.ticks.windows(2).all(|w| w[0] < w[1])
    }

    /// Ticks of `0..sent` that never arrived.
    pub fn lost(&self, sent: u64) -> u64 {
        let mut seen = vec![false; sent as usize];
        for &n in &self.ticks {
            if let Some(s) = seen.get_mut(n as usize) {
                *s = true;
            }
        }
        seen.iter().filter(|s| !**s).count() as u64
    }

    /// Ticks that arrived more than once, or after a later one.
    pub fn misordered(&self) -> u64 {
        let mut max = None;
        let mut bad = 0;
        for &n in &self.ticks {
            if max.is_some_and(|m| n <= m) {
                bad += 1;
            }
            max = max.max(Some(n));
        }
        bad
    }
}

/// What a run gives.
#[derive(Debug, Clone)]
pub struct StormReport {
    /// The configuration.
    pub config: StormConfig,
    /// Every client, in order.
    pub clients: Vec<ClientRun>,
    /// The ticks the server sent (what the conductor received).
    pub sent: u64,
    /// The proxy's counters at the end.
    pub proxy: ProxyStats,
    /// From the first tick to the end of the grace.
    pub elapsed: Duration,
}

impl StormReport {
    /// Ticks delivered (each client's distinct ticks of `0..sent`) over ticks sent (to every
    /// client), in percent.
    pub fn delivery_percent(&self) -> f64 {
        let expected = self.sent * self.clients.len() as u64;
        let lost: u64 = self.clients.iter().map(|c| c.lost(self.sent)).sum();
        if expected == 0 {
            return 0.0;
        }
        100.0 * (expected - lost) as f64 / expected as f64
    }

    /// Clients that got every tick exactly once, in order.
    pub fn complete_clients(&self) -> usize {
        self.clients
            .iter()
            .filter(|c| c.complete(self.sent))
            .count()
    }

    /// Every client's `connect`s after the first that were recovered, and all of them.
    pub fn reconnects(&self) -> (usize, usize) {
        let again = self.clients.iter().flat_map(|c| c.connects.iter().skip(1));
        let (mut recovered, mut all) = (0, 0);
        for (_, r) in again {
            all += 1;
            recovered += usize::from(*r);
        }
        (recovered, all)
    }
}

/// Our server with the storm's handlers: `stream` (count, every_ms) broadcasts `tick`,
/// `info` acks `{id, recovered}`. Not started: [`SocketIo::listen`] it.
pub fn our_server(recovery: bool, ping: Duration) -> SocketIo {
    let engine = EngineConfig::default()
        .path("/socket.io/")
        .ping_interval(ping)
        .ping_timeout(ping);
    let mut config = SocketIoConfig::default().engine(engine);
    if recovery {
        config = config.connection_state_recovery(
            ConnectionStateRecovery::default()
                .max_disconnection_duration(MAX_DISCONNECTION)
                .skip_middlewares(true),
        );
    }
    let io = SocketIo::new(config);
    io.of("/").on_connection(|socket| async move {
        socket.on(
            "stream",
            |socket: Socket, (count, every_ms): (u64, u64), _ack| async move {
                let ns = socket.namespace().clone();
                tokio::spawn(async move {
                    let every = Duration::from_millis(every_ms.max(1));
                    let mut timer = tokio::time::interval_at(Instant::now() + every, every);
                    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    for i in 0..count {
                        timer.tick().await;
                        let _ = ns.emit("tick", &i).await;
                    }
                });
            },
        );
        socket.on("info", |socket: Socket, (): (), ack: Ack| async move {
            let _ = ack.send(&json!({"id": socket.id().as_str(), "recovered": socket.recovered()}));
        });
    });
    io
}

/// A Node.js child, killed on drop, and its stdout lines.
struct NodeChild {
    _child: Child,
    stdin: Option<ChildStdin>,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl NodeChild {
    fn spawn(script: &str, args: &[String]) -> NodeChild {
        let dir: &Path = crate::tests_dir();
        let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
        let mut child = Command::new(node)
            .arg(dir.join("js").join(script))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node must be installed (see README)");
        let stdout = child.stdout.take().expect("piped stdout");
        NodeChild {
            stdin: child.stdin.take(),
            _child: child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next line, within `wait`.
    async fn line(&mut self, what: &str, wait: Duration) -> String {
        match tokio::time::timeout(wait, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(other) => panic!("{what}: the Node child ended ({other:?})"),
            Err(_) => panic!("{what}: nothing within {wait:?}"),
        }
    }

    /// Writes `line` to the child's stdin.
    async fn send(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        if let Some(stdin) = &mut self.stdin {
            let _ = stdin.write_all(format!("{line}\n").as_bytes()).await;
            let _ = stdin.flush().await;
        }
    }
}

/// The server of a run, kept alive until dropped.
enum Server {
    Ours {
        io: SocketIo,
        _handle: sio_server::ServerHandle,
    },
    Node {
        _child: Box<NodeChild>,
    },
}

async fn start_server(config: &StormConfig) -> (Server, u16) {
    match config.server {
        ServerKind::Ours => {
            let io = our_server(config.recovery, config.ping);
            let handle = io.listen("127.0.0.1:0").await.expect("listen");
            let port = handle.local_addr().port();
            (
                Server::Ours {
                    io,
                    _handle: handle,
                },
                port,
            )
        }
        ServerKind::Node => {
            let mut args = vec!["--ping".to_owned(), config.ping.as_millis().to_string()];
            if config.recovery {
                args.extend([
                    "--recovery".to_owned(),
                    MAX_DISCONNECTION.as_millis().to_string(),
                ]);
            }
            let mut child = NodeChild::spawn("client-recovery-server.js", &args);
            let line = child.line("client-recovery-server.js", STEP).await;
            let port = line
                .strip_prefix("PORT ")
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or_else(|| panic!("client-recovery-server.js printed {line:?}"));
            (
                Server::Node {
                    _child: Box::new(child),
                },
                port,
            )
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Ours { io, .. } = self {
            let io = io.clone();
            // Closing needs the runtime; a run ends inside one.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { io.close().await });
            }
        }
    }
}

/// The `sio-client` options of the storm's clients: reconnection after 100-200 ms.
fn client_options(transport: sio_client::TransportKind) -> sio_client::Options {
    sio_client::Options::default()
        .transports([transport])
        .randomization_factor(0.0)
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(200))
}

/// `sio-client` clients in this process, recording into shared [`ClientRun`]s.
struct OurClients {
    sockets: Vec<sio_client::Socket>,
    runs: Vec<Arc<Mutex<ClientRun>>>,
}

impl OurClients {
    async fn connect(url: &str, count: usize) -> OurClients {
        let (connected_tx, mut connected) = unbounded_channel();
        let mut sockets = Vec::new();
        let mut runs = Vec::new();
        for i in 0..count {
            let (transport, name) = if i % 2 == 0 {
                (sio_client::TransportKind::WebSocket, "websocket")
            } else {
                (sio_client::TransportKind::Polling, "polling")
            };
            let manager =
                sio_client::Manager::new(url, client_options(transport)).expect("a valid URL");
            let socket = manager.socket("/");
            let run = Arc::new(Mutex::new(ClientRun {
                transport: name.to_owned(),
                ..ClientRun::default()
            }));
            let (r, handle, tx) = (Arc::clone(&run), socket.clone(), connected_tx.clone());
            socket.on_connect(move || {
                let id = handle.id().unwrap_or_default();
                let mut run = r.lock().unwrap_or_else(PoisonError::into_inner);
                run.connects.push((id, handle.recovered()));
                if run.connects.len() == 1 {
                    let _ = tx.send(());
                }
            });
            let r = Arc::clone(&run);
            socket.on("tick", move |msg: sio_client::Message| {
                let values = msg.args().to_values().unwrap_or_default();
                let Some(n) = values.first().and_then(|v| v.as_u64()) else {
                    return;
                };
                let offset = values.get(1).is_some_and(|v| v.as_str().is_some());
                let mut run = r.lock().unwrap_or_else(PoisonError::into_inner);
                run.ticks.push(n);
                run.offsets += usize::from(offset);
            });
            socket.connect();
            sockets.push(socket);
            runs.push(run);
        }
        for _ in 0..count {
            recv(&mut connected, "every client connected").await;
        }
        OurClients { sockets, runs }
    }

    fn last_tick_everywhere(&self, last: u64) -> bool {
        self.runs.iter().all(|r| {
            r.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .ticks
                .last()
                .is_some_and(|n| *n == last)
        })
    }

    fn finish(self) -> Vec<ClientRun> {
        for socket in &self.sockets {
            socket.disconnect();
        }
        self.runs
            .iter()
            .map(|r| r.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .collect()
    }
}

async fn recv<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    match tokio::time::timeout(STEP, rx.recv()).await {
        Ok(Some(value)) => value,
        Ok(None) => panic!("{what}: channel closed"),
        Err(_) => panic!("{what}: nothing within {STEP:?}"),
    }
}

/// The clients of a run.
enum Clients {
    Ours(OurClients),
    Official(Box<NodeChild>),
}

fn parse_official(line: &str) -> Vec<ClientRun> {
    let runs: Value = serde_json::from_str(line).unwrap_or_else(|e| {
        let start: String = line.chars().take(300).collect();
        panic!(
            "recovery-storm-clients.js printed {} bytes, {start:?}...: {e}",
            line.len()
        )
    });
    let runs = runs.as_array().expect("an array of clients");
    runs.iter()
        .map(|run| ClientRun {
            transport: run["transport"].as_str().unwrap_or_default().to_owned(),
            connects: run["connects"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap_or_default().to_owned(),
                        c["recovered"].as_bool().unwrap_or(false),
                    )
                })
                .collect(),
            // Runs [first, last] of consecutive ticks.
            ticks: run["ticks"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| {
                    let first = r[0].as_u64().unwrap_or(0);
                    let last = r[1].as_u64().unwrap_or(first);
                    first..=last
                })
                .collect(),
            offsets: run["offsets"].as_u64().unwrap_or(0) as usize,
        })
        .collect()
}

/// Runs the storm once.
pub async fn run(config: StormConfig) -> StormReport {
    let (server, port) = start_server(&config).await;
    let proxy = FaultProxy::start(port).await;
    proxy.seed(0x5eed ^ config.count as u64);
    let last = config.ticks.saturating_sub(1);
    let stream_time = config.every * config.ticks as u32;
    let mut clients = match config.clients {
        ClientKind::Ours => Clients::Ours(OurClients::connect(&proxy.url(), config.count).await),
        ClientKind::Official => {
            let deadline = STEP + stream_time + config.grace;
            let args = [
                proxy.port().to_string(),
                "--clients".to_owned(),
                config.count.to_string(),
                "--last".to_owned(),
                last.to_string(),
                "--deadline".to_owned(),
                deadline.as_millis().to_string(),
            ];
            let mut child = NodeChild::spawn("recovery-storm-clients.js", &args);
            let ready = child.line("the official clients", STEP).await;
            assert_eq!(ready, "READY", "recovery-storm-clients.js");
            Clients::Official(Box::new(child))
        }
    };
    // The conductor, straight to the server.
    let conductor = sio_client::Manager::new(
        &format!("http://127.0.0.1:{port}"),
        client_options(sio_client::TransportKind::WebSocket),
    )
    .expect("a valid URL")
    .socket("/");
    let (connected_tx, mut connected) = unbounded_channel();
    conductor.on_connect(move || {
        let _ = connected_tx.send(());
    });
    let (ticks_tx, mut ticks) = unbounded_channel();
    conductor.on("tick", move |msg: sio_client::Message| {
        let values = msg.args().to_values().unwrap_or_default();
        if let Some(n) = values.first().and_then(|v| v.as_u64()) {
            let _ = ticks_tx.send(n);
        }
    });
    conductor.connect();
    recv(&mut connected, "the conductor connected").await;
    conductor
        .emit(
            "stream",
            &(config.ticks, config.every.as_millis().max(1) as u64),
        )
        .expect("stream");
    let mut cut_at: Vec<u64> = match &config.cuts {
        Cuts::AtTicks(at) => at.clone(),
        Cuts::Lifetime(_) => Vec::new(),
    };
    cut_at.sort_unstable();
    cut_at.reverse();
    let mut sent = 0;
    let mut start = None;
    while sent < config.ticks {
        let n = recv(&mut ticks, "the conductor's ticks").await;
        if start.is_none() {
            start = Some(Instant::now());
            // The lifetimes start with the stream: a client cut before its first tick has no
            // offset to recover from (socket.io's rule), which is not what this measures.
            if let Cuts::Lifetime(range) = &config.cuts {
                proxy.cut_each_after(Some(range.clone()));
            }
        }
        sent = n + 1;
        while cut_at.last().is_some_and(|&at| at <= n) {
            cut_at.pop();
            if config.outage.is_zero() {
                proxy.cut();
            } else {
                proxy.refuse(true);
                proxy.cut();
                // scenario: the outage.
                tokio::time::sleep(config.outage).await;
                proxy.refuse(false);
            }
        }
    }
    proxy.cut_each_after(None);
    let start = start.unwrap_or_else(Instant::now);
    let runs = match &mut clients {
        Clients::Ours(ours) => {
            // Every client got the last tick, or the grace is over.
            crate::wait::holds_within(config.grace, || ours.last_tick_everywhere(last)).await;
            // A duplicate of the last tick would come right after it, so before the answer to
            // an `info` asked after it (one ordered connection; the client runs its handlers
            // in arrival order, before it resolves a later ack).
            for socket in &ours.sockets {
                let _ = socket
                    .timeout(Duration::from_secs(5))
                    .emit_with_ack("info", &())
                    .await;
            }
            Vec::new()
        }
        Clients::Official(child) => {
            // Every client got the last tick, or the grace is over.
            let line = match tokio::time::timeout(config.grace, child.lines.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(other) => panic!("recovery-storm-clients.js ended ({other:?})"),
                Err(_) => {
                    child.send("finish").await;
                    child.line("the official clients' results", STEP).await
                }
            };
            parse_official(&line)
        }
    };
    let runs = match clients {
        Clients::Ours(ours) => ours.finish(),
        Clients::Official(_) => runs,
    };
    let elapsed = start.elapsed();
    conductor.disconnect();
    let report = StormReport {
        proxy: proxy.stats(),
        config,
        clients: runs,
        sent,
        elapsed,
    };
    drop(proxy);
    drop(server);
    report
}
