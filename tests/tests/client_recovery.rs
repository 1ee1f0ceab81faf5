//! `sio-client`'s connection state recovery against the real Node.js socket.io 4.8.4 server
//! (`tests/js/client-recovery-server.js`, `connectionStateRecovery` on or off), through a TCP
//! proxy in the test that can cut every connection and refuse new ones for a while.
//!
//! The server broadcasts `tick` 0..[`COUNT`] to every socket, one every [`EVERY_MS`]; the
//! client asks for the stream, the proxy cuts the connection after [`CUT_AFTER`] ticks and
//! stays shut for an outage, then lets the client's reconnection through:
//!
//! - recovery on: `recovered()` is true, the socket id is the same, every tick arrives once,
//!   in order, the missed ones before the second `connect` (the server replays them before
//!   its CONNECT reply);
//! - the outage longer than the server's `maxDisconnectionDuration`: a new session (a new id,
//!   not recovered) and the ticks of the outage lost;
//! - recovery off: the same cut loses the ticks of the outage; they are counted.
//!
//! Real time, bounded: every wait is at most [`WAIT`]; the Node child is killed on drop. The
//! server's heartbeat is short ([`PING_MS`]), so that it notices a cut between two long polls
//! (no request open to fail) before the outage ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use sio_client::{Manager, Options, TransportKind};
use sio_test_support::node::NodeServer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::task::{AbortHandle, JoinHandle};

/// The longest any single step may take (a loaded 2-core machine).
const WAIT: Duration = Duration::from_secs(30);

/// The ticks the server sends, one every [`EVERY_MS`].
const COUNT: u64 = 150;
const EVERY_MS: u64 = 10;
/// The tick after which the proxy cuts the connection.
const CUT_AFTER: u64 = 10;
/// The server's pingInterval and pingTimeout: a cut it cannot see on a request is a ping
/// timeout after at most twice this.
const PING_MS: u64 = 250;
/// The outage: longer than the server needs to notice the cut (2 × [`PING_MS`]), shorter than
/// the stream.
const OUTAGE: Duration = Duration::from_millis(700);

/// Starts `client-recovery-server.js` with `--recovery <max_disconnection_ms>`, or without
/// recovery.
fn start_server(recovery: Option<u64>) -> NodeServer {
    let mut args = vec!["--ping".to_owned(), PING_MS.to_string()];
    if let Some(ms) = recovery {
        args.extend(["--recovery".to_owned(), ms.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    NodeServer::start_script("client-recovery-server.js", &args)
}

/// A TCP proxy to the server: [`cut`](Self::cut) closes every connection through it and
/// closes new ones at once until [`restore`](Self::restore).
struct Proxy {
    port: u16,
    links: Arc<Mutex<Links>>,
    accept: JoinHandle<()>,
}

struct Links {
    open: bool,
    tasks: Vec<AbortHandle>,
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let links = Arc::new(Mutex::new(Links {
            open: true,
            tasks: Vec::new(),
        }));
        let shared = Arc::clone(&links);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // Checked and registered under the lock: a cut cannot miss a link.
                let mut links = shared.lock().unwrap();
                if !links.open {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                links.tasks.retain(|t| !t.is_finished());
                links.tasks.push(task.abort_handle());
            }
        });
        Proxy {
            port,
            links,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Closes every connection (both ends see it closed) and refuses new ones.
    fn cut(&self) {
        let mut links = self.links.lock().unwrap();
        links.open = false;
        for task in links.tasks.drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.links.lock().unwrap().open = true;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Polling,
    WebSocket,
}

impl Mode {
    fn options(self) -> Options {
        let transport = match self {
            Mode::Polling => TransportKind::Polling,
            Mode::WebSocket => TransportKind::WebSocket,
        };
        Options::default()
            .transports([transport])
            .randomization_factor(0.0)
            .reconnection_delay(Duration::from_millis(50))
            .reconnection_delay_max(Duration::from_millis(100))
    }
}

/// What the server says of the socket after the reconnection.
#[derive(Debug, Deserialize)]
struct Info {
    id: String,
    recovered: bool,
}

/// What the client saw.
#[derive(Debug)]
struct Run {
    /// The handlers' log: `connect <id> <recovered>`, `disconnect <reason>`, `tick <n>`.
    log: Vec<String>,
    /// Each tick's number and offset (the last argument, when the server added one).
    ticks: Vec<(u64, Option<String>)>,
    first_id: String,
    /// `socket.id()` and `socket.recovered()` at the end, still connected.
    id: Option<String>,
    recovered: bool,
    info: Info,
}

impl Run {
    fn numbers(&self) -> Vec<u64> {
        self.ticks.iter().map(|(n, _)| *n).collect()
    }

    /// The ids and recovered flags of the `connect`s, in order.
    fn connects(&self) -> Vec<&str> {
        self.log
            .iter()
            .filter_map(|l| l.strip_prefix("connect "))
            .collect()
    }
}

async fn recv<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(value)) => value,
        Ok(None) => panic!("{what}: channel closed"),
        Err(_) => panic!("{what}: nothing within {WAIT:?}"),
    }
}

/// Connects through a proxy, asks for the stream, cuts after [`CUT_AFTER`] ticks for
/// `outage`, and collects everything until the last tick arrived.
async fn cut_mid_stream(mode: Mode, recovery: Option<u64>, outage: Duration) -> Run {
    let server = start_server(recovery);
    let proxy = Proxy::start(server.port).await;
    let manager = Manager::new(&proxy.url(), mode.options()).unwrap();
    let socket = manager.socket("/");
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let (connects_tx, mut connects) = unbounded_channel();
    let (ticks_tx, mut ticks) = unbounded_channel();
    let push = {
        let log = Arc::clone(&log);
        move |entry: String| log.lock().unwrap().push(entry)
    };
    let (p, handle) = (push.clone(), socket.clone());
    socket.on_connect(move || {
        let id = handle.id().unwrap_or_default();
        p(format!("connect {id} {}", handle.recovered()));
        let _ = connects_tx.send(id);
    });
    let p = push.clone();
    socket.on_disconnect(move |reason| p(format!("disconnect {reason}")));
    socket.on("tick", move |msg: sio_client::Message| {
        let values = msg.args().to_values().expect("decodable args");
        let n = values[0].as_u64().expect("a tick number");
        let offset = values.get(1).and_then(|v| v.as_str()).map(str::to_owned);
        push(format!("tick {n}"));
        let _ = ticks_tx.send((n, offset));
    });
    socket.connect();
    let first_id = recv(&mut connects, "connect").await;
    socket.emit("stream", &(COUNT, EVERY_MS)).unwrap();
    let mut got = Vec::new();
    while got.len() < CUT_AFTER as usize {
        got.push(recv(&mut ticks, "a tick before the cut").await);
    }
    proxy.cut();
    // scenario: the outage.
    tokio::time::sleep(outage).await;
    proxy.restore();
    // Until the last tick (every tick must come with recovery; without it, the stream goes on
    // after the reconnection anyway).
    while got.last().is_none_or(|(n, _)| *n < COUNT - 1) {
        got.push(recv(&mut ticks, "the ticks after the cut").await);
    }
    let info: Info = socket
        .timeout(WAIT)
        .emit_with_ack("info", &())
        .await
        .expect("info ack")
        .deserialize()
        .expect("an Info");
    // Nothing more: a duplicate would come right after the last tick, so before the answer to
    // `info`, asked after it (one ordered connection; the client runs its handlers in
    // arrival order, before it resolves a later ack).
    while let Ok(tick) = ticks.try_recv() {
        got.push(tick);
    }
    let log = log.lock().unwrap().clone();
    let run = Run {
        log,
        ticks: got,
        first_id,
        id: socket.id(),
        recovered: socket.recovered(),
        info,
    };
    socket.disconnect();
    run
}

/// Every tick exactly once, in order, with its offset; the same session back.
async fn recovers(mode: Mode) {
    let run = cut_mid_stream(mode, Some(10_000), OUTAGE).await;
    assert_eq!(
        run.numbers(),
        (0..COUNT).collect::<Vec<_>>(),
        "{:?}",
        run.log
    );
    assert!(run.ticks.iter().all(|(_, offset)| offset.is_some()));
    let id = run.first_id.as_str();
    assert_eq!(
        run.connects(),
        [format!("{id} false"), format!("{id} true")],
        "{:?}",
        run.log
    );
    assert!(run.recovered);
    assert_eq!(run.id.as_deref(), Some(id));
    assert!(run.info.recovered && run.info.id == id, "{:?}", run.info);
    // The replayed ticks came before the second `connect`, right after the disconnection.
    let cut = run
        .log
        .iter()
        .position(|l| l.starts_with("disconnect"))
        .unwrap();
    let again = run
        .log
        .iter()
        .rposition(|l| l.starts_with("connect"))
        .unwrap();
    // No close frame, no close packet: the transport failed.
    assert_eq!(run.log[cut], "disconnect transport error");
    let replayed = again - cut - 1;
    assert!(
        replayed >= 10
            && run.log[cut + 1..again]
                .iter()
                .all(|l| l.starts_with("tick")),
        "{:?}",
        run.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_websocket() {
    recovers(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_polling() {
    recovers(Mode::Polling).await;
}

/// The ticks arrived in order, without duplicates; the ones missing are counted (they were
/// sent while the client was away).
fn losses(run: &Run) -> u64 {
    let numbers = run.numbers();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "out of order or twice: {numbers:?}"
    );
    assert_eq!(numbers.last(), Some(&(COUNT - 1)));
    COUNT - numbers.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_max_disconnection_duration_is_a_new_one() {
    // The server keeps a session 200 ms; the outage is longer.
    let run = cut_mid_stream(Mode::WebSocket, Some(200), OUTAGE).await;
    let lost = losses(&run);
    eprintln!("a forgotten session: {lost} of {COUNT} ticks lost");
    assert!(lost > 0, "{:?}", run.log);
    let connects = run.connects();
    assert_eq!(connects.len(), 2, "{:?}", run.log);
    assert_eq!(connects[0], format!("{} false", run.first_id));
    assert!(connects[1].ends_with(" false"), "{:?}", run.log);
    let id = run.id.clone().expect("connected");
    assert_ne!(id, run.first_id);
    assert!(!run.recovered);
    assert!(!run.info.recovered && run.info.id == id, "{:?}", run.info);
    // The server still adds offsets: a new session has its own.
    assert!(run.ticks.iter().all(|(_, offset)| offset.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_recovery_the_cut_loses_events() {
    let run = cut_mid_stream(Mode::WebSocket, None, OUTAGE).await;
    let lost = losses(&run);
    eprintln!("recovery off: {lost} of {COUNT} ticks lost");
    assert!(lost > 0, "{:?}", run.log);
    let connects = run.connects();
    assert_eq!(connects.len(), 2, "{:?}", run.log);
    assert!(connects.iter().all(|c| c.ends_with(" false")));
    assert_ne!(run.id.as_deref(), Some(run.first_id.as_str()));
    assert!(!run.recovered && !run.info.recovered);
    // No offsets without recovery.
    assert!(run.ticks.iter().all(|(_, offset)| offset.is_none()));
}
