//! HTTP integration: serving the Engine.IO server with hyper (the accept loop of
//! [`EngineIo::serve`](crate::EngineIo::serve) and [`EngineIo::listen`](crate::EngineIo::listen),
//! the hyper [`Service`](service::EngineService) and the tower [`Layer`](layer::EngineLayer)),
//! and what the server reads and writes in HTTP: CORS, the session cookie, `allowRequest`,
//! response bodies and their compression.

pub(crate) mod allow;
pub(crate) mod compression;
pub(crate) mod cookie;
pub(crate) mod cors;
pub(crate) mod layer;
pub(crate) mod response;
pub(crate) mod serve;
pub(crate) mod service;
pub(crate) mod stall;
