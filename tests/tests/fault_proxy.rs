//! The fault-injecting proxy of the test support (`sio_test_support::proxy`) does what it says,
//! against a TCP echo server: faithful forwarding, cuts (FIN), resets (RST), a reset in the
//! middle of a frame, outages, stalls, latency with jitter in order, and connection
//! lifetimes. Real sockets on loopback, real time, short bounded waits.

use std::io::ErrorKind;
use std::time::Duration;

use sio_test_support::proxy::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(10);

/// An echo server on an ephemeral port.
async fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

async fn connect(proxy: &FaultProxy) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", proxy.port()))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads exactly `n` bytes.
async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("bytes within the wait")
        .expect("read");
    buf
}

/// Reads until the end of the stream: the bytes, and how it ended.
async fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, Result<(), ErrorKind>) {
    let mut out = Vec::new();
    let mut buf = [0; 1024];
    loop {
        match timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("an end within the wait")
        {
            Ok(0) => return (out, Ok(())),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Err(e.kind())),
        }
    }
}

/// Waits until `f` holds, at most [`WAIT`].
async fn until(what: &str, f: impl Fn() -> bool) {
    let holds = sio_test_support::wait::holds_within(WAIT, f).await;
    assert!(holds, "not within {WAIT:?}: {what}");
}

#[tokio::test]
async fn forwards_both_ways_and_cuts_every_connection_with_a_fin() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut a = connect(&proxy).await;
    let mut b = connect(&proxy).await;
    for stream in [&mut a, &mut b] {
        stream.write_all(b"hello").await.unwrap();
        assert_eq!(read_n(stream, 5).await, b"hello");
    }
    assert_eq!(proxy.stats().open, 2);
    assert_eq!(proxy.cut(), 2);
    // A clean end of stream on both clients (the server end is closed the same way).
    assert_eq!(read_to_end(&mut a).await, (vec![], Ok(())));
    assert_eq!(read_to_end(&mut b).await, (vec![], Ok(())));
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.cut, stats.open), (2, 2, 0));
    // New connections go through again.
    let mut c = connect(&proxy).await;
    c.write_all(b"again").await.unwrap();
    assert_eq!(read_n(&mut c, 5).await, b"again");
}

#[tokio::test]
async fn reset_gives_connection_reset() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut a = connect(&proxy).await;
    a.write_all(b"x").await.unwrap();
    assert_eq!(read_n(&mut a, 1).await, b"x");
    assert_eq!(proxy.reset(), 1);
    assert_eq!(
        read_to_end(&mut a).await,
        (vec![], Err(ErrorKind::ConnectionReset))
    );
}

#[tokio::test]
async fn reset_mid_frame_delivers_half_a_frame_then_resets() {
    // A server that answers the first bytes, then reads what comes and how it ends.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut ping = [0; 4];
        stream.read_exact(&mut ping).await.unwrap();
        stream.write_all(&ping).await.unwrap();
        read_to_end(&mut stream).await
    });
    let proxy = FaultProxy::start(port).await;
    let mut a = connect(&proxy).await;
    a.write_all(b"ping").await.unwrap();
    assert_eq!(read_n(&mut a, 4).await, b"ping");
    assert_eq!(proxy.reset_mid_frame(), 1);
    // The next frame: the server reads its first half, then the reset.
    a.write_all(b"0123456789").await.unwrap();
    let received = timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(
        received,
        (b"01234".to_vec(), Err(ErrorKind::ConnectionReset))
    );
    assert_eq!(
        read_to_end(&mut a).await,
        (vec![], Err(ErrorKind::ConnectionReset))
    );
}

#[tokio::test]
async fn refuse_is_an_outage_for_new_connections_only() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut open = connect(&proxy).await;
    // Through the proxy (accepted) before the outage.
    open.write_all(b"in").await.unwrap();
    assert_eq!(read_n(&mut open, 2).await, b"in");
    proxy.refuse(true);
    let mut refused = connect(&proxy).await;
    assert_eq!(read_to_end(&mut refused).await.0, b"");
    // The connection opened before the outage still works.
    open.write_all(b"still").await.unwrap();
    assert_eq!(read_n(&mut open, 5).await, b"still");
    proxy.refuse(false);
    let mut back = connect(&proxy).await;
    back.write_all(b"back").await.unwrap();
    assert_eq!(read_n(&mut back, 4).await, b"back");
    assert_eq!(proxy.stats().refused, 1);
}

#[tokio::test]
async fn a_stall_holds_the_bytes_until_it_ends() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut a = connect(&proxy).await;
    proxy.stall(true);
    a.write_all(b"held").await.unwrap();
    let mut buf = [0; 4];
    assert!(
        timeout(Duration::from_millis(200), a.read(&mut buf))
            .await
            .is_err(),
        "a byte went through the stall"
    );
    proxy.stall(false);
    assert_eq!(read_n(&mut a, 4).await, b"held");
}

#[tokio::test]
async fn latency_and_jitter_delay_each_chunk_in_order() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut a = connect(&proxy).await;
    proxy.latency(Duration::from_millis(40), Duration::from_millis(30));
    let start = Instant::now();
    // Several chunks, each crossing the proxy twice (there and back).
    let mut sent = Vec::new();
    for i in 0..20u8 {
        a.write_all(&[i]).await.unwrap();
        sent.push(i);
        // scenario: chunks 2 ms apart.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let got = read_n(&mut a, sent.len()).await;
    let elapsed = start.elapsed();
    assert_eq!(got, sent, "reordered");
    // Twice the latency at least; the jitter (below 30 ms each way) adds at most 60 ms to
    // the last chunk, plus the 40 ms of sending; generous bounds for a loaded machine.
    assert!(elapsed >= Duration::from_millis(80), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    proxy.latency(Duration::ZERO, Duration::ZERO);
    let start = Instant::now();
    a.write_all(b"z").await.unwrap();
    assert_eq!(read_n(&mut a, 1).await, b"z");
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn each_connection_lives_a_random_lifetime_in_the_range() {
    let proxy = FaultProxy::start(echo_server().await).await;
    proxy.seed(7);
    proxy.cut_each_after(Some(Duration::from_millis(100)..Duration::from_millis(300)));
    let start = Instant::now();
    let mut streams = Vec::new();
    for _ in 0..5 {
        streams.push(connect(&proxy).await);
    }
    for stream in &mut streams {
        assert_eq!(read_to_end(stream).await, (vec![], Ok(())));
    }
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    until("the proxy counts the cuts", || proxy.stats().cut == 5).await;
    proxy.cut_each_after(None);
    let mut lasting = connect(&proxy).await;
    lasting.write_all(b"ok").await.unwrap();
    assert_eq!(read_n(&mut lasting, 2).await, b"ok");
    // It carried bytes, so the proxy accepted it, and gave it no lifetime (the five above
    // got one each): nothing cuts it but `cut` or `reset`.
    assert_eq!(proxy.stats().lifetimes, 5);
}
