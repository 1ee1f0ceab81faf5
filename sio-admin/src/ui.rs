//! [`AdminUi`]: the Admin UI page, served from memory.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::error::Error;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;

/// Where npm puts the page inside `node_modules`.
const PACKAGE_DIST: &str = "@socket.io/admin-ui/ui/dist";

/// The Admin UI page: the files of `ui/dist` of the npm package `@socket.io/admin-ui` (the
/// page that `https://admin.socket.io` hosts), read once into memory and served under a base
/// path (`/admin/` by default), so that the UI works without any other site.
///
/// It answers `GET` and `HEAD` under its base path (`/admin` redirects to `/admin/`, which
/// is `index.html`; `404` for a file it does not have, `405` for other methods) and `404`
/// outside it. It is a tower service (axum: [`fallback_service`][fallback] or
/// `route_service`) and a hyper service
/// ([`SocketIo::service`](sio_server::SocketIo::service)); [`response`](Self::response)
/// answers one request for any other router.
///
/// The page's `index.html` also links Roboto from Google Fonts and the Material Design icons
/// from a CDN: without network access, the page works with the browser's default font and
/// without icons.
///
/// ```no_run
/// use axum::Router;
/// use sio_admin::{AdminUi, Auth, InstrumentOptions, instrument};
/// use sio_server::{SocketIo, SocketIoConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let io = SocketIo::new(SocketIoConfig::default());
/// instrument(&io, InstrumentOptions::new(Auth::None))?;
/// let ui = AdminUi::from_node_modules("tests/node_modules")?;
/// let app = Router::new().fallback_service(ui).layer(io.layer());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// // Open http://127.0.0.1:3000/admin/ and connect to http://127.0.0.1:3000.
/// axum::serve(listener, app).await?;
/// # Ok(())
/// # }
/// ```
///
/// [fallback]: https://docs.rs/axum/0.8/axum/struct.Router.html#method.fallback_service
#[derive(Clone)]
pub struct AdminUi {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    /// `/admin`: no trailing slash.
    base: String,
    /// Path relative to `ui/dist` (`index.html`, `js/app.0d7d7845.js`...) → content, type.
    files: HashMap<String, (Bytes, &'static str)>,
    dir: PathBuf,
}

impl fmt::Debug for AdminUi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminUi")
            .field("base", &self.inner.base)
            .field("dir", &self.inner.dir)
            .field("files", &self.inner.files.len())
            .finish()
    }
}

impl AdminUi {
    /// Reads the page from `dir`, the `ui/dist` folder of `@socket.io/admin-ui` (every file
    /// under it). Fails when it cannot be read or holds no `index.html`.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<AdminUi, Error> {
        let dir = dir.as_ref();
        let mut files = HashMap::new();
        read_tree(dir, "", &mut files)
            .map_err(|e| Error::ui_files(format!("cannot read {}", dir.display()), e))?;
        if !files.contains_key("index.html") {
            return Err(Error::ui_files(
                format!("{} holds no index.html", dir.display()),
                io::Error::new(io::ErrorKind::NotFound, "no index.html"),
            ));
        }
        Ok(AdminUi {
            inner: Arc::new(Inner {
                base: "/admin".to_owned(),
                files,
                dir: dir.to_owned(),
            }),
        })
    }

    /// Reads the page of the package installed in `node_modules`
    /// (`node_modules/@socket.io/admin-ui/ui/dist`: `npm install @socket.io/admin-ui@0.5.1`;
    /// this workspace pins it in `tests/package.json`).
    pub fn from_node_modules(node_modules: impl AsRef<Path>) -> Result<AdminUi, Error> {
        let dir = node_modules.as_ref().join(PACKAGE_DIST);
        AdminUi::from_dir(&dir).map_err(|e| {
            Error::ui_files(
                format!(
                    "cannot read the Admin UI page in {}: run `npm install @socket.io/admin-ui@0.5.1` there",
                    dir.display()
                ),
                e,
            )
        })
    }

    /// Reads the page from `$SIO_ADMIN_UI_DIR` when set, else from
    /// [`from_node_modules(node_modules)`](Self::from_node_modules): for examples and demos
    /// that find the package in this workspace's `tests/node_modules` and let a deployment
    /// point elsewhere.
    pub fn from_env_or_node_modules(node_modules: impl AsRef<Path>) -> Result<AdminUi, Error> {
        match std::env::var_os("SIO_ADMIN_UI_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => AdminUi::from_dir(&dir).map_err(|e| {
                Error::ui_files(format!("SIO_ADMIN_UI_DIR={}", Path::new(&dir).display()), e)
            }),
            None => AdminUi::from_node_modules(node_modules),
        }
    }

    /// Serves the page under `path` instead of `/admin` (`/` serves it at the root).
    pub fn base_path(mut self, path: &str) -> AdminUi {
        let trimmed = path.trim_end_matches('/');
        let base = if trimmed.is_empty() || trimmed.starts_with('/') {
            trimmed.to_owned()
        } else {
            format!("/{trimmed}")
        };
        Arc::make_mut(&mut self.inner).base = base;
        self
    }

    /// The folder the page was read from.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// How many files the page has.
    pub fn file_count(&self) -> usize {
        self.inner.files.len()
    }

    /// The answer to `method` on `path` (the request's path, without its query), or `None`
    /// when `path` is outside the base path.
    ///
    /// ```
    /// # fn f(ui: sio_admin::AdminUi) {
    /// use http::{Method, StatusCode};
    ///
    /// let page = ui.response(&Method::GET, "/admin/").unwrap();
    /// assert_eq!(page.status(), StatusCode::OK);
    /// assert!(ui.response(&Method::GET, "/chat").is_none());
    /// # }
    /// ```
    pub fn response(&self, method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
        let base = &self.inner.base;
        let rest = path.strip_prefix(base.as_str())?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return None; // "/administration"
        }
        if method != Method::GET && method != Method::HEAD {
            return Some(status(StatusCode::METHOD_NOT_ALLOWED));
        }
        if rest.is_empty() {
            let mut response = status(StatusCode::MOVED_PERMANENTLY);
            let location = format!("{base}/");
            if let Ok(value) = header::HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            return Some(response);
        }
        let file = match &rest[1..] {
            "" => "index.html",
            file => file,
        };
        let Some((body, content_type)) = self.inner.files.get(file) else {
            return Some(status(StatusCode::NOT_FOUND));
        };
        let body = if method == Method::HEAD {
            Bytes::new()
        } else {
            body.clone()
        };
        let mut response = Response::new(Full::new(body));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        // The page names its scripts and styles by content hash; index.html must be fresh.
        let cache = if file == "index.html" {
            "no-cache"
        } else {
            "public, max-age=86400"
        };
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static(cache),
        );
        Some(response)
    }

    fn answer<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        self.response(req.method(), req.uri().path())
            .unwrap_or_else(|| status(StatusCode::NOT_FOUND))
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// Reads every file under `dir` into `files`, keyed by its path relative to the root.
fn read_tree(
    dir: &Path,
    prefix: &str,
    files: &mut HashMap<String, (Bytes, &'static str)>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let key = format!("{prefix}{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            read_tree(&entry.path(), &format!("{key}/"), files)?;
        } else if kind.is_file() {
            let body = Bytes::from(std::fs::read(entry.path())?);
            files.insert(key, (body, content_type(name)));
        }
    }
    Ok(())
}

/// The content type of a file of the page, by extension.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("woff") => "font/woff",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

impl<B> tower_service::Service<Request<B>> for AdminUi {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        std::future::ready(Ok(self.answer(&req)))
    }
}

impl<B> hyper::service::Service<Request<B>> for AdminUi {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<B>) -> Self::Future {
        std::future::ready(Ok(self.answer(&req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui() -> (AdminUi, PathBuf) {
        let dir = std::env::temp_dir().join(format!("sio-admin-ui-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("js")).unwrap();
        std::fs::write(dir.join("index.html"), "<html></html>").unwrap();
        std::fs::write(dir.join("js/app.js"), "1").unwrap();
        (AdminUi::from_dir(&dir).unwrap(), dir)
    }

    #[test]
    fn serves_the_files_under_the_base_path() {
        let (ui, dir) = ui();
        let get = |path: &str| ui.response(&Method::GET, path);
        let index = get("/admin/").unwrap();
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let js = get("/admin/js/app.js").unwrap();
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let redirect = get("/admin").unwrap();
        assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(redirect.headers()[header::LOCATION], "/admin/");
        assert_eq!(
            get("/admin/nope.js").unwrap().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/admin/../Cargo.toml").unwrap().status(),
            StatusCode::NOT_FOUND
        );
        assert!(get("/administration").is_none());
        assert!(get("/").is_none());
        let post = ui.response(&Method::POST, "/admin/").unwrap();
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);

        let root = ui.clone().base_path("/");
        assert_eq!(
            root.response(&Method::GET, "/").unwrap().status(),
            StatusCode::OK
        );
        let other = ui.base_path("ops/ui/");
        assert_eq!(
            other
                .response(&Method::GET, "/ops/ui/js/app.js")
                .unwrap()
                .status(),
            StatusCode::OK
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_folder_without_index_html_is_refused() {
        let dir = std::env::temp_dir().join(format!("sio-admin-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let error = AdminUi::from_dir(&dir).unwrap_err();
        assert!(error.is_ui_files());
        assert!(error.to_string().contains("index.html"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
        let error = AdminUi::from_node_modules("/nonexistent").unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::UiFiles);
        // The chain: from_node_modules's hint, from_dir's folder, then the io::Error.
        let from_dir = std::error::Error::source(&error)
            .and_then(|e| e.downcast_ref::<Error>())
            .expect("from_dir's error");
        assert!(from_dir.is_ui_files());
        let io = std::error::Error::source(from_dir).expect("the io::Error");
        assert!(io.downcast_ref::<io::Error>().is_some());
    }
}
