//! What the handles ask of the manager's task ([`Command`]), and the queue that carries it: an
//! unbounded channel with one receiver, like tokio's `mpsc::unbounded_channel`, but one that
//! holds no memory while it is empty (tokio's allocates a block of 32 slots up front, about
//! 1.5 KB for each manager).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use sio_protocol::socket::Args;
use tokio::sync::oneshot;

use crate::error::Error;
use crate::sync::lock;

/// Where the outcome of an `emit_with_ack` goes.
pub(crate) type AckReply = oneshot::Sender<Result<Args, Error>>;

/// What the handles ask of the task.
pub(crate) enum Command {
    /// `socket.connect()`.
    Connect { nsp: String },
    /// `socket.disconnect()`.
    Disconnect { nsp: String },
    /// Boxed, as the answer below: a command is small while it waits in the queue.
    Emit(Box<Emit>),
    /// Answers an ack request of the server: namespace, ack id, arguments.
    Ack(Box<(String, u64, Args)>),
    /// `manager.open()`.
    Open,
    /// `manager.disconnect()`.
    Close,
}

/// An emit of a handle.
pub(crate) struct Emit {
    pub(crate) nsp: String,
    pub(crate) event: String,
    pub(crate) args: Args,
    /// The caller's ack, with its timeout (`socket.timeout(ms)`).
    pub(crate) ack: Option<(AckReply, Option<Duration>)>,
    /// Dropped when the transport is not writable (`socket.volatile`).
    pub(crate) volatile: bool,
}

struct State {
    queue: VecDeque<Command>,
    /// Live [`CommandSender`]s; the receiver sees the end when it reaches 0.
    senders: usize,
    /// False once the [`CommandReceiver`] is dropped: sends fail.
    receiving: bool,
}

struct Chan {
    state: Mutex<State>,
    waker: AtomicWaker,
}

/// Sends commands to the manager's task. Cloning adds a sender; the queue ends when the last
/// one is dropped.
pub(crate) struct CommandSender {
    chan: Arc<Chan>,
}

/// A sender that does not keep the queue open ([`upgrade`](Self::upgrade) it to send).
pub(crate) struct WeakCommandSender {
    chan: Arc<Chan>,
}

/// The manager task's end of the queue.
pub(crate) struct CommandReceiver {
    chan: Arc<Chan>,
}

/// A queue: one sender, one receiver.
pub(crate) fn channel() -> (CommandSender, CommandReceiver) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiving: true,
        }),
        waker: AtomicWaker::new(),
    });
    (
        CommandSender {
            chan: Arc::clone(&chan),
        },
        CommandReceiver { chan },
    )
}

impl CommandSender {
    /// Queues a command; false when the manager's task is gone.
    pub(crate) fn send(&self, command: Command) -> bool {
        {
            let mut state = lock(&self.chan.state);
            if !state.receiving {
                return false;
            }
            state.queue.push_back(command);
        }
        self.chan.waker.wake();
        true
    }

    pub(crate) fn downgrade(&self) -> WeakCommandSender {
        WeakCommandSender {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl Clone for CommandSender {
    fn clone(&self) -> Self {
        lock(&self.chan.state).senders += 1;
        CommandSender {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl Drop for CommandSender {
    fn drop(&mut self) {
        let last = {
            let mut state = lock(&self.chan.state);
            state.senders -= 1;
            state.senders == 0
        };
        if last {
            self.chan.waker.wake();
        }
    }
}

impl WeakCommandSender {
    /// A sender, unless every sender is already gone.
    pub(crate) fn upgrade(&self) -> Option<CommandSender> {
        let mut state = lock(&self.chan.state);
        if state.senders == 0 {
            return None;
        }
        state.senders += 1;
        Some(CommandSender {
            chan: Arc::clone(&self.chan),
        })
    }
}

impl CommandReceiver {
    /// The next command; `None` once every sender is gone and the queue is empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Command>> {
        if let Some(ready) = self.try_recv() {
            return Poll::Ready(ready);
        }
        // Registered before the second look, so a send in between is not missed.
        self.chan.waker.register(cx.waker());
        match self.try_recv() {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    /// `Some(Some(command))`, `Some(None)` at the end, `None` when empty for now.
    fn try_recv(&mut self) -> Option<Option<Command>> {
        let mut state = lock(&self.chan.state);
        match state.queue.pop_front() {
            Some(command) => {
                if state.queue.is_empty() && state.queue.capacity() > 0 {
                    // An idle manager keeps no queue memory.
                    state.queue = VecDeque::new();
                }
                Some(Some(command))
            }
            None if state.senders == 0 => Some(None),
            None => None,
        }
    }
}

impl Drop for CommandReceiver {
    fn drop(&mut self) {
        let queued = {
            let mut state = lock(&self.chan.state);
            state.receiving = false;
            std::mem::take(&mut state.queue)
        };
        // Dropped outside the lock: a command may hold a sender.
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    fn open() -> Command {
        Command::Open
    }

    #[tokio::test]
    async fn order_end_and_weak_senders() {
        let (tx, mut rx) = channel();
        let weak = tx.downgrade();
        let tx2 = weak.upgrade().expect("a sender is alive");
        assert!(tx.send(open()));
        assert!(tx2.send(Command::Close));
        assert!(matches!(
            poll_fn(|cx| rx.poll_recv(cx)).await,
            Some(Command::Open)
        ));
        assert!(matches!(
            poll_fn(|cx| rx.poll_recv(cx)).await,
            Some(Command::Close)
        ));
        drop(tx);
        // Still one sender: nothing yet, and not the end.
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        drop(tx2);
        assert!(weak.upgrade().is_none());
        assert!(poll_fn(|cx| rx.poll_recv(cx)).await.is_none());
    }

    #[tokio::test]
    async fn wakes_the_receiver_and_fails_after_it_is_gone() {
        let (tx, mut rx) = channel();
        let receiver = tokio::spawn(async move {
            let first = poll_fn(|cx| rx.poll_recv(cx)).await;
            (matches!(first, Some(Command::Open)), rx)
        });
        tokio::task::yield_now().await;
        assert!(tx.send(open()));
        let (got, rx) = receiver.await.expect("receiver task");
        assert!(got);
        drop(rx);
        assert!(!tx.send(open()));
    }
}
