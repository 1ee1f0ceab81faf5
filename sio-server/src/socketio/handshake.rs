//! [`Handshake`]: what a socket's connection looked like (socket.io's `socket.handshake`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sio_protocol::{Map, Value};

use crate::engine::connection::ConnectionSender;

/// The handshake of a socket: the Engine.IO handshake request and the CONNECT payload.
///
/// # As JSON
///
/// It serializes (serde) as JavaScript's `socket.handshake`, which is what
/// [`fetch_sockets`](crate::Namespace::fetch_sockets) carries across servers:
///
/// ```json
/// {"headers": {"host": "localhost:3000", "cookie": "a=1; b=2"},
///  "time": "Thu Nov 26 2026 18:52:13 GMT+0000 (Coordinated Universal Time)",
///  "address": "127.0.0.1", "xdomain": false, "secure": false, "issued": 1795719133000,
///  "url": "/socket.io/?EIO=4&transport=websocket", "query": {"EIO": "4", "transport": "websocket"},
///  "auth": {}}
/// ```
///
/// Header values repeated in the request are joined with `, ` (`; ` for `cookie`), as Node
/// does; a query parameter given several times is an array of its values; `address` is the
/// IP address without the port (left out when unknown). Deserializing accepts what a
/// JavaScript server sends: unknown fields are ignored, missing ones take their default,
/// an `address` gets port 0, and `time` is kept as sent (JavaScript writes it in the
/// server's time zone).
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
    /// `time` as another server wrote it (a deserialized handshake).
    time: Option<Arc<str>>,
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
            time: None,
        }
    }

    /// When the socket connected, as JavaScript's `new Date().toString()` writes it in UTC
    /// (socket.io's `handshake.time`), e.g. `Wed Nov 25 2026 18:52:13 GMT+0000 (Coordinated
    /// Universal Time)`.
    /// A handshake that came from another server keeps the text it was sent with.
    pub fn time(&self) -> String {
        match &self.time {
            Some(time) => time.to_string(),
            None => js_date_string(self.issued),
        }
    }

    /// The handshake as JavaScript's `socket.handshake` object (see
    /// [As JSON](Self#as-json)).
    pub fn to_value(&self) -> Value {
        Value::from_serialize(self).unwrap_or_default()
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

impl Serialize for Handshake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("headers", &Headers(&self.headers))?;
        map.serialize_entry("time", &self.time())?;
        if let Some(address) = self.address {
            map.serialize_entry("address", &address.ip().to_string())?;
        }
        map.serialize_entry("xdomain", &self.xdomain)?;
        map.serialize_entry("secure", &self.secure)?;
        map.serialize_entry("issued", &self.issued)?;
        map.serialize_entry("url", &self.url)?;
        map.serialize_entry("query", &Query(&self.query))?;
        map.serialize_entry("auth", &self.auth)?;
        map.end()
    }
}

/// Headers as Node's `req.headers`: lowercase names, repeated values joined.
struct Headers<'a>(&'a HeaderMap);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            let mut values = self
                .0
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()));
            if name == http::header::SET_COOKIE {
                map.serialize_entry(name.as_str(), &values.collect::<Vec<_>>())?;
                continue;
            }
            let separator = if name == http::header::COOKIE {
                "; "
            } else {
                ", "
            };
            let mut joined = values.next().map(|v| v.into_owned()).unwrap_or_default();
            for value in values {
                joined.push_str(separator);
                joined.push_str(&value);
            }
            map.serialize_entry(name.as_str(), &joined)?;
        }
        map.end()
    }
}

/// Query parameters as Node's `querystring.parse`: a repeated key holds an array.
struct Query<'a>(&'a [(String, String)]);

impl Serialize for Query<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (i, (key, value)) in self.0.iter().enumerate() {
            if self.0[..i].iter().any(|(k, _)| k == key) {
                continue;
            }
            let mut all = self.0[i..].iter().filter(|(k, _)| k == key);
            if self.0[i + 1..].iter().any(|(k, _)| k == key) {
                let values: Vec<&str> = all.by_ref().map(|(_, v)| v.as_str()).collect();
                map.serialize_entry(key, &values)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Handshake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(Handshake::from_value(&value))
    }
}

impl Handshake {
    /// Reads what another server sent (leniently: see [As JSON](Self#as-json)).
    fn from_value(value: &Value) -> Handshake {
        let empty = Map::new();
        let object = value.as_object().unwrap_or(&empty);
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let mut headers = HeaderMap::new();
        for (name, v) in object
            .get("headers")
            .and_then(Value::as_object)
            .unwrap_or(&empty)
        {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            let values: Vec<String> = match v {
                Value::Array(items) => items.iter().filter_map(text).collect(),
                other => text(other).into_iter().collect(),
            };
            for v in values {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    headers.append(name.clone(), v);
                }
            }
        }
        let mut query = Vec::new();
        for (key, v) in object
            .get("query")
            .and_then(Value::as_object)
            .unwrap_or(&empty)
        {
            match v {
                Value::Array(items) => {
                    query.extend(items.iter().filter_map(text).map(|v| (key.clone(), v)));
                }
                other => query.extend(text(other).map(|v| (key.clone(), v))),
            }
        }
        let address = object
            .get("address")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 0));
        let issued = object
            .get("issued")
            .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
            .unwrap_or(0);
        let flag = |name: &str| object.get(name).and_then(Value::as_bool).unwrap_or(false);
        Handshake {
            headers: Arc::new(headers),
            query: query.into(),
            auth: object
                .get("auth")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
            address,
            issued,
            url: object
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            secure: flag("secure"),
            xdomain: flag("xdomain"),
            time: object.get("time").and_then(Value::as_str).map(Arc::from),
        }
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
