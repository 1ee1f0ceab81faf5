//! Events per second one sio-client process can receive: M clients (one `Manager` each,
//! WebSocket only) each keep asking the server for `flood` (n `b` events, then an ack) and count
//! the `b` events they receive. After a warm-up, prints the events received per second and per
//! CPU-second of this process (one-thread runtime; the scripts pin it to one core).
//!
//! ```text
//! client_recv URL [M=10] [SECONDS=5] [BATCH=200] [WARMUP_SECONDS=2]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sio_bench::cpu_seconds;
use sio_client::{Manager, Options, TransportKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: client_recv URL [M] [SECONDS] [BATCH] [WARMUP_SECONDS]")?;
    let m: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let secs: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5.0);
    let batch: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let warmup: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2.0);
    let received = Arc::new(AtomicU64::new(0));
    let data = "x".repeat(40);
    let mut managers = Vec::new();
    for _ in 0..m {
        let manager = Manager::new(
            &url,
            Options::default().transports([TransportKind::WebSocket]),
        )?;
        let socket = manager.socket("/");
        let counter = received.clone();
        socket.on("b", move |_: sio_client::Message| {
            counter.fetch_add(1, Ordering::Relaxed);
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
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        managers.push(manager);
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    let (n0, c0) = (received.load(Ordering::Relaxed), own_cpu());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let (n1, c1) = (received.load(Ordering::Relaxed), own_cpu());
    let events = n1 - n0;
    println!(
        "{{\"scenario\":\"client_recv\",\"client\":\"sio-client\",\"clients\":{m},\"events\":{events},\"events_per_s\":{:.0},\"cpu_s\":{:.2},\"events_per_cpu_s\":{:.0}}}",
        events as f64 / secs,
        c1 - c0,
        if c1 > c0 {
            events as f64 / (c1 - c0)
        } else {
            0.0
        }
    );
    std::process::exit(0)
}

fn own_cpu() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}
