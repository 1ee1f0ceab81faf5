//! The bytes of binary packets waiting for their attachments are bounded per connection
//! (`max_pending_attachment_bytes`) and across the server
//! (`max_pending_attachment_bytes_total`): the connection that would go past a bound is
//! closed, and the server-wide count is given back when a packet completes, fails, or its
//! connection goes.

use sio_test_support::io as io_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use io_support::{Logs, Peer, Polling, WAIT, until};
use sio_protocol::Value;
use sio_server::{SocketIo, SocketIoConfig};
use sio_test_support::wait::until_within;

type Log = Arc<Mutex<Vec<String>>>;

const ATTACHMENT: usize = 10_000;

/// The header of a binary event `up` announcing `n` attachments.
fn header(n: usize) -> String {
    let placeholders: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"_placeholder":true,"num":{i}}}"#))
        .collect();
    format!(r#"5{n}-["up",{}]"#, placeholders.join(","))
}

/// An attachment as a polling record.
fn record(byte: u8) -> String {
    let data = vec![byte; ATTACHMENT];
    format!(
        "b{}",
        base64::engine::general_purpose::STANDARD.encode(data)
    )
}

/// `up` reports the sizes of its buffers; disconnections are logged with their reason.
fn server(config: SocketIoConfig, log: &Log) -> SocketIo {
    let io = SocketIo::new(config);
    let log = log.clone();
    io.of("/").on_connection(move |socket| {
        let log = log.clone();
        async move {
            let up = log.clone();
            socket.on_args("up", move |_, args, _| {
                let log = up.clone();
                async move {
                    let sizes: Vec<usize> = args
                        .to_values()
                        .unwrap()
                        .iter()
                        .map(|v| match v {
                            Value::Binary(b) => b.len(),
                            _ => 0,
                        })
                        .collect();
                    log.lock().unwrap().push(format!("up:{sizes:?}"));
                }
            });
            socket.on_disconnect(move |socket, reason| {
                let log = log.clone();
                async move {
                    let entry = format!("disconnect:{}:{reason}", socket.id());
                    log.lock().unwrap().push(entry);
                }
            });
        }
    });
    io.start();
    io
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn a_packet_within_the_bounds_completes_and_gives_its_bytes_back() {
    let log = Log::default();
    let config = SocketIoConfig::default()
        .max_pending_attachment_bytes(50_000)
        .max_pending_attachment_bytes_total(50_000);
    let io = server(config, &log);
    let client = Polling::open(&io).await;
    client.join("/", None).await;
    let header = header(3);
    client.post(&[&header]).await;
    // The header is held (the last attachment never is).
    until(|| io.pending_attachment_bytes() == header.len()).await;
    client.post(&[&record(1), &record(2)]).await;
    until(|| io.pending_attachment_bytes() == header.len() + 2 * ATTACHMENT).await;
    client.post(&[&record(3)]).await;
    until(|| io.pending_attachment_bytes() == 0).await;
    until(|| !entries(&log).is_empty()).await;
    assert_eq!(entries(&log), ["up:[10000, 10000, 10000]"]);
    // Again, in one POST.
    client
        .post(&[&header, &record(1), &record(2), &record(3)])
        .await;
    until(|| entries(&log).len() == 2).await;
    assert_eq!(io.pending_attachment_bytes(), 0);
    assert_eq!(io.engine().session_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn over_the_connection_bound_the_connection_is_closed() {
    let log = Log::default();
    let logs = Logs::capture();
    let config = SocketIoConfig::default().max_pending_attachment_bytes(25_000);
    let io = server(config, &log);
    let client = Polling::open(&io).await;
    let id = client.join("/", None).await;
    let other = Polling::open(&io).await;
    other.join("/", None).await;
    client.post(&[&header(5), &record(1), &record(2)]).await;
    until(|| io.pending_attachment_bytes() == header(5).len() + 2 * ATTACHMENT).await;
    // The third would hold 30,000 bytes and more.
    let _ = client.post_status(&[&record(3)]).await;
    until(|| io.pending_attachment_bytes() == 0).await;
    let disconnect = format!("disconnect:{id}:forced close");
    until(|| entries(&log).contains(&disconnect)).await;
    // The client's next GET gets the close packet.
    let (status, packets, waited) = client.get_timed().await;
    assert_eq!(
        (status, packets, waited),
        (200, vec!["1".to_owned()], Duration::ZERO)
    );
    until(|| io.engine().session_count() == 1).await;
    let expected = format!("sid={}", client.sid);
    let closed = logs.matching(&["DEBUG", &expected, "pending attachments over 25000 bytes"]);
    assert_eq!(closed.len(), 1, "{:#?}", logs.lines());
    // Gone for good: a later POST is refused at once.
    let (status, _) = client.post_status(&[r#"2["x"]"#]).await;
    assert_eq!(status, 400);
    // The other client is not affected.
    other.post(&[&header(1), &record(1)]).await;
    until(|| entries(&log).iter().any(|e| e == "up:[10000]")).await;
}

#[tokio::test(start_paused = true)]
async fn a_packet_that_fails_gives_its_bytes_back() {
    let log = Log::default();
    let io = server(SocketIoConfig::default(), &log);
    let client = Polling::open(&io).await;
    let id = client.join("/", None).await;
    client.post(&[&header(3), &record(1)]).await;
    until(|| io.pending_attachment_bytes() == header(3).len() + ATTACHMENT).await;
    // Text instead of the second attachment: a protocol violation.
    let _ = client.post_status(&[r#"2["x"]"#]).await;
    until(|| io.pending_attachment_bytes() == 0).await;
    let disconnect = format!("disconnect:{id}:forced close");
    until(|| entries(&log).contains(&disconnect)).await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_goes_gives_its_bytes_back() {
    let log = Log::default();
    let io = server(SocketIoConfig::default(), &log);
    let client = Polling::open(&io).await;
    let id = client.join("/", None).await;
    client.post(&[&header(3), &record(1), &record(2)]).await;
    until(|| io.pending_attachment_bytes() == header(3).len() + 2 * ATTACHMENT).await;
    // The client closes the Engine.IO session (a close packet).
    client.post_raw("1").await;
    let disconnect = format!("disconnect:{id}:transport close");
    until(|| entries(&log).contains(&disconnect)).await;
    assert_eq!(io.pending_attachment_bytes(), 0);
    assert_eq!(io.engine().session_count(), 0);
}

/// Over WebSocket, `connections` clients each join `/`, announce 10 attachments and send 9;
/// the bytes admitted never pass the server-wide bound, the connections that would pass it
/// are closed, and the count goes back to 0 once the others leave.
#[tokio::test]
async fn the_attack_is_bounded_across_the_server() {
    let connections = 50;
    let header = header(10);
    let per_connection = header.len() + 9 * ATTACHMENT;
    // Room for 10 connections and a half.
    let total = 10 * per_connection + per_connection / 2;
    let log = Log::default();
    let config = SocketIoConfig::default().max_pending_attachment_bytes_total(total);
    let io = SocketIo::new(config);
    {
        let log = log.clone();
        io.of("/").on_connection(move |socket| {
            let log = log.clone();
            async move {
                socket.on_disconnect(move |_, reason| {
                    let log = log.clone();
                    async move { log.lock().unwrap().push(reason.to_string()) }
                });
            }
        });
    }
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let admitted = total / per_connection;
    assert_eq!(admitted, 10);
    let mut open = Vec::new();
    for i in 0..connections {
        let (mut peer, _) = Peer::join(addr, "/").await;
        peer.send(&header).await;
        for _ in 0..9 {
            peer.send_binary(&[i as u8; ATTACHMENT]).await;
        }
        if i < admitted {
            until(|| io.pending_attachment_bytes() == (i + 1) * per_connection).await;
            open.push(peer);
        } else {
            peer.closed().await;
            until(|| log.lock().unwrap().len() == i + 1 - admitted).await;
        }
        assert!(io.pending_attachment_bytes() <= total);
    }
    assert_eq!(io.pending_attachment_bytes(), admitted * per_connection);
    let reasons = log.lock().unwrap().clone();
    assert_eq!(reasons.len(), connections - admitted);
    assert!(reasons.iter().all(|r| r == "forced close"), "{reasons:?}");
    // Those still open can still complete their packet.
    let mut last = open.pop().unwrap();
    last.send_binary(&[0; ATTACHMENT]).await;
    until(|| io.pending_attachment_bytes() == (admitted - 1) * per_connection).await;
    for peer in open {
        peer.close().await;
    }
    tokio::time::timeout(WAIT, until(|| io.pending_attachment_bytes() == 0))
        .await
        .unwrap();
    until(|| io.engine().session_count() == 1).await;
    last.close().await;
}

// ----- measurement (ignored: run one at a time, see the module docs below) -----

/// The resident set and its peak, in KiB, from `/proc/self/status`.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A client frame (masked with a zero key, so the payload goes as it is).
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65_536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

/// A bare WebSocket client joined to `/` (a few hundred bytes of its own, so that the
/// process's memory is the server's).
async fn raw_join(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    // The 101 response, the open packet; then CONNECT and its reply.
    let mut seen = Vec::new();
    let mut buf = [0; 512];
    let mut sent_connect = false;
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed during the handshake");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if !sent_connect && text.contains("\"sid\"") {
            stream.write_all(&ws_frame(1, b"40")).await.unwrap();
            sent_connect = true;
            seen.clear();
        } else if sent_connect && text.contains("40{") {
            return stream;
        }
    }
}

/// 1,000 clients (`SIO_ATTACK_CONNECTIONS`) each announce 10 attachments and send 9 of
/// `SIO_ATTACK_BYTES` (10,000) bytes; prints the server's memory. With `SIO_ATTACK_UNBOUNDED`
/// set, the bounds are lifted (what the server did before them). Run alone:
/// `cargo test --release -p sio-server --test io_attachments -- --ignored --exact
/// attack_memory --nocapture`.
#[test]
#[ignore = "a measurement: prints numbers"]
fn attack_memory() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let connections = env("SIO_ATTACK_CONNECTIONS", 1000);
    let size = env("SIO_ATTACK_BYTES", ATTACHMENT);
    let unbounded = std::env::var_os("SIO_ATTACK_UNBOUNDED").is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        use tokio::io::AsyncWriteExt;
        let mut config = SocketIoConfig::default();
        if unbounded {
            config = config
                .max_pending_attachment_bytes(usize::MAX)
                .max_pending_attachment_bytes_total(usize::MAX);
        }
        let io = SocketIo::new(config);
        io.of("/").on_connection(|_| async {});
        let handle = io.listen("127.0.0.1:0").await.unwrap();
        let addr = handle.local_addr();
        let start = rss_kib();
        let mut clients = Vec::with_capacity(connections);
        for _ in 0..connections {
            clients.push(raw_join(addr).await);
        }
        let idle = rss_kib();
        let mut attack = ws_frame(1, format!("4{}", header(10)).as_bytes());
        let attachment = ws_frame(2, &vec![7; size]);
        for _ in 0..9 {
            attack.extend_from_slice(&attachment);
        }
        let attack = Arc::new(attack);
        let mut writers = Vec::new();
        for mut client in clients {
            let attack = attack.clone();
            writers.push(tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let _ = client.write_all(&attack).await;
                // A ping after the attack: its pong comes once the server has read every frame
                // before it, and handed it to the Socket.IO layer (which takes a message before
                // the session reads the next frame), so the attachments are counted. A
                // connection the bounds closed ends instead.
                let _ = client.write_all(&ws_frame(9, b"settled")).await;
                let mut seen = Vec::new();
                let mut buf = [0; 512];
                while !seen.windows(7).any(|w| w == b"settled") {
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                client
            }));
        }
        let mut clients = Vec::new();
        for writer in writers {
            clients.push(writer.await.unwrap());
        }
        let last = io.pending_attachment_bytes();
        let attacked = rss_kib();
        let sessions = io.engine().session_count();
        println!(
            "connections={connections} attachment={size} unbounded={unbounded}\n\
             rss start={} KiB, idle={} KiB, attacked={} KiB (peak {} KiB)\n\
             pending counted={} bytes, sessions open={sessions}\n\
             per pending attachment: {:.0} bytes of RSS",
            start.0,
            idle.0,
            attacked.0,
            attacked.1,
            last,
            (attacked.0.saturating_sub(idle.0) * 1024) as f64 / (sessions.max(1) * 9) as f64,
        );
        let linger = env("SIO_ATTACK_LINGER", 0);
        if linger > 0 {
            // scenario: the measurement holds on for `SIO_ATTACK_LINGER` s when asked.
            tokio::time::sleep(Duration::from_secs(linger as u64)).await;
            println!("{linger} s later: rss={} KiB", rss_kib().0);
        }
        drop(clients);
        // The count goes back to 0.
        until_within(Duration::from_secs(30), || {
            io.pending_attachment_bytes() == 0
        })
        .await;
        println!("after the clients left: rss={} KiB", rss_kib().0);
    });
}

/// The same over polling, in process (the request bodies are whole `Bytes`): 1,000 sessions
/// (`SIO_ATTACK_CONNECTIONS`) each POST a header announcing 10 attachments for the namespace
/// `SIO_ATTACK_NSP` (default `/`) and 9 attachments of 10,000 bytes; prints the memory.
#[test]
#[ignore = "a measurement: prints numbers"]
fn attack_memory_polling() {
    let connections: usize = std::env::var("SIO_ATTACK_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let nsp = std::env::var("SIO_ATTACK_NSP").unwrap_or_else(|_| "/".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let config = SocketIoConfig::default()
            .max_pending_attachment_bytes(usize::MAX)
            .max_pending_attachment_bytes_total(usize::MAX);
        let io = SocketIo::new(config);
        io.of(&nsp).on_connection(|_| async {});
        io.start();
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        let placeholders: Vec<String> = (0..10)
            .map(|i| format!(r#"{{"_placeholder":true,"num":{i}}}"#))
            .collect();
        let header = format!(r#"510-{prefix}["up",{}]"#, placeholders.join(","));
        let mut records = vec![header.clone()];
        for i in 0..9 {
            records.push(record(i));
        }
        let records: Vec<&str> = records.iter().map(String::as_str).collect();
        let mut clients = Vec::new();
        for _ in 0..connections {
            let client = Polling::open(&io).await;
            client.join(&nsp, None).await;
            clients.push(client);
        }
        let idle = rss_kib();
        for client in &clients {
            client.post(&records).await;
        }
        let expected = connections * (header.len() + 9 * ATTACHMENT);
        // Every packet pending.
        until_within(Duration::from_secs(60), || {
            io.pending_attachment_bytes() == expected
        })
        .await;
        let attacked = rss_kib();
        println!(
            "polling connections={connections} nsp={nsp}: rss idle={} KiB, attacked={} KiB; \
             pending counted={expected} bytes; {:.0} bytes of RSS per pending attachment",
            idle.0,
            attacked.0,
            (attacked.0.saturating_sub(idle.0) * 1024) as f64 / (connections * 9) as f64,
        );
    });
}
