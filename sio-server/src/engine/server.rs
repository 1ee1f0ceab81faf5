//! [`EngineIo`]: the server handle: routes requests, creates sessions, hands out connections.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::metrics::Refusal;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use sio_protocol::Str;
use sio_protocol::engine::{ErrorCode, ProtocolVersion, Session, TransportKind};
use tokio::sync::mpsc;

use crate::engine::config::EngineConfig;
use crate::engine::connection::{Connection, ConnectionSender, Info};
use crate::engine::session_queues::{Control, Registry, SessionHandle};
use crate::engine::session_task::{self, SessionApp};
use crate::engine::sid;
use crate::engine::transport::deflate::{self, DeflateConfig};
use crate::engine::transport::{polling, ws};
use crate::http::compression::Encoding;
use crate::http::response::{EngineBody, json_error, status, upgrade_error};
use sio_protocol::engine::jsonp;

/// An Engine.IO server: serves the requests under its path (through
/// [`service`](Self::service), [`listen`](Self::listen) or [`handle`](Self::handle)) and hands
/// each new connection to [`accept`](Self::accept). Cheap to clone.
#[derive(Debug, Clone)]
pub struct EngineIo {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: EngineConfig,
    path: String,
    registry: Arc<Registry>,
    accept_tx: mpsc::Sender<Connection>,
    accept_rx: tokio::sync::Mutex<mpsc::Receiver<Connection>>,
    /// Set by the Socket.IO layer: new connections go to it at once instead of the accept
    /// queue (which a storm of handshakes would fill faster than a task drains it).
    handler: std::sync::RwLock<Option<Handler>>,
}

/// A callback for new connections: the application that the session's task drives, or
/// `None` to close the connection at once.
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub(crate) struct Handler(
    pub(crate) Arc<dyn Fn(ConnectionSender) -> Option<Box<dyn SessionApp>> + Send + Sync>,
);

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handler")
    }
}

/// Where a new connection goes.
enum Deliver {
    Queue(mpsc::OwnedPermit<Connection>),
    Handler(Handler),
}

impl Deliver {
    /// Starts the task of a new session and hands the connection over.
    fn start(
        self,
        session: Session,
        handle: &SessionHandle,
        ws: Option<ws::WsSocket>,
        registry: Arc<Registry>,
        info: Info,
    ) {
        let remote = info.remote_addr;
        let info = Arc::new(info);
        match self {
            Deliver::Queue(permit) => {
                session_task::spawn(session, handle, ws, registry, None, remote);
                permit.send(Connection::new(info, handle.shared.clone()));
            }
            Deliver::Handler(handler) => {
                let sender = ConnectionSender::new(info, handle.shared.clone());
                let app = (handler.0)(sender.clone());
                if app.is_none() {
                    handle.shared.queues.app_gone();
                    sender.close();
                }
                session_task::spawn(session, handle, ws, registry, app, remote);
            }
        }
    }
}

/// A refused handshake: logged (INFO, with the client's address) and counted.
fn refused(refusal: Refusal, remote: Option<std::net::SocketAddr>) {
    tracing::info!(reason = refusal.as_str(), remote = ?remote, "handshake refused");
    crate::metrics::handshake_refused(refusal);
}

/// The query parameters engine.io reads (the last value of a key wins).
#[derive(Debug, Default)]
struct Query {
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
    b64: bool,
    j: Option<String>,
    all: Vec<(String, String)>,
}

impl Query {
    fn parse(query: Option<&str>) -> Query {
        let mut out = Query::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "EIO" => out.eio = Some(value.to_string()),
                "transport" => out.transport = Some(value.to_string()),
                "sid" => out.sid = Some(value.to_string()),
                "b64" => out.b64 = !value.is_empty(),
                "j" => out.j = Some(value.to_string()),
                _ => {}
            }
            out.all.push((key.into_owned(), value.into_owned()));
        }
        out
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A polling request of a session whose handling future may be dropped before it completes
/// (the client went away): the session then sees a transport error.
struct AbortGuard {
    target: Option<(Arc<Registry>, String)>,
}

impl AbortGuard {
    fn new<B>(engine: &EngineIo, req: &Request<B>) -> AbortGuard {
        let polling_of_session = || {
            let query = req.uri().query()?;
            if !query.contains("sid=") || !matches!(*req.method(), Method::GET | Method::POST) {
                return None;
            }
            let (mut sid, mut polling) = (None, false);
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                match &*key {
                    "sid" => sid = Some(value.into_owned()),
                    "transport" => polling = value == "polling",
                    _ => {}
                }
            }
            sid.filter(|_| polling)
        };
        AbortGuard {
            target: polling_of_session().map(|sid| (engine.inner.registry.clone(), sid)),
        }
    }

    /// The request completed.
    fn disarm(mut self) {
        self.target = None;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        let Some((registry, sid)) = self.target.take() else {
            return;
        };
        let handle = registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sid.as_str())
            .cloned();
        if let Some(handle) = handle {
            // "poll connection closed prematurely" (or a POST's): engine.io's transport error.
            let _ = handle.control(Control::PollingError);
        }
    }
}

impl EngineIo {
    /// A server with these options.
    pub fn new(config: EngineConfig) -> EngineIo {
        let (accept_tx, accept_rx) = mpsc::channel(config.accept_backlog.max(1));
        EngineIo {
            inner: Arc::new(Inner {
                path: config.normalized_path(),
                config,
                registry: Arc::new(Mutex::new(HashMap::new())),
                accept_tx,
                accept_rx: tokio::sync::Mutex::new(accept_rx),
                handler: std::sync::RwLock::new(None),
            }),
        }
    }

    /// The options.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The next new connection. Several tasks may call it; each connection goes to one. (A
    /// [`SocketIo`](crate::SocketIo) on this engine takes every connection itself.)
    pub async fn accept(&self) -> Option<Connection> {
        self.inner.accept_rx.lock().await.recv().await
    }

    /// Hands every new connection to `handler` instead of [`accept`](Self::accept)
    /// (replacing the handler set before).
    pub(crate) fn set_handler(&self, handler: Handler) {
        *self
            .inner
            .handler
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(handler);
    }

    /// The number of open sessions.
    pub fn session_count(&self) -> usize {
        self.registry().len()
    }

    /// Closes every open session (`"forced close"`), like engine.io's `close()`: each client
    /// gets a close packet after the messages already queued for it. New handshakes are still
    /// accepted.
    pub fn close_all(&self) {
        for handle in self.registry().values() {
            let _ = handle.control(Control::Close);
        }
    }

    /// Whether a request for `path` is for this server (engine.io matches the prefix).
    pub fn matches(&self, path: &str) -> bool {
        path.starts_with(&self.inner.path)
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<Str, SessionHandle>> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves one Engine.IO request (its path must [match](Self::matches)). `remote` is the
    /// client's address, reported in [`Connection::remote_addr`].
    ///
    /// A WebSocket request is answered with `101`; the connection then continues through
    /// `hyper::upgrade::on`, so the request must come from a hyper server with upgrades
    /// enabled.
    ///
    /// The request is registered when this is called, not when the future is first polled: if
    /// the future is dropped before it completes (hyper drops it when the client closes the
    /// connection right after sending the request), a polling request of a session is a
    /// transport error, as engine.io's aborted request is, instead of going unnoticed until the
    /// heartbeat ends the session.
    pub fn handle<B>(
        &self,
        req: Request<B>,
        remote: Option<SocketAddr>,
    ) -> impl Future<Output = Response<EngineBody>> + Send + 'static
    where
        B: Body + Send + 'static,
    {
        let engine = self.clone();
        let guard = AbortGuard::new(self, &req);
        // CORS reads the request's `Origin` only: an owned copy of it, not a clone of the
        // headers, which would keep hyper's read buffer alive for as long as a GET waits.
        let request_headers = engine.inner.config.cors.as_ref().map(|_| {
            let mut origin = HeaderMap::new();
            if let Some(value) = req.headers().get(header::ORIGIN) {
                origin.insert(
                    header::ORIGIN,
                    detach_value(value, Bytes::copy_from_slice(value.as_bytes())),
                );
            }
            origin
        });
        // The routing future is large (every path's state: handshakes, POSTs, the
        // `allow_request` hook: about 2 KB) and owns the request; boxed, both are freed when
        // routing ends, and what stays for as long as a GET of a session waits (up to a ping
        // interval) is this future, small, with the `polling::get` future.
        let routing = Box::pin(self.clone().route(req, remote));
        async move {
            let mut response = match routing.await {
                Routed::Response(response) => response,
                Routed::Get {
                    handle,
                    b64,
                    compression,
                    body,
                } => {
                    let response = polling::get(&handle, b64, compression).await;
                    drop(body);
                    response
                }
            };
            if let (Some(cors), Some(headers)) = (&engine.inner.config.cors, request_headers) {
                if response.status() != StatusCode::SWITCHING_PROTOCOLS {
                    cors.apply(&headers, response.headers_mut());
                }
            }
            guard.disarm();
            response
        }
    }

    async fn route<B>(self, mut req: Request<B>, remote: Option<SocketAddr>) -> Routed<B>
    where
        B: Body + Send + 'static,
    {
        let config = &self.inner.config;
        let upgrade = ws::is_upgrade(req.headers());
        if req.method() == Method::OPTIONS && !upgrade {
            if let Some(cors) = &config.cors {
                let mut response = status(StatusCode::NO_CONTENT);
                cors.apply_preflight(req.headers(), response.headers_mut());
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, http::HeaderValue::from_static("0"));
                return response.into();
            }
        }
        let error_with = |code: ErrorCode, message: Option<&str>| {
            if upgrade {
                upgrade_error(code, message)
            } else {
                json_error(code, message)
            }
        };
        let error = |code: ErrorCode| error_with(code, None);
        let query = Query::parse(req.uri().query());
        let transport = match query.transport.as_deref() {
            Some("polling") => TransportKind::Polling,
            Some("websocket") => TransportKind::WebSocket,
            _ => return error(ErrorCode::UnknownTransport).into(),
        };
        if !config.transports.contains(&transport) {
            return error(ErrorCode::UnknownTransport).into();
        }
        if req
            .headers()
            .get_all(header::ORIGIN)
            .iter()
            .any(|origin| !valid_header_chars(origin.as_bytes()))
        {
            // engine.io's `checkInvalidHeaderChar` (hyper already refuses most such bytes).
            return error(ErrorCode::BadRequest).into();
        }
        if transport == TransportKind::WebSocket && !upgrade {
            return json_error(ErrorCode::BadRequest, None).into();
        }
        if transport == TransportKind::Polling && upgrade {
            return error(ErrorCode::BadRequest).into();
        }
        let version = match query.eio.as_deref() {
            Some("4") => Some(ProtocolVersion::V4),
            Some("3") if config.allow_eio3 => Some(ProtocolVersion::V3),
            _ => None,
        };
        if let Some(sid) = &query.sid {
            let Some(handle) = self.registry().get(sid.as_str()).cloned() else {
                return error(ErrorCode::UnknownSid).into();
            };
            if version != Some(handle.shared.version) {
                return error(ErrorCode::BadRequest).into();
            }
            let on_websocket = handle
                .shared
                .on_websocket
                .load(std::sync::atomic::Ordering::Acquire);
            if transport == TransportKind::WebSocket {
                let Some(accept) = ws::accept_key(req.method(), req.headers()) else {
                    return error(ErrorCode::BadRequest).into();
                };
                let on_upgrade = hyper::upgrade::on(&mut req);
                let Ok((settings, extensions)) = self.ws_settings(req.headers()) else {
                    return upgrade_error(ErrorCode::BadRequest, Some(BAD_EXTENSIONS)).into();
                };
                let version = handle.shared.version;
                tokio::spawn(async move {
                    let Some(socket) = ws::upgraded(on_upgrade, version, settings).await else {
                        return;
                    };
                    if on_websocket {
                        // engine.io's `onWebSocket`: a WebSocket for a session that already
                        // upgraded (or is upgrading: the session refuses the probe) completes
                        // its handshake and is closed at once.
                        socket.close(None);
                        return;
                    }
                    let attach = Control::WsAttach(Box::new(socket));
                    if let Err(Control::WsAttach(socket)) = handle.control(attach) {
                        socket.close(None);
                    }
                });
                return ws::switching_protocols(accept, extensions).into();
            }
            if on_websocket {
                return json_error(ErrorCode::BadRequest, None).into();
            }
            return match *req.method() {
                Method::GET => {
                    let compression = self.compression(&req);
                    // The request's head (its URI and headers are slices of hyper's read
                    // buffer) is dropped here: a waiting GET does not keep that buffer, and
                    // hyper reuses it for its next read instead of allocating another. The
                    // body (empty for a GET) stays until the response, as before.
                    let (_, body) = req.into_parts();
                    Routed::Get {
                        b64: handle.shared.b64,
                        handle,
                        compression,
                        body,
                    }
                }
                Method::POST => polling::post(&handle, req, &self.post_limits())
                    .await
                    .into(),
                _ => status(StatusCode::INTERNAL_SERVER_ERROR).into(),
            };
        }
        // A handshake.
        if req.method() != Method::GET {
            refused(Refusal::BadMethod, remote);
            return error(ErrorCode::BadHandshakeMethod).into();
        }
        if let Some(hook) = &config.allow_request {
            let (mut parts, body) = req.into_parts();
            if let Some(remote) = remote {
                parts.extensions.insert(remote);
            }
            let verdict = hook.check(&parts).await;
            req = Request::from_parts(parts, body);
            if let Err(message) = verdict {
                let message = Some(message).filter(|m| !m.is_empty());
                refused(Refusal::Forbidden, remote);
                return error_with(ErrorCode::Forbidden, message.as_deref()).into();
            }
        }
        let Some(version) = version else {
            refused(Refusal::UnsupportedVersion, remote);
            return error(ErrorCode::UnsupportedProtocolVersion).into();
        };
        let Ok(sid) = sid::generate() else {
            refused(Refusal::Error, remote);
            return error(ErrorCode::BadRequest).into();
        };
        let handler = self
            .inner
            .handler
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let permit = match handler {
            Some(handler) => Deliver::Handler(handler),
            None => match self.inner.accept_tx.clone().try_reserve_owned() {
                Ok(permit) => Deliver::Queue(permit),
                Err(_) => {
                    refused(Refusal::ServerBusy, remote);
                    return json_error(ErrorCode::Forbidden, Some("Server busy")).into();
                }
            },
        };
        let info = Info {
            sid: sid.clone(),
            version,
            transport,
            remote_addr: remote,
            headers: Arc::new(detach_headers(req.headers())),
            query: query.all.into(),
        };
        let session_config = config.session_config(version);
        let bound = config.queue_bound();
        let max_bytes = config.max_buffered_bytes;
        let registry = self.inner.registry.clone();
        let cookie = config.cookie.as_ref().and_then(|c| c.header(&sid));
        let initial = config.initial_packet.clone();
        let new_session = move |sid: Str| {
            let mut session = Session::server(sid, transport, session_config, now());
            if let Some(message) = initial {
                let _ = session.send(session_task::packet(message));
            }
            session
        };
        match transport {
            TransportKind::Polling => {
                // JSONP (`j`): text payloads, binary in base64.
                let jsonp = query.j.as_deref().map(jsonp::index);
                let b64 = query.b64 || jsonp.is_some();
                let handle = SessionHandle::new(version, transport, b64, jsonp, bound, max_bytes);
                let session = new_session(sid.clone());
                registry
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(sid, handle.clone());
                permit.start(session, &handle, None, registry, info);
                let mut response = polling::get(&handle, b64, self.compression(&req)).await;
                if let Some(cookie) = cookie {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                response.into()
            }
            TransportKind::WebSocket => {
                let Some(accept) = ws::accept_key(req.method(), req.headers()) else {
                    return error(ErrorCode::BadRequest).into();
                };
                let on_upgrade = hyper::upgrade::on(&mut req);
                let Ok((settings, extensions)) = self.ws_settings(req.headers()) else {
                    return upgrade_error(ErrorCode::BadRequest, Some(BAD_EXTENSIONS)).into();
                };
                tokio::spawn(async move {
                    let Some(socket) = ws::upgraded(on_upgrade, version, settings).await else {
                        return;
                    };
                    let handle =
                        SessionHandle::new(version, transport, false, None, bound, max_bytes);
                    let session = new_session(sid.clone());
                    registry
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(sid, handle.clone());
                    permit.start(session, &handle, Some(socket), registry, info);
                });
                let mut response = ws::switching_protocols(accept, extensions);
                if let Some(cookie) = cookie {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                response.into()
            }
        }
    }

    /// The limits of a POST body.
    fn post_limits(&self) -> polling::PostLimits {
        let config = &self.inner.config;
        polling::PostLimits {
            max: config.max_http_buffer_size,
            timeout: config.http_body_timeout,
        }
    }

    /// The compression of a polling response to `req`, if on and accepted.
    fn compression<B>(&self, req: &Request<B>) -> Option<(Encoding, usize)> {
        let settings = self.inner.config.http_compression?;
        Encoding::negotiate(req.headers()).map(|encoding| (encoding, settings.threshold))
    }

    /// The settings of a WebSocket for a handshake with these headers, and the
    /// `Sec-WebSocket-Extensions` answer; `Err` when the client's extension offers are
    /// invalid (`ws` refuses the handshake then).
    fn ws_settings(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<(ws::WsSettings, Option<http::HeaderValue>), ()> {
        let config = &self.inner.config;
        let (deflate, extensions) = match &config.per_message_deflate {
            None => (None, None),
            Some(options) => {
                let deflate_config = DeflateConfig {
                    threshold: options.threshold,
                    client_no_context_takeover: options.client_no_context_takeover,
                };
                match deflate::negotiate(headers, &deflate_config) {
                    Ok(Some((negotiated, header))) => {
                        (Some((negotiated, options.threshold)), Some(header))
                    }
                    Ok(None) => (None, None),
                    Err(error) => {
                        tracing::debug!(%error, "websocket handshake refused");
                        return Err(());
                    }
                }
            }
        };
        let settings = ws::WsSettings {
            max_message_size: config.max_http_buffer_size,
            read_chunk: config.ws_read_buffer_size,
            bound: config.queue_bound(),
            max_bytes: config.max_buffered_bytes,
            deflate,
        };
        Ok((settings, extensions))
    }
}

/// `ws`'s answer to a `Sec-WebSocket-Extensions` header it cannot parse or accept.
const BAD_EXTENSIONS: &str = "Invalid or unacceptable Sec-WebSocket-Extensions header";

/// engine.io's `checkInvalidHeaderChar`: only tab, 0x20-0x7e and 0x80-0xff.
fn valid_header_chars(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80)
}

/// What routing a request leads to: a response, or a GET of a polling session to wait for.
enum Routed<B> {
    Response(Response<EngineBody>),
    Get {
        handle: SessionHandle,
        b64: bool,
        compression: Option<(Encoding, usize)>,
        /// The request's body, kept until the response (hyper sees it dropped otherwise).
        body: B,
    },
}

impl<B> From<Response<EngineBody>> for Routed<B> {
    fn from(response: Response<EngineBody>) -> Routed<B> {
        Routed::Response(response)
    }
}

/// A copy of `headers` that owns its values. hyper parses header values as slices of its
/// connection read buffer (8 KiB): a plain clone kept for the life of a session would keep that
/// whole buffer alive for every connection. The values are copied into one buffer that they
/// share (one allocation for all of them instead of one each: the copy lives as long as the
/// connection).
fn detach_headers(headers: &HeaderMap) -> HeaderMap {
    let total = headers.values().map(|value| value.len()).sum();
    let mut buffer = bytes::BytesMut::with_capacity(total);
    for value in headers.values() {
        buffer.extend_from_slice(value.as_bytes());
    }
    let buffer = buffer.freeze();
    let mut owned = HeaderMap::with_capacity(headers.len());
    let mut start = 0;
    for (name, value) in headers {
        let end = start + value.len();
        owned.append(name.clone(), detach_value(value, buffer.slice(start..end)));
        start = end;
    }
    owned
}

/// A copy of `value` made of `bytes` (its bytes in a buffer of their own, see
/// [`detach_headers`]).
fn detach_value(value: &HeaderValue, bytes: Bytes) -> HeaderValue {
    let mut copy = HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| value.clone());
    copy.set_sensitive(value.is_sensitive());
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_characters_like_check_invalid_header_char() {
        assert!(valid_header_chars(b"https://a.example:8080"));
        assert!(valid_header_chars(b"\thttp://\xc3\xa9.example"));
        assert!(!valid_header_chars(b"http://a\x00b"));
        assert!(!valid_header_chars(b"http://a\nb"));
        assert!(!valid_header_chars(b"http://a\x7fb"));
    }

    #[test]
    fn query_keeps_the_last_value() {
        let query = Query::parse(Some("EIO=3&transport=polling&b64=1&j=2&EIO=4"));
        assert_eq!(query.eio.as_deref(), Some("4"));
        assert!(query.b64);
        assert_eq!(query.j.as_deref(), Some("2"));
        assert!(!Query::parse(Some("b64=")).b64);
    }
}
