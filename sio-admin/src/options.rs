//! [`InstrumentOptions`], [`Auth`] and [`Mode`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::Error;

/// How the admin namespace authenticates the Admin UI (`auth` of `instrument()`).
///
/// JavaScript requires the option to be given, `false` included, so that nobody disables it by
/// forgetting it: [`InstrumentOptions::new`] takes it for the same reason.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No authentication (`auth: false`): anyone who reaches the server can watch it and,
    /// unless [`read_only`](InstrumentOptions::read_only), act on its sockets.
    None,
    /// `{type: "basic", username, password}`: the UI's login form sends a username and a
    /// password, checked against a bcrypt hash (`$2a$`, `$2b$`, `$2y$`, as `bcryptjs` makes
    /// them). A successful login gets a session id (event `session`) that the UI sends back
    /// instead of the password when it reconnects.
    Basic {
        /// The expected username.
        username: String,
        /// The bcrypt hash of the password.
        password_hash: String,
    },
}

impl Auth {
    /// Basic authentication with `username` and the bcrypt hash of the password (for example
    /// from `require("bcryptjs").hashSync("password", 10)`, or `bcrypt::hash`). Fails, as
    /// `instrument()` does, when `password_hash` is not a bcrypt hash.
    ///
    /// ```
    /// use sio_admin::Auth;
    ///
    /// // bcryptjs.hashSync("changeit", 4) (a real deployment uses a cost of 10 or more).
    /// let hash = "$2a$04$5vCrdvPCrZ6U0y2pI1DP6OHHph54j0yhkY5je8ytacVNUEOU36k1C";
    /// assert!(Auth::basic("admin", hash).is_ok());
    /// assert!(Auth::basic("admin", "changeit").is_err());
    /// ```
    pub fn basic(
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Result<Auth, Error> {
        let password_hash = password_hash.into();
        bcrypt::HashParts::from_str(&password_hash).map_err(Error::invalid_password_hash)?;
        Ok(Auth::Basic {
            username: username.into(),
            password_hash,
        })
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            // The hash stays out of logs.
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// What the admin namespace sends (`mode` of `instrument()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Everything: the list of sockets with their handshake, rooms and data, and each
    /// connection, disconnection, room change and event as it happens (feature
    /// `ALL_EVENTS`). Costs a hook on every event of every socket.
    #[default]
    Development,
    /// Only the servers' periodic statistics and aggregates (feature `AGGREGATED_EVENTS`):
    /// socket counts per namespace, connections and disconnections per second.
    Production,
}

impl Mode {
    /// `"development"` or `"production"`, as JavaScript spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Development => "development",
            Mode::Production => "production",
        }
    }
}

impl FromStr for Mode {
    type Err = Error;

    /// `"development"` or `"production"`.
    fn from_str(s: &str) -> Result<Mode, Error> {
        match s {
            "development" => Ok(Mode::Development),
            "production" => Ok(Mode::Production),
            other => Err(Error::invalid_mode(other)),
        }
    }
}

/// The options of [`instrument`](crate::instrument), named as in `@socket.io/admin-ui`.
///
/// ```
/// use std::time::Duration;
/// use sio_admin::{Auth, InstrumentOptions, Mode};
///
/// let options = InstrumentOptions::new(Auth::None)
///     .namespace_name("/admin")
///     .read_only(true)
///     .server_id("eu-1")
///     .mode(Mode::Production)
///     .stats_interval(Duration::from_secs(5));
/// assert_eq!(options.get_namespace_name(), "/admin");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InstrumentOptions {
    pub(crate) auth: Auth,
    pub(crate) namespace_name: String,
    pub(crate) read_only: bool,
    pub(crate) server_id: Option<String>,
    pub(crate) mode: Mode,
    pub(crate) stats_interval: Duration,
}

impl InstrumentOptions {
    /// The defaults of JavaScript with this `auth`: namespace `/admin`, not read-only, the
    /// host name as server id, [`Mode::Development`], statistics every 2 seconds.
    pub fn new(auth: Auth) -> InstrumentOptions {
        InstrumentOptions {
            auth,
            namespace_name: "/admin".to_owned(),
            read_only: false,
            server_id: None,
            mode: Mode::Development,
            stats_interval: Duration::from_secs(2),
        }
    }

    /// The options an environment gives, for examples and demos (an application would
    /// rather read its own configuration):
    ///
    /// - `SIO_ADMIN_PASSWORD` (hashed here with bcrypt, cost 10) or `SIO_ADMIN_PASSWORD_HASH`
    ///   (a bcrypt hash, as JavaScript takes it): basic authentication, with the username
    ///   `SIO_ADMIN_USER` (default `admin`); without either, [`Auth::None`];
    /// - `SIO_ADMIN_MODE`: `development` (default) or `production`;
    /// - `SIO_ADMIN_READONLY`: `1` or `true` for [`read_only`](Self::read_only).
    ///
    /// Empty variables count as unset. Fails for an invalid hash or mode.
    ///
    /// ```
    /// use sio_admin::InstrumentOptions;
    ///
    /// // With none of the variables set: no authentication, development mode.
    /// let options = InstrumentOptions::from_env().unwrap();
    /// assert!(!options.has_auth());
    /// ```
    pub fn from_env() -> Result<InstrumentOptions, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let user = var("SIO_ADMIN_USER").unwrap_or_else(|| "admin".to_owned());
        let auth = match (var("SIO_ADMIN_PASSWORD_HASH"), var("SIO_ADMIN_PASSWORD")) {
            (Some(hash), _) => Auth::basic(user, hash)?,
            (None, Some(password)) => {
                let hash = bcrypt::hash(password, 10).map_err(Error::invalid_password_hash)?;
                Auth::basic(user, hash)?
            }
            (None, None) => Auth::None,
        };
        let mode = match var("SIO_ADMIN_MODE") {
            Some(mode) => mode.parse()?,
            None => Mode::Development,
        };
        let read_only = var("SIO_ADMIN_READONLY").is_some_and(|v| v == "1" || v == "true");
        Ok(InstrumentOptions::new(auth).mode(mode).read_only(read_only))
    }

    /// Whether the options ask for authentication.
    pub fn has_auth(&self) -> bool {
        !matches!(self.auth, Auth::None)
    }

    /// The mode.
    pub fn get_mode(&self) -> Mode {
        self.mode
    }

    /// Whether the UI may only watch.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The admin namespace (`namespaceName`, default `/admin`; a missing leading `/` is
    /// added).
    pub fn namespace_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.namespace_name = if name.starts_with('/') {
            name
        } else {
            format!("/{name}")
        };
        self
    }

    /// The admin namespace's name.
    pub fn get_namespace_name(&self) -> &str {
        &self.namespace_name
    }

    /// Whether the UI may only watch (`readonly`, default `false`): the server then announces
    /// no action (`EMIT`, `JOIN`, `LEAVE`, `DISCONNECT`...) and ignores the UI's requests.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The server's id in the UI (`serverId`, default: the host name). Give each server of a
    /// cluster its own.
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// Details or aggregates only (`mode`, default [`Mode::Development`]; JavaScript's default
    /// is `NODE_ENV`).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// How often the server sends its statistics (`server_stats`; JavaScript: every 2
    /// seconds). In development mode, changes of a socket's transport and `data` are noticed
    /// at the same pace.
    pub fn stats_interval(mut self, interval: Duration) -> Self {
        self.stats_interval = interval.max(Duration::from_millis(10));
        self
    }
}
