//! A scripted WebSocket peer's reads (tests that play the server to a client).

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// The next text frame of `ws` (other frames skipped); panics when none comes within `limit`.
pub async fn next_text(limit: Duration, ws: &mut WebSocketStream<TcpStream>) -> String {
    loop {
        match tokio::time::timeout(limit, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return text.as_str().to_owned(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no text frame: {other:?}"),
        }
    }
}
