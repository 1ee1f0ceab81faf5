//! [`Manager`]: one engine connection to a server, its reconnection, and its sockets.

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::commands::{self, Command, CommandSender};
use crate::driver::Driver;
use crate::error::Error;
use crate::events::ManagerEvent;
use crate::options::Options;
use crate::shared::Registry;
use crate::sync::lock;
use crate::transport::endpoint::Endpoint;

pub(crate) struct Inner {
    commands: CommandSender,
    pub(crate) registry: Arc<Registry>,
    /// The server's address, the driver's too (for `Debug`).
    endpoint: Arc<Endpoint>,
}

/// A connection to one server (socket.io-client's `Manager`): the engine connection (polling
/// first, then an upgrade to WebSocket), the heartbeat, and reconnection with backoff.
/// Sockets of several namespaces share it ([`socket`](Self::socket)).
///
/// It runs on one tokio task, spawned by [`new`](Self::new) (which must be called inside a
/// tokio runtime). The task ends when every handle of the manager and its sockets is dropped.
#[derive(Clone)]
pub struct Manager {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("url", &self.inner.endpoint.base().as_str())
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager for the server at `url` (`http(s)://` or `ws(s)://`; its path is ignored,
    /// see [`Options::path`]). With [`Options::auto_connect`] it connects at once.
    ///
    /// Fails on a bad URL or header. Panics outside a tokio runtime.
    pub fn new(url: &str, options: Options) -> Result<Manager, Error> {
        let url = Url::parse(url).map_err(|e| Error::config_with(format!("bad url {url:?}"), e))?;
        let endpoint = Arc::new(Endpoint::new(&url, &options)?);
        if options.transports.is_empty() {
            return Err(Error::config("no transport"));
        }
        let (tx, rx) = commands::channel();
        let registry = Arc::new(Registry::default());
        let auto_connect = options.auto_connect;
        let driver = Driver::new(
            Arc::clone(&endpoint),
            &options,
            rx,
            tx.downgrade(),
            Arc::clone(&registry),
        );
        tokio::spawn(driver.into_future());
        let manager = Manager {
            inner: Arc::new(Inner {
                commands: tx,
                registry,
                endpoint,
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

    /// Calls `handler` for each [`ManagerEvent`].
    pub fn on(&self, handler: impl Fn(&ManagerEvent) + Send + Sync + 'static) {
        lock(&self.inner.registry.handlers).push(Arc::new(handler));
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
