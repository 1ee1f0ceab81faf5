//! [`Endpoint`]: where and how to reach the server.

use std::sync::{Arc, OnceLock};

use reqwest::cookie::Jar;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sio_protocol::engine::TransportKind;
use url::Url;

use crate::error::Error;
use crate::options::Options;
#[cfg(feature = "tls")]
use crate::tls;

/// Where and how to reach the server: URLs, headers, the HTTP client and its cookie jar.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// `http(s)://host:port/<path>/` with the user's query.
    base: Url,
    /// `extra_headers` (a list: an empty `HeaderMap` still takes 96 bytes).
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    /// The cookies of long-polling (made with the HTTP client: a WebSocket-only connection has
    /// none to send).
    pub(super) jar: OnceLock<Arc<Jar>>,
    /// The HTTP client, built on first use: a WebSocket-only connection never needs it.
    http: OnceLock<Result<reqwest::Client, Error>>,
    /// The one TLS configuration of polling and WebSocket.
    #[cfg(feature = "tls")]
    pub(super) tls: Option<Arc<rustls::ClientConfig>>,
}

impl Endpoint {
    pub(crate) fn new(url: &Url, options: &Options) -> Result<Endpoint, Error> {
        let mut base = url.clone();
        match base.scheme() {
            "http" | "https" => {}
            "ws" => base
                .set_scheme("http")
                .map_err(|()| Error::config("bad url"))?,
            "wss" => base
                .set_scheme("https")
                .map_err(|()| Error::config("bad url"))?,
            other => return Err(Error::config(format!("unsupported url scheme {other:?}"))),
        }
        let mut path = options.path.clone();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        base.set_path(&path);
        base.set_fragment(None);
        base.set_query(None);
        if !options.query.is_empty() {
            base.query_pairs_mut().extend_pairs(&options.query);
        }
        let mut headers = Vec::new();
        for (name, value) in &options.extra_headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| Error::config_with(format!("bad header name {name:?}"), e))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| Error::config_with(format!("bad header value {value:?}"), e))?;
            headers.push((name, value));
        }
        #[cfg(feature = "tls")]
        let tls = match &options.tls_config {
            Some(config) => Some(Arc::clone(config)),
            None if base.scheme() == "https" => Some(tls::with_system_roots([])?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        if base.scheme() == "https" {
            return Err(Error::config("https and wss need the `tls` feature"));
        }
        Ok(Endpoint {
            base,
            headers,
            jar: OnceLock::new(),
            http: OnceLock::new(),
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// `http(s)://host:port/<path>/` with the user's query.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// The HTTP client of long-polling (built on first use).
    pub(crate) fn http(&self) -> Result<&reqwest::Client, Error> {
        self.http
            .get_or_init(|| self.build_http())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn build_http(&self) -> Result<reqwest::Client, Error> {
        let builder = reqwest::Client::builder()
            .cookie_provider(Arc::clone(self.jar.get_or_init(Arc::default)))
            .default_headers(self.headers.iter().cloned().collect::<HeaderMap>());
        // Always preconfigured: reqwest without a crypto provider panics when it builds its
        // own configuration. For plain http, a configuration that trusts nothing.
        #[cfg(feature = "tls")]
        let builder = builder.tls_backend_preconfigured(match &self.tls {
            Some(config) => rustls::ClientConfig::clone(config),
            None => tls::plain_http_config()?,
        });
        builder
            .build()
            .map_err(|e| Error::config_with("cannot build the HTTP client", e))
    }

    /// The URL of a request: `EIO=4&transport=...&t=...&sid=...` after the user's query.
    pub(crate) fn url(&self, transport: TransportKind, sid: Option<&str>) -> Url {
        let mut url = self.base.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("EIO", "4");
            query.append_pair("transport", transport.as_str());
            if transport == TransportKind::Polling {
                query.append_pair("t", &timestamp());
            }
            if let Some(sid) = sid {
                query.append_pair("sid", sid);
            }
        }
        if transport == TransportKind::WebSocket {
            let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
            // Only fails for special/non-special switches, and http(s) -> ws(s) is allowed.
            let _ = url.set_scheme(scheme);
        }
        url
    }
}

/// A cache-busting `t` value, as engine.io-client's `randomString()` (time and a counter in
/// base 36).
fn timestamp() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}{}", base36(millis), base36(u128::from(n)))
}

fn base36(mut n: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let url = Url::parse("http://localhost:3000/admin?x=1").unwrap();
        let ep = Endpoint::new(&url, &Options::default().query("token", "a b")).unwrap();
        let u = ep.url(TransportKind::Polling, Some("abc"));
        assert_eq!(u.path(), "/socket.io/");
        let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        assert_eq!(q[0], ("token".into(), "a b".into()));
        assert_eq!(q[1], ("EIO".into(), "4".into()));
        assert_eq!(q[2], ("transport".into(), "polling".into()));
        assert_eq!(q[3].0, "t");
        assert_eq!(q[4], ("sid".into(), "abc".into()));
        let u = ep.url(TransportKind::WebSocket, None);
        assert_eq!(u.scheme(), "ws");
        assert_eq!(
            u.as_str(),
            "ws://localhost:3000/socket.io/?token=a+b&EIO=4&transport=websocket"
        );
        let https = Endpoint::new(
            &Url::parse("https://h/").unwrap(),
            &Options::default().path("/x"),
        );
        #[cfg(feature = "tls")]
        assert_eq!(
            https
                .unwrap()
                .url(TransportKind::WebSocket, Some("s"))
                .as_str(),
            "wss://h/x/?EIO=4&transport=websocket&sid=s"
        );
        #[cfg(not(feature = "tls"))]
        assert!(https.unwrap_err().is_config());
        assert!(Endpoint::new(&Url::parse("ftp://h/").unwrap(), &Options::default()).is_err());
    }

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
