//! CORS, as the `cors` npm module that engine.io uses does it. Off unless configured; an
//! `Origin` is reflected only when it is allowed.

use std::fmt;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};

type OriginPredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Which origins may call the server.
#[derive(Clone)]
enum AllowOrigin {
    /// `Access-Control-Allow-Origin: *`.
    Any,
    /// The request's `Origin` is reflected when it is one of these.
    List(Vec<String>),
    /// The request's `Origin` is reflected when the predicate accepts it.
    Predicate(OriginPredicate),
}

/// CORS settings (`cors` option of engine.io).
///
/// ```
/// use sio_server::Cors;
///
/// let cors = Cors::list(["https://app.example"]).credentials(true);
/// let any = Cors::any();
/// let custom = Cors::predicate(|origin| origin.ends_with(".example"));
/// # let _ = (cors, any, custom);
/// ```
#[derive(Clone)]
pub struct Cors {
    origin: AllowOrigin,
    credentials: bool,
    methods: String,
    headers: Option<String>,
}

impl fmt::Debug for Cors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = match &self.origin {
            AllowOrigin::Any => "*".to_owned(),
            AllowOrigin::List(list) => list.join(","),
            AllowOrigin::Predicate(_) => "<predicate>".to_owned(),
        };
        f.debug_struct("Cors")
            .field("origin", &origin)
            .field("credentials", &self.credentials)
            .field("methods", &self.methods)
            .field("headers", &self.headers)
            .finish()
    }
}

impl Cors {
    fn new(origin: AllowOrigin) -> Self {
        Cors {
            origin,
            credentials: false,
            methods: "GET,HEAD,PUT,PATCH,POST,DELETE".to_owned(),
            headers: None,
        }
    }

    /// Any origin: `Access-Control-Allow-Origin: *` (`cors: { origin: "*" }`).
    pub fn any() -> Self {
        Cors::new(AllowOrigin::Any)
    }

    /// These origins (e.g. `https://app.example`), reflected with `Vary: Origin`.
    pub fn list<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cors::new(AllowOrigin::List(
            origins.into_iter().map(Into::into).collect(),
        ))
    }

    /// The origins a predicate accepts, reflected with `Vary: Origin`.
    pub fn predicate(f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Cors::new(AllowOrigin::Predicate(Arc::new(f)))
    }

    /// Sends `Access-Control-Allow-Credentials: true` (default false). With [`Cors::any`] the
    /// browser then refuses the response: list the origins instead.
    pub fn credentials(mut self, value: bool) -> Self {
        self.credentials = value;
        self
    }

    /// `Access-Control-Allow-Methods` of a preflight (default
    /// `GET,HEAD,PUT,PATCH,POST,DELETE`).
    pub fn methods(mut self, value: impl Into<String>) -> Self {
        self.methods = value.into();
        self
    }

    /// `Access-Control-Allow-Headers` of a preflight (default: the request's
    /// `Access-Control-Request-Headers`).
    pub fn allowed_headers(mut self, value: impl Into<String>) -> Self {
        self.headers = Some(value.into());
        self
    }

    /// Adds the headers of a normal (non-preflight) response.
    pub(crate) fn apply(&self, request: &HeaderMap, out: &mut HeaderMap) {
        let origin = request.get(header::ORIGIN);
        match &self.origin {
            AllowOrigin::Any => {
                out.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
            }
            AllowOrigin::List(_) | AllowOrigin::Predicate(_) => {
                out.append(header::VARY, HeaderValue::from_static("Origin"));
                if let Some(origin) = origin.filter(|o| self.allows(o)) {
                    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                }
            }
        }
        if self.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// Adds the headers of a preflight (`OPTIONS`) response.
    pub(crate) fn apply_preflight(&self, request: &HeaderMap, out: &mut HeaderMap) {
        self.apply(request, out);
        if let Ok(methods) = HeaderValue::from_str(&self.methods) {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        let headers = match &self.headers {
            Some(h) => HeaderValue::from_str(h).ok(),
            None => {
                let requested = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
                if requested.is_some() {
                    out.append(
                        header::VARY,
                        HeaderValue::from_static("Access-Control-Request-Headers"),
                    );
                }
                requested
            }
        };
        if let Some(headers) = headers {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, headers);
        }
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        match &self.origin {
            AllowOrigin::Any => true,
            AllowOrigin::List(list) => list.iter().any(|o| o == origin),
            AllowOrigin::Predicate(f) => f(origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h
    }

    #[test]
    fn list_reflects_only_allowed_origins() {
        let cors = Cors::list(["https://a.example"]).credentials(true);
        let mut out = HeaderMap::new();
        cors.apply(&headers("https://a.example"), &mut out);
        assert_eq!(
            out[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://a.example"
        );
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        let mut out = HeaderMap::new();
        cors.apply(&headers("http://evil.example"), &mut out);
        assert!(out.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }

    #[test]
    fn predicate_and_preflight() {
        let cors = Cors::predicate(|o| o.ends_with(".example"));
        let mut req = headers("https://x.example");
        req.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("x-token"),
        );
        let mut out = HeaderMap::new();
        cors.apply_preflight(&req, &mut out);
        assert_eq!(
            out[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://x.example"
        );
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_HEADERS], "x-token");
        assert!(out.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS));
    }
}
