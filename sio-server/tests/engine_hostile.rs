//! Cheap attacks replayed against a running server, each asserting the bound that stops it:
//! heap growth, time to close, requests answered.
//!
//! The heap is measured with a counting global allocator, so the tests of this file run one at
//! a time (`SERIAL`), and the attacking clients are raw TCP peers that allocate next to nothing.

use sio_test_support::engine as support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use cap::Cap;
use futures_util::SinkExt;
use sio_server::protocol::Str;
use sio_server::{DisconnectReason, EngineConfig, EngineIo, Message};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[global_allocator]
static HEAP: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// The tests of this file, one at a time (they measure the process's heap).
static SERIAL: Mutex<()> = Mutex::const_new(());

const MB: usize = 1024 * 1024;

/// Bytes allocated and not freed, now.
fn heap() -> usize {
    HEAP.allocated()
}

/// Waits until `done` holds, up to `limit`; the time it took.
async fn within(limit: Duration, done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    sio_test_support::wait::until_within(limit, done).await;
    start.elapsed()
}

/// Opens a POST for `sid` declaring a body of `len` bytes, headers only.
async fn open_post(addr: std::net::SocketAddr, sid: &str, len: usize) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let head = format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
         Content-Length: {len}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp
}

/// Reads what the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(tcp: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, tcp.read_to_end(&mut out)).await;
    out
}

/// The status of the first response in `bytes`.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let line = bytes.split(|&b| b == b'\r').next()?;
    std::str::from_utf8(line)
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_post_bodies_do_not_amplify_memory() {
    let _serial = SERIAL.lock().await;
    // Twenty POST bodies sent one byte per TCP segment. hyper hands each byte over as a slice
    // of its 8 KiB read buffer: a server that keeps the chunks keeps a buffer per byte (the
    // replay of the issue reached 1.17 GB).
    let server = echo_server(EngineConfig::default()).await;
    let mut sids = Vec::new();
    for _ in 0..20 {
        sids.push(handshake(server.addr).await.0);
    }
    let before = heap();
    let mut tasks = Vec::new();
    for sid in &sids {
        let mut tcp = open_post(server.addr, sid, 1_000_000).await;
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let mut sent = 0usize;
            while start.elapsed() < Duration::from_secs(3) {
                tcp.write_all(b"4").await.unwrap();
                sent += 1;
                // scenario: the attacker dribbles one byte per millisecond.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (tcp, sent)
        }));
    }
    let mut conns = Vec::new();
    let mut sent = 0;
    for task in tasks {
        let (tcp, n) = task.await.unwrap();
        sent += n;
        conns.push(tcp);
    }
    let grown = heap().saturating_sub(before);
    eprintln!(
        "{sent} bytes dribbled over 20 POSTs: heap +{} KB",
        grown / 1024
    );
    assert!(sent > 5_000, "the attack ran ({sent} bytes)");
    // What was received is held once (at most twice, the buffer growing), plus fixed costs.
    assert!(
        grown < sent * 2 + 2 * MB,
        "heap grew by {grown} bytes for {sent} bytes"
    );
    // The clients go away: the POSTs fail, the sessions end, the memory is returned.
    drop(conns);
    let engine = server.engine.clone();
    within(Duration::from_secs(5), || engine.session_count() == 0).await;
    let left = heap().saturating_sub(before);
    assert!(left < MB, "{left} bytes still held after the attack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_by_the_header_timeout() {
    let _serial = SERIAL.lock().await;
    let config = EngineConfig::default().http_header_timeout(Duration::from_millis(500));
    let server = echo_server(config).await;
    let addr = server.addr;
    // Two hundred connections sending one header byte every 100 ms, and one idle keep-alive
    // connection after a complete request.
    let mut attackers = Vec::new();
    for _ in 0..200 {
        attackers.push(tokio::spawn(async move {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            let start = Instant::now();
            let request = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n";
            let (mut read, mut write) = tcp.split();
            let dribble = async {
                for byte in request.iter().cycle() {
                    if write.write_all(&[*byte]).await.is_err() {
                        break;
                    }
                    // scenario: a slow client, one write every 100 ms.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            let mut sink = Vec::new();
            tokio::select! {
                () = dribble => {}
                _ = read.read_to_end(&mut sink) => {}
            }
            start.elapsed()
        }));
    }
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // A regular client is served during the attack.
    let (sid, _) = handshake(addr).await;
    assert_eq!(sid.len(), 20);
    for attacker in attackers {
        let closed_after = tokio::time::timeout(Duration::from_secs(10), attacker)
            .await
            .expect("closed by the server")
            .unwrap();
        assert!(
            closed_after < Duration::from_millis(2500),
            "closed after {closed_after:?}"
        );
    }
    // The idle keep-alive connection got its answer, then was closed by the same timeout.
    let start = Instant::now();
    let answer = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert_eq!(status_of(&answer), Some(200));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_post_body_gets_408_and_the_session_ends() {
    let _serial = SERIAL.lock().await;
    let config = EngineConfig::default().http_body_timeout(Duration::from_millis(600));
    let server = echo_server(config).await;
    let (sid, _) = handshake(server.addr).await;
    let mut tcp = open_post(server.addr, &sid, 1000).await;
    let start = Instant::now();
    // One byte every 100 ms: never done in time.
    let (mut read, mut write) = tcp.split();
    let dribble = async {
        for _ in 0..100 {
            if write.write_all(b"4").await.is_err() {
                break;
            }
            // scenario: a slow client, one write every 100 ms.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let mut answer = Vec::new();
    tokio::select! {
        () = dribble => panic!("the body was never cut"),
        _ = read.read_to_end(&mut answer) => {}
    }
    assert_eq!(status_of(&answer), Some(408));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // The session ended with the transport.
    let resp = get(server.addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(resp.text(), r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_ends_with_its_session() {
    let _serial = SERIAL.lock().await;
    // The body timeout is long; the heartbeat ends the session (the client cannot answer a
    // ping while its only POST dribbles), and the POST goes with it, as in engine.io.
    let config = EngineConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .http_body_timeout(Duration::from_secs(60));
    let server = echo_server(config).await;
    let (sid, _) = handshake(server.addr).await;
    let mut tcp = open_post(server.addr, &sid, 1000).await;
    let start = Instant::now();
    let (mut read, mut write) = tcp.split();
    let dribble = async {
        for _ in 0..100 {
            if write.write_all(b"4").await.is_err() {
                break;
            }
            // scenario: a slow client, one write every 100 ms.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let mut answer = Vec::new();
    tokio::select! {
        () = dribble => panic!("the POST outlived its session"),
        _ = read.read_to_end(&mut answer) => {}
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_ends_with_the_upgrade() {
    let _serial = SERIAL.lock().await;
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let mut tcp = open_post(server.addr, &sid, 1000).await;
    tcp.write_all(b"4").await.unwrap();
    let mut ws = ws_connect(server.addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    ws_send(&mut ws, "5").await;
    ws_send(&mut ws, "4on ws").await;
    assert_eq!(ws_text(&mut ws).await, "4on ws");
    // The old transport's POST is dropped (engine.io closes the polling transport).
    let start = Instant::now();
    let _ = read_until_closed(&mut tcp, Duration::from_secs(5)).await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    ws_send(&mut ws, "4still").await;
    assert_eq!(ws_text(&mut ws).await, "4still");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_client_that_never_gets_is_bounded_in_bytes() {
    let _serial = SERIAL.lock().await;
    // The application answers every message with 900 KB; the client keeps its session alive
    // with pongs and never GETs. Without a byte bound the session queued up to
    // `max_buffered_packets` answers (7 GB in the issue's replay).
    let config = EngineConfig::default().max_buffered_bytes(4 * MB);
    let engine = EngineIo::new(config);
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let (sid, _) = handshake(addr).await;
    let conn = tokio::time::timeout(WAIT, engine.accept())
        .await
        .unwrap()
        .unwrap();
    let sender = conn.sender();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = answered.clone();
    let app = tokio::spawn(async move {
        let mut conn = conn;
        while let Some(_message) = conn.recv().await {
            // A payload of its own each time, so that the heap shows what is queued.
            let answer = Message::Text(Str::from("x".repeat(900 * 1024)));
            if sender.send(answer).await.is_err() {
                break;
            }
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        conn.closed().await
    });
    let before = heap();
    let mut peak = 0;
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let mut posts = 0;
    for _ in 0..40 {
        let resp = post(addr, &q, b"3\x1e4give").await;
        if resp.status != 200 {
            break;
        }
        posts += 1;
        // The answer is queued (or the session closed), then the heap is sampled.
        let engine = &engine;
        until(|| {
            answered.load(std::sync::atomic::Ordering::SeqCst) >= posts
                || engine.session_count() == 0
        })
        .await;
        peak = peak.max(heap().saturating_sub(before));
        if engine.session_count() == 0 {
            break;
        }
    }
    let reason = tokio::time::timeout(WAIT, app).await.unwrap().unwrap();
    assert_eq!(reason, DisconnectReason::SendBufferFull);
    assert!(posts <= 6, "{posts} answers queued before the close");
    assert!(peak < 4 * MB + 2 * MB, "peak {peak}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_that_does_not_read_stops_the_reading_at_the_byte_bound() {
    let _serial = SERIAL.lock().await;
    // Large WebSocket messages while the application does not read: the server stops reading
    // once `max_buffered_bytes` wait (8192 messages of up to 1 MB would be 8 GB), and loses
    // nothing once the application reads.
    let logs = Logs::capture();
    let config = EngineConfig::default().max_buffered_bytes(MB);
    let engine = EngineIo::new(config);
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let mut ws = ws_connect(server.local_addr(), "EIO=4&transport=websocket").await;
    ws_text(&mut ws).await;
    let mut conn = tokio::time::timeout(WAIT, engine.accept())
        .await
        .unwrap()
        .unwrap();
    let before = heap();
    let count = 400;
    let writer = tokio::spawn(async move {
        for i in 0..count {
            let mut data = vec![0u8; 64 * 1024];
            data[0] = i as u8;
            if ws.send(WsMessage::binary(data)).await.is_err() {
                break;
            }
        }
        ws
    });
    // The session stops reading at the byte bound; the application reads nothing, so the
    // session reads nothing more.
    input_paused(&logs, conn.sid()).await;
    let grown = heap().saturating_sub(before);
    assert!(grown < 3 * MB, "heap grew by {grown} bytes");
    assert!(!writer.is_finished(), "the client was pushed back");
    for i in 0..count {
        let message = tokio::time::timeout(WAIT, conn.recv())
            .await
            .unwrap()
            .unwrap();
        let Message::Binary(data) = message else {
            panic!("binary expected")
        };
        assert_eq!((data.len(), data[0]), (64 * 1024, i as u8));
    }
    let _ws = writer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_during_an_unfinished_upgrade_are_paced() {
    let _serial = SERIAL.lock().await;
    // A client that sent the probe but never `5`, and keeps polling: engine.io answers at
    // most one noop per 100 ms (the issue's replay got 21,766 answers in 12 s).
    let config = EngineConfig::default().upgrade_timeout(Duration::from_secs(30));
    let server = echo_server(config).await;
    let (sid, _) = handshake(server.addr).await;
    let mut ws = ws_connect(server.addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let start = Instant::now();
    let mut answered = 0;
    while start.elapsed() < Duration::from_secs(1) {
        assert_eq!(get(server.addr, &q).await.text(), "6");
        answered += 1;
    }
    assert!(
        (5..=12).contains(&answered),
        "{answered} polls answered in 1 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_post_gets_its_413_before_the_connection_closes() {
    let _serial = SERIAL.lock().await;
    // The JavaScript client's `fetch` of a 1.1 MB POST sometimes saw a connection reset: the
    // server closed while the body was still arriving, and the unread bytes reset the
    // connection before the 413 was read.
    let server = echo_server(EngineConfig::default()).await;
    let (sid, _) = handshake(server.addr).await;
    let body = Bytes::from(vec![b'4'; 1_100_000]);
    for chunked in [false, true] {
        for _ in 0..10 {
            let tcp = TcpStream::connect(server.addr).await.unwrap();
            let head = if chunked {
                format!(
                    "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
                     Transfer-Encoding: chunked\r\n\r\n"
                )
            } else {
                format!(
                    "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
                     Content-Length: {}\r\n\r\n",
                    body.len()
                )
            };
            let (mut read, mut write) = tcp.into_split();
            let body = body.clone();
            let writer = tokio::spawn(async move {
                write.write_all(head.as_bytes()).await?;
                if chunked {
                    for chunk in body.chunks(64 * 1024) {
                        write
                            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                            .await?;
                        write.write_all(chunk).await?;
                        write.write_all(b"\r\n").await?;
                    }
                    write.write_all(b"0\r\n\r\n").await?;
                } else {
                    write.write_all(&body).await?;
                }
                Ok::<_, std::io::Error>(write)
            });
            let mut answer = vec![0u8; 256];
            let n = tokio::time::timeout(WAIT, read.read(&mut answer))
                .await
                .expect("an answer in time")
                .expect("the answer, not a reset");
            assert_eq!(status_of(&answer[..n]), Some(413), "chunked: {chunked}");
            // The whole body was taken: the client finished writing without an error.
            let write = tokio::time::timeout(WAIT, writer).await.unwrap().unwrap();
            assert!(write.is_ok(), "chunked: {chunked}: {write:?}");
        }
    }
    // The session is still there: a 413 does not end it (engine.io neither).
    assert_eq!(server.engine.session_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_the_client_never_reads_is_dropped() {
    let _serial = SERIAL.lock().await;
    // A polling client asks for its messages and never reads the answer: the server's write
    // stalls; past the body timeout the connection is closed and the answer freed (without
    // it, hyper would hold the answer for as long as the client keeps the connection).
    let config = EngineConfig::default().http_body_timeout(Duration::from_millis(500));
    let engine = EngineIo::new(config);
    let server = engine.listen("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let (sid, _) = handshake(addr).await;
    let conn = tokio::time::timeout(WAIT, engine.accept())
        .await
        .unwrap()
        .unwrap();
    let before = heap();
    for _ in 0..12 {
        let message = Message::Text(Str::from("y".repeat(MB)));
        conn.send(message).await.unwrap();
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    let request =
        format!("GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    // The answer is being written: the server holds it.
    within(WAIT, || heap().saturating_sub(before) > 4 * MB).await;
    let held = heap().saturating_sub(before);
    // The write stalls; the connection is closed and the answer dropped.
    let freed = within(Duration::from_secs(5), || {
        heap().saturating_sub(before) < MB
    })
    .await;
    eprintln!(
        "{} KB held while stalled, freed after {freed:?}",
        held / 1024
    );
    drop(tcp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_sent_with_the_close_of_its_connection_ends_the_session() {
    let _serial = SERIAL.lock().await;
    // A client sends its GET and closes the connection at once: hyper reads the request, sees
    // the end of the stream and drops the request before our handler ever runs. engine.io
    // closes such a session at once ("transport error"); without the abort guard it stayed
    // until the heartbeat (45 s by default).
    let server = echo_server(EngineConfig::default()).await;
    let mut sids = Vec::new();
    for _ in 0..50 {
        sids.push(handshake(server.addr).await.0);
    }
    for sid in &sids {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let request = format!(
            "GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        drop(tcp);
    }
    let engine = server.engine.clone();
    let took = within(Duration::from_secs(5), || engine.session_count() == 0).await;
    eprintln!("50 sessions ended {took:?} after their GETs were cut");
}
