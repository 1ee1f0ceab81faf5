//! [`BroadcastOperator`]: an immutable builder selecting sockets (`to`, `except`, flags) and
//! what to do with them (emit, emit with acks, fetch, join, leave, disconnect).

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sio_protocol::Str;
use sio_protocol::socket::{Args, ArgsError, Packet, RESERVED_EVENTS};
use tokio::sync::mpsc;

use super::BoxFuture;
use super::ack::AckError;
use super::adapter::{BroadcastOptions, BroadcastPacket};
use super::namespace::Namespace;
use super::socket::{EmitError, Socket, frames};

/// Selects sockets of a namespace. Each method returns a new operator; the original is
/// unchanged.
///
/// ```no_run
/// # async fn f(io: sio_server::SocketIo) {
/// let ns = io.of("/");
/// // Everyone in "room1" or "room2" but not in "muted", at most once each.
/// ns.to("room1").to("room2").except("muted").emit("news", &("headline",)).await.ok();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BroadcastOperator {
    ns: Namespace,
    opts: BroadcastOptions,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace) -> Self {
        BroadcastOperator {
            ns,
            opts: BroadcastOptions::default(),
        }
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

    /// Only the sockets of this server.
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

    /// The timeout of [`emit_with_ack`](Self::emit_with_ack).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.flags.timeout = Some(timeout);
        self
    }

    /// The options built so far.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    fn packet(
        &self,
        event: &str,
        args: Args,
        ack_id: Option<u64>,
    ) -> Result<BroadcastPacket, EmitError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitError::ReservedName);
        }
        let event = Str::from(event.to_owned());
        let packet = Packet::event(self.ns.name().clone(), event.clone(), args.clone(), ack_id);
        let encoded = sio_protocol::socket::Encoder::new(self.ns.config().parser)
            .encode(&packet)
            .map_err(EmitError::Serialize)?;
        Ok(BroadcastPacket {
            nsp: self.ns.name().clone(),
            event,
            args,
            ack_id,
            messages: frames(encoded),
        })
    }

    /// Sends `event` to the selected sockets. The packet is encoded once; every recipient
    /// gets the same buffers.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<(), EmitError> {
        let args = Args::new(args).map_err(EmitError::Serialize)?;
        let packet = Arc::new(self.packet(event, args, None)?);
        self.ns.adapter().broadcast(packet, self.opts.clone()).await;
        Ok(())
    }

    /// Sends `event` to the selected sockets and collects every acknowledgement (see
    /// [`BroadcastAckFuture`]).
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

    /// The selected sockets of this server.
    pub async fn fetch_sockets(&self) -> Vec<Socket> {
        let ids = self.ns.adapter().sockets(self.opts.clone()).await;
        ids.iter().filter_map(|id| self.ns.get_socket(id)).collect()
    }

    /// Makes the selected sockets join `room`.
    pub async fn sockets_join(&self, room: impl Into<Str>) {
        self.ns
            .adapter()
            .add_sockets(self.opts.clone(), vec![room.into()])
            .await;
    }

    /// Makes the selected sockets leave `room`.
    pub async fn sockets_leave(&self, room: impl Into<Str>) {
        self.ns
            .adapter()
            .del_sockets(self.opts.clone(), vec![room.into()])
            .await;
    }

    /// Disconnects the selected sockets (and closes their connections with `close`).
    pub async fn disconnect_sockets(&self, close: bool) {
        self.ns
            .adapter()
            .disconnect_sockets(self.opts.clone(), close)
            .await;
    }
}

/// `emit_with_ack` on a broadcast: resolves to every recipient's acknowledgement (in the
/// order they arrived) once all have answered, or [`AckError::Timeout`] when the timeout
/// ([`BroadcastOperator::timeout`], default
/// [`SocketIoConfig::ack_timeout`](crate::SocketIoConfig)) passes first.
#[derive(Debug)]
#[must_use = "the event is sent only when the future is awaited"]
pub struct BroadcastAckFuture {
    op: BroadcastOperator,
    event: String,
    args: Result<Args, ArgsError>,
}

impl IntoFuture for BroadcastAckFuture {
    type Output = Result<Vec<Args>, AckError>;
    type IntoFuture = BoxFuture<'static, Result<Vec<Args>, AckError>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let args = self
                .args
                .map_err(|e| AckError::Emit(EmitError::Serialize(e)))?;
            let op = self.op;
            let timeout = op
                .opts
                .flags
                .timeout
                .unwrap_or_else(|| op.ns.config().ack_timeout);
            let id = op.ns.next_ack_id();
            let packet = Arc::new(
                op.packet(&self.event, args, Some(id))
                    .map_err(AckError::Emit)?,
            );
            let (tx, mut rx) = mpsc::unbounded_channel();
            let collect = async {
                let expected = op
                    .ns
                    .adapter()
                    .broadcast_with_ack(packet, op.opts.clone(), tx)
                    .await;
                let mut replies = Vec::with_capacity(expected);
                while replies.len() < expected {
                    match rx.recv().await {
                        Some(args) => replies.push(args),
                        None => return Err(AckError::Disconnected),
                    }
                }
                Ok(replies)
            };
            tokio::time::timeout(timeout, collect)
                .await
                .unwrap_or(Err(AckError::Timeout))
        })
    }
}
