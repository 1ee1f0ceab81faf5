//! The WebSocket transport with tokio-tungstenite: a reader task and a writer task.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::cookie::CookieStore as _;
use reqwest::header::COOKIE;
use sio_protocol::Str;
use sio_protocol::engine::Frame;
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use url::Url;

use super::{Endpoint, Io};

/// How long one frame may take to write before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the closing handshake may take once the engine is done.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Small buffers: an idle connection should hold almost nothing (DESIGN example 12).
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

/// Sends frames to the WebSocket's writer task. Dropping it flushes what was queued, sends a
/// close frame and ends the task.
#[derive(Debug)]
pub(crate) struct WsWriter {
    tx: UnboundedSender<Message>,
}

impl WsWriter {
    /// Queues one Engine.IO packet's frame. False when the writer is gone.
    pub(crate) fn send(&self, frame: Frame) -> bool {
        let message = match frame {
            Frame::Text(text) => match Utf8Bytes::try_from(text.into_bytes()) {
                Ok(text) => Message::Text(text),
                Err(_) => return false,
            },
            Frame::Binary(data) => Message::Binary(data),
        };
        self.tx.send(message).is_ok()
    }
}

/// Connects; on success spawns the writer task and runs the reader loop, reporting
/// [`Io::WsOpen`], then each [`Io::WsFrame`], then [`Io::WsClosed`].
pub(crate) async fn run(endpoint: Arc<Endpoint>, url: Url, tx: UnboundedSender<Io>) {
    let mut request = match url.as_str().into_client_request() {
        Ok(request) => request,
        Err(e) => {
            let _ = tx.send(Io::WsOpen(Err(format!("websocket error: {e}"))));
            return;
        }
    };
    for (name, value) in &endpoint.headers {
        request.headers_mut().append(name, value.clone());
    }
    // The cookies of the polling requests (sticky sessions behind a load balancer).
    let mut http_url = url.clone();
    let _ = http_url.set_scheme(if url.scheme() == "wss" {
        "https"
    } else {
        "http"
    });
    if let Some(cookies) = endpoint.jar.cookies(&http_url) {
        request.headers_mut().insert(COOKIE, cookies);
    }
    #[cfg(feature = "tls")]
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(config()),
        true,
        endpoint
            .tls
            .clone()
            .map(tokio_tungstenite::Connector::Rustls),
    );
    #[cfg(not(feature = "tls"))]
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config()), true);
    // Boxed: the handshake's state is large, and the task lives as long as the connection.
    let stream = match Box::pin(connecting).await {
        Ok((stream, _response)) => stream,
        Err(e) => {
            let _ = tx.send(Io::WsOpen(Err(format!("websocket error: {e}"))));
            return;
        }
    };
    let (mut sink, mut stream) = stream.split();
    let (writer_tx, mut writer_rx) = mpsc::unbounded_channel::<Message>();
    // Detached: it outlives the engine long enough to flush the last frames, but never hangs
    // on a dead peer for long.
    tokio::spawn(async move {
        while let Some(message) = writer_rx.recv().await {
            match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            }
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
    });
    if tx.send(Io::WsOpen(Ok(WsWriter { tx: writer_tx }))).is_err() {
        return;
    }
    while let Some(message) = stream.next().await {
        let frame = match message {
            Ok(Message::Text(text)) => match Str::from_utf8(text.into()) {
                Ok(text) => Frame::Text(text),
                Err(_) => continue,
            },
            Ok(Message::Binary(data)) => Frame::Binary(data),
            Ok(Message::Close(_)) => break,
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Err(e) => {
                let _ = tx.send(Io::WsClosed(Some(format!("websocket error: {e}"))));
                return;
            }
        };
        if tx.send(Io::WsFrame(frame)).is_err() {
            return;
        }
    }
    let _ = tx.send(Io::WsClosed(None));
}
