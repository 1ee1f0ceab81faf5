//! Mounting the Engine.IO server in a hyper server: [`EngineService`] and
//! [`EngineIo::listen`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::service::Service;
use tokio::net::{TcpListener, TcpSocket, ToSocketAddrs};
use tokio::task::JoinHandle;

use crate::engine::server::EngineIo;
use crate::http::response::EngineBody;
use crate::http::serve::spawn_connection;

/// A hyper [`Service`]: requests under the Engine.IO path go to the [`EngineIo`], all others
/// to the wrapped service (the user's application), the way engine.io attaches to a Node HTTP
/// server.
///
/// Serve it with upgrades enabled (`http1::Builder::serve_connection(..).with_upgrades()`),
/// or WebSocket requests fail after the `101`.
#[derive(Debug, Clone)]
pub struct EngineService<S> {
    engine: EngineIo,
    inner: S,
    remote: Option<SocketAddr>,
}

/// The fallback of [`EngineIo::listen`]: `404 Not Found` for every request outside the path.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotFound;

impl<B> Service<Request<B>> for NotFound {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn call(&self, _req: Request<B>) -> Self::Future {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        std::future::ready(Ok(response))
    }
}

impl EngineIo {
    /// A [`Service`] that serves the Engine.IO path and passes other requests to `inner`.
    pub fn service<S>(&self, inner: S) -> EngineService<S> {
        EngineService {
            engine: self.clone(),
            inner,
            remote: None,
        }
    }

    /// Binds `addr` and serves HTTP/1.1 connections (404 outside the Engine.IO path) on a
    /// background task until the returned [`ServerHandle`] is dropped or aborted.
    ///
    /// The listen backlog is [`LISTEN_BACKLOG`] (the kernel caps it at `somaxconn`), not the
    /// 128 of `TcpListener::bind`: a reconnection storm otherwise loses connection requests,
    /// each costing its client a one-second retransmission.
    pub async fn listen(&self, addr: impl ToSocketAddrs) -> io::Result<ServerHandle> {
        let listener = bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let engine = self.clone();
        let task = tokio::spawn(async move {
            // Never signalled: open connections go on when the listener stops.
            let (_never, shutdown) = tokio::sync::watch::channel(false);
            let (alive, _) = tokio::sync::mpsc::channel(1);
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        spawn_connection(&engine, stream, peer, shutdown.clone(), alive.clone());
                    }
                    Err(error) => {
                        tracing::debug!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
        });
        Ok(ServerHandle { local_addr, task })
    }
}

impl<S> EngineService<S> {
    /// Reports `addr` as the client's address of the connections this service creates
    /// ([`Connection::remote_addr`](crate::Connection::remote_addr)).
    pub fn with_remote_addr(mut self, addr: SocketAddr) -> Self {
        self.remote = Some(addr);
        self
    }

    pub(crate) fn engine(&self) -> &EngineIo {
        &self.engine
    }

    pub(crate) fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }

    pub(crate) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S, ResBody> Service<Request<Incoming>> for EngineService<S>
where
    S: Service<Request<Incoming>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<Either<EngineBody, ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        if self.engine.matches(req.uri().path()) {
            // Called now: the request is registered even if hyper drops the future unpolled.
            let response = self.engine.handle(req, self.remote);
            Box::pin(async move { Ok(response.await.map(Either::Left)) })
        } else {
            let future = self.inner.call(req);
            Box::pin(async move { future.await.map(|r| r.map(Either::Right)) })
        }
    }
}

/// A server started by [`EngineIo::listen`]; dropping it stops accepting connections.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
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
