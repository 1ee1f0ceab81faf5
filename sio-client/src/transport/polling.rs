//! HTTP long-polling with reqwest: one GET or POST per task.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use url::Url;

use super::{Endpoint, Io};

/// The body of every POST, as engine.io-client's XHR sends it.
const TEXT_PLAIN: &str = "text/plain;charset=UTF-8";

/// Runs one GET (a long poll, or the handshake) and returns its body.
pub(crate) async fn get(endpoint: Arc<Endpoint>, url: Url) -> Io {
    let result = async {
        let response = endpoint
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
        response
            .bytes()
            .await
            .map_err(|e| format!("xhr poll error: {e}"))
    }
    .await;
    Io::Poll(result)
}

/// Runs one POST carrying a batch of packets and returns when it is done.
pub(crate) async fn post(endpoint: Arc<Endpoint>, url: Url, body: Bytes) -> Io {
    Io::Post(post_only(&endpoint, url, body).await)
}

/// A POST whose outcome nobody waits for (the final `close` packet).
pub(crate) async fn post_only(endpoint: &Endpoint, url: Url, body: Bytes) -> Result<(), String> {
    let response = endpoint
        .http()
        .map_err(|e| format!("xhr post error: {e}"))?
        .post(url)
        .header(CONTENT_TYPE, TEXT_PLAIN)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("xhr post error: {e}"))?;
    let status = response.status();
    // Read the `ok` so the connection can be reused.
    let _ = response.bytes().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("xhr post error: status {status}"))
    }
}
