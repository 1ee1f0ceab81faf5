//! [`SocketIoConfig`]: the options of the Socket.IO server.

use std::time::Duration;

use sio_protocol::socket::Parser;

use crate::engine::config::EngineConfig;

/// Socket.IO server options, with the JavaScript defaults where socket.io has one.
///
/// ```
/// use std::time::Duration;
/// use sio_server::SocketIoConfig;
///
/// let config = SocketIoConfig::default().connect_timeout(Duration::from_secs(1));
/// assert_eq!(config.engine.path, "/socket.io/");
/// assert_eq!(config.ack_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SocketIoConfig {
    /// The Engine.IO options. Default: [`EngineConfig::default`] with the path `/socket.io/`.
    pub engine: EngineConfig,
    /// `connectTimeout` (default 45 s): a connection that joined no namespace by then is
    /// closed.
    pub connect_timeout: Duration,
    /// How long `emit_with_ack` waits when no [`timeout`](crate::AckFuture::timeout) is given
    /// (default 5 s; socket.io waits forever, which leaks the pending ack of a client that
    /// never answers).
    pub ack_timeout: Duration,
    /// How many received events may wait for one socket's handlers (default 64), and at most
    /// [`EngineConfig::max_buffered_bytes`] bytes of them (the bytes of the messages that
    /// carried them; one event always fits in an empty queue). Past either, the connection
    /// stops reading the client until the handlers catch up. See
    /// [the handler order](crate::SocketIo#handler-order).
    pub socket_queue: usize,
    /// The most binary attachments a client's packet may announce (default 10, socket.io's
    /// `maxAttachments`).
    pub max_attachments: usize,
    /// The most bytes one connection may hold in a binary packet waiting for its attachments
    /// (default 10,000,000): the packet's text header plus the attachments received so far
    /// (the last attachment completes the packet and is never counted). Past it the
    /// connection is closed, logged at debug level as `"pending attachments over N bytes"`;
    /// its sockets disconnect with [`"forced close"`], as after any packet the server rejects.
    ///
    /// socket.io keeps at most one such packet per connection, with up to `maxAttachments`
    /// (10) attachments of up to `maxHttpBufferSize` (1 MB) each: the default is that bound,
    /// so whatever a socket.io server with its default options lets through is let through
    /// here. Raise it along with
    /// [`max_http_buffer_size`](crate::EngineConfig::max_http_buffer_size) or
    /// [`max_attachments`](Self::max_attachments) if clients send several large attachments
    /// in one packet.
    ///
    /// [`"forced close"`]: crate::SocketDisconnectReason::ForcedClose
    pub max_pending_attachment_bytes: usize,
    /// The most bytes all the connections of the server together may hold in binary packets
    /// waiting for their attachments, counted as for
    /// [`max_pending_attachment_bytes`](Self::max_pending_attachment_bytes) (default 64 MiB).
    /// The connection whose packet would go past it is closed, logged at info level as
    /// `"pending attachments over N bytes across the server"`; its sockets disconnect with
    /// [`"forced close"`]. The count:
    /// [`SocketIo::pending_attachment_bytes`](crate::SocketIo::pending_attachment_bytes).
    ///
    /// socket.io has no such bound: clients that announce attachments and hold back the last
    /// one keep the others in memory until they disconnect (1,000 clients sending 9 of 10
    /// announced attachments of 90 KB hold 810 MB). A legitimate client sends the attachments
    /// of a packet right after its header, so what is held at one time is the uploads in
    /// flight at that moment: 64 MiB are six packets of the largest kind
    /// `max_pending_attachment_bytes` lets through, or 740 packets waiting for their tenth
    /// attachment of 10 KB, in flight at the same time. Raise it for a server that receives
    /// many large binary packets at once. The budget is shared: the lower it is, the fewer
    /// hostile clients it takes to have other clients' packets of several attachments
    /// refused.
    ///
    /// [`"forced close"`]: crate::SocketDisconnectReason::ForcedClose
    pub max_pending_attachment_bytes_total: usize,
    /// The Socket.IO parser of every connection (default [`Parser::Json`], socket.io-parser).
    /// With the `msgpack` cargo feature, [`Parser::MsgPack`] speaks the format of the npm
    /// package `socket.io-msgpack-parser` (clients need `parser: require("socket.io-msgpack-parser")`):
    /// every packet received is decoded with it and every packet sent (CONNECT replies,
    /// CONNECT_ERROR, events, acks, DISCONNECT, broadcasts) is encoded with it. Like socket.io,
    /// one server speaks one parser: a client with the other one cannot connect. Engine.IO v3
    /// connections ([`allow_eio3`](crate::EngineConfig::allow_eio3), socket.io 2.x clients)
    /// get the same format; socket.io 2.x clients would use socket.io-msgpack-parser 2.x,
    /// which is not tested against this server.
    pub parser: Parser,
    /// Connection state recovery (socket.io's `connectionStateRecovery`; default `None`: off).
    /// See [`ConnectionStateRecovery`].
    pub connection_state_recovery: Option<ConnectionStateRecovery>,
}

impl Default for SocketIoConfig {
    fn default() -> Self {
        SocketIoConfig {
            engine: EngineConfig::default().path("/socket.io/"),
            connect_timeout: Duration::from_secs(45),
            ack_timeout: Duration::from_secs(5),
            socket_queue: 64,
            max_attachments: 10,
            max_pending_attachment_bytes: 10_000_000,
            max_pending_attachment_bytes_total: 64 << 20,
            parser: Parser::Json,
            connection_state_recovery: None,
        }
    }
}

impl SocketIoConfig {
    /// Sets [`engine`](Self::engine).
    pub fn engine(mut self, engine: EngineConfig) -> Self {
        self.engine = engine;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, value: Duration) -> Self {
        self.connect_timeout = value;
        self
    }

    /// Sets [`ack_timeout`](Self::ack_timeout).
    pub fn ack_timeout(mut self, value: Duration) -> Self {
        self.ack_timeout = value;
        self
    }

    /// Sets [`socket_queue`](Self::socket_queue) (at least 1).
    pub fn socket_queue(mut self, value: usize) -> Self {
        self.socket_queue = value.max(1);
        self
    }

    /// Sets [`max_attachments`](Self::max_attachments).
    pub fn max_attachments(mut self, value: usize) -> Self {
        self.max_attachments = value;
        self
    }

    /// Sets [`max_pending_attachment_bytes`](Self::max_pending_attachment_bytes).
    pub fn max_pending_attachment_bytes(mut self, value: usize) -> Self {
        self.max_pending_attachment_bytes = value;
        self
    }

    /// Sets [`max_pending_attachment_bytes_total`](Self::max_pending_attachment_bytes_total).
    pub fn max_pending_attachment_bytes_total(mut self, value: usize) -> Self {
        self.max_pending_attachment_bytes_total = value;
        self
    }

    /// Sets [`parser`](Self::parser).
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// Turns connection state recovery on with these options (see
    /// [`ConnectionStateRecovery`]).
    pub fn connection_state_recovery(mut self, recovery: ConnectionStateRecovery) -> Self {
        self.connection_state_recovery = Some(recovery);
        self
    }
}

/// Connection state recovery (socket.io's `connectionStateRecovery`): a client whose
/// connection was cut comes back with the same socket id, rooms and `data`, and gets the
/// events it missed, in order, once.
///
/// ```
/// use std::time::Duration;
/// use sio_server::{ConnectionStateRecovery, SocketIo, SocketIoConfig};
///
/// let recovery = ConnectionStateRecovery::default()
///     .max_disconnection_duration(Duration::from_secs(30));
/// let io = SocketIo::new(SocketIoConfig::default().connection_state_recovery(recovery));
/// io.of("/").on_connection(|socket| async move {
///     if socket.recovered() {
///         // Same id, rooms and `data` as before the cut; the missed events were sent.
///     } else {
///         // A new session (or one that could not be recovered): set it up.
///         socket.join("lobby").await;
///     }
/// });
/// ```
///
/// # How it works
///
/// With it on, every socket gets a private session id (`pid`, 20 characters from the
/// operating system's CSPRNG) in its CONNECT reply, and every EVENT sent to sockets that is
/// neither volatile nor acknowledged (a broadcast, or [`Socket::emit`](crate::Socket::emit),
/// which then goes through the adapter to the socket's own room, as in socket.io) carries an
/// **offset** as its last argument, which the client remembers. A socket that disconnects
/// for `"transport close"`, `"transport error"`, `"ping timeout"`, `"forced close"`,
/// `"server shutting down"` or `"forced server close"` leaves its session (id, rooms,
/// `data`) behind: its [adapter](crate::Adapter::persist_session) keeps it. A client that
/// connects again with `{pid, offset}` in its CONNECT payload (socket.io-client does, and
/// `sio-client`) gets, if the session can be [restored](crate::Adapter::restore_session),
/// the events sent to its rooms after that offset, then a CONNECT reply with the same socket
/// id and pid: [`Socket::recovered`](crate::Socket::recovered) is `true`, and the
/// `connection` handlers run again (without the connect middlewares when
/// [`skip_middlewares`](Self::skip_middlewares)).
///
/// # What survives
///
/// The socket id, the rooms, [`Socket::set_data`](crate::Socket::set_data)'s JSON `data`,
/// and the events missed. Not the typed data of [`Socket::insert_data`](crate::Socket::insert_data)
/// (any Rust value, which an adapter that keeps sessions in another process could not
/// store), nor handlers: the `connection` handlers run again, so set them up there (and read
/// `data` to rebuild typed state). Acknowledgements still pending are failed with
/// "socket has been disconnected", as without recovery.
///
/// # When a session cannot be recovered
///
/// The client gets a fresh session (new socket id and pid, no rooms, `recovered` false),
/// never another client's state, when: the pid is unknown (guessed, forged, of another
/// namespace or server), was already used (each pid is tried once), or expired (older than
/// [`max_disconnection_duration`](Self::max_disconnection_duration)); the offset is not one
/// this namespace gave, or events after it left the server's log; or the client missed more
/// than [`max_missed_packets`](Self::max_missed_packets) or
/// [`max_missed_bytes`](Self::max_missed_bytes).
///
/// # Memory
///
/// Nothing per connected socket. Per namespace, a log of the events sent (each encoded once,
/// shared with the packets in flight) for `max_disconnection_duration`, at most
/// [`max_stored_packets`](Self::max_stored_packets) and
/// [`max_stored_bytes`](Self::max_stored_bytes) (the oldest go first); and one record per
/// disconnected socket waiting to be recovered (its ids, rooms and `data`), at most
/// [`max_sessions`](Self::max_sessions): measured (`sio-server/tests/io_memory.rs`), 560 bytes
/// for a socket in two rooms with an empty `data`, 930 bytes with `{"user": "ann"}`. Expired
/// events and sessions are dropped as new ones come. With recovery on, a connected socket
/// holds its pid (20 bytes more than without).
///
/// # With a cluster adapter
///
/// The default [`Adapter::persist_session`](crate::Adapter::persist_session) and
/// [`Adapter::restore_session`](crate::Adapter::restore_session) keep sessions and the log
/// on this server ([`LocalNamespace::persist_session`](crate::LocalNamespace::persist_session),
/// [`LocalNamespace::restore_session`](crate::LocalNamespace::restore_session)): a client
/// recovers on the server it was connected to. An adapter that keeps sessions in a shared
/// store overrides both, and returns the packets the client missed with the session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStateRecovery {
    /// How long a session is kept after its socket disconnected, and events in the log
    /// (default 2 minutes, socket.io's `maxDisconnectionDuration`).
    pub max_disconnection_duration: std::time::Duration,
    /// Whether a recovered socket skips the connect middlewares (default `true`, socket.io's
    /// `skipMiddlewares`).
    pub skip_middlewares: bool,
    /// The most events one session may have missed (default 1,000): past it, the session is
    /// not recovered (the client gets a fresh one), rather than replaying a long backlog.
    pub max_missed_packets: usize,
    /// The most bytes (encoded) of the events one session may have missed (default 1 MiB):
    /// past it, as past [`max_missed_packets`](Self::max_missed_packets).
    pub max_missed_bytes: usize,
    /// The most events a namespace's log keeps (default 10,000): past it, the oldest go, and
    /// a client whose offset is older can no longer recover.
    pub max_stored_packets: usize,
    /// The most bytes a namespace's log keeps, counting each event's encoded size and about
    /// 100 bytes of bookkeeping (default 16 MiB): past it, as past
    /// [`max_stored_packets`](Self::max_stored_packets).
    pub max_stored_bytes: usize,
    /// The most sessions a namespace keeps waiting to be recovered (default 100,000): past
    /// it, the oldest go.
    pub max_sessions: usize,
}

impl Default for ConnectionStateRecovery {
    fn default() -> Self {
        ConnectionStateRecovery {
            max_disconnection_duration: std::time::Duration::from_secs(120),
            skip_middlewares: true,
            max_missed_packets: 1_000,
            max_missed_bytes: 1 << 20,
            max_stored_packets: 10_000,
            max_stored_bytes: 16 << 20,
            max_sessions: 100_000,
        }
    }
}

impl ConnectionStateRecovery {
    /// Sets [`max_disconnection_duration`](Self::max_disconnection_duration).
    pub fn max_disconnection_duration(mut self, value: std::time::Duration) -> Self {
        self.max_disconnection_duration = value;
        self
    }

    /// Sets [`skip_middlewares`](Self::skip_middlewares).
    pub fn skip_middlewares(mut self, value: bool) -> Self {
        self.skip_middlewares = value;
        self
    }

    /// Sets [`max_missed_packets`](Self::max_missed_packets).
    pub fn max_missed_packets(mut self, value: usize) -> Self {
        self.max_missed_packets = value;
        self
    }

    /// Sets [`max_missed_bytes`](Self::max_missed_bytes).
    pub fn max_missed_bytes(mut self, value: usize) -> Self {
        self.max_missed_bytes = value;
        self
    }

    /// Sets [`max_stored_packets`](Self::max_stored_packets).
    pub fn max_stored_packets(mut self, value: usize) -> Self {
        self.max_stored_packets = value;
        self
    }

    /// Sets [`max_stored_bytes`](Self::max_stored_bytes).
    pub fn max_stored_bytes(mut self, value: usize) -> Self {
        self.max_stored_bytes = value;
        self
    }

    /// Sets [`max_sessions`](Self::max_sessions).
    pub fn max_sessions(mut self, value: usize) -> Self {
        self.max_sessions = value;
        self
    }
}
