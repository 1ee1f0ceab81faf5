//! The server's HTTP-facing request path, whole: sequences of requests with arbitrary methods,
//! query strings, headers and bodies (in arbitrary chunks) into a `SocketIo` server's
//! `EngineIo::handle`, after a real handshake whose sid the requests may use. Polling POST
//! bodies go through the payload decoder, the session task and the Socket.IO decoder.
//!
//! Checked besides "no panic": every request is answered with a status the server documents,
//! a POST is never answered before its body is read or refused, and once every request is done
//! the server can be closed and every session ends.
#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use futures_util::stream;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::StreamBody;
use http_body::Frame;
use libfuzzer_sys::fuzz_target;
use sio_server::{EngineConfig, SocketIo, SocketIoConfig};

#[derive(Arbitrary, Debug)]
struct Input {
    allow_eio3: bool,
    small_limit: bool,
    requests: Vec<Req>,
}

#[derive(Arbitrary, Debug)]
struct Req {
    method: u8,
    /// Which well-formed query parameters come first (bits), before `raw_query`.
    prefix: u8,
    raw_query: String,
    headers: Vec<(u8, Vec<u8>)>,
    chunks: Vec<Vec<u8>>,
}

const HEADERS: [&str; 12] = [
    "content-type",
    "content-length",
    "origin",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "accept-encoding",
    "cookie",
    "transfer-encoding",
    "x-anything",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // Paused time: a long poll or a timeout resolves as soon as nothing else can run.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime")
    })
}

fn request(req: &Req, sid: Option<&str>) -> Option<Request<StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static>>> {
    let method = match req.method % 5 {
        0 => Method::GET,
        1 => Method::POST,
        2 => Method::OPTIONS,
        3 => Method::PUT,
        _ => Method::from_bytes(b"BREW").ok()?,
    };
    let mut query = String::new();
    let parts = [
        "EIO=4",
        "EIO=3",
        "transport=polling",
        "transport=websocket",
        "b64=1",
        "j=0",
    ];
    for (i, part) in parts.iter().enumerate() {
        if req.prefix & (1 << i) != 0 {
            query.push_str(part);
            query.push('&');
        }
    }
    if req.prefix & 0x40 != 0 {
        if let Some(sid) = sid {
            query.push_str("sid=");
            query.push_str(sid);
            query.push('&');
        }
    }
    query.push_str(&req.raw_query);
    let uri = format!("/socket.io/?{query}");
    let mut builder = Request::builder().method(method).uri(uri.as_str());
    if builder.headers_ref().is_none() {
        // Not a valid URI: hyper would have refused the request line.
        return None;
    }
    for (name, value) in &req.headers {
        let name = HeaderName::from_static(HEADERS[usize::from(*name) % HEADERS.len()]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            builder = builder.header(name, value);
        }
    }
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = req
        .chunks
        .iter()
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    builder.body(StreamBody::new(stream::iter(frames))).ok()
}

fn documented(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        101 | 200 | 204 | 400 | 403 | 404 | 408 | 413 | 500
    )
}

fuzz_target!(|input: Input| {
    if input.requests.len() > 16 {
        return;
    }
    runtime().block_on(async {
        let mut engine = EngineConfig::default()
            .allow_eio3(input.allow_eio3)
            .path("/socket.io/");
        if input.small_limit {
            engine = engine.max_http_buffer_size(64).max_buffered_bytes(256);
        }
        let io = SocketIo::new(SocketIoConfig::default().engine(engine));
        io.of("/").on_connection(|socket| async move {
            socket.on_args("echo", |socket, args, ack| async move {
                let _ = socket.emit_args("echo", args.clone()).await;
                let _ = ack.send_args(args);
            });
        });
        // The service starts the Socket.IO layer.
        let _service = io.service(sio_server::NotFound);
        let engine = io.engine().clone();
        // A real session whose sid the requests may use.
        let handshake = Request::get("/socket.io/?EIO=4&transport=polling")
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request");
        let open = engine.handle(handshake, None).await;
        assert_eq!(open.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(open.into_body())
            .await
            .expect("body")
            .to_bytes();
        let text = std::str::from_utf8(&body).expect("utf-8");
        let sid = text.split('"').nth(3).map(str::to_owned);
        for req in &input.requests {
            let Some(request) = request(req, sid.as_deref()) else {
                continue;
            };
            // Paused time: a long poll ends at the next ping (25 s of virtual time) at the
            // latest, and nothing may take longer than the body and ping timeouts.
            let response = tokio::time::timeout(Duration::from_secs(120), engine.handle(request, None))
                .await
                .expect("every request is answered");
            assert!(documented(response.status()), "{}", response.status());
        }
        io.close().await;
        tokio::time::timeout(Duration::from_secs(120), async {
            while engine.session_count() > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
        .await
        .expect("every session ends after close");
    });
});
