//! Acknowledgements: [`Ack`] (answering a client), [`AckFuture`] and [`AckError`] (waiting for
//! a client's answer).

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use serde::Serialize;
use sio_protocol::Error as ProtocolError;
use sio_protocol::socket::{AckFailure, Args, Packet};
use tokio::sync::oneshot;

use super::cluster::AdapterError;
use super::future::BoxFuture;
use super::socket::{EmitError, Socket};

/// Why `emit_with_ack` produced no answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum AckError {
    /// No answer in time: `"operation has timed out"`, socket.io's message.
    Timeout,
    /// The socket disconnected before it answered.
    Disconnected,
    /// The event could not be sent.
    Emit(EmitError),
    /// The other servers of the cluster could not be reached (or did not answer, for a
    /// request the adapter times out itself): see [`AdapterError`].
    Adapter(AdapterError),
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AckError::Timeout => f.write_str("operation has timed out"),
            AckError::Disconnected => f.write_str("socket has been disconnected"),
            AckError::Emit(e) => write!(f, "emit failed: {e}"),
            AckError::Adapter(e) => write!(f, "adapter: {e}"),
        }
    }
}

impl std::error::Error for AckError {
    /// The source of the inner error (its text is already in this error's).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AckError::Emit(e) => std::error::Error::source(e),
            AckError::Adapter(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

/// The handle to answer a client's acknowledgement request (the `ack` callback of a
/// JavaScript handler). Answering an event that asked for no ack does nothing.
#[derive(Debug)]
pub struct Ack {
    socket: Socket,
    id: Option<u64>,
}

impl Ack {
    pub(crate) fn new(socket: Socket, id: Option<u64>) -> Ack {
        Ack { socket, id }
    }

    /// Whether the client asked for an acknowledgement.
    pub fn is_requested(&self) -> bool {
        self.id.is_some()
    }

    /// Sends the acknowledgement with `args` (spread like
    /// [`Args::new`](sio_protocol::socket::Args::new): a tuple is several arguments).
    pub fn send<T: Serialize + ?Sized>(self, args: &T) -> Result<(), EmitError> {
        let Some(id) = self.id else {
            return Ok(());
        };
        let args = Args::new(args).map_err(EmitError::Serialize)?;
        let packet = Packet::ack(self.socket.namespace().name().clone(), args, id);
        self.socket.send_packet(&packet)
    }
}

impl Ack {
    /// Sends the acknowledgement with arguments already built.
    pub fn send_args(self, args: Args) -> Result<(), EmitError> {
        let Some(id) = self.id else {
            return Ok(());
        };
        let packet = Packet::ack(self.socket.namespace().name().clone(), args, id);
        self.socket.send_packet(&packet)
    }
}

/// `emit_with_ack` on one socket: await it for the client's answer. The event is sent when
/// the future is first polled.
///
/// ```no_run
/// # async fn f(socket: sio_server::Socket) {
/// use std::time::Duration;
/// let reply = socket.emit_with_ack("question", &42).timeout(Duration::from_secs(2)).await;
/// match reply {
///     Ok(args) => println!("{:?}", args.deserialize::<String>()),
///     Err(error) => println!("{error}"), // "operation has timed out"
/// }
/// # }
/// ```
#[derive(Debug)]
#[must_use = "the event is sent only when the future is awaited"]
pub struct AckFuture {
    socket: Socket,
    event: String,
    args: Result<Args, ProtocolError>,
    timeout: Option<Duration>,
}

impl AckFuture {
    pub(crate) fn new(socket: Socket, event: String, args: Result<Args, ProtocolError>) -> Self {
        AckFuture {
            socket,
            event,
            args,
            timeout: None,
        }
    }

    /// Waits at most `timeout` (default [`SocketIoConfig::ack_timeout`](crate::SocketIoConfig)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl IntoFuture for AckFuture {
    type Output = Result<Args, AckError>;
    type IntoFuture = BoxFuture<'static, Result<Args, AckError>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let args = self
                .args
                .map_err(|e| AckError::Emit(EmitError::Serialize(e)))?;
            let timeout = self
                .timeout
                .unwrap_or_else(|| self.socket.namespace().config().ack_timeout);
            // The connection's session holds the deadline: its timer answers `Timeout`.
            let deadline = tokio::time::Instant::now().into_std() + timeout;
            let (tx, rx) = oneshot::channel();
            let id = self.socket.namespace().next_ack_id();
            self.socket
                .emit_args_with_ack(&self.event, args, id, deadline, tx)
                .map_err(AckError::Emit)?;
            match rx.await {
                Ok(Ok(args)) => Ok(args),
                Ok(Err(AckFailure::Timeout)) => Err(AckError::Timeout),
                // The session went away without answering (the connection is gone).
                Ok(Err(_)) | Err(_) => Err(AckError::Disconnected),
            }
        })
    }
}
