//! [`Handshake`]: what a socket's connection looked like (socket.io's `socket.handshake`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use sio_protocol::Value;

use crate::ConnectionSender;

/// The handshake of a socket: the Engine.IO handshake request and the CONNECT payload.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Handshake {
    /// The headers of the first HTTP request of the connection (shared by the sockets of the
    /// connection).
    pub headers: Arc<HeaderMap>,
    /// Its query parameters, in order (percent-decoded).
    pub query: Arc<[(String, String)]>,
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
    pub(crate) fn new(conn: &ConnectionSender, path: &str, auth: Value) -> Handshake {
        let (headers, query) = conn.handshake_parts();
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
            xdomain: headers.contains_key(http::header::ORIGIN),
            headers,
            query,
            auth,
            address: conn.remote_addr(),
            issued,
            url,
            secure: false,
        }
    }

    /// When the socket connected, as JavaScript's `new Date().toString()` writes it in UTC
    /// (socket.io's `handshake.time`), e.g. `Wed Nov 25 2026 18:52:13 GMT+0000 (Coordinated
    /// Universal Time)`.
    pub fn time(&self) -> String {
        js_date_string(self.issued)
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

/// `Date.prototype.toString` in UTC for `millis` since the Unix epoch.
fn js_date_string(millis: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = millis / 1000;
    let days = secs / 86_400;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let weekday = DAYS[usize::try_from(days % 7).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday} {month_name} {day:02} {year} {h:02}:{m:02}:{s:02} GMT+0000 (Coordinated Universal Time)"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn js_date_string() {
        assert_eq!(
            super::js_date_string(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        // new Date(1795719133000).toString() with TZ=UTC
        assert_eq!(
            super::js_date_string(1_795_719_133_000),
            "Thu Nov 26 2026 18:52:13 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            super::js_date_string(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }
}
