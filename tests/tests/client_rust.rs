//! `sio-client` against our own server (`sio-server`): the scenarios of `client_node.rs`
//! (`client_support/`), in each transport mode, with a [`SocketIo`] implementing the handlers
//! of `tests/js/client-server.js`.
//!
//! Each server runs on a Tokio runtime of its own (one worker thread), on its own thread:
//! stopping it drops that runtime, which closes the listener and every connection at once, as
//! killing the Node process does; blocking its worker freezes it, as SIGSTOP does.
//!
//! Not run against our server: TLS (it serves plain HTTP) and the failed upgrade of
//! `client_node.rs` (refusing only WebSocket requests needs a hook on every request).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::thread::JoinHandle;

use serde_json::json;
use sio_server::{Ack, Cookie, EngineConfig, Error, Socket, SocketIo, SocketIoConfig};
use tokio::sync::oneshot;

mod client_support;

use client_support::{Mode, TestServer, WAIT};

/// Our server on its own runtime; stopped (runtime dropped) on drop.
struct RustServer {
    port: u16,
    /// The server's runtime, which has one worker thread.
    runtime: tokio::runtime::Handle,
    /// While frozen: the worker is blocked until this is dropped.
    frozen: Mutex<Option<std_mpsc::Sender<()>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer for RustServer {
    fn start(port: u16) -> RustServer {
        let (port_tx, port_rx) = std_mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            let runtime_handle = runtime.handle().clone();
            runtime.block_on(async move {
                let io = server();
                match io.listen(("127.0.0.1", port)).await {
                    Ok(handle) => {
                        let _ = port_tx.send(Ok((handle.local_addr().port(), runtime_handle)));
                        let _ = stopped.await;
                        drop(handle);
                    }
                    Err(e) => {
                        let _ = port_tx.send(Err(e));
                    }
                }
            });
            // Dropping the runtime ends every task: the listener and all connections close.
            drop(runtime);
        });
        let (port, runtime) = match port_rx.recv_timeout(WAIT) {
            Ok(Ok(started)) => started,
            other => panic!("our server did not start on port {port}: {other:?}"),
        };
        RustServer {
            port,
            runtime,
            frozen: Mutex::new(None),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn port(&self) -> u16 {
        self.port
    }

    /// Blocks the runtime's only worker thread: no task of the server runs (timers, reads,
    /// writes) until [`thaw`](TestServer::thaw), while its sockets stay open.
    fn freeze(&self) {
        let (tx, rx) = std_mpsc::channel::<()>();
        self.runtime.spawn(async move {
            let _ = rx.recv();
        });
        *self.frozen.lock().unwrap() = Some(tx);
    }

    fn thaw(&self) {
        self.frozen.lock().unwrap().take();
    }
}

impl Drop for RustServer {
    fn drop(&mut self) {
        self.thaw();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server of `tests/js/client-server.js`, in Rust.
fn server() -> SocketIo {
    let engine = EngineConfig::default()
        .path("/socket.io/")
        .ping_interval(std::time::Duration::from_millis(2000))
        .ping_timeout(std::time::Duration::from_millis(2000))
        .cookie(Cookie::default().name("io"))
        // Node queues without bound; ours closes a connection past this many packets
        // waiting for the client, which thousands of echoes in a burst would reach.
        .max_buffered_packets(16_384);
    let io = SocketIo::new(SocketIoConfig::default().engine(engine));
    // Per server: the tries of each `flaky` key, across connections.
    let flaky: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let on_connection = move |socket: Socket| {
        let flaky = flaky.clone();
        async move { handlers(&socket, flaky) }
    };
    io.of("/").on_connection(on_connection.clone());
    let admin = io.of("/admin");
    admin.use_middleware(|socket| async move {
        match socket
            .handshake()
            .auth
            .get("token")
            .and_then(|t| t.as_str())
        {
            Some("secret") => Ok(()),
            _ => Err(Error::rejected("not authorized")
                .with_data(&json!({"code": 42, "reason": "bad token"}))),
        }
    });
    admin.on_connection(on_connection);
    io
}

fn handlers(socket: &Socket, flaky: Arc<Mutex<HashMap<String, u64>>>) {
    // Events both ways: every argument comes back, binary included.
    socket.on_args("echo", |socket, args, _| async move {
        if let Err(e) = socket.emit_args("echo", args).await {
            eprintln!("client_rust: echo not sent: {e}");
        }
    });
    // An ack answered with the same arguments.
    socket.on_args("echo-ack", |_, args, ack| async move {
        let _ = ack.send_args(args);
    });
    // Never answered: for ack timeouts.
    socket.on_args("no-ack", |_, _, _| async {});
    // The server asks the client for an ack, then reports the answer.
    socket.on(
        "ask",
        |socket: Socket, (question,): (String,), _| async move {
            tokio::spawn(async move {
                let answer = socket
                    .emit_with_ack("question", &question)
                    .timeout(WAIT)
                    .await;
                if let Ok(answer) = answer {
                    let _ = socket.emit_args("answer", answer).await;
                }
            });
        },
    );
    // What the server knows of this connection.
    socket.on_args("info", |socket, _, ack| async move {
        let handshake = socket.handshake();
        let query: serde_json::Map<String, serde_json::Value> = handshake
            .query
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let transport = match socket.transport() {
            sio_server::TransportKind::WebSocket => "websocket",
            _ => "polling",
        };
        let _ = ack.send(&json!({
            "nsp": socket.namespace().name().to_string(),
            "id": socket.id().to_string(),
            "auth": serde_json::to_value(&handshake.auth).expect("json auth"),
            "transport": transport,
            "engineId": socket.engine_sid().to_string(),
            "query": query,
            "header": handshake.headers.get("x-test").and_then(|v| v.to_str().ok()),
        }));
    });
    // Answers only from the n-th time it gets `key` on: for `retries`. Answers the count.
    socket.on("flaky", move |_, (key, n): (String, u64), ack: Ack| {
        let count = {
            let mut flaky = flaky
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let count = flaky.entry(key).or_default();
            *count += 1;
            *count
        };
        async move {
            if count >= n {
                let _ = ack.send(&count);
            }
        }
    });
    // A server-side disconnect.
    socket.on_args("kick", |socket, _, _| async move {
        socket.disconnect(false);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_polling() {
    client_support::roundtrip::<RustServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_websocket() {
    client_support::roundtrip::<RustServer>(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_upgrade() {
    client_support::roundtrip::<RustServer>(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_polling() {
    client_support::connect_error_with_data::<RustServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_websocket() {
    client_support::connect_error_with_data::<RustServer>(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_polling() {
    client_support::server_disconnect::<RustServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_upgrade() {
    client_support::server_disconnect::<RustServer>(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_polling() {
    client_support::reconnects::<RustServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_websocket() {
    client_support::reconnects::<RustServer>(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_upgrade() {
    client_support::reconnects::<RustServer>(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_polling() {
    client_support::dead_server::<RustServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_upgrade() {
    client_support::dead_server::<RustServer>(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_are_split() {
    client_support::large_batches_are_split::<RustServer>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_under_load() {
    client_support::upgrade_under_load::<RustServer>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_all_and_once_polling() {
    client_support::catch_all_and_once::<RustServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_all_and_once_upgrade() {
    client_support::catch_all_and_once::<RustServer>(Mode::Upgrade).await;
}
