//! [`Error`], the crate's one error type, and its [`ErrorKind`].

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// A boxed cause, as [`Error`] keeps it.
type BoxError = Box<dyn StdError + Send + Sync>;

/// Why [`instrument`](crate::instrument), [`Auth::basic`](crate::Auth::basic),
/// [`InstrumentOptions::from_env`](crate::InstrumentOptions::from_env), parsing a
/// [`Mode`](crate::Mode) or reading the [`AdminUi`](crate::AdminUi) failed: the error of
/// every fallible call of this crate.
///
/// It is opaque, in the shape of hyper's and reqwest's errors (and of `sio_server::Error`):
/// [`kind`](Self::kind) (or an `is_*` method) tells what failed, [`Display`](fmt::Display)
/// says it as `@socket.io/admin-ui` does where it has a message (`"the `password` field must be
/// a valid bcrypt hash"`) and never repeats the text of its cause, which
/// [`source`](StdError::source) returns (the `bcrypt` error, Tokio's error for a missing
/// runtime, the `std::io::Error` of reading the Admin UI's files):
///
/// ```
/// use std::error::Error as _;
///
/// let error = sio_admin::Auth::basic("admin", "changeit").unwrap_err();
/// assert!(error.is_invalid_password_hash());
/// assert_eq!(error.to_string(), "the `password` field must be a valid bcrypt hash");
/// assert!(error.source().is_some()); // what bcrypt found wrong with it
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    source: Option<BoxError>,
}

/// What an [`Error`] is about ([`Error::kind`]). More kinds may come: match with a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The password of [`Auth::Basic`](crate::Auth::Basic) is not a bcrypt hash (or, in
    /// [`InstrumentOptions::from_env`](crate::InstrumentOptions::from_env), could not be
    /// hashed); the cause is the `bcrypt` error.
    InvalidPasswordHash,
    /// A mode other than `development` and `production`; the message names it.
    InvalidMode,
    /// [`instrument`](crate::instrument) was called outside a Tokio runtime (it starts
    /// tasks); the cause is Tokio's error.
    NoRuntime,
    /// The Admin UI's page could not be read ([`AdminUi`](crate::AdminUi)'s constructors):
    /// the message names the folder, the cause is the `std::io::Error` (or, from
    /// `from_node_modules` and `from_env_or_node_modules`, the error of `from_dir`).
    UiFiles,
}

impl Error {
    fn build(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        source: Option<BoxError>,
    ) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source,
            }),
        }
    }

    pub(crate) fn invalid_password_hash(source: bcrypt::BcryptError) -> Self {
        Error::build(
            ErrorKind::InvalidPasswordHash,
            "the `password` field must be a valid bcrypt hash",
            Some(Box::new(source)),
        )
    }

    pub(crate) fn invalid_mode(mode: &str) -> Self {
        Error::build(
            ErrorKind::InvalidMode,
            format!("invalid mode {mode:?}: expected \"development\" or \"production\""),
            None,
        )
    }

    pub(crate) fn no_runtime(source: tokio::runtime::TryCurrentError) -> Self {
        Error::build(
            ErrorKind::NoRuntime,
            "instrument() needs a Tokio runtime",
            Some(Box::new(source)),
        )
    }

    pub(crate) fn ui_files(message: String, source: impl Into<BoxError>) -> Self {
        Error::build(ErrorKind::UiFiles, message, Some(source.into()))
    }

    /// What the error is about.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether a password hash was refused ([`ErrorKind::InvalidPasswordHash`]).
    pub fn is_invalid_password_hash(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidPasswordHash
    }

    /// Whether a mode was refused ([`ErrorKind::InvalidMode`]).
    pub fn is_invalid_mode(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidMode
    }

    /// Whether there was no Tokio runtime ([`ErrorKind::NoRuntime`]).
    pub fn is_no_runtime(&self) -> bool {
        self.inner.kind == ErrorKind::NoRuntime
    }

    /// Whether the Admin UI's page could not be read ([`ErrorKind::UiFiles`]).
    pub fn is_ui_files(&self) -> bool {
        self.inner.kind == ErrorKind::UiFiles
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("sio_admin::Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Auth, InstrumentOptions, Mode, instrument};
    use sio_server::{SocketIo, SocketIoConfig};

    #[test]
    fn kinds_and_sources() {
        let e = Auth::basic("admin", "changeit").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidPasswordHash);
        assert!(e.is_invalid_password_hash() && !e.is_invalid_mode() && !e.is_no_runtime());
        assert_eq!(
            e.to_string(),
            "the `password` field must be a valid bcrypt hash"
        );
        let cause = e.source().expect("the bcrypt error");
        assert!(cause.downcast_ref::<bcrypt::BcryptError>().is_some());

        let e = "staging".parse::<Mode>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidMode);
        assert!(e.is_invalid_mode());
        assert_eq!(
            e.to_string(),
            "invalid mode \"staging\": expected \"development\" or \"production\""
        );
        assert!(e.source().is_none());

        // No runtime here: this test is not async.
        let io = SocketIo::new(SocketIoConfig::default());
        let e = instrument(&io, InstrumentOptions::new(Auth::None)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoRuntime);
        assert!(e.is_no_runtime());
        assert_eq!(e.to_string(), "instrument() needs a Tokio runtime");
        let cause = e.source().expect("tokio's error");
        assert!(
            cause
                .downcast_ref::<tokio::runtime::TryCurrentError>()
                .is_some()
        );
    }
}
