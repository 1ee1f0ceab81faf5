//! Socket.IO on the user's own hyper 1 server, the way socket.io attaches to a Node.js
//! `http.Server`: the application keeps its accept loop and its routes (`/` answers `hello`),
//! and `io.service(routes)` takes the requests under `/socket.io/`, passing every other one to
//! the routes. Each connection is served with `serve_connection(..).with_upgrades()`, which
//! WebSocket needs.
//!
//! The three usages of the JavaScript server, mirrored:
//!
//! | socket.io                               | sio-server                                        |
//! |-----------------------------------------|---------------------------------------------------|
//! | `new Server(3000)`                      | `io.listen(addr)` / `io.serve(listener)` (`conformance`) |
//! | `new Server(httpServer)`                | `io.service(routes)` in your hyper server (this one) |
//! | beside express / a framework            | `io.layer()` in an axum `Router` (`chat`)         |
//!
//! ```sh
//! PORT=3000 cargo run -p sio-server --example hyper_server
//! curl http://127.0.0.1:3000/            # hello
//! ```
//!
//! The Socket.IO side greets every client with `hello` and its transport, and echoes `echo`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sio_server::protocol::socket::Args;
use sio_server::{SocketIo, SocketIoConfig};
use tokio::net::TcpListener;

/// The application's own routes: everything but `/socket.io/`.
async fn routes(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match req.uri().path() {
        "/" => Response::new(Full::new(Bytes::from_static(b"hello"))),
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(response)
}

/// The Socket.IO handlers.
pub(crate) fn setup(io: &SocketIo) {
    io.of("/").on_connection(|socket| async move {
        let _ = socket.emit("hello", &socket.transport().as_str()).await;
        socket.on_args("echo", |socket, args: Args, _| async move {
            let _ = socket.emit_args("echo-back", args).await;
        });
    });
}

/// The user's accept loop: one hyper HTTP/1.1 connection per TCP connection, Socket.IO in
/// front of [`routes`].
pub(crate) async fn serve(listener: TcpListener, io: SocketIo) -> std::io::Result<()> {
    loop {
        let (stream, remote) = listener.accept().await?;
        // `with_remote_addr`: what `socket.handshake().address` reports.
        let service = io.service(service_fn(routes)).with_remote_addr(remote);
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                eprintln!("connection from {remote}: {error}");
            }
        });
    }
}

const USAGE: &str = "\
hyper_server: Socket.IO on the application's own hyper 1 server, on 127.0.0.1: GET /
answers hello, /socket.io/ is Socket.IO (greets every client with hello and its transport,
echoes echo as echo-back)

usage: hyper_server

  -h, --help   print this help and exit

environment:
  PORT   the port on 127.0.0.1 (default 3000)";

/// `--help` prints the usage and exits 0; any other argument prints an error and the usage
/// and exits 2.
fn parse_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("error: unknown argument `{arg}`\n\n{USAGE}");
        std::process::exit(2);
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    parse_args();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let io = SocketIo::new(SocketIoConfig::default());
    setup(&io);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    serve(listener, io).await
}
