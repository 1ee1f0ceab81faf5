//! The reasons behind an [`Error`](crate::Error): plain data enums that say exactly what
//! failed, reachable through the error's accessors and re-exported where their subject lives
//! (`engine::DecodeReason`, `socket::DecodeReason`, `socket::SessionReason`,
//! `websocket::FrameReason`, `websocket::deflate::InflateReason`). They import nothing from
//! the crate, so that the error and the modules that return it do not import each other.

/// The reason of Engine.IO decode errors.
pub(crate) mod engine {
    use std::fmt;

    /// Why bytes could not be decoded as Engine.IO packets
    /// ([`Error::engine_reason`](crate::Error::engine_reason)). A reason, not an error type: the
    /// decoders return an [`Error`](crate::Error) of kind
    /// [`EngineDecode`](crate::ErrorKind::EngineDecode).
    ///
    /// Every variant means "close the session with reason `parse error`" except
    /// [`PayloadTooLarge`](Self::PayloadTooLarge), which a polling server answers with `413`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum DecodeReason {
        /// An empty packet: an empty text frame, an empty record in a payload, an empty v3 binary
        /// frame (it lacks its type byte), or an empty body where a payload needs at least one
        /// record (v4 and v3 string payloads).
        Empty,
        /// The first byte of a text packet is not a type digit `0`-`6` (nor `b`).
        UnknownPacketType(u8),
        /// A v3 binary packet (binary frame, XHR2 binary record or `b<type>` text) whose type is not
        /// `4` (message). The JavaScript parser hands such packets on with their binary data; no
        /// peer sends them and [`Packet`](crate::engine::Packet) cannot represent them.
        BinaryNotMessage(u8),
        /// The data of a `b` packet is not base64 (standard alphabet, padding optional).
        InvalidBase64,
        /// A text packet or payload is not valid UTF-8.
        InvalidUtf8,
        /// The JSON of an `open` packet is not a handshake object.
        InvalidOpen,
        /// A polling payload is larger than the limit (`maxHttpBufferSize`), or a v3 record declares
        /// a length larger than it.
        PayloadTooLarge {
            /// The limit in bytes.
            limit: usize,
        },
        /// A malformed v3 length prefix: no digits, a non-digit, an overflowing number, an XHR2
        /// record kind other than 0 or 1, or a length that ends inside a character.
        InvalidLength,
        /// A v3 payload that ends in the middle of a record.
        Truncated,
    }

    impl fmt::Display for DecodeReason {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                DecodeReason::Empty => f.write_str("empty packet"),
                DecodeReason::UnknownPacketType(b) => write!(f, "unknown packet type 0x{b:02x}"),
                DecodeReason::BinaryNotMessage(t) => {
                    write!(f, "binary packet of type {t} is not a message")
                }
                DecodeReason::InvalidBase64 => f.write_str("invalid base64"),
                DecodeReason::InvalidUtf8 => f.write_str("invalid utf-8"),
                DecodeReason::InvalidOpen => f.write_str("invalid open packet json"),
                DecodeReason::PayloadTooLarge { limit } => {
                    write!(f, "payload too large (limit {limit} bytes)")
                }
                DecodeReason::InvalidLength => f.write_str("malformed length prefix"),
                DecodeReason::Truncated => f.write_str("truncated payload"),
            }
        }
    }
}

/// The reason of Socket.IO decode errors.
pub(crate) mod socket {
    use std::fmt;

    /// Why a message was rejected ([`Error::socket_reason`](crate::Error::socket_reason)). The
    /// peer broke the protocol; socket.io closes the connection. A reason, not an error type: the
    /// [`Decoder`](crate::socket::Decoder) returns an [`Error`](crate::Error) of kind
    /// [`SocketDecode`](crate::ErrorKind::SocketDecode).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum DecodeReason {
        /// The type digit is not 0 to 6 (or the message is empty).
        UnknownPacketType,
        /// The attachment count of a binary packet is not an integer of at least 1 followed by `-`.
        IllegalAttachments,
        /// A binary packet announces more attachments than
        /// [`max_attachments`](crate::socket::DecoderConfig::max_attachments).
        TooManyAttachments,
        /// The namespace is not valid.
        InvalidNamespace,
        /// The ack id is above 2^53-1, or missing from an ACK.
        InvalidAckId,
        /// The payload is not valid JSON, or not what the packet type requires.
        InvalidPayload,
        /// A binary placeholder's `num` is not an attachment index.
        InvalidPlaceholder,
        /// A binary message arrived while no binary packet was waiting for attachments.
        UnexpectedBinary,
        /// A text message arrived while a binary packet was waiting for attachments.
        UnexpectedText,
        /// The configured parser is not available.
        Unsupported,
    }

    impl fmt::Display for DecodeReason {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                DecodeReason::UnknownPacketType => "unknown packet type",
                DecodeReason::IllegalAttachments => "illegal attachments",
                DecodeReason::TooManyAttachments => "too many attachments",
                DecodeReason::InvalidNamespace => "invalid namespace",
                DecodeReason::InvalidAckId => "invalid ack id",
                DecodeReason::InvalidPayload => "invalid payload",
                DecodeReason::InvalidPlaceholder => "invalid attachment placeholder",
                DecodeReason::UnexpectedBinary => "binary data when not reconstructing a packet",
                DecodeReason::UnexpectedText => "text data when reconstructing a packet",
                DecodeReason::Unsupported => "parser not supported",
            })
        }
    }
}

/// The reason of session misuse errors.
pub(crate) mod session {
    use std::fmt;

    /// Why a command does not fit the session's state (the caller's mistake, or a race with the
    /// connection closing); nothing was changed. A reason, not an error type: the session's
    /// commands return an [`Error`](crate::Error) of kind [`Session`](crate::ErrorKind::Session),
    /// whose [`session_reason`](crate::Error::session_reason) this is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum SessionReason {
        /// The session is over.
        Closed,
        /// The namespace is not connected.
        NotConnected,
        /// No CONNECT of this namespace waits for an answer.
        NoConnectRequest,
        /// The CONNECT asked for no recovery (no `pid` and `offset`, or recovery is off).
        NoRecoveryRequest,
        /// The packet cannot be sent this way: a CONNECT, DISCONNECT or CONNECT_ERROR (they have
        /// their own methods), a replayed packet that is not an EVENT without ack id of the
        /// namespace, an EVENT without ack id where one is needed.
        InvalidPacket,
    }

    impl fmt::Display for SessionReason {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                SessionReason::Closed => "the session is closed",
                SessionReason::NotConnected => "the namespace is not connected",
                SessionReason::NoConnectRequest => {
                    "no connect request is pending for the namespace"
                }
                SessionReason::NoRecoveryRequest => "the connect request asked for no recovery",
                SessionReason::InvalidPacket => "the packet cannot be sent this way",
            })
        }
    }
}

/// The reason of inflate errors.
pub(crate) mod deflate {
    use std::fmt;

    /// Why a compressed message was refused
    /// ([`Error::inflate_reason`](crate::Error::inflate_reason)); the connection closes with
    /// [`close_code`]. A reason, not an error type:
    /// [`PerMessageDeflate::inflate`](crate::websocket::deflate::PerMessageDeflate::inflate)
    /// returns an [`Error`](crate::Error) of kind [`Inflate`](crate::ErrorKind::Inflate).
    ///
    /// [`close_code`]: InflateReason::close_code
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum InflateReason {
        /// The inflated message would be longer than the limit (`ws`: "Max payload size
        /// exceeded", close 1009).
        TooBig,
        /// The data is not a valid deflate stream (`ws`: zlib's error, close 1007).
        Corrupt,
    }

    impl InflateReason {
        /// The WebSocket close code `ws` sends for this error: 1009 (message too big) or 1007
        /// (invalid frame payload data).
        pub fn close_code(self) -> u16 {
            match self {
                InflateReason::TooBig => 1009,
                InflateReason::Corrupt => 1007,
            }
        }
    }

    impl fmt::Display for InflateReason {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                InflateReason::TooBig => "max payload size exceeded",
                InflateReason::Corrupt => "invalid compressed data",
            })
        }
    }
}

/// The reason of WebSocket frame errors.
pub(crate) mod websocket {
    use std::fmt;

    /// Why a client's frames were refused
    /// ([`Error::frame_reason`](crate::Error::frame_reason)); the connection must be closed
    /// with [`close_code`](Self::close_code). A reason, not an error type: the decoder returns
    /// an [`Error`](crate::Error) of kind [`WebSocket`](crate::ErrorKind::WebSocket).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum FrameReason {
        /// A protocol violation (close code 1002), with what was wrong.
        Protocol(&'static str),
        /// A message over [`FrameDecoderConfig::max_message_size`](crate::websocket::FrameDecoderConfig::max_message_size) (close code 1009).
        TooBig,
        /// A text message or close reason that is not UTF-8 (close code 1007).
        InvalidUtf8,
    }

    impl FrameReason {
        /// The status code of the close frame that answers this error.
        pub fn close_code(self) -> u16 {
            match self {
                FrameReason::Protocol(_) => 1002,
                FrameReason::TooBig => 1009,
                FrameReason::InvalidUtf8 => 1007,
            }
        }
    }

    impl fmt::Display for FrameReason {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                FrameReason::Protocol(what) => write!(f, "websocket protocol error: {what}"),
                FrameReason::TooBig => f.write_str("websocket message too big"),
                FrameReason::InvalidUtf8 => f.write_str("websocket text is not valid utf-8"),
            }
        }
    }
}
