//! [`Handshake`]: what a socket's connection looked like (socket.io's `socket.handshake`).

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use sio_protocol::Value;

use crate::Connection;

/// The handshake of a socket: the Engine.IO handshake request and the CONNECT payload.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Handshake {
    /// The headers of the first HTTP request of the connection.
    pub headers: HeaderMap,
    /// Its query parameters, in order (percent-decoded).
    pub query: Vec<(String, String)>,
    /// The CONNECT payload, or an empty object when the client sent none.
    pub auth: Value,
    /// The client's address, when known.
    pub address: Option<SocketAddr>,
    /// When the socket connected (milliseconds since the Unix epoch, socket.io's `issued`).
    pub issued: u64,
    /// The path and query of the first request (rebuilt from the parsed query).
    pub url: String,
    /// Whether the connection came over TLS (always false: the server speaks plain HTTP).
    pub secure: bool,
    /// Whether the request carried an `Origin` header (socket.io's `xdomain`).
    pub xdomain: bool,
}

impl Handshake {
    pub(crate) fn new(conn: &Connection, path: &str, auth: Value) -> Handshake {
        let query = conn.query().to_vec();
        let mut url = String::from(path);
        if !query.is_empty() {
            url.push('?');
            let encoded: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter())
                .finish();
            url.push_str(&encoded);
        }
        let issued = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Handshake {
            headers: conn.headers().clone(),
            xdomain: conn.headers().contains_key(http::header::ORIGIN),
            query,
            auth,
            address: conn.remote_addr(),
            issued,
            url,
            secure: false,
        }
    }

    /// The last value of the query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
