//! The sans-IO core of sio: Engine.IO and Socket.IO codecs and state machines.
//!
//! Nothing in this crate touches a socket, a clock or a runtime. Time comes in as `now`
//! arguments, randomness as a caller-supplied number, bytes in and out as [`bytes::Bytes`] and
//! [`Str`]. Both the server (`sio-server`) and the client (`sio-client`) drive the same code.
//!
//! ```text
//!  bytes on the wire (HTTP long-polling bodies, WebSocket frames)
//!    │   engine::payload / engine::Packet        Engine.IO v3 + v4 packets and polling payloads
//!    ▼
//!  engine::Session                               handshake, heartbeat, upgrade probe, close
//!    │   (Engine.IO `message` packets)
//!    ▼
//!  socket::{Encoder, Decoder}                    Socket.IO v4 + v5 packets, binary attachments
//!    │   socket::Packet { nsp, data: Event { name, args: Args, id } .. }
//!    ▼
//!  socket::{ServerSession, ClientSession}        namespaces, state rules, acks, send and
//!    │                                           receive buffers, retries, reconnection,
//!    │                                           connection state recovery
//!    ▼
//!  Args::deserialize::<T>() / Value              the user's typed or dynamic data
//! ```
//!
//! Every fallible call returns the crate's one [`Error`]: its [`kind`](Error::kind) says
//! what failed (an Engine.IO or Socket.IO decode, a WebSocket frame, arguments that do not
//! (de)serialize, a session command that does not fit the state...), and its
//! [`source`](std::error::Error::source) keeps the cause.
//!
//! Companion state machines, which the sessions use and which stand alone too: [`Backoff`]
//! (reconnection delays exactly as socket.io-client computes them) and [`AckTracker`] (ack
//! ids and deadlines).
//!
//! # Example: an event with binary, through both codecs and back
//!
//! ```
//! use bytes::Bytes;
//! use sio_protocol::engine::{Frame, PayloadDecoder, PayloadEncoder, PayloadFormat, Packet as EioPacket};
//! use sio_protocol::socket::{Decoder, DecoderConfig, Encoder, PacketData, Parser};
//!
//! // `socket.emit("file", "a.png", <4 bytes>)` with ack id 1, in namespace /admin.
//! let encoder = Encoder::new(Parser::Json);
//! let image = Bytes::from_static(b"\x89PNG");
//! let encoded = encoder.encode_event("/admin", "file", &("a.png", &image), Some(1))?;
//! assert_eq!(
//!     encoded.text(),
//!     Some(r#"51-/admin,1["file","a.png",{"_placeholder":true,"num":0}]"#)
//! );
//!
//! // Over HTTP long-polling the frames travel in one Engine.IO v4 payload.
//! let packets: Vec<EioPacket> = encoded
//!     .into_frames()
//!     .map(|frame| match frame {
//!         Frame::Text(text) => EioPacket::Message(text),
//!         Frame::Binary(data) => EioPacket::Binary(data),
//!     })
//!     .collect();
//! let body = PayloadEncoder::encode(packets.iter(), PayloadFormat::V4);
//! assert_eq!(&body[..], &b"451-/admin,1[\"file\",\"a.png\",{\"_placeholder\":true,\"num\":0}]\x1ebiVBORw=="[..]);
//!
//! // The receiving side: the payload, then the Socket.IO packet once its attachment arrived.
//! let mut decoder = Decoder::new(DecoderConfig::default());
//! let mut packet = None;
//! for eio in PayloadDecoder::decode_all(body, PayloadFormat::V4, 1_000_000)? {
//!     let frame = match eio {
//!         EioPacket::Message(text) => Frame::Text(text),
//!         EioPacket::Binary(data) => Frame::Binary(data),
//!         _ => unreachable!(),
//!     };
//!     packet = decoder.decode(frame)?; // None until the attachment is in
//! }
//! let packet = packet.expect("complete");
//! let PacketData::Event { name, args, id } = packet.data else { unreachable!() };
//! assert_eq!((packet.nsp.as_str(), name.as_str(), id), ("/admin", "file", Some(1)));
//! let (file, data): (String, Bytes) = args.deserialize()?;
//! assert_eq!((file.as_str(), data), ("a.png", image));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod engine;
pub mod socket;
pub mod websocket;

mod ack;
mod backoff;
mod error;
mod reason;
mod str;
mod value;

pub use ack::{AckId, AckTracker};
pub use backoff::Backoff;
pub use error::{Error, ErrorKind};
pub use str::Str;
pub use value::{Map, Number, Value};
