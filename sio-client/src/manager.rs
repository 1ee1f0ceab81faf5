//! [`Manager`]: one engine connection to a server, its reconnection, and its sockets.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use url::Url;

use crate::commands::{self, CommandSender};
use crate::driver::{Command, Driver};
use crate::error::{DisconnectReason, Error};
use crate::options::{Options, TransportKind};
use crate::socket::{Shared, Socket, lock};
use crate::transport::Endpoint;

/// What happened to a manager's connection (socket.io-client's Manager events).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagerEvent {
    /// `open`: the connection is established.
    Open,
    /// `ping`: the server's heartbeat arrived.
    Ping,
    /// `upgrade` (of the engine, `manager.engine.on("upgrade")`): the connection moved to
    /// this transport (WebSocket, after a polling handshake).
    Upgrade(TransportKind),
    /// `error`: a connection attempt failed, or the transport of the open connection failed
    /// (before its `close`), with the error.
    Error(String),
    /// `close`: the connection closed, with the reason.
    Close(DisconnectReason),
    /// `reconnect_attempt`: reconnection attempt number n starts (1 first).
    ReconnectAttempt(u32),
    /// `reconnect`: reconnected after n attempts.
    Reconnect(u32),
    /// `reconnect_error`: a reconnection attempt failed.
    ReconnectError(String),
    /// `reconnect_failed`: `reconnection_attempts` were used up; no more attempts.
    ReconnectFailed,
}

pub(crate) type ManagerHandler = Arc<dyn Fn(&ManagerEvent) + Send + Sync>;

pub(crate) struct Inner {
    commands: CommandSender,
    /// By namespace (a list: there are few, and a map's table holds 3 before it holds 1).
    sockets: Mutex<Vec<Arc<Shared>>>,
    pub(crate) handlers: Arc<Mutex<Vec<ManagerHandler>>>,
    url: Url,
}

/// A connection to one server (socket.io-client's `Manager`): the engine connection (polling
/// first, then an upgrade to WebSocket), the heartbeat, and reconnection with backoff.
/// Sockets of several namespaces share it ([`socket`](Self::socket)).
///
/// It runs on one tokio task, spawned by [`new`](Self::new) (which must be called inside a
/// tokio runtime). The task ends when every handle of the manager and its sockets is dropped.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("url", &self.inner.url.as_str())
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager for the server at `url` (`http(s)://` or `ws(s)://`; its path is ignored,
    /// see [`Options::path`]). With [`Options::auto_connect`] it connects at once.
    ///
    /// Fails on a bad URL or header. Panics outside a tokio runtime.
    pub fn new(url: &str, options: Options) -> Result<Manager, Error> {
        let url = Url::parse(url).map_err(|e| Error::config(format!("bad url {url:?}: {e}")))?;
        let endpoint = Endpoint::new(&url, &options)?;
        if options.transports.is_empty() {
            return Err(Error::config("no transport"));
        }
        let (tx, rx) = commands::channel();
        let handlers = Arc::new(Mutex::new(Vec::new()));
        let auto_connect = options.auto_connect;
        let driver = Driver::new(endpoint, options, rx, tx.downgrade(), Arc::clone(&handlers));
        tokio::spawn(driver.into_future());
        let manager = Manager {
            inner: Arc::new(Inner {
                commands: tx,
                sockets: Mutex::new(Vec::new()),
                handlers,
                url,
            }),
        };
        if auto_connect {
            manager.open();
        }
        Ok(manager)
    }

    pub(crate) fn command(&self, command: Command) -> bool {
        self.inner.commands.send(command)
    }

    /// The socket for namespace `nsp` (the same one for each call with the same namespace).
    /// It is not connected yet: register handlers, then call [`Socket::connect`].
    pub fn socket(&self, nsp: &str) -> Socket {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        let mut sockets = lock(&self.inner.sockets);
        let shared = match sockets.iter().find(|s| s.nsp == nsp) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared = Arc::new(Shared::new(nsp));
                sockets.push(Arc::clone(&shared));
                let _ = self.command(Command::Register {
                    shared: Arc::clone(&shared),
                });
                shared
            }
        };
        Socket {
            shared,
            manager: self.clone(),
            ack_timeout: None,
            volatile: false,
        }
    }

    /// Calls `handler` for each [`ManagerEvent`].
    pub fn on(&self, handler: impl Fn(&ManagerEvent) + Send + Sync + 'static) {
        lock(&self.inner.handlers).push(Arc::new(handler));
    }

    /// Opens the connection if it is closed (`manager.open()`).
    pub fn open(&self) {
        let _ = self.command(Command::Open);
    }

    /// Closes the connection and stops reconnecting (`manager.disconnect()`); sockets see
    /// `"forced close"`.
    pub fn close(&self) {
        let _ = self.command(Command::Close);
    }
}

/// Connects to `url` like JavaScript's `io(url, options)`: the socket for the URL's path as
/// namespace (`/` when empty), connected at once unless [`Options::auto_connect`] is off.
///
/// The manager is shared as socket.io-client's cache does: one per
/// `scheme://host:port<path>` (with [`Options::path`]), reused by the next `io` calls for
/// other namespaces (their `options` are then ignored, except `auto_connect`). A new,
/// uncached manager is made with [`Options::force_new`], without [`Options::multiplex`], or
/// when the cached manager already has this namespace. The cache holds no manager alive:
/// once every handle of a manager is dropped, the next `io` makes a new one.
///
/// Register handlers right after this call: events need a network round trip to arrive.
///
/// ```no_run
/// # fn f() -> Result<(), sio_client::Error> {
/// use sio_client::{Options, io};
///
/// let main = io("http://localhost:3000/", Options::default())?;
/// let admin = io("http://localhost:3000/admin", Options::default())?; // same connection
/// # Ok(()) }
/// ```
pub fn io(url: &str, options: Options) -> Result<Socket, Error> {
    static CACHE: Mutex<Option<HashMap<String, Weak<Inner>>>> = Mutex::new(None);
    let parsed = Url::parse(url).map_err(|e| Error::config(format!("bad url {url:?}: {e}")))?;
    let nsp = parsed.path().to_owned();
    let auto_connect = options.auto_connect;
    let manager = if options.force_new || !options.multiplex {
        Manager::new(url, options)?
    } else {
        let id = cache_id(&parsed, &options.path);
        let mut guard = lock(&CACHE);
        let cache = guard.get_or_insert_with(HashMap::new);
        cache.retain(|_, manager| manager.strong_count() > 0);
        match cache.get(&id).and_then(Weak::upgrade) {
            Some(inner) if !lock(&inner.sockets).iter().any(|s| s.nsp == nsp) => Manager { inner },
            Some(_) => Manager::new(url, options)?,
            None => {
                let manager = Manager::new(url, options)?;
                cache.insert(id, Arc::downgrade(&manager.inner));
                manager
            }
        }
    };
    let socket = manager.socket(&nsp);
    if auto_connect {
        socket.connect();
    }
    Ok(socket)
}

/// socket.io-client's cache key (`url.ts`): `scheme://host:port<path>`, the port made
/// explicit.
fn cache_id(url: &Url, path: &str) -> String {
    format!(
        "{}://{}:{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default(),
        path
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_ids() {
        let id = |u: &str| cache_id(&Url::parse(u).unwrap(), "/socket.io");
        assert_eq!(id("http://localhost/a"), "http://localhost:80/socket.io");
        assert_eq!(id("http://localhost:80/"), "http://localhost:80/socket.io");
        assert_eq!(id("wss://h"), "wss://h:443/socket.io");
        assert_eq!(id("http://[::1]:3000/x"), "http://[::1]:3000/socket.io");
    }
}
