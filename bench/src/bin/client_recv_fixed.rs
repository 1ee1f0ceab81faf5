//! A fixed amount of the `client_recv` workload, for instruction counts: M clients (one
//! `Manager` each, WebSocket only) keep asking the server for `flood` (BATCH `b` events, then
//! an ack) until they have received N `b` events in all, then the process exits. No clock and
//! no `/proc` reads (it runs under `valgrind --tool=callgrind`, where `client_recv`'s CPU-time
//! reading crashes): instructions per event = the total divided by N, the connection set-up
//! included (about 1 % of it at N = 200,000).
//!
//! ```text
//! client_recv_fixed URL [M=10] [N=200000] [BATCH=200]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sio_client::{Manager, Options, TransportKind};
use tokio::sync::Notify;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: client_recv_fixed URL [M] [N] [BATCH]")?;
    let m: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let n: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000);
    let batch: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let received = Arc::new(AtomicU64::new(0));
    let done = Arc::new(Notify::new());
    let data = "x".repeat(40);
    let mut managers = Vec::new();
    for _ in 0..m {
        let manager = Manager::new(
            &url,
            Options::default().transports([TransportKind::WebSocket]),
        )?;
        let socket = manager.socket("/");
        let (counter, done) = (received.clone(), done.clone());
        socket.on("b", move |_: sio_client::Message| {
            if counter.fetch_add(1, Ordering::Relaxed) + 1 == n {
                done.notify_one();
            }
        });
        socket.connect();
        let data = data.clone();
        tokio::spawn(async move {
            loop {
                if socket
                    .emit_with_ack("flood", &(batch, data.as_str()))
                    .await
                    .is_err()
                {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        });
        managers.push(manager);
    }
    done.notified().await;
    println!(
        "{{\"scenario\":\"client_recv_fixed\",\"clients\":{m},\"events\":{}}}",
        received.load(Ordering::Relaxed)
    );
    std::process::exit(0)
}
