//! The server's own accept loop, behind both ways to run it alone: [`EngineIo::serve`] returns
//! a [`Serve`] to `.await` like axum's, with [`Serve::with_graceful_shutdown`], and
//! [`EngineIo::listen`] runs it on a background task stopped with its [`ServerHandle`]. Each
//! accepted connection is served by hyper with the header timeout
//! ([`http_header_timeout`](crate::EngineConfig::http_header_timeout)) and a write-stall
//! timeout ([`WriteStall`], [`http_body_timeout`](crate::EngineConfig::http_body_timeout)).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::engine::server::EngineIo;
use crate::http::service::NotFound;
use crate::http::stall::WriteStall;

/// The future of [`EngineIo::serve`]: serves HTTP/1.1 connections on a listener (404
/// outside the Engine.IO path) until it is dropped, or, with
/// [`with_graceful_shutdown`](Self::with_graceful_shutdown), until a signal.
///
/// ```
/// use sio_server::{EngineConfig, EngineIo};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = EngineIo::new(EngineConfig::default());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?; // a free port
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = engine
///     .serve(listener)
///     // Or `async { let _ = tokio::signal::ctrl_c().await; }`.
///     .with_graceful_shutdown(async { let _ = stopped.await; });
/// tokio::spawn(async move {
///     while let Some(conn) = engine.accept().await {
///         // ...
/// #       drop(conn);
///     }
/// });
/// let _ = stop.send(()); // when the server should stop
/// server.await?; // ends once the open connections have ended
/// # Ok(())
/// # }
/// ```
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve {
    engine: EngineIo,
    listener: TcpListener,
}

impl fmt::Debug for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// [`Serve`] with a shutdown signal (see [`Serve::with_graceful_shutdown`]).
#[must_use = "a server does nothing until it is awaited"]
pub struct WithGracefulShutdown<F> {
    serve: Serve,
    signal: F,
}

impl<F> fmt::Debug for WithGracefulShutdown<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithGracefulShutdown")
            .field("serve", &self.serve)
            .finish_non_exhaustive()
    }
}

impl EngineIo {
    /// Serves HTTP/1.1 connections accepted on `listener` (404 outside the Engine.IO path)
    /// when the returned [`Serve`] is awaited, like `axum::serve`. To mount the server beside
    /// other routes, use [`layer`](Self::layer) or [`service`](Self::service) instead.
    pub fn serve(&self, listener: TcpListener) -> Serve {
        Serve {
            engine: self.clone(),
            listener,
        }
    }

    /// Binds `addr` and serves HTTP/1.1 connections (404 outside the Engine.IO path) on a
    /// background task until the returned [`ServerHandle`] is dropped or aborted. The
    /// connections are served as by [`serve`](Self::serve) (the same accept loop), without a
    /// shutdown signal: open connections go on when the listener stops.
    ///
    /// The listen backlog is [`LISTEN_BACKLOG`] (the kernel caps it at `somaxconn`), not the
    /// 128 of `TcpListener::bind`: a reconnection storm otherwise loses connection requests,
    /// each costing its client a one-second retransmission.
    pub async fn listen(&self, addr: impl ToSocketAddrs) -> io::Result<ServerHandle> {
        let listener = bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(self.clone(), listener, std::future::pending()));
        Ok(ServerHandle { local_addr, task })
    }
}

impl Serve {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Stops when `signal` completes: no new TCP connection is accepted, every Engine.IO
    /// session is closed ([`EngineIo::close_all`]: clients get a close packet), the open HTTP
    /// connections finish their current request and close, and the future ends once they have.
    pub fn with_graceful_shutdown<F>(self, signal: F) -> WithGracefulShutdown<F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        WithGracefulShutdown {
            serve: self,
            signal,
        }
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        self.with_graceful_shutdown(std::future::pending())
            .into_future()
    }
}

impl<F> IntoFuture for WithGracefulShutdown<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let WithGracefulShutdown { serve, signal } = self;
        Box::pin(accept_loop(serve.engine, serve.listener, signal))
    }
}

/// The accept loop of [`EngineIo::serve`] and [`EngineIo::listen`]: accepts connections until
/// `signal` completes, then closes every session, lets the open connections finish their
/// current request and waits for them. When the future is dropped instead (a
/// [`ServerHandle`] dropped or aborted), the open connections go on.
async fn accept_loop(
    engine: EngineIo,
    listener: TcpListener,
    signal: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Every connection task holds a sender; `recv` returns `None` once all are gone.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut signal = std::pin::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    spawn_connection(&engine, stream, peer, shutdown_rx.clone(), alive_tx.clone());
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, as hyper does.
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drop(listener);
    engine.close_all();
    let _ = shutdown_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
    Ok(())
}

/// Serves one HTTP/1.1 connection with upgrades on its own task; when `shutdown` turns true,
/// the connection finishes its request and closes (a dropped sender changes nothing).
fn spawn_connection(
    engine: &EngineIo,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    // Small packets go out at once (Node's HTTP server does the same).
    let _ = stream.set_nodelay(true);
    let service = engine.service(NotFound).with_remote_addr(peer);
    let header_timeout = engine.config().http_header_timeout;
    let stream = WriteStall::new(stream, engine.config().http_body_timeout);
    tokio::spawn(async move {
        // The header timeout also closes a keep-alive connection that stays idle that long.
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut connection = std::pin::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            Ok(()) = async { shutdown.wait_for(|stop| *stop).await.map(|_| ()) } => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "http connection error");
        }
        drop(alive);
    });
}

/// A server started by [`EngineIo::listen`]; dropping it stops accepting connections.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections (open connections go on).
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The listen backlog of [`EngineIo::listen`] (Node's HTTP server uses 511).
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds the first address of `addr` that works, with [`LISTEN_BACKLOG`].
async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        #[cfg(not(windows))]
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
}
