//! HTTP long-polling with reqwest: the GET polled by the engine itself ([`PollGet`]), each
//! POST on a task of its own.
//!
//! What the server sends is read with bounds, as it streams in:
//! - a GET's body (the handshake, a long poll) is split into its records as it arrives, and
//!   each record is copied out of hyper's chunk into a buffer of its own, at most `limit`
//!   bytes: a record over it fails the poll (`"xhr poll error: packet over N bytes"`) and the
//!   request is dropped at once (its connection closed, not reused). The packets go to the
//!   engine one at a time as their records complete, and the next chunk is read only once
//!   the current one is used up: a body of many packets is never held whole, nor decoded
//!   ahead, and no chunk of hyper's (a slice that keeps its whole read buffer alive) outlives
//!   its decoding;
//! - a GET can be given a deadline for its complete answer (the engine's timer enforces it);
//! - a POST's answer (`ok`) is read up to [`POST_ANSWER_LIMIT`], and a POST can be given a time
//!   bound.
//!
//! A body that does not decode (an empty one included: engine.io-parser's `error` packet)
//! ends the poll with the decode error, after the packets before it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use reqwest::header::CONTENT_TYPE;
use sio_protocol::Str;
use sio_protocol::engine::{Packet, PayloadDecoder, PayloadFormat, ProtocolVersion};
use url::Url;

use super::endpoint::Endpoint;
use super::io::{Io, PollError};
use crate::error::{BoxError, Error, io_cause};

/// The body of every POST, as engine.io-client's XHR sends it.
const TEXT_PLAIN: &str = "text/plain;charset=UTF-8";

/// The most read of a POST's answer (engine.io answers `ok`; a proxy may answer with a page).
/// Only its status counts: past this the answer is left unread and its connection closed.
const POST_ANSWER_LIMIT: usize = 4096;

/// The v4 record separator of a polling payload.
const SEPARATOR: u8 = 0x1e;

type Sending = Pin<Box<dyn Future<Output = Result<reqwest::Response, Error>> + Send>>;

/// socket.io-client's message for a failed long poll.
const POLL_ERROR: &str = "xhr poll error";
/// socket.io-client's message for a failed POST.
const POST_ERROR: &str = "xhr post error";

/// A response whose status is not a success (the cause of a request's error).
#[derive(Debug)]
pub(crate) struct StatusError(pub(crate) reqwest::StatusCode);

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status {}", self.0)
    }
}

impl std::error::Error for StatusError {}

fn poll_error(cause: impl Into<BoxError>) -> Error {
    Error::transport(POLL_ERROR, cause)
}

fn post_error(cause: impl Into<BoxError>) -> Error {
    Error::transport(POST_ERROR, cause)
}
type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// One GET (a long poll, or the handshake), polled by the engine: [`poll`](Self::poll) reports
/// each packet as [`Io::PollPacket`] as soon as its record is complete, then
/// [`Io::PollEnd`] once.
pub(crate) struct PollGet {
    state: GetState,
    records: Records,
    /// How the GET ended, reported after the packets before it.
    end: Option<Result<(), PollError>>,
    deadline: Option<Instant>,
}

enum GetState {
    /// Waiting for the response's head (boxed: the request's state is large).
    Sending(Sending),
    /// Reading the body.
    Body(Body),
    /// Ended (the end may still wait in `end`).
    Done,
}

impl std::fmt::Debug for PollGet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollGet")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl PollGet {
    /// Starts a GET of `url` whose records may be at most `limit` bytes each, and which must
    /// be complete by `deadline` (when given: see [`deadline`](Self::deadline)).
    pub(crate) fn start(
        endpoint: &Endpoint,
        url: Url,
        limit: usize,
        deadline: Option<Instant>,
    ) -> PollGet {
        let sending: Sending = match endpoint.http() {
            Ok(client) => {
                let pending = client.get(url).send();
                Box::pin(async move {
                    let response = pending.await.map_err(poll_error)?;
                    let status = response.status();
                    if status.is_success() {
                        Ok(response)
                    } else {
                        Err(poll_error(StatusError(status)))
                    }
                })
            }
            Err(e) => Box::pin(std::future::ready(Err(poll_error(e)))),
        };
        PollGet {
            state: GetState::Sending(sending),
            records: Records::new(limit),
            end: None,
            deadline,
        }
    }

    /// When the GET fails if its answer is not complete (the engine's timer).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The next packet, or the end; pending after the end.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Io> {
        loop {
            if let Some(end) = self.end.take() {
                return Poll::Ready(Io::PollEnd(end));
            }
            match self.records.next() {
                Some(Ok(packet)) => return Poll::Ready(Io::PollPacket(packet)),
                Some(Err(e)) => {
                    self.finish(Err(e));
                    continue;
                }
                None => {}
            }
            match &mut self.state {
                GetState::Sending(sending) => match ready!(sending.as_mut().poll(cx)) {
                    Ok(response) => self.state = GetState::Body(Box::pin(response.bytes_stream())),
                    Err(e) => self.finish(Err(PollError::Transport(e))),
                },
                GetState::Body(body) => match ready!(body.as_mut().poll_next(cx)) {
                    Some(Ok(chunk)) => self.records.push(chunk),
                    Some(Err(e)) => {
                        self.finish(Err(PollError::Transport(poll_error(e))));
                    }
                    None => match self.records.finish() {
                        Ok(packet) => {
                            self.finish(Ok(()));
                            return Poll::Ready(Io::PollPacket(packet));
                        }
                        Err(e) => self.finish(Err(e)),
                    },
                },
                GetState::Done => return Poll::Pending,
            }
        }
    }

    /// Drops the request (closing its connection if the body was not read to the end) and
    /// keeps `end` for after the packets already decoded.
    fn finish(&mut self, end: Result<(), PollError>) {
        self.state = GetState::Done;
        self.records = Records::new(0);
        self.end = Some(end);
    }
}

/// Splits a v4 polling body into records as its chunks arrive, and decodes them one at a
/// time.
#[derive(Debug)]
struct Records {
    limit: usize,
    /// The start of the current record when it spans chunks (empty otherwise).
    partial: Vec<u8>,
    /// What is left of the chunk being split.
    chunk: Bytes,
}

impl Records {
    fn new(limit: usize) -> Records {
        Records {
            limit,
            partial: Vec::new(),
            chunk: Bytes::new(),
        }
    }

    /// Takes the next chunk of the body (once [`next`](Self::next) has used up the last one).
    fn push(&mut self, chunk: Bytes) {
        self.chunk = chunk;
    }

    /// The packet of the next record complete in the current chunk; `None` once the chunk is
    /// used up (its last, incomplete record kept aside).
    fn next(&mut self) -> Option<Result<Packet, PollError>> {
        if self.chunk.is_empty() {
            return None;
        }
        match self.chunk.iter().position(|&b| b == SEPARATOR) {
            Some(i) => {
                let record = self.chunk.split_to(i);
                bytes::Buf::advance(&mut self.chunk, 1);
                Some(self.record(&record))
            }
            None => {
                let rest = std::mem::take(&mut self.chunk);
                self.extend(&rest).err().map(Err)
            }
        }
    }

    /// The body ended: its last record (every body has one: an empty body is an empty
    /// record, which does not decode).
    fn finish(&mut self) -> Result<Packet, PollError> {
        let rest = std::mem::take(&mut self.chunk);
        self.record(&rest)
    }

    /// `tail` ends the current record: decodes it from a copy of its own.
    fn record(&mut self, tail: &[u8]) -> Result<Packet, PollError> {
        let bytes = if self.partial.is_empty() {
            self.check(tail.len())?;
            Bytes::copy_from_slice(tail)
        } else {
            self.extend(tail)?;
            let bytes = Bytes::copy_from_slice(&self.partial);
            self.partial.clear();
            bytes
        };
        // A record without separator is one packet (or an error).
        // A body that decodes holds a packet; were it not so, the error is the one of an empty
        // packet.
        PayloadDecoder::decode_all(bytes, PayloadFormat::V4, self.limit)
            .map_err(PollError::Decode)?
            .pop()
            .map_or_else(|| Packet::decode_text(Str::new(), ProtocolVersion::V4), Ok)
            .map_err(PollError::Decode)
    }

    /// Adds bytes to the current record, which must stay within the limit; the buffer grows
    /// by doubling but never past the limit.
    fn extend(&mut self, bytes: &[u8]) -> Result<(), PollError> {
        self.check(self.partial.len().saturating_add(bytes.len()))?;
        let needed = self.partial.len() + bytes.len();
        if self.partial.capacity() < needed {
            let want = needed
                .max(self.partial.capacity().saturating_mul(2))
                .min(self.limit);
            self.partial.reserve_exact(want - self.partial.len());
        }
        self.partial.extend_from_slice(bytes);
        Ok(())
    }

    fn check(&self, record_len: usize) -> Result<(), PollError> {
        if record_len > self.limit {
            return Err(PollError::Transport(poll_error(io_cause(
                std::io::ErrorKind::InvalidData,
                format!("packet over {} bytes", self.limit),
            ))));
        }
        Ok(())
    }
}

/// Runs one POST carrying a batch of packets and returns when it is done (within `within`,
/// when given).
pub(crate) async fn post(
    endpoint: Arc<Endpoint>,
    url: Url,
    body: Bytes,
    within: Option<Duration>,
) -> Io {
    let request = post_only(&endpoint, url, body);
    Io::Post(bounded(within, request, POST_ERROR).await)
}

/// A POST whose outcome nobody waits for (the final `close` packet).
pub(crate) async fn post_only(endpoint: &Endpoint, url: Url, body: Bytes) -> Result<(), Error> {
    answered(send_post(endpoint, url, body).await?).await
}

/// The last POST of a session (carrying `close`), sent once more, on a new connection, when
/// the first try got no answer at all: after a network cut the pool may still hold a
/// keep-alive connection the cut closed, and the first request on it fails. Without the
/// `close` the server would not end the session before its ping timeout, and a reconnection
/// could not recover it (connection state recovery needs the old socket gone).
pub(crate) async fn post_final(endpoint: &Endpoint, url: Url, body: Bytes) -> Result<(), Error> {
    let response = match send_post(endpoint, url.clone(), body.clone()).await {
        Ok(response) => response,
        // The failed connection has left the pool.
        Err(_) => send_post(endpoint, url, body).await?,
    };
    answered(response).await
}

async fn send_post(endpoint: &Endpoint, url: Url, body: Bytes) -> Result<reqwest::Response, Error> {
    endpoint
        .http()
        .map_err(post_error)?
        .post(url)
        .header(CONTENT_TYPE, TEXT_PLAIN)
        .body(body)
        .send()
        .await
        .map_err(post_error)
}

/// A POST's answer: `ok`, or its status as the error.
async fn answered(mut response: reqwest::Response) -> Result<(), Error> {
    let status = response.status();
    // Read the `ok` so the connection can be reused (a larger answer closes it instead).
    let _ = read_body(&mut response, POST_ANSWER_LIMIT).await;
    if status.is_success() {
        Ok(())
    } else {
        Err(post_error(StatusError(status)))
    }
}

/// `request`, failed with `what` (caused by a `TimedOut` `"no complete response within ..."`)
/// if it takes longer than `within`.
async fn bounded<T>(
    within: Option<Duration>,
    request: impl Future<Output = Result<T, Error>>,
    what: &'static str,
) -> Result<T, Error> {
    match within {
        Some(within) => tokio::time::timeout(within, request)
            .await
            .unwrap_or_else(|_| Err(Error::transport(what, no_response_within(within)))),
        None => request.await,
    }
}

/// The cause of a request that took too long.
pub(crate) fn no_response_within(within: Duration) -> BoxError {
    io_cause(
        std::io::ErrorKind::TimedOut,
        format!("no complete response within {within:?}"),
    )
}

/// Reads a response body (a POST's answer) of at most `limit` bytes into one buffer, which
/// never holds more than `limit` bytes.
///
/// Each chunk is copied at once and dropped: hyper hands out its chunks as slices of its read
/// buffer, and a chunk that is kept keeps that whole buffer alive (a server writing one byte
/// per TCP segment would make a list of chunks hold about a thousand times the body). A
/// `Content-Length` over the limit fails before anything is read.
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Bytes, String> {
    let too_large = || format!("response body over {limit} bytes");
    let mut body = Vec::new();
    if let Some(declared) = response.content_length() {
        let declared = usize::try_from(declared)
            .ok()
            .filter(|&n| n <= limit)
            .ok_or_else(too_large)?;
        body.reserve_exact(declared);
    }
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if chunk.len() > limit - body.len() {
            return Err(too_large());
        }
        if body.capacity() - body.len() < chunk.len() {
            // Doubling, but never past the limit.
            let want = (body.len() + chunk.len())
                .max(body.capacity().saturating_mul(2))
                .min(limit);
            body.reserve_exact(want - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A response whose body is `chunks` (an endless body when `chunks` never ends), with a
    /// count of the chunks taken from it.
    fn response(
        chunks: impl Iterator<Item = Bytes> + Send + Sync + 'static,
    ) -> (reqwest::Response, Arc<AtomicUsize>) {
        let taken = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&taken);
        let stream = futures_util::stream::iter(chunks.map(move |c| {
            count.fetch_add(1, Ordering::Relaxed);
            Ok::<_, std::io::Error>(c)
        }));
        let response = http::Response::builder()
            .body(reqwest::Body::wrap_stream(stream))
            .expect("a response");
        (reqwest::Response::from(response), taken)
    }

    fn read(mut response: reqwest::Response, limit: usize) -> Result<Bytes, String> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(read_body(&mut response, limit))
    }

    /// Pushes `body` in pieces of `step` bytes, taking the packets after each, then ends it.
    fn split(body: &[u8], step: usize, limit: usize) -> (Vec<Packet>, Result<(), PollError>) {
        let mut records = Records::new(limit);
        let mut out = Vec::new();
        for piece in body.chunks(step) {
            records.push(Bytes::copy_from_slice(piece));
            while let Some(next) = records.next() {
                match next {
                    Ok(packet) => out.push(packet),
                    Err(e) => return (out, Err(e)),
                }
            }
            assert!(records.chunk.is_empty());
            assert!(records.partial.capacity() <= limit);
        }
        match records.finish() {
            Ok(packet) => {
                out.push(packet);
                (out, Ok(()))
            }
            Err(e) => (out, Err(e)),
        }
    }

    #[test]
    fn records_are_split_whatever_the_chunks() {
        let body = b"4hello\x1e4w\xc3\xa9rld\x1ebAQID\x1e6";
        let expected = vec![
            Packet::Message("hello".into()),
            Packet::Message("w\u{e9}rld".into()),
            Packet::Binary(Bytes::from_static(&[1, 2, 3])),
            Packet::Noop,
        ];
        for step in 1..=body.len() {
            let (packets, end) = split(body, step, 10);
            assert_eq!(packets, expected, "pieces of {step}");
            assert!(end.is_ok(), "pieces of {step}: {end:?}");
        }
    }

    #[test]
    fn a_body_may_exceed_the_limit_but_no_record_may() {
        // 100 records of 10 bytes under a limit of 10: a server's batch of many messages.
        let body = vec![&b"4123456789"[..]; 100].join(&SEPARATOR);
        let (packets, end) = split(&body, 7, 10);
        assert_eq!(packets.len(), 100);
        assert!(end.is_ok());
        // One record of 11 bytes fails, in any pieces, after the packets before it.
        let body = b"4a\x1e412345678901\x1e4b";
        for step in [1, 3, body.len()] {
            let (packets, end) = split(body, step, 10);
            assert_eq!(packets, vec![Packet::Message("a".into())]);
            match end {
                Err(PollError::Transport(e)) => {
                    assert_eq!(e.to_string(), "xhr poll error");
                    let cause = std::error::Error::source(&e).expect("a cause");
                    assert_eq!(cause.to_string(), "packet over 10 bytes");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn empty_and_malformed_bodies_are_decode_errors() {
        for body in [&b""[..], b"4a\x1e", b"\x1e", b"x", b"4a\x1e0{"] {
            let (_, end) = split(body, 1, 100);
            assert!(
                matches!(end, Err(PollError::Decode(_))),
                "{:?}: {end:?}",
                String::from_utf8_lossy(body)
            );
        }
        let (packets, _) = split(b"4a\x1e", 1, 100);
        assert_eq!(packets, vec![Packet::Message("a".into())]);
        // Invalid UTF-8 is not malformed: it reads as U+FFFD, as a browser or Node reads it.
        let (packets, end) = split(b"4\xff", 1, 100);
        assert_eq!(packets, vec![Packet::Message("\u{fffd}".into())]);
        assert!(end.is_ok());
    }

    #[test]
    fn a_body_up_to_the_limit_is_read_in_one_buffer() {
        // One byte per chunk, as a server writing one byte per TCP segment makes hyper do.
        let (resp, _) = response((0..1000u32).map(|i| Bytes::from(vec![i as u8])));
        let body = read(resp, 1000).expect("at the limit");
        assert_eq!(body.len(), 1000);
        assert!(body.iter().enumerate().all(|(i, &b)| b == i as u8));
        let (resp, _) = response(std::iter::empty());
        assert_eq!(read(resp, 10).expect("empty"), Bytes::new());
    }

    #[test]
    fn the_buffer_never_grows_past_the_limit() {
        // Doubling from 600 would reserve 1200: the buffer stops at the limit.
        let chunks = [vec![b'a'; 600], vec![b'b'; 400]].map(Bytes::from);
        let (resp, _) = response(chunks.into_iter());
        let body = read(resp, 1000).expect("at the limit");
        let vec = Vec::from(body);
        assert_eq!(vec.len(), 1000);
        assert!(vec.capacity() <= 1000, "capacity {}", vec.capacity());
    }

    #[test]
    fn an_endless_body_stops_at_the_limit() {
        let (resp, taken) = response(std::iter::repeat(Bytes::from_static(b"xyz")));
        let err = read(resp, 100).expect_err("over the limit");
        assert_eq!(err, "response body over 100 bytes");
        // 33 chunks fit (99 bytes), the 34th goes over: nothing more is taken.
        assert_eq!(taken.load(Ordering::Relaxed), 34);
    }
}
