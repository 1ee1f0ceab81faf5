//! [`BroadcastOperator`]: an immutable builder selecting sockets (`to`, `except`, flags) and
//! what to do with them (emit, emit with acks, join, leave, disconnect).
//!
//! Below the public [`Namespace`](super::Namespace): an operator holds the namespace's state as
//! the adapter layer sees it (`NsCore`: its adapter, options and ack ids), not the
//! `Namespace`. `Namespace::to` and the other ways to get an operator are written in
//! `namespace.rs` and `socket.rs`, and `fetch_sockets`, which gives
//! [`RemoteSocket`](super::RemoteSocket)s, in `remote.rs`.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sio_protocol::Error as ProtocolError;
use sio_protocol::Str;
use sio_protocol::socket::Args;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::adapter::{BroadcastOptions, NsCore, encode_packet};
use super::cluster::{ReplyEvent, ReplySink};
use super::error::Error;
use super::future::BoxFuture;

/// Selects sockets of a namespace. Each method returns a new operator; the original is
/// unchanged.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // A server and two clients in the same process: one in "room1" and "room2", one also muted.
/// # let io = sio_server::SocketIo::new(Default::default());
/// # let (tx, mut joined) = tokio::sync::mpsc::unbounded_channel();
/// # io.of("/").on_connection(move |socket| {
/// #     let tx = tx.clone();
/// #     async move {
/// #         let muted = socket.handshake().query_param("muted").is_some();
/// #         socket.join_all(if muted { vec!["room1".into(), "room2".into(), "muted".into()] } else { vec!["room1".into(), "room2".into()] }).await;
/// #         let _ = tx.send(());
/// #     }
/// # });
/// # let server = io.listen("127.0.0.1:0").await?;
/// # let (news, mut got) = tokio::sync::mpsc::unbounded_channel();
/// # let mut clients = Vec::new();
/// # for query in ["", "?muted"] {
/// #     let mut options = sio_client::Options::default().force_new(true);
/// #     if !query.is_empty() { options = options.query("muted", "1"); }
/// #     let client = sio_client::io(&format!("http://{}/", server.local_addr()), options)?;
/// #     let news = news.clone();
/// #     client.on("news", move |_s: sio_client::Socket, (h,): (String,)| { let _ = news.send((query, h)); async {} });
/// #     clients.push(client);
/// #     joined.recv().await;
/// # }
/// let ns = io.of("/");
/// // Everyone in "room1" or "room2" but not in "muted", at most once each.
/// ns.to("room1").to("room2").except("muted").emit("news", &("headline",)).await?;
/// # assert_eq!(got.recv().await, Some(("", "headline".to_owned())));
/// # // The unmuted client gets one "news" only; the muted one none (the next event proves it).
/// # ns.emit("news", &("next",)).await?;
/// # let mut rest = vec![got.recv().await.unwrap(), got.recv().await.unwrap()];
/// # rest.sort();
/// # assert_eq!(rest, [("", "next".to_owned()), ("?muted", "next".to_owned())]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BroadcastOperator {
    ns: Arc<dyn NsCore>,
    opts: BroadcastOptions,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<dyn NsCore>) -> Self {
        BroadcastOperator {
            ns,
            opts: BroadcastOptions::default(),
        }
    }

    /// The namespace's state the operator acts on.
    pub(crate) fn core(&self) -> &Arc<dyn NsCore> {
        &self.ns
    }

    /// Also targets the sockets in `room` (socket.io's `to` / `in`).
    pub fn to(mut self, room: impl Into<Str>) -> Self {
        self.opts.rooms.push(room.into());
        self
    }

    /// Same as [`to`](Self::to) (socket.io's `in`).
    pub fn within(self, room: impl Into<Str>) -> Self {
        self.to(room)
    }

    /// Excludes the sockets in `room`.
    pub fn except(mut self, room: impl Into<Str>) -> Self {
        self.opts.except.push(room.into());
        self
    }

    /// Drops the packet for clients that cannot take it now.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// Only the sockets of this server: the adapter does not involve the other servers of
    /// the cluster (socket.io's `local` flag).
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// socket.io's `compress` flag: recorded in [`BroadcastFlags::compress`] for the
    /// [`Adapter`](super::Adapter) (a remote adapter can forward it), and not applied to the
    /// transports, because the engine's send API takes no per-message options:
    ///
    /// - polling: the engine compresses each response as a whole when
    ///   [`EngineConfig::http_compression`](crate::EngineConfig::http_compression) is on, the
    ///   body is at least its threshold and the request accepts gzip or deflate, whatever this
    ///   flag. engine.io does the same as long as one packet of the response was sent with
    ///   `compress: true` (socket.io's default); it sends the response uncompressed only when
    ///   every packet in it was emitted with `compress(false)`, which this server does not do.
    ///   To send uncompressed polling responses, turn `http_compression` off.
    /// - WebSocket: frames are never compressed (permessage-deflate is not supported, see
    ///   [`EngineConfig::per_message_deflate`](crate::EngineConfig::per_message_deflate)), so
    ///   `compress(false)` is what happens anyway.
    ///
    /// [`BroadcastFlags::compress`]: super::BroadcastFlags::compress
    pub fn compress(mut self, compress: bool) -> Self {
        self.opts.flags.compress = Some(compress);
        self
    }

    /// The timeout of [`emit_with_ack`](Self::emit_with_ack) (and of
    /// [`fetch_sockets`](Self::fetch_sockets), for an adapter that waits for other servers).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.flags.timeout = Some(timeout);
        self
    }

    /// The options built so far.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Sends `event` to the selected sockets, on every server of the cluster (unless
    /// [`local`](Self::local)). The packet is encoded once, when `emit` is called; every
    /// local recipient gets the same buffers.
    ///
    /// The returned future borrows nothing (`'static`): await it, or hand it to
    /// `tokio::spawn` from synchronous code. Nothing is sent until it is polled. It
    /// completes when the packet is in the send queues of this server's recipients and,
    /// with a cluster adapter, when the adapter has published it; a recipient whose queue
    /// is full misses the packet (logged, counted), and the emit does not wait for it.
    ///
    /// Every error comes out of the future: a reserved event name or arguments that do not
    /// serialize ([`ErrorKind::Args`](crate::ErrorKind::Args)), or an error of an adapter
    /// kind when the other servers could not be reached (this server's sockets got it).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # // A server and a client (in "room1") in the same process.
    /// # let io = sio_server::SocketIo::new(Default::default());
    /// # let (tx, mut joined) = tokio::sync::mpsc::unbounded_channel();
    /// # io.of("/").on_connection(move |socket| {
    /// #     let tx = tx.clone();
    /// #     async move { socket.join("room1").await; let _ = tx.send(()); }
    /// # });
    /// # let server = io.listen("127.0.0.1:0").await?;
    /// # let client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
    /// # let (seen, mut got) = tokio::sync::mpsc::unbounded_channel();
    /// # client.on("news", move |msg: sio_client::Message| { let _ = seen.send(msg.deserialize::<(String, u32)>().unwrap()); });
    /// # joined.recv().await;
    /// io.of("/").to("room1").emit("news", &("headline", 1)).await?;
    /// # assert_eq!(got.recv().await.unwrap(), ("headline".to_owned(), 1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        let packet = Args::new(args)
            .map_err(Error::args)
            .and_then(|args| encode_packet(&self.ns, event, args, None));
        let ns = self.ns.clone();
        let opts = self.opts.clone();
        async move {
            ns.adapter()
                .broadcast(Arc::new(packet?), opts)
                .await
                .inspect_err(|_| {
                    crate::metrics::adapter_publish_failed();
                })
        }
    }

    /// Sends `event` to the selected sockets of every server and collects every
    /// acknowledgement (see [`BroadcastAckFuture`]).
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> BroadcastAckFuture {
        BroadcastAckFuture {
            op: self.clone(),
            event: event.to_owned(),
            args: Args::new(args),
        }
    }

    pub(crate) fn emit_args_with_ack(&self, event: &str, args: Args) -> BroadcastAckFuture {
        BroadcastAckFuture {
            op: self.clone(),
            event: event.to_owned(),
            args: Ok(args),
        }
    }

    /// Makes the selected sockets of every server join `room` (socket.io's `socketsJoin`).
    /// Resolves once this server's sockets have joined and the other servers were told;
    /// fails when they could not be (this server's sockets joined anyway).
    pub async fn sockets_join(&self, room: impl Into<Str>) -> Result<(), Error> {
        self.ns
            .adapter()
            .add_sockets(self.opts.clone(), vec![room.into()])
            .await
    }

    /// Makes the selected sockets of every server leave `room` (like
    /// [`sockets_join`](Self::sockets_join)).
    pub async fn sockets_leave(&self, room: impl Into<Str>) -> Result<(), Error> {
        self.ns
            .adapter()
            .del_sockets(self.opts.clone(), vec![room.into()])
            .await
    }

    /// Disconnects the selected sockets of every server (and closes their connections with
    /// `close`), like [`sockets_join`](Self::sockets_join).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.ns
            .adapter()
            .disconnect_sockets(self.opts.clone(), close)
            .await
    }
}

/// `emit_with_ack` on a broadcast: resolves to every recipient's acknowledgement, on every
/// server of the cluster (in the order they arrived), once all have answered.
///
/// As in socket.io, the call is complete when every server of the cluster
/// ([`Adapter::server_count`](super::Adapter::server_count); 1 with
/// [`local`](BroadcastOperator::local)) reported how many clients it sent the packet to, and
/// that many acknowledgements arrived. Otherwise it fails with an [`Error`] holding the
/// acknowledgements received ([`Error::replies`], socket.io's `err.responses`): of kind
/// [`Timeout`](crate::ErrorKind::Timeout) when the timeout ([`BroadcastOperator::timeout`],
/// default [`SocketIoConfig::ack_timeout`](crate::SocketIoConfig)) passes first, of an
/// adapter kind ([`Error::is_adapter`]) when the other servers could not be reached, of kind
/// [`Disconnected`](crate::ErrorKind::Disconnected) when every recipient went away before
/// answering.
///
/// An acknowledgement from a client of another server holds its first argument only
/// (socket.io sends no more across servers).
#[derive(Debug)]
#[must_use = "the event is sent only when the future is awaited"]
pub struct BroadcastAckFuture {
    op: BroadcastOperator,
    event: String,
    args: Result<Args, ProtocolError>,
}

/// What the replies of a broadcast with acknowledgements add up to so far.
#[derive(Default)]
struct Tally {
    replies: Vec<Args>,
    servers: usize,
    clients: usize,
}

impl Tally {
    fn add(&mut self, event: ReplyEvent) {
        match event {
            ReplyEvent::ClientCount(n) => {
                self.servers += 1;
                self.clients += n;
            }
            ReplyEvent::Reply(args) => self.replies.push(args),
        }
    }

    fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<ReplyEvent>) {
        while let Ok(event) = rx.try_recv() {
            self.add(event);
        }
    }

    fn fail(self, error: Error, expected_servers: Option<usize>) -> Error {
        let expected = expected_servers
            .filter(|&servers| self.servers >= servers)
            .map(|_| self.clients);
        error.with_replies(self.replies, expected)
    }
}

impl IntoFuture for BroadcastAckFuture {
    type Output = Result<Vec<Args>, Error>;
    type IntoFuture = BoxFuture<'static, Result<Vec<Args>, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let op = self.op;
            let args = self.args.map_err(Error::args)?;
            let timeout = op
                .opts
                .flags
                .timeout
                .unwrap_or_else(|| op.ns.config().ack_timeout);
            let deadline = Instant::now() + timeout;
            let id = op.ns.next_ack_id();
            let packet = Arc::new(encode_packet(&op.ns, &self.event, args, Some(id))?);
            let (sink, mut rx) = ReplySink::channel();
            // Each recipient's session forgets its pending ack at the deadline.
            let sink = sink.until(deadline);
            let adapter = op.ns.adapter().clone();
            let local = op.opts.flags.local;
            let count = async {
                if local {
                    Ok(1)
                } else {
                    adapter.server_count().await
                }
            };
            let sent = adapter.broadcast_with_ack(packet, op.opts.clone(), sink);
            let mut tally = Tally::default();
            let servers = match tokio::time::timeout_at(deadline, async {
                tokio::join!(sent, count)
            })
            .await
            {
                // This server always counts (an adapter that says 0 is wrong).
                Ok((Ok(()), Ok(servers))) => servers.max(1),
                Ok((Err(e), _) | (_, Err(e))) => {
                    crate::metrics::adapter_publish_failed();
                    tally.drain(&mut rx);
                    return Err(tally.fail(e, None));
                }
                Err(_) => {
                    tally.drain(&mut rx);
                    return Err(tally.fail(Error::timeout(), None));
                }
            };
            loop {
                if tally.servers >= servers && tally.replies.len() >= tally.clients {
                    return Ok(tally.replies);
                }
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(event)) => tally.add(event),
                    // Every recipient's session let go of the sink: they disconnected, or
                    // their deadline (the same as this one) passed first.
                    Ok(None) if Instant::now() >= deadline => {
                        return Err(tally.fail(Error::timeout(), Some(servers)));
                    }
                    Ok(None) => return Err(tally.fail(Error::disconnected(), Some(servers))),
                    Err(_) => return Err(tally.fail(Error::timeout(), Some(servers))),
                }
            }
        })
    }
}
