//! Tracing: the spans of an Engine.IO session and a Socket.IO socket carry their ids and the
//! client's address, and events have the levels operators filter on (a refused handshake at
//! INFO, a packet dropped under back-pressure at WARN).

use sio_test_support::io as io_support;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use io_support::{Peer, Polling, server, until};
use sio_server::SocketIoConfig;

/// Every event, as `LEVEL message fields | span{fields} < parent span{fields}...`.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn matching(&self, parts: &[&str]) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|line| parts.iter().all(|part| line.contains(part)))
            .cloned()
            .collect()
    }
}

/// A subscriber that keeps each span's fields and the spans entered on each thread.
#[derive(Default)]
struct Recorder {
    lines: Lines,
    next: AtomicU64,
    spans: Mutex<HashMap<u64, String>>,
}

thread_local! {
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields(format!("{}{{", span.metadata().name()));
        span.record(&mut fields);
        fields.0.push('}');
        self.spans.lock().unwrap().insert(id, fields.0);
        tracing::span::Id::from_u64(id)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        let spans = self.spans.lock().unwrap();
        ENTERED.with(|entered| {
            fields.0.push_str(" |");
            for id in entered.borrow().iter().rev() {
                if let Some(span) = spans.get(id) {
                    fields.0.push(' ');
                    fields.0.push_str(span);
                }
            }
        });
        self.lines.0.lock().unwrap().push(fields.0);
    }

    fn enter(&self, span: &tracing::span::Id) {
        ENTERED.with(|entered| entered.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &tracing::span::Id) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(i) = entered.iter().rposition(|id| *id == span.into_u64()) {
                entered.remove(i);
            }
        });
    }
}

fn lines() -> Lines {
    static LINES: OnceLock<Lines> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let recorder = Recorder::default();
            let lines = recorder.lines.clone();
            tracing::subscriber::set_global_default(recorder).expect("the only subscriber");
            lines
        })
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_carry_the_ids_and_events_have_their_levels() {
    let lines = lines();
    let engine = sio_server::EngineConfig::default()
        .path("/socket.io/")
        .max_buffered_packets(4);
    let s = server(SocketIoConfig::default().engine(engine), |io| {
        io.of("/").on_connection(|socket| async move {
            socket.on("hello", |_, (): (), _| async move {
                tracing::info!("handler ran");
            });
        });
    })
    .await;

    // A handler's event runs in its socket's span: socket id, namespace, Engine.IO sid, the
    // client's address.
    let (mut peer, id) = Peer::join(s.addr, "/").await;
    peer.send(r#"2["hello"]"#).await;
    until(|| !lines.matching(&["handler ran"]).is_empty()).await;
    let line = &lines.matching(&["handler ran"])[0];
    assert!(line.starts_with("INFO"), "{line}");
    let socket_span = format!("socket.io{{ socket={id} nsp=/ sid={}", peer.sid);
    assert!(line.contains(&socket_span), "{line}");
    assert!(line.contains("address=Some(127.0.0.1:"), "{line}");

    // The session's own events run in its span.
    let closed = format!("engine.io{{ sid={}", peer.sid);
    peer.close().await;
    until(|| !lines.matching(&["session closed", &closed]).is_empty()).await;

    // A refused handshake: INFO, with its reason.
    let req = http::Request::builder()
        .uri("/socket.io/?EIO=9&transport=polling")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert_eq!(s.io.engine().handle(req, None).await.status(), 400);
    let refused = lines.matching(&["handshake refused", "reason=unsupported_version"]);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].starts_with("INFO"), "{refused:?}");

    // A packet dropped because its client does not read: WARN.
    let idle = Polling::open(&s.io).await;
    idle.join("/", None).await;
    let ns = s.io.of("/");
    for i in 0..20 {
        ns.emit("tick", &i).await.unwrap();
    }
    let dropped = lines.matching(&["send queue full: packet dropped", &idle.sid]);
    assert!(!dropped.is_empty());
    assert!(dropped.iter().all(|l| l.starts_with("WARN")), "{dropped:?}");
}
