//! [`Emitter`]: send to the clients of Socket.IO servers from a process that is no server, as
//! `@socket.io/redis-emitter` 5.1 does (uid `"emitter"`, the classic adapter's channels and
//! formats).

use serde::Serialize;
use sio_protocol::socket::Args;
use sio_protocol::{Str, Value};

use crate::channels::{Classic, DEFAULT_KEY};
use crate::conn::RedisConnection;
use crate::error::Error;
use crate::format::classic::{Broadcast, Request, RequestBody};
use crate::format::{Flags, Opts, Packet};

/// The uid of every emitter's messages.
pub const EMITTER_UID: &str = "emitter";

/// Event names an emitter refuses, as `@socket.io/redis-emitter` does.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Options of an [`Emitter`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmitterOptions {
    /// The key the servers' adapters use (default `socket.io`).
    pub key: String,
}

impl Default for EmitterOptions {
    fn default() -> Self {
        EmitterOptions {
            key: DEFAULT_KEY.to_owned(),
        }
    }
}

impl EmitterOptions {
    /// Sets [`EmitterOptions::key`].
    pub fn key(mut self, key: impl Into<String>) -> EmitterOptions {
        self.key = key.into();
        self
    }
}

/// Emits to the clients of the Socket.IO servers sharing a Redis (Node.js servers with
/// `@socket.io/redis-adapter`, or sio servers with the classic adapter), for one namespace.
///
/// Each operation publishes one message and returns when Redis took it (or failed). What is
/// published is byte for byte what `@socket.io/redis-emitter` 5.1 publishes for the same call.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use sio_redis::Emitter;
/// use sio_redis::conn::{RedisConfig, RedisConnection};
///
/// let redis = RedisConnection::connect(RedisConfig::standalone("redis://127.0.0.1:6379")).await?;
/// let io = Emitter::new(redis);
/// io.emit("news", &("hello", 42)).await?; // every client of "/"
/// io.of("/admin").to("room1").except("room2").emit("alert", &"up").await?;
/// io.to("room1").sockets_join(["room3"]).await?;
/// io.server_side_emit("ping", &()).await?; // the servers' serverSideEmit handlers
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Emitter {
    redis: RedisConnection,
    key: String,
    nsp: Str,
    channels: Classic,
}

impl Emitter {
    /// An emitter for namespace `/` with the default key.
    pub fn new(redis: RedisConnection) -> Emitter {
        Emitter::with_options(redis, EmitterOptions::default())
    }

    /// An emitter for namespace `/`.
    pub fn with_options(redis: RedisConnection, options: EmitterOptions) -> Emitter {
        Emitter::for_namespace(redis, options.key, Str::from_static("/"))
    }

    fn for_namespace(redis: RedisConnection, key: String, nsp: Str) -> Emitter {
        Emitter {
            channels: Classic::new(&key, &nsp),
            redis,
            key,
            nsp,
        }
    }

    /// The emitter of namespace `nsp` (a `/` is put in front when missing).
    pub fn of(&self, nsp: &str) -> Emitter {
        let nsp = if nsp.starts_with('/') {
            Str::from(nsp.to_owned())
        } else {
            Str::from(format!("/{nsp}"))
        };
        Emitter::for_namespace(self.redis.clone(), self.key.clone(), nsp)
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.nsp
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator {
            emitter: self.clone(),
            rooms: Vec::new(),
            except: Vec::new(),
            flags: Flags::new(),
        }
    }

    /// Targets the sockets in `room` (and in the other rooms given by further calls).
    pub fn to(&self, room: impl Into<Str>) -> BroadcastOperator {
        self.operator().to(room)
    }

    /// Excludes the sockets in `room`.
    pub fn except(&self, room: impl Into<Str>) -> BroadcastOperator {
        self.operator().except(room)
    }

    /// Sets the `volatile` flag.
    pub fn volatile(&self) -> BroadcastOperator {
        self.operator().volatile()
    }

    /// Sets the `compress` flag.
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.operator().compress(compress)
    }

    /// Emits `event` with `args` (see [`Args::new`] for how a value becomes arguments) to every
    /// client of the namespace.
    pub async fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), Error> {
        self.operator().emit(event, args).await
    }

    /// Emits `event` with arguments already built.
    pub async fn emit_args(&self, event: &str, args: &Args) -> Result<(), Error> {
        self.operator().emit_args(event, args).await
    }

    /// Makes every socket of the namespace join `rooms`.
    pub async fn sockets_join<R: Into<Str>>(
        &self,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), Error> {
        self.operator().sockets_join(rooms).await
    }

    /// Makes every socket of the namespace leave `rooms`.
    pub async fn sockets_leave<R: Into<Str>>(
        &self,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), Error> {
        self.operator().sockets_leave(rooms).await
    }

    /// Disconnects every socket of the namespace (`close`: close their connections too).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.operator().disconnect_sockets(close).await
    }

    /// Emits `event` with `args` to the servers (their `serverSideEmit` handlers); emitters
    /// cannot receive acknowledgements.
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<(), Error> {
        let mut data = vec![Value::from(event)];
        data.extend(
            Args::new(args)
                .and_then(Args::into_values)
                .map_err(Error::args)?,
        );
        let request = Request::new(
            Some(Str::from_static(EMITTER_UID)),
            RequestBody::ServerSideEmit {
                request_id: None,
                data,
            },
        );
        self.publish(self.channels.request(), request.encode()?)
            .await
    }

    async fn publish(&self, channel: &str, payload: bytes::Bytes) -> Result<(), Error> {
        self.redis.publish(channel, payload).await?;
        Ok(())
    }
}

/// Rooms, exclusions and flags for one emitter operation (from [`Emitter::to`],
/// [`Emitter::except`], ...).
#[derive(Debug, Clone)]
pub struct BroadcastOperator {
    emitter: Emitter,
    rooms: Vec<Str>,
    except: Vec<Str>,
    flags: Flags,
}

impl BroadcastOperator {
    /// Also targets the sockets in `room`.
    pub fn to(mut self, room: impl Into<Str>) -> BroadcastOperator {
        add_unique(&mut self.rooms, room.into());
        self
    }

    /// Also excludes the sockets in `room`.
    pub fn except(mut self, room: impl Into<Str>) -> BroadcastOperator {
        add_unique(&mut self.except, room.into());
        self
    }

    /// Sets the `volatile` flag: clients not ready to receive may miss the event.
    pub fn volatile(mut self) -> BroadcastOperator {
        self.flags.set("volatile", true);
        self
    }

    /// Sets the `compress` flag.
    pub fn compress(mut self, compress: bool) -> BroadcastOperator {
        self.flags.set("compress", compress);
        self
    }

    fn opts(&self) -> Opts {
        Opts {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
            flags: self.flags.clone(),
        }
    }

    /// Emits `event` with `args` to the targeted clients.
    pub async fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), Error> {
        self.emit_args(event, &Args::new(args).map_err(Error::args)?)
            .await
    }

    /// Emits `event` with arguments already built to the targeted clients.
    pub async fn emit_args(&self, event: &str, args: &Args) -> Result<(), Error> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(Error::reserved(event));
        }
        let packet = Packet::event(
            Some(self.emitter.nsp.clone()),
            event,
            args.to_values().map_err(Error::args)?,
        );
        let message = Broadcast::new(Str::from_static(EMITTER_UID), packet, self.opts());
        let channel = self.emitter.channels.broadcast_channel(&self.rooms);
        self.emitter
            .publish(&channel, message.encode_as_emitter()?)
            .await
    }

    async fn request(&self, body: RequestBody) -> Result<(), Error> {
        // The emitter's join, leave and disconnect requests carry no uid.
        let request = Request::new(None, body);
        self.emitter
            .publish(self.emitter.channels.request(), request.encode()?)
            .await
    }

    /// Makes the targeted sockets join `rooms`.
    pub async fn sockets_join<R: Into<Str>>(
        &self,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), Error> {
        self.request(RequestBody::SocketsJoin {
            opts: self.opts(),
            rooms: rooms.into_iter().map(Into::into).collect(),
        })
        .await
    }

    /// Makes the targeted sockets leave `rooms`.
    pub async fn sockets_leave<R: Into<Str>>(
        &self,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), Error> {
        self.request(RequestBody::SocketsLeave {
            opts: self.opts(),
            rooms: rooms.into_iter().map(Into::into).collect(),
        })
        .await
    }

    /// Disconnects the targeted sockets (`close`: close their connections too).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.request(RequestBody::DisconnectSockets {
            opts: self.opts(),
            close,
        })
        .await
    }
}

/// Adds `item` unless present (a JavaScript `Set`).
fn add_unique(items: &mut Vec<Str>, item: Str) {
    if !items.contains(&item) {
        items.push(item);
    }
}
