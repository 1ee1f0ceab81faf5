//! What the handles and the manager's task share: each socket's [`Shared`] state (its handlers,
//! its auth, the [`View`] the task keeps up to date), and the manager's [`Registry`] of sockets
//! and handlers.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use sio_protocol::Value;
use sio_protocol::socket::Args;
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{DisconnectReason, Error};
use crate::events::{ManagerEvent, SocketEvent};
use crate::message::Message;
use crate::sync::lock;

/// The future of an async handler, boxed.
pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What a call of a handler gives back: nothing more to run (`None`: it ran), the future of
/// an async handler, or why the handler was not called.
pub(crate) type HandlerResult = Result<Option<HandlerFuture>, Error>;

/// A handler of `Socket::on` or `Socket::once`, its shape erased (it makes the `Socket` it
/// hands the user's closure).
pub(crate) type BoxedHandler = Arc<dyn Fn(Message) -> HandlerResult + Send + Sync>;

pub(crate) type AnyHandler = Arc<dyn Fn(Message) + Send + Sync>;
pub(crate) type ConnectHandler = Arc<dyn Fn() + Send + Sync>;
pub(crate) type DisconnectHandler = Arc<dyn Fn(DisconnectReason) + Send + Sync>;
pub(crate) type ErrorHandler = Arc<dyn Fn(Error) + Send + Sync>;
pub(crate) type AuthFn = Arc<dyn Fn() -> Value + Send + Sync>;
pub(crate) type OutgoingHandler = Arc<dyn Fn(&str, &Args) + Send + Sync>;
pub(crate) type ManagerHandler = Arc<dyn Fn(&ManagerEvent) + Send + Sync>;

/// A handler of one event name.
pub(crate) struct Listener {
    pub(crate) handler: BoxedHandler,
    /// Registered with `Socket::once`: removed when it is called.
    pub(crate) once: bool,
    /// What `Socket::off_handler` removes it by.
    pub(crate) id: u64,
}

/// The handlers of a socket. The driver clones the ones it calls out of the lock.
#[derive(Default)]
pub(crate) struct Handlers {
    pub(crate) events: HashMap<String, Vec<Listener>>,
    /// The other handlers and the `Events` streams, in one list in the order they were added
    /// (a socket has few, of few kinds: one list, sized to them, instead of one per kind).
    hooks: Vec<Hook>,
}

/// The hooks of one kind of `$handlers` (a [`Handlers`]), cloned in order:
/// `hooks!(handlers, Hook::Connect)`.
macro_rules! hooks {
    ($handlers:expr, $kind:path) => {
        $handlers.hooks(|hook| match hook {
            $kind(handler) => Some(handler.clone()),
            _ => None,
        })
    };
}
pub(crate) use hooks;

/// A handler that is not an event's, or a live `Events` stream.
pub(crate) enum Hook {
    /// `Socket::on_any`, `Socket::prepend_any`.
    Any(AnyHandler),
    /// `Socket::on_any_outgoing`, `Socket::prepend_any_outgoing`.
    AnyOutgoing(OutgoingHandler),
    Connect(ConnectHandler),
    Disconnect(DisconnectHandler),
    ConnectError(ErrorHandler),
    /// `Socket::on_error`: a handler could not be called (arguments that do not match).
    Error(ErrorHandler),
    Stream(UnboundedSender<SocketEvent>),
}

impl Handlers {
    /// Adds `hook` after the others (or, `first`, before them).
    pub(crate) fn add(&mut self, hook: Hook, first: bool) {
        self.hooks.reserve_exact(1);
        if first {
            self.hooks.insert(0, hook);
        } else {
            self.hooks.push(hook);
        }
    }

    /// The hooks `pick` takes, in order (cloned, to be called out of the lock).
    pub(crate) fn hooks<T>(&self, pick: impl FnMut(&Hook) -> Option<T>) -> Vec<T> {
        self.hooks.iter().filter_map(pick).collect()
    }

    /// Removes the hooks `remove` says.
    pub(crate) fn remove(&mut self, mut remove: impl FnMut(&Hook) -> bool) {
        self.hooks.retain(|hook| !remove(hook));
    }
}

/// What a socket shares between its handles and the manager's task.
pub(crate) struct Shared {
    pub(crate) nsp: String,
    pub(crate) state: Mutex<View>,
    pub(crate) handlers: Mutex<Handlers>,
    pub(crate) auth: Mutex<Option<AuthFn>>,
}

/// The readable state of a socket (written only by the manager's task, from its session).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) id: Option<String>,
    pub(crate) connected: bool,
    pub(crate) active: bool,
    /// The last connection restored the previous session (connection state recovery).
    pub(crate) recovered: bool,
}

impl Shared {
    pub(crate) fn new(nsp: String) -> Shared {
        Shared {
            nsp,
            state: Mutex::new(View::default()),
            handlers: Mutex::new(Handlers::default()),
            auth: Mutex::new(None),
        }
    }

    /// Hands `event` to every live `Events` stream of the socket; forgets the dropped ones.
    pub(crate) fn publish(&self, event: SocketEvent) {
        let mut handlers = lock(&self.handlers);
        handlers.remove(|hook| match hook {
            Hook::Stream(tx) => tx.send(event.clone()).is_err(),
            _ => false,
        });
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("nsp", &self.nsp)
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

/// A manager's sockets and handlers, shared by its handles and its task (which finds a
/// socket's handlers here by namespace).
#[derive(Default)]
pub(crate) struct Registry {
    /// By namespace (a list: there are few, and a map's table holds 3 before it holds 1).
    pub(crate) sockets: Mutex<Vec<Arc<Shared>>>,
    pub(crate) handlers: Mutex<Vec<ManagerHandler>>,
}

impl Registry {
    /// The socket of namespace `nsp`, if a handle made it.
    pub(crate) fn socket(&self, nsp: &str) -> Option<Arc<Shared>> {
        lock(&self.sockets).iter().find(|s| s.nsp == nsp).cloned()
    }
}
