//! A small client: connects to a Socket.IO server, prints what it receives, sends a line of
//! stdin as a `chat` event, and asks the server for an ack.
//!
//! ```sh
//! cargo run -p sio-client --example client -- http://localhost:3000
//! ```

use std::time::Duration;

use sio_client::{ManagerEvent, Options, io};
use tokio::io::{AsyncBufReadExt as _, BufReader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://localhost:3000".to_owned());
    let socket = io(&url, Options::default())?;
    socket.manager().on(|event| match event {
        ManagerEvent::Ping => {}
        ManagerEvent::ReconnectAttempt(n) => eprintln!("reconnecting (attempt {n})"),
        other => eprintln!("manager: {other:?}"),
    });
    socket.on_connect(|| eprintln!("connected"));
    socket.on_disconnect(|reason| eprintln!("disconnected: {reason}"));
    socket.on_connect_error(|err| eprintln!("connect_error: {err} {:?}", err.data()));
    socket.on_any(|msg| {
        println!("{} {:?}", msg.event(), msg.args().to_values());
        // Answer the server's ack requests.
        let _ = msg.ack(&"ok");
    });

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line == "/ack" {
            let reply = socket
                .timeout(Duration::from_secs(5))
                .emit_with_ack("ping", &())
                .await;
            println!("ack: {reply:?}");
        } else {
            socket.emit("chat", &line)?;
        }
    }
    socket.disconnect();
    Ok(())
}
