//! Memory of idle clients: opens N WebSocket connections (one [`Manager`] each, namespace
//! `/`), waits until they are all connected and a settle time has passed, and prints the
//! process's resident memory (`VmRSS` of `/proc/self/status`, Linux) per connection.
//!
//! ```sh
//! # a server: the Node one of the interop tests (prints "PORT <n>"), or any other
//! (cd tests && node js/client-server.js 3000 &)
//! ulimit -n 8192   # N connections need N file descriptors
//! cargo run --release -p sio-client --example idle_clients -- http://127.0.0.1:3000 2000 5
//! ```
//!
//! Arguments: the URL, the number of clients (default 1000), the settle time in seconds
//! (default 5). The heartbeat keeps running while the clients are idle.

use std::time::{Duration, Instant};

use sio_client::{Manager, Options, TransportKind};
use tokio::sync::mpsc::unbounded_channel;

/// How many connections are opened at once.
const BATCH: usize = 100;

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

const USAGE: &str = "\
idle_clients: opens N WebSocket connections to a Socket.IO server (one Manager each, namespace
/), waits until all are connected and SETTLE_SECONDS have passed, and prints the process's
resident memory (VmRSS, Linux) per connection

usage: idle_clients URL [N] [SETTLE_SECONDS]

  URL              the server, e.g. http://127.0.0.1:3000
  N                the number of clients (default 1000)
  SETTLE_SECONDS   the settle time in seconds (default 5)
  -h, --help       print this help and exit";

/// The positional arguments (one to three). `--help` prints the usage and exits 0; a flag, no
/// URL or a fourth argument prints an error and the usage and exits 2.
fn parse_args() -> Vec<String> {
    let fail = |message: String| -> ! {
        eprintln!("error: {message}\n\n{USAGE}");
        std::process::exit(2)
    };
    let mut positional = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        } else if arg.starts_with('-') {
            fail(format!("unknown argument `{arg}`"));
        } else if positional.len() == 3 {
            fail(format!("unexpected argument `{arg}`"));
        }
        positional.push(arg);
    }
    if positional.is_empty() {
        fail("the URL is missing".to_owned());
    }
    positional
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = parse_args().into_iter();
    let url = args
        .next()
        .ok_or("usage: idle_clients URL [N] [SETTLE_SECONDS]")?;
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let settle = Duration::from_secs(args.next().map(|s| s.parse()).transpose()?.unwrap_or(5));

    // Warm up the runtime and the allocator with one client, so that the baseline holds
    // what every run needs once.
    let warm = Manager::new(
        &url,
        Options::default().transports([TransportKind::WebSocket]),
    )?;
    let (tx, mut connected) = unbounded_channel();
    {
        let tx = tx.clone();
        let socket = warm.socket("/");
        socket.on_connect(move || {
            let _ = tx.send(());
        });
        socket.connect();
    }
    tokio::time::timeout(Duration::from_secs(30), connected.recv())
        .await
        .map_err(|_| "the first client did not connect within 30 s")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = status_bytes("VmRSS:").ok_or("no /proc/self/status VmRSS")?;

    let started = Instant::now();
    let mut clients = Vec::with_capacity(n);
    let mut done = 0;
    while clients.len() < n {
        let batch = BATCH.min(n - clients.len());
        for _ in 0..batch {
            let options = Options::default().transports([TransportKind::WebSocket]);
            let manager = Manager::new(&url, options)?;
            let socket = manager.socket("/");
            let tx = tx.clone();
            socket.on_connect(move || {
                let _ = tx.send(());
            });
            socket.connect();
            clients.push((manager, socket));
        }
        for _ in 0..batch {
            tokio::time::timeout(Duration::from_secs(60), connected.recv())
                .await
                .map_err(|_| format!("only {done} of {n} clients connected"))?;
            done += 1;
        }
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(settle).await;
    let after = status_bytes("VmRSS:").ok_or("no /proc/self/status VmRSS")?;
    let connected_now = clients.iter().filter(|(_, s)| s.connected()).count();

    let per = after.saturating_sub(before) as f64 / n.max(1) as f64;
    println!("clients: {n} ({connected_now} connected after the settle time)");
    println!("connect time: {connect_time:.2?}");
    println!(
        "rss before: {} KiB, after: {} KiB",
        before / 1024,
        after / 1024
    );
    println!("rss per idle connection: {:.1} KiB", per / 1024.0);
    drop(clients);
    drop(warm);
    Ok(())
}
