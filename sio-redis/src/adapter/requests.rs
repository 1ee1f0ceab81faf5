//! The requests of this server waiting for the other servers: `fetch_sockets` /
//! `all_rooms` collections, and the sinks of broadcast acknowledgements and server-side
//! answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sio_protocol::Str;
use sio_protocol::Value;
use sio_protocol::socket::Args;
use sio_server::Error as AdapterError;
use sio_server::{RemoteSocketData, ReplyEvent, ReplySink};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::wire::first_value;

/// What a server sends back for a broadcast with acknowledgements (its client count, then
/// each acknowledgement) or for a server-side event (the handler's answer).
pub(super) enum Answer {
    ClientCount(u64),
    Ack(Option<Value>),
}

/// The sink, given to the local namespace, that hands what it collects for another server's
/// request to `send`.
pub(super) fn answer_sink(send: impl Fn(Answer) + Send + Sync + 'static) -> ReplySink {
    ReplySink::from_fn(move |event| match event {
        ReplyEvent::ClientCount(n) => send(Answer::ClientCount(n as u64)),
        ReplyEvent::Reply(args) => send(Answer::Ack(first_value(&args))),
        _ => {}
    })
}

/// What a pending request collects.
pub(super) enum Pending {
    /// `fetch_sockets` / `all_rooms`: answers until `expected` came.
    Collect(Collect),
    /// Broadcast acknowledgements (`broadcast`) or server-side answers: to the caller's sink.
    Sink { broadcast: bool, sink: ReplySink },
}

#[derive(Default)]
pub(super) struct Collect {
    pub(super) expected: usize,
    pub(super) received: usize,
    pub(super) sockets: Vec<RemoteSocketData>,
    pub(super) rooms: Vec<Str>,
    pub(super) is_rooms: bool,
    pub(super) done: Option<oneshot::Sender<()>>,
}

/// The requests of one namespace adapter.
#[derive(Default)]
pub(super) struct Requests {
    pub(super) map: Mutex<HashMap<Str, Pending>>,
}

impl Requests {
    pub(super) fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Str, Pending>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts collecting `expected` answers to request `id`.
    pub(super) fn collect(
        self: &Arc<Self>,
        id: Str,
        expected: usize,
        is_rooms: bool,
    ) -> CollectGuard {
        let (tx, rx) = oneshot::channel();
        self.map().insert(
            id.clone(),
            Pending::Collect(Collect {
                expected,
                is_rooms,
                done: Some(tx),
                ..Collect::default()
            }),
        );
        CollectGuard {
            requests: self.clone(),
            id,
            done: Some(rx),
        }
    }

    /// Keeps `sink` for the answers to request `id` until the caller stops waiting.
    pub(super) fn keep_sink(
        self: &Arc<Self>,
        runtime: &Handle,
        id: Str,
        sink: ReplySink,
        broadcast: bool,
    ) {
        self.map().insert(
            id.clone(),
            Pending::Sink {
                broadcast,
                sink: sink.clone(),
            },
        );
        let requests = Arc::downgrade(self);
        runtime.spawn(async move {
            sink.closed().await;
            if let Some(requests) = requests.upgrade() {
                requests.map().remove(&id);
            }
        });
    }

    pub(super) fn forget(&self, id: &str) {
        self.map().remove(id);
    }

    /// Runs `publish`, the request `id` whose answers go to `sink` (if any): the sink is kept
    /// before it is published, and forgotten if publishing fails.
    pub(super) async fn publish_with(
        self: &Arc<Self>,
        runtime: &Handle,
        sink: Option<(Str, ReplySink)>,
        broadcast: bool,
        publish: impl Future<Output = Result<(), AdapterError>>,
    ) -> Result<(), AdapterError> {
        let Some((id, sink)) = sink else {
            return publish.await;
        };
        self.keep_sink(runtime, id.clone(), sink, broadcast);
        let result = publish.await;
        if result.is_err() {
            self.forget(&id);
        }
        result
    }

    /// Another server's answer to request `id`, to its sink.
    pub(super) fn deliver(&self, id: &str, answer: Answer) {
        let Some((sink, _)) = self.sink(id) else {
            return;
        };
        match answer {
            Answer::ClientCount(n) => sink.client_count(usize::try_from(n).unwrap_or(usize::MAX)),
            Answer::Ack(data) => sink.reply(Args::from_values(vec![data.unwrap_or(Value::Null)])),
        }
    }

    /// The sink of request `id` (and whether it is a broadcast's).
    pub(super) fn sink(&self, id: &str) -> Option<(ReplySink, bool)> {
        match self.map().get(id) {
            Some(Pending::Sink { broadcast, sink }) => Some((sink.clone(), *broadcast)),
            _ => None,
        }
    }

    /// Whether request `id` is pending, and what it collects: `Some(true)` for rooms,
    /// `Some(false)` for sockets, `None` for a sink or nothing.
    pub(super) fn collecting(&self, id: &str) -> Option<bool> {
        match self.map().get(id) {
            Some(Pending::Collect(c)) => Some(c.is_rooms),
            _ => None,
        }
    }

    pub(super) fn is_pending(&self, id: &str) -> bool {
        self.map().contains_key(id)
    }

    /// One server's answer to a `fetch_sockets` / `all_rooms` request.
    pub(super) fn answer(&self, id: &str, sockets: Vec<RemoteSocketData>, rooms: Vec<Str>) {
        let mut map = self.map();
        let Some(Pending::Collect(c)) = map.get_mut(id) else {
            return;
        };
        c.received += 1;
        c.sockets.extend(sockets);
        for room in rooms {
            if !c.rooms.contains(&room) {
                c.rooms.push(room);
            }
        }
        if c.received >= c.expected {
            if let Some(done) = c.done.take() {
                let _ = done.send(());
            }
        }
    }
}

/// A `fetch_sockets` / `all_rooms` in progress: removes its entry when dropped (the caller
/// gave up).
pub(super) struct CollectGuard {
    pub(super) requests: Arc<Requests>,
    pub(super) id: Str,
    pub(super) done: Option<oneshot::Receiver<()>>,
}

/// How a collection ended.
pub(super) struct Collected {
    pub(super) complete: bool,
    pub(super) received: usize,
    pub(super) expected: usize,
    pub(super) sockets: Vec<RemoteSocketData>,
    pub(super) rooms: Vec<Str>,
}

impl CollectGuard {
    /// Waits for every answer, at most `timeout`.
    pub(super) async fn wait(mut self, timeout: Duration) -> Collected {
        let done = self.done.take();
        let complete = match done {
            Some(rx) => matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(()))),
            None => false,
        };
        let entry = self.requests.map().remove(&self.id);
        match entry {
            Some(Pending::Collect(c)) => Collected {
                complete,
                received: c.received,
                expected: c.expected,
                sockets: c.sockets,
                rooms: c.rooms,
            },
            _ => Collected {
                complete,
                received: 0,
                expected: 0,
                sockets: Vec::new(),
                rooms: Vec::new(),
            },
        }
    }
}

impl Drop for CollectGuard {
    fn drop(&mut self) {
        self.requests.forget(&self.id);
    }
}
