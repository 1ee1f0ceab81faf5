//! A fault-injecting TCP proxy for the interop tests: clients connect to it, it connects to
//! the server, and the test decides what the network does in between.
//!
//! - [`FaultProxy::cut`]: every connection closed now, both ends (a FIN to each);
//!   [`FaultProxy::reset`]: the same with a TCP reset (RST) to each;
//! - [`FaultProxy::reset_mid_frame`]: each open connection forwards the first half of the
//!   next bytes it carries (in either direction), then, once the peer's kernel has them (the
//!   proxy's send queue to it is empty, as Linux's socket table says; at most 1 s), is reset:
//!   the peer reads the half, then sees the reset: a frame cut in its middle;
//! - [`FaultProxy::refuse`]: an outage: new connections are closed as soon as accepted;
//! - [`FaultProxy::stall`]: no byte moves, in either direction, until the stall ends (the
//!   connections stay open; TCP's flow control pushes back on the senders);
//! - [`FaultProxy::latency`]: each chunk is delivered `latency` plus a random jitter after it
//!   was read, in order (the delays of a direction never reorder its bytes);
//! - [`FaultProxy::cut_each_after`]: each new connection is cut (FIN) after a random lifetime
//!   in a range: a flaky network that drops every connection every few seconds.
//!
//! The jitter and the lifetimes come from a small deterministic generator ([`FaultProxy::seed`]).
//! A connection whose one end closes is closed as a whole once the bytes already read from
//! that end are delivered (no half-closed connections: HTTP and WebSocket peers do not rely
//! on them).
//!
//! ```no_run
//! # async fn example() {
//! use std::time::Duration;
//! use sio_test_support::proxy::FaultProxy;
//!
//! let proxy = FaultProxy::start(3000).await;
//! let url = proxy.url(); // give this to the client
//! proxy.latency(Duration::from_millis(20), Duration::from_millis(10));
//! // ...
//! assert!(proxy.cut() > 0);
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

/// Bytes read at once from one end.
const CHUNK: usize = 16 * 1024;
/// Chunks read and not yet delivered, per direction (then the reader waits).
const IN_FLIGHT: usize = 64;
/// The longest a reset mid-frame waits for the half frame to reach the peer.
const DELIVERY_WAIT: Duration = Duration::from_secs(1);

/// What the proxy does to the bytes it carries (shared by every connection).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Shaping {
    stalled: bool,
    latency: Duration,
    jitter: Duration,
}

/// Counters of a [`FaultProxy`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and forwarded (not those refused).
    pub accepted: u64,
    /// Connections open now.
    pub open: usize,
    /// Connections the proxy closed or reset (cuts, resets, lifetimes).
    pub cut: u64,
    /// Connections refused during an outage.
    pub refused: u64,
    /// Lifetimes drawn by [`FaultProxy::cut_each_after`]: one for each connection it is to
    /// cut (at its accept, or when it was called for the open ones). A connection without one
    /// is only ever cut by [`FaultProxy::cut`] or [`FaultProxy::reset`].
    pub lifetimes: u64,
}

/// A fault-injecting TCP proxy to a server on 127.0.0.1 (see the [module docs](self)).
/// Dropping it closes every connection and stops accepting.
#[derive(Debug)]
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    shaping: watch::Sender<Shaping>,
    /// Notified when a connection ends (its file descriptors are freed).
    freed: Notify,
}

/// Notifies [`Shared::freed`] when dropped: at the end of a [`link`], aborted or not.
struct Freed(Weak<Shared>);

impl Drop for Freed {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            shared.freed.notify_waiters();
        }
    }
}

#[derive(Debug)]
struct State {
    refuse: bool,
    lifetime: Option<Range<Duration>>,
    rng: u64,
    links: Vec<Link>,
    stats: ProxyStats,
}

/// One connection through the proxy, as the proxy's table knows it.
#[derive(Debug)]
struct Link {
    task: AbortHandle,
    client: Weak<TcpStream>,
    /// Filled by the connection's task once connected to the server.
    server: Arc<Mutex<Weak<TcpStream>>>,
    /// Armed by [`FaultProxy::reset_mid_frame`].
    reset_mid_frame: Arc<AtomicBool>,
}

impl Link {
    fn kill(&self, reset: bool) {
        if reset {
            let server = self
                .server
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for end in [&self.client, &server] {
                if let Some(end) = end.upgrade() {
                    let _ = end.set_zero_linger();
                }
            }
        }
        // The task holds the last strong references: aborting it closes both ends.
        self.task.abort();
    }
}

/// splitmix64: a small deterministic generator for jitter and lifetimes.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A duration drawn uniformly from `range` (its start when empty).
fn random_in(state: &mut u64, range: &Range<Duration>) -> Duration {
    let span = range.end.saturating_sub(range.start).as_nanos() as u64;
    if span == 0 {
        return range.start;
    }
    range.start + Duration::from_nanos(next_random(state) % span)
}

impl FaultProxy {
    /// Starts a proxy on an ephemeral port of 127.0.0.1 to `127.0.0.1:upstream`, forwarding
    /// faithfully until told otherwise.
    pub async fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                refuse: false,
                lifetime: None,
                rng: 0x5107_2026,
                links: Vec::new(),
                stats: ProxyStats::default(),
            }),
            shaping: watch::Sender::new(Shaping::default()),
            freed: Notify::new(),
        });
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream));
        let accept = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&shared)));
        FaultProxy {
            port,
            shared,
            accept: accept.abort_handle(),
        }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, for a client.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn kill_all(&self, reset: bool) -> usize {
        let mut state = self.state();
        let links = std::mem::take(&mut state.links);
        let mut killed = 0;
        for link in &links {
            if !link.task.is_finished() {
                link.kill(reset);
                killed += 1;
            }
        }
        state.stats.cut += killed as u64;
        killed
    }

    /// Closes every open connection now, both ends (each sees a FIN); returns how many.
    pub fn cut(&self) -> usize {
        self.kill_all(false)
    }

    /// Resets every open connection now, both ends (each sees a TCP reset); returns how many.
    pub fn reset(&self) -> usize {
        self.kill_all(true)
    }

    /// Arms every open connection: the next bytes it reads, in either direction, are
    /// forwarded only in part (the first half, at least one byte), then both ends are reset
    /// (once the peer's kernel has the part, so that the peer reads it). Returns how many
    /// connections were armed.
    pub fn reset_mid_frame(&self) -> usize {
        let state = self.state();
        let mut armed = 0;
        for link in state.links.iter().filter(|l| !l.task.is_finished()) {
            link.reset_mid_frame.store(true, Ordering::SeqCst);
            armed += 1;
        }
        armed
    }

    /// An outage: while `refuse` is true, new connections are closed as soon as accepted
    /// (the open ones are left alone; [`cut`](Self::cut) them too for a full outage).
    pub fn refuse(&self, refuse: bool) {
        self.state().refuse = refuse;
    }

    /// While `stalled` is true no byte is delivered in either direction; the bytes read
    /// meanwhile are delivered afterwards, in order.
    pub fn stall(&self, stalled: bool) {
        self.shared.shaping.send_modify(|s| s.stalled = stalled);
    }

    /// Each chunk read from now on is delivered `latency` plus a random duration below
    /// `jitter` after it was read (never before an earlier chunk of the same direction).
    pub fn latency(&self, latency: Duration, jitter: Duration) {
        self.shared.shaping.send_modify(|s| {
            s.latency = latency;
            s.jitter = jitter;
        });
    }

    /// Each connection is cut (FIN to both ends) after a lifetime drawn from `lifetime`: the
    /// ones accepted from now on, counted from their accept, and the open ones, counted from
    /// now. `None` lets the connections accepted from now on live (the lifetimes already
    /// drawn run out).
    pub fn cut_each_after(&self, lifetime: Option<Range<Duration>>) {
        let mut state = self.state();
        state.lifetime = lifetime.clone();
        let Some(range) = lifetime else { return };
        state.links.retain(|l| !l.task.is_finished());
        for i in 0..state.links.len() {
            let after = random_in(&mut state.rng, &range);
            state.stats.lifetimes += 1;
            let task = state.links[i].task.clone();
            let shared = Arc::downgrade(&self.shared);
            tokio::spawn(async move {
                // scenario: the connection's random lifetime.
                tokio::time::sleep(after).await;
                if task.is_finished() {
                    return;
                }
                task.abort();
                if let Some(shared) = shared.upgrade() {
                    shared
                        .state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .stats
                        .cut += 1;
                }
            });
        }
    }

    /// Seeds the generator of the jitter and the lifetimes.
    pub fn seed(&self, seed: u64) {
        self.state().rng = seed;
    }

    /// The proxy's counters.
    pub fn stats(&self) -> ProxyStats {
        let mut state = self.state();
        state.links.retain(|l| !l.task.is_finished());
        let mut stats = state.stats;
        stats.open = state.links.len();
        stats
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors, say: try again once a connection of the proxy ends, or
            // after a short bound (the descriptors may be held elsewhere).
            let _ = tokio::time::timeout(Duration::from_millis(10), shared.freed.notified()).await;
            continue;
        };
        // Decided and registered under the lock: a cut cannot miss a connection.
        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.refuse {
            state.stats.refused += 1;
            drop(client);
            continue;
        }
        let lifetime = state
            .lifetime
            .clone()
            .map(|range| random_in(&mut state.rng, &range));
        if lifetime.is_some() {
            state.stats.lifetimes += 1;
        }
        let seed = next_random(&mut state.rng);
        let client = Arc::new(client);
        let reset_mid_frame = Arc::new(AtomicBool::new(false));
        let server = Arc::new(Mutex::new(Weak::new()));
        let task = tokio::spawn(link(
            Arc::clone(&client),
            upstream,
            Arc::clone(&server),
            Arc::clone(&reset_mid_frame),
            lifetime,
            seed,
            Arc::downgrade(&shared),
        ));
        state.links.retain(|l| !l.task.is_finished());
        state.links.push(Link {
            task: task.abort_handle(),
            client: Arc::downgrade(&client),
            server,
            reset_mid_frame,
        });
        state.stats.accepted += 1;
    }
}

/// Carries one connection until it ends, is cut, or its lifetime is over.
async fn link(
    client: Arc<TcpStream>,
    upstream: SocketAddr,
    server_slot: Arc<Mutex<Weak<TcpStream>>>,
    reset_mid_frame: Arc<AtomicBool>,
    lifetime: Option<Duration>,
    seed: u64,
    shared: Weak<Shared>,
) {
    let _freed = Freed(Weak::clone(&shared));
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let server = Arc::new(server);
    *server_slot.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(&server);
    let Some(shaping) = shared.upgrade().map(|s| s.shaping.subscribe()) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut pumps = JoinSet::new();
    for (i, (from, to)) in [
        (Arc::clone(&client), Arc::clone(&server)),
        (Arc::clone(&server), Arc::clone(&client)),
    ]
    .into_iter()
    .enumerate()
    {
        pumps.spawn(pump(
            from,
            to,
            shaping.clone(),
            Arc::clone(&reset_mid_frame),
            seed ^ i as u64,
        ));
    }
    let ended = async {
        // The first direction to end ends the connection.
        let _ = pumps.join_next().await;
    };
    match lifetime {
        Some(lifetime) => {
            tokio::select! {
                () = ended => {}
                // scenario: the connection's lifetime.
                () = tokio::time::sleep(lifetime) => {
                    if let Some(shared) = shared.upgrade() {
                        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
                        state.stats.cut += 1;
                    }
                }
            }
        }
        None => ended.await,
    }
    // Dropping the pumps and the last references closes both ends (reset if armed).
}

/// One direction: reads chunks from `from`, delivers them to `to` with the shaping of the
/// moment. Returns at the end of `from` (once everything read is delivered), on an error,
/// or after a reset mid-frame.
async fn pump(
    from: Arc<TcpStream>,
    to: Arc<TcpStream>,
    shaping: watch::Receiver<Shaping>,
    reset_mid_frame: Arc<AtomicBool>,
    mut rng: u64,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let reader_shaping = shaping.clone();
    let reader_from = Arc::clone(&from);
    let reader = async move {
        let mut last = Instant::now();
        loop {
            let mut buf = vec![0; CHUNK];
            let n = match read_some(&reader_from, &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.truncate(n);
            let Shaping {
                latency, jitter, ..
            } = *reader_shaping.borrow();
            let jitter = random_in(&mut rng, &(Duration::ZERO..jitter));
            // Never before the previous chunk: no reordering within a direction.
            let at = (Instant::now() + latency + jitter).max(last);
            last = at;
            if tx.send((at, buf)).await.is_err() {
                return;
            }
        }
    };
    let writer = async {
        let mut shaping = shaping;
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await; // scenario: the latency of the chunk
            while shaping.borrow_and_update().stalled {
                if shaping.changed().await.is_err() {
                    return false;
                }
            }
            if reset_mid_frame.load(Ordering::SeqCst) {
                let half = chunk.len() / 2;
                let _ = write_all(&to, &chunk[..half.max(1).min(chunk.len())]).await;
                return true;
            }
            if write_all(&to, &chunk).await.is_err() {
                return false;
            }
        }
        false
    };
    tokio::pin!(reader, writer);
    let reset = tokio::select! {
        // The end of `from`: deliver what was read, then end.
        () = &mut reader => writer.await,
        // A write failed, or a reset mid-frame: stop reading.
        reset = &mut writer => reset,
    };
    if reset {
        // The half frame reaches the peer before the reset, which would discard it while it
        // waits in this end's send queue.
        delivered(&to).await;
        let _ = from.set_zero_linger();
        let _ = to.set_zero_linger();
    }
}

/// Waits until the bytes written to `stream` are in its peer's kernel: the send queue of
/// `stream` is empty (every byte acknowledged), for at most [`DELIVERY_WAIT`] (a peer that does
/// not read may never take them). Linux then hands them to the peer's reader before the
/// error of a reset.
async fn delivered(stream: &TcpStream) {
    if let Some(key) = table_key(stream) {
        // The kernel's table is a file: read on a blocking thread.
        let _ = tokio::task::spawn_blocking(move || {
            crate::wait::blocking_first(DELIVERY_WAIT, || (unacknowledged(&key) == 0).then_some(()))
        })
        .await;
    }
}

/// The local and remote addresses of a TCP socket as the kernel's socket table
/// (`/proc/net/tcp`) prints them; `None` for IPv6.
fn table_key(stream: &TcpStream) -> Option<(String, String)> {
    let hex = |addr: SocketAddr| match addr {
        // The kernel prints the address as the number it holds in memory (network order).
        SocketAddr::V4(v4) => Some(format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(v4.ip().octets()),
            v4.port()
        )),
        SocketAddr::V6(_) => None,
    };
    Some((
        hex(stream.local_addr().ok()?)?,
        hex(stream.peer_addr().ok()?)?,
    ))
}

/// The bytes of a socket's send queue not yet acknowledged by its peer (`tx_queue` in
/// `/proc/net/tcp`); 0 when the table does not say (not Linux).
fn unacknowledged((local, peer): &(String, String)) -> u64 {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return 0;
    };
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| {
            fields.get(1) == Some(&local.as_str()) && fields.get(2) == Some(&peer.as_str())
        })
        .and_then(|fields| fields.get(4)?.split(':').next().map(str::to_owned))
        .and_then(|tx| u64::from_str_radix(&tx, 16).ok())
        .unwrap_or(0)
}

async fn read_some(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        stream.writable().await?;
        match stream.try_write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_socket_table_shows_bytes_the_peer_has_not_taken() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (peer, _) = listener.accept().await.unwrap();
        let key = table_key(&stream).unwrap();
        assert_eq!(unacknowledged(&key), 0);
        // The peer does not read: its window fills, then this end's send queue.
        let chunk = vec![0; 64 * 1024];
        while stream.try_write(&chunk).is_ok() {}
        assert!(unacknowledged(&key) > 0);
        drop(peer);
    }
}
