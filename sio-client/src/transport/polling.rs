//! HTTP long-polling with reqwest: one GET or POST per task.
//!
//! Every body the server sends is read with a bound, as it streams in: a GET's body (the
//! handshake, a long poll) at most `limit` bytes, a POST's answer (`ok`) at most
//! [`POST_ANSWER_LIMIT`]. Past the bound the request is dropped at once (its connection is
//! closed, not reused), and a GET fails like a broken poll in engine.io-client
//! (`"xhr poll error"`). Each request can also be given a time bound.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use url::Url;

use super::{Endpoint, Io};

/// The body of every POST, as engine.io-client's XHR sends it.
const TEXT_PLAIN: &str = "text/plain;charset=UTF-8";

/// The most read of a POST's answer (engine.io answers `ok`; a proxy may answer with a page).
/// Only its status counts: past this the answer is left unread and its connection closed.
const POST_ANSWER_LIMIT: usize = 4096;

/// Runs one GET (a long poll, or the handshake) and returns its body: at most `limit` bytes,
/// complete within `within` (when given).
pub(crate) async fn get(
    endpoint: Arc<Endpoint>,
    url: Url,
    limit: usize,
    within: Option<Duration>,
) -> Io {
    let request = async {
        let mut response = endpoint
            .http()
            .map_err(|e| format!("xhr poll error: {e}"))?
            .get(url)
            .send()
            .await
            .map_err(|e| format!("xhr poll error: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("xhr poll error: status {status}"));
        }
        read_body(&mut response, limit)
            .await
            .map_err(|e| format!("xhr poll error: {e}"))
    };
    Io::Poll(bounded(within, request, "xhr poll error").await)
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
    Io::Post(bounded(within, request, "xhr post error").await)
}

/// A POST whose outcome nobody waits for (the final `close` packet).
pub(crate) async fn post_only(endpoint: &Endpoint, url: Url, body: Bytes) -> Result<(), String> {
    let mut response = endpoint
        .http()
        .map_err(|e| format!("xhr post error: {e}"))?
        .post(url)
        .header(CONTENT_TYPE, TEXT_PLAIN)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("xhr post error: {e}"))?;
    let status = response.status();
    // Read the `ok` so the connection can be reused (a larger answer closes it instead).
    let _ = read_body(&mut response, POST_ANSWER_LIMIT).await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("xhr post error: status {status}"))
    }
}

/// `request`, failed with `"<what>: no complete response within ..."` if it takes longer than
/// `within`.
async fn bounded<T>(
    within: Option<Duration>,
    request: impl Future<Output = Result<T, String>>,
    what: &str,
) -> Result<T, String> {
    match within {
        Some(within) => tokio::time::timeout(within, request)
            .await
            .unwrap_or_else(|_| Err(format!("{what}: no complete response within {within:?}"))),
        None => request.await,
    }
}

/// Reads a response body of at most `limit` bytes into one buffer, which never holds more
/// than `limit` bytes.
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
