//! The handlers [`Socket::on`](crate::Socket::on) and [`Socket::once`](crate::Socket::once)
//! take: [`Handler`] and [`OnceHandler`], implemented for closures of three shapes, told
//! apart by their number of parameters (the marker types of this module, which you never
//! name, as in axum):
//!
//! | closure | what it gets |
//! |---|---|
//! | `\|msg: Message\| { ... }` | the raw [`Message`](crate::Message) (name, [`Args`](crate::Args), ack), called synchronously |
//! | `\|socket: Socket, data: T\| async move { ... }` | the arguments read as `T` |
//! | `\|socket: Socket, data: T, ack: AckSender\| async move { ... }` | the same, and the [`AckSender`](crate::AckSender) that answers the server's ack request |
//!
//! `T` is any [`DeserializeOwned`](serde::de::DeserializeOwned) type, read as [`Args::deserialize`](crate::Args::deserialize)
//! does: a tuple takes the arguments in order (`(String, u32)`, `()` for none), another type
//! the first argument. Give the parameters' types in the closure: they choose the shape.
//! Arguments that do not read as `T` do not call the handler: the socket's
//! [`on_error`](crate::Socket::on_error) hooks get an
//! [`ErrorKind::Deserialize`](crate::ErrorKind::Deserialize) error that names the event, and
//! a `tracing` warning is logged.
//!
//! # How they run
//!
//! Handlers are called on the manager's task, in the order the events arrive, and for one
//! event in the order they were added, as in JavaScript. An async handler's future is polled
//! once right there: what it does before its first `.await` that waits happens in that
//! order too, and a handler that never waits costs no task. A future that is still pending
//! after that first poll is moved to a task of its own ([`tokio::spawn`]), so that it never
//! holds up the manager: from there on, handlers of later events may run while it waits
//! (JavaScript's async handlers interleave the same way). To handle events strictly one
//! after the other, await them from one task with [`Socket::events`](crate::Socket::events).
//! A future that is still running holds its [`Socket`](crate::Socket), which keeps the
//! manager alive until it ends.
//!
//! A [`once`](crate::Socket::once) handler is removed when its event arrives, whether its
//! arguments match or not (a mismatch goes to the `on_error` hooks as for `on`).
//!
//! ```
//! use sio_client::{AckSender, Message, Options, Socket, io};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sio_client::Error> {
//! let socket = io("http://localhost:3000", Options::default().auto_connect(false))?;
//! // Synchronous, raw: the name, the arguments as they came, the ack.
//! socket.on("a", |msg: Message| {
//!     let _ = msg.ack(&msg.args().len());
//! });
//! // Async, typed, without ack: `()` for no arguments.
//! socket.on("b", |_socket: Socket, (): ()| async move {});
//! // Async, typed, with the ack: two arguments as a tuple.
//! socket.on("c", |socket: Socket, (x, y): (f64, f64), ack: AckSender| async move {
//!     let _ = socket.emit("moved", &(x, y));
//!     let _ = ack.send(&"ok");
//! });
//! # Ok(()) }
//! ```

pub use crate::socket::{DataAckMarker, DataMarker, Handler, OnceHandler, RawMarker};
