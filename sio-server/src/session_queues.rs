//! The queues between a session's task and the rest of the server, behind one lock in the
//! session's shared state: nothing is allocated while they are empty, and a session needs no
//! channel (a tokio channel allocates a block of 32 slots and a cache-padded state up front).
//!
//! - `control` (unbounded, one item per HTTP request or transport event): polling GETs,
//!   polling transport errors, a WebSocket to probe, a server-wide close;
//! - `data` (at most [`DATA_BOUND`]): packets of POST bodies; the POST waits for room;
//! - `commands` (at most `bound`): messages and `close` from the application; senders wait
//!   for room;
//! - `app` (at most `bound`): messages for the application ([`Connection::recv`]).
//!
//! The session's task registers its waker at each poll and is woken by every push. Senders
//! and receivers of the application wait on two [`Notify`]s.
//!
//! [`Connection::recv`]: crate::Connection::recv

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use tokio::sync::Notify;

use crate::connection::{DisconnectReason, Message, SendError};
use crate::session_task::{Command, Control, Input};

/// How many packets of POST bodies may wait for the session's task.
pub(crate) const DATA_BOUND: usize = 16;

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) control: VecDeque<Control>,
    pub(crate) data: VecDeque<Input>,
    pub(crate) commands: VecDeque<Command>,
    pub(crate) app: VecDeque<Message>,
    /// The session's task, to wake.
    driver: Option<Waker>,
    /// Set when the task ended: nothing is queued any more.
    pub(crate) closed: Option<DisconnectReason>,
    /// The application dropped its [`Connection`](crate::Connection): messages are dropped.
    pub(crate) app_gone: bool,
}

/// See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct Queues {
    state: Mutex<State>,
    bound: usize,
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
    pub(crate) fn new(bound: usize) -> Queues {
        Queues {
            state: Mutex::new(State::default()),
            bound: bound.max(1),
            room: Notify::new(),
            ready: Notify::new(),
        }
    }

    pub(crate) fn bound(&self) -> usize {
        self.bound
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
            state.app.push_back(message);
        }
        self.ready.notify_waiters();
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
        if state.commands.len() + messages.len() > self.bound {
            return Err(SendError::Full(first()));
        }
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
                let was_full = state.app.len() >= self.bound;
                if let Some(message) = state.app.pop_front() {
                    release(&mut state.app);
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
