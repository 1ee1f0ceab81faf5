//! [`RemoteSocket`]: a socket of any server of the cluster, as `fetch_sockets` returns it, and
//! the `fetch_sockets` of [`BroadcastOperator`] and [`Namespace`] (written here, so that the
//! operator and the namespace, below, do not depend on this module).

use std::future::{Future, IntoFuture};

use std::time::Duration;

use futures_util::future::Either;
use serde::Serialize;
use sio_protocol::Error as ProtocolError;
use sio_protocol::socket::Args;
use sio_protocol::{Str, Value};

use super::ack::AckFuture;
use super::broadcast::BroadcastOperator;
use super::cluster::RemoteSocketData;
use super::error::Error;
use super::future::BoxFuture;
use super::handshake::Handshake;
use super::namespace::Namespace;
use super::socket::Socket;

/// A socket of this server or of another server of the cluster, as
/// [`fetch_sockets`](Namespace::fetch_sockets) returns it (socket.io's `RemoteSocket`):
/// its id, handshake, rooms and [`data`](Socket::set_data) as they were when fetched, and
/// the operations that work from anywhere.
///
/// **Local and remote sockets alike.** A socket of this server is a `RemoteSocket` too, with
/// a handle on the live [`Socket`] ([`as_socket`](Self::as_socket)): its operations act on
/// it directly (as socket.io's `fetchSockets` returns local `Socket` objects). Those of a
/// socket of another server go through the adapter, addressed to the room named by the
/// socket's id (socket.io's `RemoteSocket` does `io.to(id)`).
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // A server and a client (in "lobby") in the same process.
/// # let io = sio_server::SocketIo::new(Default::default());
/// # let (tx, mut joined) = tokio::sync::mpsc::unbounded_channel();
/// # io.of("/").on_connection(move |socket| {
/// #     let tx = tx.clone();
/// #     async move { socket.join("lobby").await; let _ = tx.send(()); }
/// # });
/// # let server = io.listen("127.0.0.1:0").await?;
/// # let client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
/// # let (seen, mut got) = tokio::sync::mpsc::unbounded_channel();
/// # client.on("kicked", move |msg: sio_client::Message| { let _ = seen.send(msg.deserialize::<(String,)>().unwrap()); });
/// # joined.recv().await;
/// for socket in io.of("/").to("lobby").fetch_sockets().await? {
///     if socket.data()["level"].as_u64() < Some(3) {
///         socket.leave("lobby").await?;
///         socket.emit("kicked", &"level too low").await?;
///     }
/// }
/// # // The client has no "level": `None < Some(3)`.
/// # assert_eq!(got.recv().await.unwrap(), ("level too low".to_owned(),));
/// # assert!(io.of("/").to("lobby").fetch_sockets().await?.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RemoteSocket {
    data: RemoteSocketData,
    ns: Namespace,
    local: Option<Socket>,
}

impl RemoteSocket {
    pub(crate) fn new(ns: Namespace, data: RemoteSocketData) -> Self {
        let local = ns.get_socket(&data.id);
        RemoteSocket { data, ns, local }
    }

    /// The socket id.
    pub fn id(&self) -> &Str {
        &self.data.id
    }

    /// Its handshake (see [`Handshake`]'s JSON form for what another server sends).
    pub fn handshake(&self) -> &Handshake {
        &self.data.handshake
    }

    /// Its rooms when fetched (its own id included).
    pub fn rooms(&self) -> &[Str] {
        &self.data.rooms
    }

    /// Its `data` when fetched ([`Socket::set_data`]; `{}` unless set).
    pub fn data(&self) -> &Value {
        &self.data.data
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// Whether the socket is connected to this server (when fetched).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The live socket, when it is connected to this server.
    pub fn as_socket(&self) -> Option<&Socket> {
        self.local.as_ref()
    }

    /// The description, as the adapter gave it.
    pub fn into_data(self) -> RemoteSocketData {
        self.data
    }

    fn operator(&self) -> BroadcastOperator {
        self.ns.to(self.data.id.clone())
    }

    /// Sends `event` to the socket: [`Socket::emit`] for a local socket; through the adapter
    /// otherwise ([`BroadcastOperator::emit`] to the room named by its id; then `Ok` means
    /// sent to the cluster: the socket may be gone). Either way the arguments are serialized
    /// now and the returned future is `'static`; nothing is sent until it is polled.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        match &self.local {
            Some(socket) => Either::Left(socket.emit(event, args)),
            None => Either::Right(self.operator().emit(event, args)),
        }
    }

    /// Sends `event` and waits for the client's acknowledgement, wherever the socket is (see
    /// [`RemoteAckFuture`]).
    pub fn emit_with_ack<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> RemoteAckFuture {
        RemoteAckFuture {
            socket: self.clone(),
            event: event.to_owned(),
            args: Args::new(args),
            timeout: None,
        }
    }

    /// Makes the socket join `room`, wherever it is.
    pub async fn join(&self, room: impl Into<Str>) -> Result<(), Error> {
        match &self.local {
            Some(socket) => {
                socket.join(room).await;
                Ok(())
            }
            None => self.operator().sockets_join(room).await,
        }
    }

    /// Makes the socket leave `room`, wherever it is.
    pub async fn leave(&self, room: impl Into<Str>) -> Result<(), Error> {
        match &self.local {
            Some(socket) => {
                socket.leave(room).await;
                Ok(())
            }
            None => self.operator().sockets_leave(room).await,
        }
    }

    /// Disconnects the socket (and closes its connection with `close`), wherever it is.
    pub async fn disconnect(&self, close: bool) -> Result<(), Error> {
        match &self.local {
            Some(socket) => {
                socket.disconnect(close);
                Ok(())
            }
            None => self.operator().disconnect_sockets(close).await,
        }
    }
}

/// [`RemoteSocket::emit_with_ack`]: the client's acknowledgement, within the timeout
/// ([`timeout`](Self::timeout), default [`SocketIoConfig::ack_timeout`](crate::SocketIoConfig)).
///
/// A local socket answers as with [`Socket::emit_with_ack`]; for a remote one, the first
/// argument of its acknowledgement crosses back (socket.io sends only that one), and a socket
/// that no server has any more is an error of kind [`Disconnected`](crate::ErrorKind::Disconnected).
#[derive(Debug)]
#[must_use = "the event is sent only when the future is awaited"]
pub struct RemoteAckFuture {
    socket: RemoteSocket,
    event: String,
    args: Result<Args, ProtocolError>,
    timeout: Option<Duration>,
}

impl RemoteAckFuture {
    /// Waits at most `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl IntoFuture for RemoteAckFuture {
    type Output = Result<Args, Error>;
    type IntoFuture = BoxFuture<'static, Result<Args, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let timeout = self
                .timeout
                .unwrap_or_else(|| self.socket.ns.config().ack_timeout);
            if let Some(socket) = &self.socket.local {
                return AckFuture::new(socket.clone(), self.event, self.args)
                    .timeout(timeout)
                    .await;
            }
            let args = self.args.map_err(Error::args)?;
            let op = self.socket.operator().timeout(timeout);
            match op.emit_args_with_ack(&self.event, args).await {
                Ok(replies) => replies.into_iter().next().ok_or(Error::disconnected()),
                Err(error) if !error.replies().is_empty() => {
                    Ok(error.into_replies().swap_remove(0))
                }
                Err(error) => Err(error),
            }
        })
    }
}

// Written here, above the broadcast operator and the namespace, which do not know
// `RemoteSocket`.
impl BroadcastOperator {
    /// The selected sockets of every server of the cluster (unless [`local`](Self::local)),
    /// with their handshake, rooms and data (socket.io's `fetchSockets`; see
    /// [`RemoteSocket`] for how sockets of this server are represented). Fails when another
    /// server cannot be reached or does not answer in time
    /// ([`timeout`](Self::timeout) if set, else the adapter's default).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, Error> {
        let ns = Namespace::from_core(self.core().clone());
        let sockets = ns.adapter().fetch_sockets(self.options().clone()).await?;
        Ok(sockets
            .into_iter()
            .map(|data| RemoteSocket::new(ns.clone(), data))
            .collect())
    }
}

// Written here, above the namespace, which does not know `RemoteSocket`.
impl Namespace {
    /// Every socket of the namespace on every server of the cluster (see
    /// [`BroadcastOperator::fetch_sockets`]).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, Error> {
        self.broadcast().fetch_sockets().await
    }
}
