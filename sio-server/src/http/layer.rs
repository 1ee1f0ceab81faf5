//! Mounting the Engine.IO server in a tower stack (axum): [`EngineLayer`] and the
//! [`tower_service::Service`] implementation of [`EngineService`].
//!
//! The JavaScript server attaches to an Express or Node HTTP server and answers the requests
//! under its path; the layer does the same in front of an axum [`Router`](https://docs.rs/axum)
//! or any tower service: requests under the Engine.IO path go to the [`EngineIo`], all others
//! go on to the wrapped service.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Either;

use crate::engine::server::EngineIo;
use crate::http::response::EngineBody;
use crate::http::service::EngineService;

/// A tower [`Layer`](tower_layer::Layer) that puts an [`EngineIo`] in front of a service.
///
/// With axum (the server must run with upgrades, which `axum::serve` does):
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, routing::get};
/// use sio_server::{EngineConfig, EngineIo};
///
/// let engine = EngineIo::new(EngineConfig::default());
/// let app = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(engine.layer());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?; // a free port
/// # let addr = listener.local_addr()?;
/// tokio::spawn(async move { axum::serve(listener, app).await });
/// # // A client in the same process, for the example to run.
/// # let url = format!("http://{addr}/");
/// # let options = sio_client::Options::default().path("/engine.io/");
/// # let _client = sio_client::io(&url, options)?;
/// while let Some(conn) = engine.accept().await {
///     // ...
/// #   drop(conn);
/// #   break;
/// }
/// # Ok(())
/// # }
/// ```
///
/// The client's address ([`Connection::remote_addr`](crate::Connection::remote_addr)) is
/// taken from a [`SocketAddr`] request extension when there is one. This crate does not
/// depend on axum, so it does not read axum's `ConnectInfo`; a middleware outside the layer
/// can copy it:
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let engine = sio_server::EngineIo::new(Default::default());
/// use std::net::SocketAddr;
/// use axum::Router;
/// use axum::extract::{ConnectInfo, Request};
/// use axum::middleware::map_request;
///
/// let app = Router::new().layer(engine.layer()).layer(map_request(
///     |ConnectInfo(addr): ConnectInfo<SocketAddr>, mut req: Request| async move {
///         req.extensions_mut().insert(addr);
///         req
///     },
/// ));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?; // a free port
/// # let url = format!("http://{}/", listener.local_addr()?);
/// let service = app.into_make_service_with_connect_info::<SocketAddr>();
/// tokio::spawn(async move { axum::serve(listener, service).await });
/// # // A client in the same process: the server sees its address.
/// # let _client = sio_client::io(&url, sio_client::Options::default().path("/engine.io/"))?;
/// let conn = engine.accept().await.expect("a connection");
/// assert_eq!(conn.remote_addr().map(|addr| addr.ip().to_string()).as_deref(), Some("127.0.0.1"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EngineLayer {
    engine: EngineIo,
}

impl EngineLayer {
    /// A layer serving `engine`.
    pub fn new(engine: EngineIo) -> EngineLayer {
        EngineLayer { engine }
    }
}

impl EngineIo {
    /// A tower [`Layer`](tower_layer::Layer) serving this server in front of another service
    /// (see [`EngineLayer`]).
    pub fn layer(&self) -> EngineLayer {
        EngineLayer::new(self.clone())
    }
}

impl<S> tower_layer::Layer<S> for EngineLayer {
    type Service = EngineService<S>;

    fn layer(&self, inner: S) -> EngineService<S> {
        self.engine.service(inner)
    }
}

impl<S, B, ResBody> tower_service::Service<Request<B>> for EngineService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<Either<EngineBody, ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner_mut().poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.engine().matches(req.uri().path()) {
            let remote = self
                .remote_addr()
                .or_else(|| req.extensions().get::<SocketAddr>().copied());
            // Called now: the request is registered even if the future is dropped unpolled.
            let response = self.engine().handle(req, remote);
            // A combinator, not `async move { response.await }`: an async block stores the
            // future it captures and, apart, the one it awaits (twice the size, for as long
            // as a GET waits).
            Box::pin(response.map(|response| Ok(response.map(Either::Left))))
        } else {
            // The service that was polled ready serves the request; a clone stays for the
            // next one (the usual tower pattern).
            let clone = self.inner_mut().clone();
            let mut ready = std::mem::replace(self.inner_mut(), clone);
            let future = ready.call(req);
            Box::pin(async move { future.await.map(|r| r.map(Either::Right)) })
        }
    }
}
