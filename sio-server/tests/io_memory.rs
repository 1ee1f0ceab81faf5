//! Heap per connection, measured with a counting global allocator: an idle socket, and (with
//! connection state recovery) a disconnected session waiting to be recovered.
//!
//! The clients are in-process long-polling peers ([`io_support::Polling`], no TCP socket), so
//! what the heap holds per client is the server's: the Engine.IO session and its task, the
//! Socket.IO session, the socket, its rooms. The tests run one at a time (`SERIAL`).

mod io_support;

use cap::Cap;
use io_support::Polling;
use sio_server::{SocketIo, SocketIoConfig};
use tokio::sync::Mutex;

#[global_allocator]
static HEAP: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// The tests of this file, one at a time (they measure the process's heap).
static SERIAL: Mutex<()> = Mutex::const_new(());

fn heap() -> usize {
    HEAP.allocated()
}

const CLIENTS: usize = 500;

#[tokio::test(start_paused = true)]
async fn an_idle_socket_holds_little() {
    let _serial = SERIAL.lock().await;
    let io = SocketIo::new(SocketIoConfig::default());
    io.of("/").on_connection(|socket| async move {
        socket.on("echo", |_, (): (), _| async move {});
    });
    io.start();
    // Warm-up: the first clients allocate the server's lazily grown tables.
    let mut clients = Vec::new();
    for _ in 0..50 {
        let client = Polling::open(&io).await;
        client.join("/", None).await;
        clients.push(client);
    }
    let before = heap();
    for _ in 0..CLIENTS {
        let client = Polling::open(&io).await;
        client.join("/", None).await;
        clients.push(client);
    }
    tokio::task::yield_now().await;
    let per_client = (heap() - before) / CLIENTS;
    eprintln!("heap per idle polling client joined to `/`: {per_client} bytes");
    assert_eq!(io.of("/").sockets().len(), CLIENTS + 50);
}
