//! Acknowledgements: [`Ack`] (answering a client) and [`AckFuture`] (waiting for a client's
//! answer).
//!
//! Below the socket: both hold the socket they belong to as an [`AckSocket`] (what an
//! acknowledgement asks of it), which [`Socket`](super::Socket) implements in `socket.rs`.

use std::fmt;
use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use sio_protocol::Error as ProtocolError;
use sio_protocol::Str;
use sio_protocol::socket::{AckFailure, Args, Packet};
use tokio::sync::oneshot;

use super::error::Error;
use super::future::BoxFuture;

/// A socket as an [`AckSocket`] ([`Socket`](super::Socket) implements it).
pub(crate) trait IntoAckSocket {
    /// The socket as its acknowledgements hold it.
    fn into_ack_socket(self) -> Arc<dyn AckSocket>;
}

/// What an acknowledgement asks of the socket it belongs to: [`Socket`](super::Socket)
/// implements it, one layer up.
pub(crate) trait AckSocket: fmt::Debug + Send + Sync + 'static {
    /// The socket's namespace.
    fn nsp(&self) -> &Str;
    /// Writes a packet of the socket's namespace (an ACK).
    fn send_packet(&self, packet: &Packet) -> Result<(), Error>;
    /// The acknowledgement timeout of the socket's namespace.
    fn ack_timeout(&self) -> Duration;
    /// A new ack id of the socket's namespace.
    fn next_ack_id(&self) -> u64;
    /// Writes the event `event` with the ack id `id`: the connection's session waits for the
    /// answer until `deadline`, which then goes to `tx`.
    fn emit_args_with_ack(
        self: Arc<Self>,
        event: &str,
        args: Args,
        id: u64,
        deadline: std::time::Instant,
        tx: oneshot::Sender<Result<Args, AckFailure>>,
    ) -> Result<(), Error>;
}

/// The handle to answer a client's acknowledgement request (the `ack` callback of a
/// JavaScript handler). Answering an event that asked for no ack does nothing.
///
/// When an event has several handlers ([`Socket::on`](super::Socket::on) appends), each gets an `Ack` of the
/// event, and only the first answer is sent (socket.io's ack callback does the same).
#[derive(Debug)]
pub struct Ack {
    socket: Arc<dyn AckSocket>,
    id: Option<u64>,
    /// Shared by the `Ack`s of one event given to several handlers: set by the first answer.
    sent: Option<Arc<AtomicBool>>,
}

impl Ack {
    /// An `Ack` for each of `n` handlers of one event: the first answer wins.
    pub(crate) fn shared(socket: Arc<dyn AckSocket>, id: Option<u64>, n: usize) -> Vec<Ack> {
        let sent = (n > 1 && id.is_some()).then(|| Arc::new(AtomicBool::new(false)));
        (0..n)
            .map(|_| Ack {
                socket: socket.clone(),
                id,
                sent: sent.clone(),
            })
            .collect()
    }

    /// The ack id to answer, unless none was asked for or another handler answered.
    fn take_id(&self) -> Option<u64> {
        let id = self.id?;
        match &self.sent {
            Some(sent) if sent.swap(true, Ordering::AcqRel) => None,
            _ => Some(id),
        }
    }

    /// Whether the client asked for an acknowledgement.
    pub fn is_requested(&self) -> bool {
        self.id.is_some()
    }

    /// Sends the acknowledgement with `args` (spread like
    /// [`Args::new`](sio_protocol::socket::Args::new): a tuple is several arguments).
    pub fn send<T: Serialize + ?Sized>(self, args: &T) -> Result<(), Error> {
        if self.id.is_none() {
            return Ok(());
        }
        let args = Args::new(args).map_err(Error::args)?;
        let Some(id) = self.take_id() else {
            return Ok(());
        };
        let packet = Packet::ack(self.socket.nsp().clone(), args, id);
        self.socket.send_packet(&packet)
    }
}

impl Ack {
    /// Sends the acknowledgement with arguments already built.
    pub fn send_args(self, args: Args) -> Result<(), Error> {
        let Some(id) = self.take_id() else {
            return Ok(());
        };
        let packet = Packet::ack(self.socket.nsp().clone(), args, id);
        self.socket.send_packet(&packet)
    }
}

/// `emit_with_ack` on one socket: await it for the client's answer. The event is sent when
/// the future is first polled.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // A server and a client that answers "question" in the same process.
/// # let io = sio_server::SocketIo::new(Default::default());
/// # let (tx, mut sockets) = tokio::sync::mpsc::unbounded_channel();
/// # io.of("/").on_connection(move |socket| { let _ = tx.send(socket); async {} });
/// # let server = io.listen("127.0.0.1:0").await?;
/// # let client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
/// # client.on("question", |_s: sio_client::Socket, (n,): (u32,), ack: sio_client::AckSender| async move {
/// #     let _ = ack.send(&(format!("the answer is {n}"),));
/// # });
/// # let socket = sockets.recv().await.unwrap();
/// use std::time::Duration;
/// let reply = socket.emit_with_ack("question", &42).timeout(Duration::from_secs(2)).await;
/// match reply {
///     Ok(args) => println!("{:?}", args.deserialize::<(String,)>()),
///     Err(error) => println!("{error}"), // "operation has timed out"
/// # }
/// # match socket.emit_with_ack("question", &42).timeout(Duration::from_secs(10)).await {
/// #     Ok(args) => assert_eq!(args.deserialize::<(String,)>()?.0, "the answer is 42"),
/// #     Err(error) => panic!("{error}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "the event is sent only when the future is awaited"]
pub struct AckFuture {
    socket: Arc<dyn AckSocket>,
    event: String,
    args: Result<Args, ProtocolError>,
    timeout: Option<Duration>,
}

impl AckFuture {
    pub(crate) fn new(
        socket: impl IntoAckSocket,
        event: String,
        args: Result<Args, ProtocolError>,
    ) -> Self {
        AckFuture {
            socket: socket.into_ack_socket(),
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
    type Output = Result<Args, Error>;
    type IntoFuture = BoxFuture<'static, Result<Args, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let args = self.args.map_err(Error::args)?;
            let timeout = self.timeout.unwrap_or_else(|| self.socket.ack_timeout());
            // The connection's session holds the deadline: its timer answers `Timeout`.
            let deadline = tokio::time::Instant::now().into_std() + timeout;
            let (tx, rx) = oneshot::channel();
            let id = self.socket.next_ack_id();
            self.socket
                .emit_args_with_ack(&self.event, args, id, deadline, tx)?;
            match rx.await {
                Ok(Ok(args)) => Ok(args),
                Ok(Err(AckFailure::Timeout)) => Err(Error::timeout()),
                // The session went away without answering (the connection is gone).
                Ok(Err(_)) | Err(_) => Err(Error::disconnected()),
            }
        })
    }
}
