//! The `cookie` option: a `Set-Cookie` with the session id on the handshake response, written
//! like the `cookie` npm module's `serialize` (0.7) that engine.io uses.

use std::time::Duration;

use http::HeaderValue;

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (the default).
    Lax,
    /// `SameSite=None` (browsers require [`Cookie::secure`] with it).
    None,
}

/// The `cookie` option (off by default): the handshake response (the first polling response,
/// or the `101` of a WebSocket handshake) sets a cookie whose value is the session id, for
/// sticky load balancing. The defaults are engine.io's: name `io`, path `/`, `HttpOnly`,
/// `SameSite=Lax`.
///
/// ```
/// use sio_server::{Cookie, EngineConfig};
///
/// let config = EngineConfig::default().cookie(Cookie::default().name("sticky").secure(true));
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cookie {
    /// The cookie's name (default `io`).
    pub name: String,
    /// `Path` (default `/`; `None`: no `Path` attribute).
    pub path: Option<String>,
    /// `Domain` (default none).
    pub domain: Option<String>,
    /// `Max-Age` in whole seconds (default none: a session cookie).
    pub max_age: Option<Duration>,
    /// `HttpOnly` (default true).
    pub http_only: bool,
    /// `Secure` (default false).
    pub secure: bool,
    /// `SameSite` (default `Lax`).
    pub same_site: Option<SameSite>,
}

impl Default for Cookie {
    fn default() -> Self {
        Cookie {
            name: "io".to_owned(),
            path: Some("/".to_owned()),
            domain: None,
            max_age: None,
            http_only: true,
            secure: false,
            same_site: Some(SameSite::Lax),
        }
    }
}

impl Cookie {
    /// Sets [`name`](Self::name).
    pub fn name(mut self, value: impl Into<String>) -> Self {
        self.name = value.into();
        self
    }

    /// Sets [`path`](Self::path).
    pub fn path(mut self, value: Option<String>) -> Self {
        self.path = value;
        self
    }

    /// Sets [`domain`](Self::domain).
    pub fn domain(mut self, value: impl Into<String>) -> Self {
        self.domain = Some(value.into());
        self
    }

    /// Sets [`max_age`](Self::max_age).
    pub fn max_age(mut self, value: Duration) -> Self {
        self.max_age = Some(value);
        self
    }

    /// Sets [`http_only`](Self::http_only).
    pub fn http_only(mut self, value: bool) -> Self {
        self.http_only = value;
        self
    }

    /// Sets [`secure`](Self::secure).
    pub fn secure(mut self, value: bool) -> Self {
        self.secure = value;
        self
    }

    /// Sets [`same_site`](Self::same_site).
    pub fn same_site(mut self, value: Option<SameSite>) -> Self {
        self.same_site = value;
        self
    }

    /// The `Set-Cookie` value for session `sid`, attributes in the order of `cookie.serialize`
    /// (`io=<sid>; Path=/; HttpOnly; SameSite=Lax`). `None` if a setting is not a valid
    /// header value.
    pub(crate) fn header(&self, sid: &str) -> Option<HeaderValue> {
        let mut out = format!("{}={sid}", self.name);
        if let Some(max_age) = self.max_age {
            out.push_str(&format!("; Max-Age={}", max_age.as_secs()));
        }
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if let Some(path) = &self.path {
            out.push_str("; Path=");
            out.push_str(path);
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        match self.same_site {
            Some(SameSite::Strict) => out.push_str("; SameSite=Strict"),
            Some(SameSite::Lax) => out.push_str("; SameSite=Lax"),
            Some(SameSite::None) => out.push_str("; SameSite=None"),
            None => {}
        }
        HeaderValue::from_str(&out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialize_like_the_cookie_module() {
        assert_eq!(
            Cookie::default().header("abc").unwrap(),
            "io=abc; Path=/; HttpOnly; SameSite=Lax"
        );
        let cookie = Cookie::default()
            .name("s")
            .domain("example.com")
            .max_age(Duration::from_secs(60))
            .secure(true)
            .same_site(Some(SameSite::None));
        assert_eq!(
            cookie.header("x").unwrap(),
            "s=x; Max-Age=60; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=None"
        );
        assert_eq!(
            Cookie::default()
                .path(None)
                .http_only(false)
                .same_site(None)
                .header("x")
                .unwrap(),
            "io=x"
        );
        assert!(Cookie::default().name("a\nb").header("x").is_none());
    }
}
