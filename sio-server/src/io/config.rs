//! [`SocketIoConfig`]: the options of the Socket.IO server.

use std::time::Duration;

use sio_protocol::socket::Parser;

use crate::EngineConfig;

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
}
