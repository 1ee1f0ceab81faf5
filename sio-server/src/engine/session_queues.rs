//! The queues between a session's task and the rest of the server, behind one lock in the
//! session's shared state: nothing is allocated while they are empty, and a session needs no
//! channel (a tokio channel allocates a block of 32 slots and a cache-padded state up front).
//!
//! - `control` (unbounded, one item per HTTP request or transport event): polling GETs,
//!   polling transport errors, a WebSocket to probe, a server-wide close;
//! - `data` (at most [`DATA_BOUND`]): packets of POST bodies; the POST waits for room;
//! - `commands` (at most `bound` items and `max_bytes` bytes of messages): messages and
//!   `close` from the application; senders wait for room;
//! - `app` (at most `bound` items; the task stops reading the client once `max_bytes` bytes
//!   wait): messages for the application ([`Connection::recv`]).
//!
//! The session's task registers its waker at each poll and is woken by every push. Senders
//! and receivers of the application wait on two [`Notify`]s.
//!
//! [`Connection::recv`]: crate::Connection::recv

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use bytes::Bytes;
use sio_protocol::Str;
use sio_protocol::engine::{ErrorCode, ProtocolVersion, TransportKind};
use tokio::sync::{Notify, oneshot};

use crate::engine::message::{DisconnectReason, Message, SendError};
use crate::engine::transport::Input;
use crate::engine::transport::ws::WsSocket;

/// The sessions of a server, by sid.
pub(crate) type Registry = Mutex<HashMap<Str, SessionHandle>>;

/// State the HTTP handlers read without asking the task.
#[derive(Debug)]
pub(crate) struct SessionShared {
    /// The session runs on WebSocket (a WebSocket handshake, or after the upgrade).
    pub(crate) on_websocket: AtomicBool,
    /// A POST is being read (a second one at the same time is an error).
    pub(crate) post_active: AtomicBool,
    /// The protocol version of the session.
    pub(crate) version: ProtocolVersion,
    /// The handshake asked for base64 binary (`b64`): like engine.io, which reads the flag
    /// when it creates the polling transport, every polling response of the session uses it.
    pub(crate) b64: bool,
    /// The JSONP callback index, for a polling session whose handshake had `j` (read once,
    /// like `b64`).
    pub(crate) jsonp: Option<String>,
    /// The queues to and from the task.
    pub(crate) queues: Queues,
}

/// From the application.
#[derive(Debug)]
pub(crate) enum Command {
    Send(Message),
    Close,
}

/// The answer to a polling GET.
#[derive(Debug)]
pub(crate) enum PollReply {
    /// 200 with this body.
    Body {
        body: Bytes,
        content_type: &'static str,
    },
    /// An Engine.IO error response.
    Error(ErrorCode),
    /// A second GET while one is pending: a bare 400.
    Overlap,
}

/// From HTTP handlers and transports, handled before anything else.
#[derive(Debug)]
pub(crate) enum Control {
    /// A polling GET; `b64` is the v3 `b64=1` flag.
    Get {
        b64: bool,
        reply: oneshot::Sender<PollReply>,
    },
    /// The polling transport failed (overlapping POSTs, a refused or aborted POST).
    PollingError,
    /// A WebSocket for an upgrade.
    WsAttach(Box<WsSocket>),
    /// The server closes every session ([`EngineIo::close_all`](crate::EngineIo::close_all)).
    Close,
}

/// What the registry keeps of a session.
#[derive(Debug, Clone)]
pub(crate) struct SessionHandle {
    pub(crate) shared: Arc<SessionShared>,
}

impl SessionHandle {
    /// The handle of a new session (its task is started by [`spawn`](crate::engine::session_task::spawn)).
    pub(crate) fn new(
        version: ProtocolVersion,
        transport: TransportKind,
        b64: bool,
        jsonp: Option<String>,
        bound: usize,
        max_bytes: usize,
    ) -> SessionHandle {
        SessionHandle {
            shared: Arc::new(SessionShared {
                on_websocket: AtomicBool::new(transport == TransportKind::WebSocket),
                post_active: AtomicBool::new(false),
                version,
                b64,
                jsonp,
                queues: Queues::new(bound, max_bytes),
            }),
        }
    }

    /// Queues a control item; gives it back when the task has ended.
    pub(crate) fn control(&self, control: Control) -> Result<(), Control> {
        self.shared.queues.control(control)
    }

    /// Queues a packet of a POST body, waiting for room; `Err` when the task has ended.
    pub(crate) async fn data(&self, input: Input) -> Result<(), ()> {
        self.shared.queues.data(input).await
    }
}

/// How many packets of POST bodies may wait for the session's task.
pub(crate) const DATA_BOUND: usize = 16;

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) control: VecDeque<Control>,
    pub(crate) data: VecDeque<Input>,
    pub(crate) commands: VecDeque<Command>,
    pub(crate) app: VecDeque<Message>,
    /// Bytes of the messages in `commands`.
    pub(crate) commands_bytes: usize,
    /// Bytes of the messages in `app`.
    pub(crate) app_bytes: usize,
    /// A sender found `commands` full: the task wakes the senders when it takes a command.
    pub(crate) room_wanted: bool,
    /// The session's task, to wake.
    driver: Option<Waker>,
    /// Set when the task ended: nothing is queued any more.
    pub(crate) closed: Option<DisconnectReason>,
    /// The application dropped its [`Connection`](crate::Connection): messages are dropped.
    pub(crate) app_gone: bool,
}

impl State {
    /// Queues a message for the application.
    pub(crate) fn push_app(&mut self, message: Message) {
        self.app_bytes += message.len();
        self.app.push_back(message);
    }

    /// The next message for the application.
    pub(crate) fn pop_app(&mut self) -> Option<Message> {
        let message = self.app.pop_front()?;
        self.app_bytes -= message.len();
        release(&mut self.app);
        Some(message)
    }

    /// The next command of the application.
    pub(crate) fn pop_command(&mut self) -> Option<Command> {
        let command = self.commands.pop_front()?;
        if let Command::Send(message) = &command {
            self.commands_bytes -= message.len();
        }
        release(&mut self.commands);
        Some(command)
    }
}

/// See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct Queues {
    state: Mutex<State>,
    bound: usize,
    max_bytes: usize,
    /// Room appeared in `data` or `commands`.
    room: Notify,
    /// A message for the application, or the end.
    ready: Notify,
}

/// Frees an empty queue's memory.
pub(crate) fn release<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}

impl Queues {
    /// Queues of at most `bound` items and `max_bytes` bytes of messages each.
    pub(crate) fn new(bound: usize, max_bytes: usize) -> Queues {
        Queues {
            state: Mutex::new(State::default()),
            bound: bound.max(1),
            max_bytes,
            room: Notify::new(),
            ready: Notify::new(),
        }
    }

    pub(crate) fn bound(&self) -> usize {
        self.bound
    }

    /// The most bytes of messages a queue holds.
    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ----- the session's task -----

    /// Registers the task's waker (called with the lock held, at each poll).
    pub(crate) fn register(state: &mut State, waker: &Waker) {
        match &state.driver {
            Some(current) if current.will_wake(waker) => {}
            _ => state.driver = Some(waker.clone()),
        }
    }

    /// The task took from a queue that was full: wake the senders.
    pub(crate) fn notify_room(&self) {
        self.room.notify_waiters();
    }

    /// A message for the application (the caller checked there is room).
    pub(crate) fn deliver(&self, message: Message) {
        {
            let mut state = self.lock();
            if state.app_gone {
                return;
            }
            state.push_app(message);
        }
        self.ready.notify_waiters();
    }

    /// Wakes every waiter of [`changed`](Self::changed) (and the application's receivers,
    /// which look again and wait on).
    pub(crate) fn notify_changed(&self) {
        self.ready.notify_waiters();
    }

    /// Waits until `done` holds, checked now and after each change of the session's state
    /// ([`notify_changed`](Self::notify_changed), the end of the session).
    pub(crate) async fn changed(&self, mut done: impl FnMut() -> bool) {
        loop {
            let ready = self.ready.notified();
            if done() || self.closed_reason().is_some() {
                return;
            }
            ready.await;
        }
    }

    /// The task ended: later pushes fail, waiters wake up.
    pub(crate) fn close(&self, reason: DisconnectReason) -> State {
        let state = {
            let mut state = self.lock();
            state.closed = Some(reason);
            State {
                control: std::mem::take(&mut state.control),
                data: std::mem::take(&mut state.data),
                commands: std::mem::take(&mut state.commands),
                closed: Some(reason),
                ..State::default()
            }
        };
        self.room.notify_waiters();
        self.ready.notify_waiters();
        state
    }

    /// Whether the task may read more from the client: the application's queue has room in
    /// items and bytes (or the application is gone and messages are dropped).
    pub(crate) fn app_has_room(&self, state: &State) -> bool {
        state.app_gone || (state.app.len() < self.bound && state.app_bytes < self.max_bytes)
    }

    fn wake_driver(state: &mut State) {
        if let Some(waker) = &state.driver {
            waker.wake_by_ref();
        }
    }

    // ----- HTTP handlers and transports -----

    /// Queues a control item; gives it back when the task has ended.
    pub(crate) fn control(&self, control: Control) -> Result<(), Control> {
        let mut state = self.lock();
        if state.closed.is_some() {
            return Err(control);
        }
        state.control.push_back(control);
        Self::wake_driver(&mut state);
        Ok(())
    }

    /// Queues a packet of a POST body, waiting for room; `Err` when the task has ended.
    pub(crate) async fn data(&self, input: Input) -> Result<(), ()> {
        let mut input = Some(input);
        loop {
            let room = self.room.notified();
            {
                let mut state = self.lock();
                if state.closed.is_some() {
                    return Err(());
                }
                if state.data.len() < DATA_BOUND {
                    if let Some(input) = input.take() {
                        state.data.push_back(input);
                    }
                    Self::wake_driver(&mut state);
                    return Ok(());
                }
            }
            room.await;
        }
    }

    // ----- the application -----

    /// Queues a message, waiting for room.
    pub(crate) async fn send(&self, message: Message) -> Result<(), SendError> {
        let mut message = message;
        loop {
            let room = self.room.notified();
            match self.try_send_all(vec![message]) {
                Err(SendError::Full(back)) => message = back,
                other => return other,
            }
            room.await;
        }
    }

    /// Queues every message back to back if there is room for all now, else none.
    pub(crate) fn try_send_all(&self, messages: Vec<Message>) -> Result<(), SendError> {
        let mut state = self.lock();
        let first = || {
            messages
                .first()
                .cloned()
                .unwrap_or(Message::Text(sio_protocol::Str::new()))
        };
        if state.closed.is_some() {
            return Err(SendError::Closed(first()));
        }
        let bytes = messages.iter().map(Message::len).sum::<usize>();
        let over_bytes = !state.commands.is_empty()
            && state.commands_bytes.saturating_add(bytes) > self.max_bytes;
        if state.commands.len() + messages.len() > self.bound || over_bytes {
            state.room_wanted = true;
            return Err(SendError::Full(first()));
        }
        state.commands_bytes += bytes;
        state
            .commands
            .extend(messages.into_iter().map(Command::Send));
        Self::wake_driver(&mut state);
        Ok(())
    }

    /// Asks the task to close the session after the messages already queued (not bounded).
    pub(crate) fn request_close(&self) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.commands.push_back(Command::Close);
            Self::wake_driver(&mut state);
        }
    }

    /// The next message for the application; `None` once the session ended and every
    /// message was read.
    pub(crate) async fn recv(&self) -> Option<Message> {
        loop {
            let ready = self.ready.notified();
            {
                let mut state = self.lock();
                let was_full = !self.app_has_room(&state);
                if let Some(message) = state.pop_app() {
                    if was_full {
                        Self::wake_driver(&mut state);
                    }
                    return Some(message);
                }
                if state.closed.is_some() {
                    return None;
                }
            }
            ready.await;
        }
    }

    /// The application dropped its receiving end.
    pub(crate) fn app_gone(&self) {
        let mut state = self.lock();
        state.app_gone = true;
        state.app = VecDeque::new();
        state.app_bytes = 0;
        Self::wake_driver(&mut state);
    }

    pub(crate) fn closed_reason(&self) -> Option<DisconnectReason> {
        self.lock().closed
    }

    /// Waits until the session ended.
    pub(crate) async fn closed(&self) -> DisconnectReason {
        loop {
            let ready = self.ready.notified();
            if let Some(reason) = self.closed_reason() {
                return reason;
            }
            ready.await;
        }
    }
}
