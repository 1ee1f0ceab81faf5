//! HTTP long-polling: a GET waits for the session's next batch, a POST carries packets in.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Buf, Bytes};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::BodyExt;
use sio_protocol::engine::{ErrorCode, Packet, PayloadDecoder, PayloadFormat, ProtocolVersion};
use tokio::sync::oneshot;

use crate::compression::Encoding;
use crate::response::{EngineBody, json_error, status, with_body};
use crate::session_task::{Control, Input, PollReply, SessionHandle, SessionShared};
use crate::transport::jsonp;

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

/// A POST: reads the body (at most `max` bytes, counted while reading), then hands its packets
/// to the session one by one.
pub(crate) async fn post<B>(
    handle: &SessionHandle,
    req: Request<B>,
    max: usize,
) -> Response<EngineBody>
where
    B: Body,
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
    if declared.is_some_and(|len| len > u64::try_from(max).unwrap_or(u64::MAX)) {
        guard.done = true;
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let jsonp = shared.jsonp.is_some();
    let format = PayloadFormat::for_body(shared.version, octet_stream && !jsonp);
    let mut decoder = PayloadDecoder::new(format, max);
    // JSONP: the form is read whole (at most `max` bytes), then its `d` field decoded.
    let mut form = Vec::new();
    let mut body = std::pin::pin!(req.into_body());
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(mut data) = frame.into_data() {
                    let chunk = data.copy_to_bytes(data.remaining());
                    let too_big = if jsonp {
                        form.extend_from_slice(&chunk);
                        form.len() > max
                    } else {
                        decoder.push(chunk).is_err()
                    };
                    if too_big {
                        guard.done = true;
                        return status(StatusCode::PAYLOAD_TOO_LARGE);
                    }
                }
            }
            Some(Err(_)) => return status(StatusCode::BAD_REQUEST),
            None => break,
        }
    }
    if jsonp {
        // No single `d` field: engine.io ignores the body.
        if let Some(payload) = jsonp::unwrap(&form) {
            if decoder.push(Bytes::from(payload)).is_err() {
                guard.done = true;
                return status(StatusCode::PAYLOAD_TOO_LARGE);
            }
        }
    }
    decoder.end();
    loop {
        let input = match decoder.next_packet() {
            Ok(Some(Packet::Noop)) => continue,
            Ok(Some(packet)) => Input::Packet(packet),
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
