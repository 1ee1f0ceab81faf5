//! A small client: connects to a Socket.IO server, prints what it receives, sends a line of
//! stdin as a `chat` event, and asks the server for an ack.
//!
//! ```sh
//! cargo run -p sio-client --example client -- http://localhost:3000
//! ```

use std::time::Duration;

use sio_client::{ManagerEvent, Options, io};
use tokio::io::{AsyncBufReadExt as _, BufReader};

const USAGE: &str = "\
client: connects to a Socket.IO server, prints every event it receives (answering the
server's ack requests with \"ok\"), sends each line of stdin as a chat event; the line /ack
emits ping with an ack (timeout 5 s) and prints the reply

usage: client [URL]

  URL          the server (default http://localhost:3000)
  -h, --help   print this help and exit";

/// The URL argument. `--help` prints the usage and exits 0; a flag, or more than one
/// argument, prints an error and the usage and exits 2.
fn parse_args() -> String {
    let fail = |message: String| -> ! {
        eprintln!("error: {message}\n\n{USAGE}");
        std::process::exit(2)
    };
    let mut url = None;
    for arg in std::env::args().skip(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        } else if arg.starts_with('-') {
            fail(format!("unknown argument `{arg}`"));
        } else if url.is_some() {
            fail(format!("unexpected argument `{arg}`"));
        }
        url = Some(arg);
    }
    url.unwrap_or_else(|| "http://localhost:3000".to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = parse_args();
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
