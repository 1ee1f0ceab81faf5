//! The shape of every server-side emit (docs/api-review.md §3): the arguments are serialized
//! when `emit` is called, the future borrows nothing, sends when polled, and every error
//! (arguments, adapter) comes out of it.

use sio_test_support::io as io_support;

use std::sync::Arc;

use io_support::{Peer, server};
use serde::{Serialize, Serializer};
use sio_server::{
    Adapter, AdapterFactory, BoxFuture, BroadcastOptions, BroadcastPacket, ConnectionStateRecovery,
    Error, ErrorKind, InMemoryAdapter, LocalNamespace, ReplySink, SocketIo, SocketIoConfig,
};

/// Arguments whose serialization fails.
struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("cannot serialize"))
    }
}

#[tokio::test]
async fn a_socket_emit_sends_when_polled_and_borrows_nothing() {
    let s = server(SocketIoConfig::default(), |io| {
        io.of("/").on_connection(|_| async move {});
    })
    .await;
    let (mut peer, id) = Peer::join(s.addr, "/").await;
    let socket = s.io.of("/").get_socket(&id).unwrap();

    // The future owns what it sends: the arguments' owner can go before it is polled.
    let later = {
        let text = String::from("borrowed");
        socket.emit("later", &(&text, 1))
    };
    // Nothing is sent until a future is polled: a dropped one sends nothing, and an awaited
    // one goes before one created earlier but polled after it.
    drop(socket.emit("dropped", &()));
    socket.emit("now", &2).await.unwrap();
    assert_eq!(peer.text().await, r#"2["now",2]"#);
    tokio::spawn(later).await.unwrap().unwrap();
    assert_eq!(peer.text().await, r#"2["later","borrowed",1]"#);

    // The same for a broadcast, a namespace, the server and a fetched socket.
    let ns = s.io.of("/");
    let sends = [
        tokio::spawn(ns.to(id.clone()).emit("to", &1)),
        tokio::spawn(ns.emit("ns", &2)),
        tokio::spawn(s.io.emit("io", &3)),
    ];
    let mut got = Vec::new();
    for send in sends {
        send.await.unwrap().unwrap();
        got.push(peer.text().await);
    }
    got.sort();
    assert_eq!(got, [r#"2["io",3]"#, r#"2["ns",2]"#, r#"2["to",1]"#]);
    let remote = ns.fetch_sockets().await.unwrap().pop().unwrap();
    tokio::spawn(remote.emit("remote", &4))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(peer.text().await, r#"2["remote",4]"#);
}

#[tokio::test]
async fn serialization_errors_come_out_of_the_future() {
    let s = server(SocketIoConfig::default(), |io| {
        io.of("/").on_connection(|_| async move {});
    })
    .await;
    let (mut peer, id) = Peer::join(s.addr, "/").await;
    let ns = s.io.of("/");
    let socket = ns.get_socket(&id).unwrap();

    let failed = socket.emit("e", &Unserializable).await.unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::Args, "{failed:?}");
    let failed = ns.emit("e", &Unserializable).await.unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::Args, "{failed:?}");
    let failed = ns.server_side_emit("e", &Unserializable).await.unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::Args, "{failed:?}");
    // Nothing was written: the next event is the first the client gets.
    socket.emit("ok", &()).await.unwrap();
    assert_eq!(peer.text().await, r#"2["ok"]"#);
}

/// With connection state recovery on, a socket's emit goes through the adapter, and the
/// adapter's error reaches the caller, even when the adapter's future is not ready at once
/// (such an error used to be logged at debug level only, and the emit returned `Ok`).
#[tokio::test]
async fn a_recovering_socket_reports_the_adapter_error() {
    let memory = InMemoryAdapter::factory();
    let factory: AdapterFactory = Arc::new(move |local: LocalNamespace| {
        Arc::new(Unreachable(memory(local))) as Arc<dyn Adapter>
    });
    let config =
        SocketIoConfig::default().connection_state_recovery(ConnectionStateRecovery::default());
    let io = SocketIo::with_adapter(config, factory);
    io.of("/").on_connection(|_| async move {});
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let mut peer = Peer::connect(handle.local_addr()).await;
    peer.send("0").await;
    let reply: serde_json::Value =
        serde_json::from_str(peer.text().await.strip_prefix('0').unwrap()).unwrap();
    let socket = io
        .of("/")
        .get_socket(reply["sid"].as_str().unwrap())
        .unwrap();

    let failed = socket.emit("e", &1).await.unwrap_err();
    assert!(failed.is_adapter(), "{failed:?}");
    // This server's part was done: the client got the event, with its offset.
    let event: serde_json::Value =
        serde_json::from_str(peer.text().await.strip_prefix('2').unwrap()).unwrap();
    assert_eq!(event[0], "e");
    assert_eq!(event[1], 1);
    assert!(event[2].is_string(), "an offset: {event}");
}

/// An in-memory adapter whose broadcasts fail for the rest of the cluster, after a yield.
#[derive(Debug)]
struct Unreachable(Arc<dyn Adapter>);

impl Adapter for Unreachable {
    fn local(&self) -> &LocalNamespace {
        self.0.local()
    }

    fn broadcast(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.local().broadcast(&packet, &opts);
        Box::pin(async {
            // Not ready at the first poll, like a publish over the network.
            tokio::task::yield_now().await;
            Err(Error::adapter("the cluster is unreachable"))
        })
    }

    fn broadcast_with_ack(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
        acks: ReplySink,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.local().broadcast_with_ack(&packet, &opts, &acks);
        Box::pin(async { Err(Error::adapter("the cluster is unreachable")) })
    }
}
