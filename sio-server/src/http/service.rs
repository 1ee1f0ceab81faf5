//! Mounting the Engine.IO server in a hyper server: [`EngineService`], and [`NotFound`] for
//! the requests outside the path when the server runs alone.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::service::Service;

use crate::engine::server::EngineIo;
use crate::http::response::EngineBody;

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
            // A combinator, not `async move { response.await }`: an async block stores the
            // future it captures and, apart, the one it awaits (twice the size, for as long
            // as a GET waits).
            Box::pin(response.map(|response| Ok(response.map(Either::Left))))
        } else {
            let future = self.inner.call(req);
            Box::pin(async move { future.await.map(|r| r.map(Either::Right)) })
        }
    }
}
