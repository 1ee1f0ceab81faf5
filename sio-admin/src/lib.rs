//! The official [Socket.IO Admin UI](https://socket.io/docs/v4/admin-ui/) for sio-server:
//! this crate is to [`sio_server`] what the npm package `@socket.io/admin-ui` (0.5.1) is to
//! socket.io, wire-compatible with its page.
//!
//! ```text
//!  the Admin UI page (AdminUi: ui/dist of the npm package, served at /admin/)
//!     │ socket.io-client, namespace /admin (auth: none, or basic with a bcrypt hash)
//!     ▼
//!  admin namespace ◄── instrument(&io, options)
//!     ▲   config, server_stats, all_sockets,          hooks on every namespace:
//!     │   socket_connected / _updated / _disconnected  on_connection, on_any, on_any_outgoing,
//!     │   room_joined / room_left, event_received / _sent   on_disconnect, on_join_room...
//!     │   (emitted through the adapter: every UI of the cluster gets every server's)
//!     └── actions: emit, join, leave, _disconnect (unless read-only), cluster-wide
//! ```
//!
//! - [`instrument`] with [`InstrumentOptions`]: the server half (JavaScript's
//!   `instrument(io, {auth, namespaceName, readonly, serverId, mode})`);
//! - [`AdminUi`]: the page, read from the installed npm package at start time and served
//!   from memory, so that the UI works offline.
//!
//! # Example
//!
//! ```no_run
//! use axum::Router;
//! use sio_admin::{AdminUi, Auth, InstrumentOptions, Mode, instrument};
//! use sio_server::{SocketIo, SocketIoConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let io = SocketIo::new(SocketIoConfig::default());
//! io.of("/").on_connection(|socket| async move {
//!     socket.join("lobby").await;
//! });
//! // bcryptjs.hashSync("changeit", 10)
//! let auth = Auth::basic("admin", "$2a$10$zjWsRaMOYavzOhvlaqa1luYPq2W0ItZaupxctsjLB37qQAL3.sK4q")?;
//! instrument(&io, InstrumentOptions::new(auth).mode(Mode::Development))?;
//!
//! let ui = AdminUi::from_node_modules("tests/node_modules")?;
//! let app = Router::new().fallback_service(ui).layer(io.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // http://127.0.0.1:3000/admin/, server URL http://127.0.0.1:3000, admin / changeit
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Clusters
//!
//! As in JavaScript, each server of a cluster calls [`instrument`] (with its own
//! [`server_id`](InstrumentOptions::server_id)) and emits what it sees on the admin namespace
//! through its adapter, so the UI connected to any server shows every server's statistics and
//! sockets; `all_sockets` uses [`fetch_sockets`](sio_server::Namespace::fetch_sockets) and the
//! actions use [`sockets_join`](sio_server::BroadcastOperator::sockets_join),
//! [`sockets_leave`](sio_server::BroadcastOperator::sockets_leave) and
//! [`disconnect_sockets`](sio_server::BroadcastOperator::disconnect_sockets), which reach
//! every server. Login sessions are kept by the server that granted them (JavaScript's
//! `InMemoryStore`): behind a load balancer, use sticky sessions.

mod error;
mod instrument;
mod options;
mod serialize;
mod ui;

pub use error::{Error, ErrorKind};
pub use instrument::instrument;
pub use options::{Auth, InstrumentOptions, Mode};
pub use ui::AdminUi;
