//! HTTP long-polling: a GET waits for the session's next batch, a POST carries packets in.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::BodyExt;
use sio_protocol::engine::{ErrorCode, Packet, PayloadDecoder, PayloadFormat, ProtocolVersion};
use tokio::sync::oneshot;

use crate::engine::session_queues::{Control, PollReply, SessionHandle, SessionShared};
use crate::engine::transport::Input;
use crate::http::compression::Encoding;
use crate::http::response::{EngineBody, json_error, status, with_body};
use sio_protocol::engine::jsonp;

/// A GET: waits until the session has packets for it. `compression`: the coding the client
/// accepts and the size from which to use it.
pub(crate) async fn get(
    handle: &SessionHandle,
    b64: bool,
    compression: Option<(Encoding, usize)>,
) -> Response<EngineBody> {
    let (reply, answer) = oneshot::channel();
    if handle.control(Control::Get { b64, reply }).is_err() {
        return json_error(ErrorCode::UnknownSid, None);
    }
    match answer.await {
        Ok(PollReply::Body { body, content_type }) => {
            let body = match &handle.shared.jsonp {
                Some(index) => jsonp::wrap(index, &body),
                None => body,
            };
            let compressed = compression
                .filter(|(_, threshold)| body.len() >= *threshold)
                .and_then(|(encoding, _)| Some((encoding, encoding.compress(&body).ok()?)));
            let (body, encoding) = match compressed {
                Some((encoding, compressed)) => (compressed, Some(encoding)),
                None => (body, None),
            };
            let mut response = with_body(StatusCode::OK, Some(content_type), body);
            if let Some(encoding) = encoding {
                response.headers_mut().insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static(encoding.as_str()),
                );
            }
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(PollReply::Error(code)) => json_error(code, None),
        Ok(PollReply::Overlap) => status(StatusCode::BAD_REQUEST),
        Err(_) => json_error(ErrorCode::UnknownSid, None),
    }
}

/// The limits of a POST body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PostLimits {
    /// The most bytes (`maxHttpBufferSize`).
    pub(crate) max: usize,
    /// The longest a body may take to arrive.
    pub(crate) timeout: Duration,
}

/// The most bytes read and thrown away after a `413`, so that the client, still sending its
/// body, reads the answer instead of a connection reset (a lingering close).
const DISCARD_MAX: usize = 4 * 1024 * 1024;
/// The longest the rest of a refused body is read.
const DISCARD_TIME: Duration = Duration::from_secs(5);

/// Clears `post_active` when the POST ends; a POST dropped before its end (the client went
/// away) is a transport error, like engine.io's "data request connection closed prematurely".
struct PostGuard<'a> {
    shared: Arc<SessionShared>,
    handle: &'a SessionHandle,
    done: bool,
}

impl Drop for PostGuard<'_> {
    fn drop(&mut self) {
        self.shared.post_active.store(false, Ordering::Release);
        if !self.done {
            let _ = self.handle.control(Control::PollingError);
        }
    }
}

/// How reading a body ended.
enum Read {
    /// The whole body, at most the limit.
    Body(Bytes),
    /// Over the limit (`413`); the rest of the body is still to be read.
    TooBig,
    /// The body did not arrive in time (`408`).
    TimedOut,
    /// The connection failed.
    Failed,
    /// The polling transport is gone (the session closed or upgraded): the request is dropped.
    Gone,
}

/// Reads a body of at most `max` bytes into one buffer of its own. The chunks hyper hands over
/// are slices of its read buffer: keeping them would keep that whole buffer alive for every
/// byte a slow client sends one at a time.
async fn read_body<B: Body + Unpin>(
    body: &mut B,
    limits: &PostLimits,
    shared: &SessionShared,
) -> Read {
    let mut buf = BytesMut::new();
    let deadline = tokio::time::sleep(limits.timeout);
    let gone = shared
        .queues
        .changed(|| shared.on_websocket.load(Ordering::Acquire));
    let mut deadline = std::pin::pin!(deadline);
    let mut gone = std::pin::pin!(gone);
    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            () = &mut deadline => return Read::TimedOut,
            () = &mut gone => return Read::Gone,
        };
        match frame {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len().saturating_add(data.remaining()) > limits.max {
                        return Read::TooBig;
                    }
                    buf.reserve(data.remaining());
                    buf.put(data);
                }
            }
            Some(Err(_)) => return Read::Failed,
            None => return Read::Body(buf.freeze()),
        }
    }
}

/// After a `413`: reads and drops the rest of the body on a task of its own, for a while and
/// up to a bound, then drops the request (hyper closes the connection if the body did not
/// end).
fn discard_rest<B: Body + Send + Unpin + 'static>(mut body: B) {
    tokio::spawn(async move {
        let mut left = DISCARD_MAX;
        let _ = tokio::time::timeout(DISCARD_TIME, async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    left = left.saturating_sub(data.remaining());
                    if left == 0 {
                        return;
                    }
                }
            }
        })
        .await;
    });
}

/// A POST: reads the body (at most `limits.max` bytes, counted while reading, within
/// `limits.timeout`), then hands its packets to the session one by one.
pub(crate) async fn post<B>(
    handle: &SessionHandle,
    req: Request<B>,
    limits: &PostLimits,
) -> Response<EngineBody>
where
    B: Body + Send + 'static,
{
    let shared = handle.shared.clone();
    let octet_stream = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/octet-stream");
    if octet_stream && shared.version == ProtocolVersion::V4 {
        // GHSA-r635-g3xr-vw7x: "invalid content".
        let _ = handle.control(Control::PollingError);
        return status(StatusCode::BAD_REQUEST);
    }
    if shared.post_active.swap(true, Ordering::AcqRel) {
        // "data request overlap from client"
        let _ = handle.control(Control::PollingError);
        return status(StatusCode::BAD_REQUEST);
    }
    let mut guard = PostGuard {
        shared: shared.clone(),
        handle,
        done: false,
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = Box::pin(req.into_body());
    if declared.is_some_and(|len| len > u64::try_from(limits.max).unwrap_or(u64::MAX)) {
        guard.done = true;
        discard_rest(body);
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let body = match read_body(&mut body, limits, &shared).await {
        Read::Body(bytes) => bytes,
        Read::TooBig => {
            guard.done = true;
            discard_rest(body);
            return status(StatusCode::PAYLOAD_TOO_LARGE);
        }
        // Like Node's `requestTimeout`: 408, and the session ends ("transport error").
        Read::TimedOut => return closing(StatusCode::REQUEST_TIMEOUT),
        Read::Failed => return status(StatusCode::BAD_REQUEST),
        Read::Gone => {
            guard.done = true;
            return closing(StatusCode::BAD_REQUEST);
        }
    };
    let jsonp = shared.jsonp.is_some();
    let format = PayloadFormat::for_body(shared.version, octet_stream && !jsonp);
    let mut decoder = PayloadDecoder::new(format, limits.max);
    let payload = if jsonp {
        // JSONP: the `d` field of the form (no single `d` field: engine.io ignores the body).
        jsonp::unwrap(&body).map(Bytes::from).unwrap_or_default()
    } else {
        body
    };
    let total = payload.len();
    if decoder.push(payload).is_err() {
        guard.done = true;
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    }
    decoder.end();
    loop {
        let input = match decoder.next_packet() {
            Ok(Some(Packet::Noop)) => continue,
            Ok(Some(packet)) => Input::Packet(detach(packet, total)),
            Ok(None) => break,
            Err(_) => Input::ParseError,
        };
        let last = matches!(input, Input::ParseError);
        if handle.data(input).await.is_err() || last {
            break;
        }
    }
    guard.done = true;
    with_body(StatusCode::OK, Some("text/html"), "ok")
}

/// A response after which hyper closes the connection.
fn closing(code: StatusCode) -> Response<EngineBody> {
    let mut response = status(code);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A message decoded from a body of `total` bytes is a slice of that body: one that holds
/// less than half of it is copied, so that an application keeping a small message does not
/// keep the whole body alive (at most twice a message's size is ever held for it).
fn detach(packet: Packet, total: usize) -> Packet {
    match packet {
        Packet::Message(text) if text.len() < total / 2 => {
            Packet::Message(sio_protocol::Str::from(text.as_str().to_owned()))
        }
        other => other,
    }
}
