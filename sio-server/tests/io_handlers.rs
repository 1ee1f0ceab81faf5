//! Event handlers of a socket (with and without ack, several per event, `off`), the
//! arguments that do not match a handler's type (reported to `on_error` and logged), and the
//! kinds and causes of `sio_server::Error`. In paused time, through `EngineIo::handle`.

use sio_test_support::io as io_support;

use std::error::Error as _;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_support::{Logs, Polling, until};
use sio_server::protocol::Value;
use sio_server::{
    Ack, Adapter, AdapterFactory, BoxFuture, BroadcastOptions, BroadcastPacket, Error, ErrorKind,
    LocalNamespace, ReplySink, Socket, SocketIo, SocketIoConfig,
};

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// A started server whose `/` sockets get `setup`.
fn server(setup: impl Fn(&Socket) + Send + Sync + 'static) -> SocketIo {
    let io = SocketIo::new(SocketIoConfig::default());
    let setup = Arc::new(setup);
    io.of("/").on_connection(move |socket| {
        let setup = setup.clone();
        async move { setup(&socket) }
    });
    io.start();
    io
}

#[tokio::test(start_paused = true)]
async fn handlers_with_and_without_ack() {
    let log = Log::default();
    let l = log.clone();
    let io = server(move |socket| {
        let l = l.clone();
        socket.on("note", move |_socket: Socket, (text,): (String,)| {
            let l = l.clone();
            async move { push(&l, format!("note {text}")) }
        });
        socket.on(
            "add",
            |_socket: Socket, (a, b): (i64, i64), ack: Ack| async move {
                assert!(ack.is_requested());
                ack.send(&(a + b)).unwrap();
            },
        );
    });
    let client = Polling::open(&io).await;
    client.join("/", None).await;
    client
        .post(&[r#"2["note","hi"]"#, r#"21["add",2,3]"#])
        .await;
    let packets = client.get_until(|p| p.starts_with('3')).await;
    assert_eq!(packets, [r#"31[5]"#]);
    assert_eq!(entries(&log), ["note hi"]);
}

#[tokio::test(start_paused = true)]
async fn a_mismatch_reaches_on_error_and_the_socket_stays_usable() {
    let logs = Logs::capture();
    let log = Log::default();
    let l = log.clone();
    let io = server(move |socket| {
        let l = l.clone();
        socket.on(
            "typed",
            |_socket: Socket, (n,): (u32,), ack: Ack| async move {
                let _ = ack.send(&(n * 2,));
            },
        );
        // The event's other handlers still run.
        let other = l.clone();
        socket.on("typed", move |_socket: Socket, (value,): (Value,)| {
            let l = other.clone();
            async move { push(&l, format!("value {value:?}")) }
        });
        socket.on_error(move |socket, error| {
            assert!(socket.connected());
            let source = error.source().expect("the deserializer's error");
            assert!(
                source.downcast_ref::<serde_json::Error>().is_some(),
                "{source:?}"
            );
            push(
                &l,
                format!(
                    "{:?} {} {:?}",
                    error.kind(),
                    error.event().unwrap_or("-"),
                    error.to_string()
                ),
            );
        });
    });
    let client = Polling::open(&io).await;
    let sid = client.join("/", None).await;
    client.post(&[r#"2["typed","not a number"]"#]).await;
    until(|| entries(&log).len() == 2).await;
    assert_eq!(
        entries(&log),
        [
            r#"Deserialize typed "the arguments of \"typed\" do not match the handler's type""#,
            r#"value String("not a number")"#,
        ]
    );
    let warnings = logs.matching(&["WARN", &format!("socket={sid}"), "event=typed"]);
    assert_eq!(warnings.len(), 1, "{:?}", logs.lines());
    // The socket is still there: the next event of the right type is handled.
    client.post(&[r#"21["typed",21]"#]).await;
    let packets = client.get_until(|p| p.starts_with('3')).await;
    assert_eq!(packets, [r#"31[42]"#]);
}

#[tokio::test(start_paused = true)]
async fn on_appends_and_off_removes() {
    let log = Log::default();
    let l = log.clone();
    let io = server(move |socket| {
        let (l1, l2, l3) = (l.clone(), l.clone(), l.clone());
        socket.on("e", move |_socket: Socket, (n,): (u32,), ack: Ack| {
            let l = l1.clone();
            async move {
                push(&l, format!("first {n}"));
                let _ = ack.send(&("first",));
            }
        });
        let second = socket.on("e", move |_socket: Socket, (n,): (u32,), ack: Ack| {
            let l = l2.clone();
            async move {
                push(&l, format!("second {n}"));
                // Another handler answered: this answer is not sent.
                let _ = ack.send(&("second",));
            }
        });
        socket.on("off-second", move |socket: Socket, (): ()| {
            let second = second.clone();
            async move {
                assert!(socket.off_handler(&second));
                assert!(!socket.off_handler(&second));
            }
        });
        socket.on("off-all", move |socket: Socket, (): ()| async move {
            socket.off("e");
        });
        socket.on("done", move |_socket: Socket, (): (), ack: Ack| {
            let l = l3.clone();
            async move {
                push(&l, "done");
                let _ = ack.send(&());
            }
        });
    });
    let client = Polling::open(&io).await;
    client.join("/", None).await;
    client.post(&[r#"21["e",1]"#]).await;
    let packets = client.get_until(|p| p.starts_with('3')).await;
    assert_eq!(packets, [r#"31["first"]"#]);
    until(|| entries(&log).len() == 2).await;
    client
        .post(&[
            r#"2["off-second"]"#,
            r#"2["e",2]"#,
            r#"2["off-all"]"#,
            r#"2["e",3]"#,
            r#"22["done"]"#,
        ])
        .await;
    // The second handler's answer to the first event was never sent.
    assert_eq!(client.get_until(|p| p == "32[]").await, ["32[]"]);
    assert_eq!(entries(&log), ["first 1", "second 1", "first 2", "done"]);
}

#[tokio::test(start_paused = true)]
async fn emit_errors_have_kinds() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let io = server(move |socket| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(socket.clone());
        }
    });
    let client = Polling::open(&io).await;
    client.join("/", None).await;
    let socket = rx.await.unwrap();

    let reserved = socket.emit("connect", &()).await.unwrap_err();
    assert_eq!(reserved.kind(), ErrorKind::Args);
    assert_eq!(reserved.event(), Some("connect"));

    // The client never answers: the ack times out.
    let asked = socket
        .emit_with_ack("question", &1)
        .timeout(Duration::from_secs(5));
    let waiting = tokio::spawn(asked.into_future());
    client.get_until(|p| p.starts_with("20[")).await;
    let timed_out = waiting.await.unwrap().unwrap_err();
    assert_eq!(timed_out.kind(), ErrorKind::Timeout);
    assert!(timed_out.is_timeout() && !timed_out.is_adapter());
    assert_eq!(timed_out.to_string(), "operation has timed out");
    assert!(timed_out.source().is_none());

    socket.disconnect(false);
    let gone = socket.emit("late", &()).await.unwrap_err();
    assert!(gone.is_disconnected(), "{gone:?}");
    assert_eq!(gone.to_string(), "socket has been disconnected");
}

/// An adapter that says the cluster has two servers, of which only this one ever answers, and
/// whose broadcasts cannot reach the broker.
#[derive(Debug)]
struct HalfCluster(LocalNamespace);

impl Adapter for HalfCluster {
    fn local(&self) -> &LocalNamespace {
        &self.0
    }

    fn broadcast(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.0.broadcast(&packet, &opts);
        Box::pin(async {
            Err(Error::adapter_unavailable(std::io::Error::other(
                "broker down",
            )))
        })
    }

    fn broadcast_with_ack(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
        acks: ReplySink,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.0.broadcast_with_ack(&packet, &opts, &acks);
        // As a cluster adapter, it keeps the sink for the other server's answers until the
        // caller lets go of it.
        tokio::spawn(async move { acks.closed().await });
        Box::pin(async { Ok(()) })
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, Error>> {
        Box::pin(async { Ok(2) })
    }
}

#[tokio::test(start_paused = true)]
async fn cluster_errors_keep_their_cause_and_the_replies() {
    let factory: AdapterFactory =
        Arc::new(|local| Arc::new(HalfCluster(local)) as Arc<dyn Adapter>);
    let io = SocketIo::with_adapter(SocketIoConfig::default(), factory);
    io.of("/");
    io.start();
    let client = Polling::open(&io).await;
    client.join("/", None).await;

    // The broker is down: this server's client got the event, the caller the cause.
    let error = io.emit("news", &1).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AdapterUnavailable);
    assert!(error.is_adapter() && error.is_unavailable());
    assert_eq!(error.to_string(), "cluster unavailable");
    assert_eq!(error.source().unwrap().to_string(), "broker down");
    assert_eq!(client.get().await, [r#"2["news",1]"#]);

    // The other server never reports: the replies received stay in the error.
    let asked = io
        .timeout(Duration::from_secs(5))
        .emit_with_ack("vote", &());
    let waiting = tokio::spawn(asked.into_future());
    let request = client.get_until(|p| p.starts_with('2')).await;
    let id = request[0]
        .strip_prefix('2')
        .and_then(|p| p.split('[').next())
        .unwrap()
        .to_owned();
    client.post(&[&format!(r#"3{id}["yes"]"#)]).await;
    let partial = waiting.await.unwrap().unwrap_err();
    assert_eq!(partial.kind(), ErrorKind::Timeout);
    assert_eq!(partial.replies().len(), 1);
    assert_eq!(partial.replies()[0].deserialize::<String>().unwrap(), "yes");
    // Only one of the two servers reported its client count.
    assert_eq!(partial.expected_replies(), None);
    assert_eq!(
        partial.to_string(),
        "operation has timed out: 1 replies received"
    );
    assert_eq!(partial.into_replies().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_middleware_refusal_reaches_on_error() {
    let log = Log::default();
    let l = log.clone();
    let io = server(move |socket| {
        let l = l.clone();
        socket.use_middleware(|_socket, event, _args| async move {
            match event.as_str() {
                "secret" => Err(Error::rejected("not allowed").with_data(&"admins only")),
                _ => Ok(()),
            }
        });
        socket.on_error(move |_socket, error| {
            assert!(error.is_rejected());
            assert_eq!(error.data(), Some(&Value::from("admins only")));
            push(&l, error.to_string());
        });
    });
    let client = Polling::open(&io).await;
    client.join("/", None).await;
    client.post(&[r#"2["secret"]"#]).await;
    until(|| !entries(&log).is_empty()).await;
    assert_eq!(entries(&log), ["not allowed"]);
}
