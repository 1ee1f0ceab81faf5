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
    /// How many received events may wait for one socket's handlers (default 64). See
    /// [the handler order](crate::SocketIo#handler-order).
    pub socket_queue: usize,
    /// The most binary attachments a client's packet may announce (default 10, socket.io's
    /// `maxAttachments`).
    pub max_attachments: usize,
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

    /// Sets [`parser`](Self::parser).
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }
}
