//! Metrics, through the [`metrics`](https://docs.rs/metrics) crate facade.
//!
//! With the cargo feature `metrics`, the server records the counters and gauges below in
//! whatever recorder the application installed (`metrics-exporter-prometheus`, say); it
//! installs none itself. Without the feature the calls compile to nothing. The names follow
//! the Prometheus conventions (`_total` for counters); the label values are fixed strings,
//! except `namespace` (the namespace's name, taken once per namespace).
//!
//! | Name | Kind | Labels | What |
//! |---|---|---|---|
//! | `socketio_engine_clients` | gauge | `transport` = `polling` \| `websocket` | Engine.IO sessions open, by current transport |
//! | `socketio_engine_connections_total` | counter | `transport` | Engine.IO handshakes accepted, by the handshake's transport |
//! | `socketio_engine_upgrades_total` | counter | | sessions upgraded from polling to WebSocket |
//! | `socketio_engine_handshake_refusals_total` | counter | `reason` = `forbidden` \| `bad_method` \| `unsupported_version` \| `server_busy` \| `error` | handshakes refused (the `allow_request` hook, a handshake that is not a GET, `EIO` missing or unknown, the accept queue full) |
//! | `socketio_engine_disconnects_total` | counter | `reason` = `transport close` \| `transport error` \| `forced close` \| `ping timeout` \| `parse error` \| `send buffer full` | Engine.IO sessions closed, by reason |
//! | `socketio_engine_messages_received_total` | counter | | Engine.IO message packets received (text or binary) |
//! | `socketio_engine_bytes_received_total` | counter | | their payload bytes |
//! | `socketio_engine_messages_sent_total` | counter | | Engine.IO message packets handed to the transport |
//! | `socketio_engine_bytes_sent_total` | counter | | their payload bytes |
//! | `socketio_sockets` | gauge | `namespace` | Socket.IO sockets connected on this server |
//! | `socketio_socket_connects_total` | counter | `namespace` | sockets that joined a namespace |
//! | `socketio_socket_disconnects_total` | counter | `reason` (socket.io's strings: `client namespace disconnect`, `transport close`...) | sockets that left, by reason |
//! | `socketio_broadcasts_total` | counter | | broadcasts written on this server: emits to rooms or to everyone, from here or from another server of the cluster (with connection state recovery on, a socket's own `emit` goes through the adapter too, and counts) |
//! | `socketio_broadcast_recipients_total` | counter | | the sockets those broadcasts reached (the fan-out) |
//! | `socketio_acks_pending` | gauge | | acknowledgements the server waits for |
//! | `socketio_acks_timed_out_total` | counter | | acknowledgements that did not come in time |
//! | `socketio_packets_dropped_total` | counter | `reason` = `volatile` \| `queue_full` | packets not written: a volatile packet to a busy client, or a send queue full |
//! | `socketio_recoveries_total` | counter | `result` = `recovered` \| `failed` | connection state recovery attempts |
//! | `socketio_adapter_publish_failures_total` | counter | | events the adapter could not send to the rest of the cluster |
//!
//! The cost with the feature on: the message and byte counters, recorded for every Engine.IO
//! message, keep their handles per thread (looked up again only when the recorder changes),
//! so a message costs two atomic additions in the recorder; each of the other metrics (per
//! session, socket, broadcast, acknowledgement, drop) is one lookup in the recorder per event:
//! the names and label sets are static, nothing is allocated. Measured with the Prometheus
//! recorder installed, in the echo benchmark (acknowledged echoes, one core): 0.8 % of the
//! server's CPU samples are in the `metrics` crates (5.2 % with a lookup per message), and CPU
//! per ack on / off is 0.93-1.03 in the medians, within the run's noise (BENCHMARKS.md §6). The `namespace` label
//! is made once per namespace (dynamic namespaces, `SocketIo::of_regex`,
//! add one series each). Counters of the Redis adapter's own connection (its subscriber's
//! reconnections, dropped messages) stay in sio-redis's `RedisConnection::stats`.

/// `socketio_engine_clients`.
pub const ENGINE_CLIENTS: &str = "socketio_engine_clients";
/// `socketio_engine_connections_total`.
pub const ENGINE_CONNECTIONS: &str = "socketio_engine_connections_total";
/// `socketio_engine_upgrades_total`.
pub const ENGINE_UPGRADES: &str = "socketio_engine_upgrades_total";
/// `socketio_engine_handshake_refusals_total`.
pub const ENGINE_HANDSHAKE_REFUSALS: &str = "socketio_engine_handshake_refusals_total";
/// `socketio_engine_disconnects_total`.
pub const ENGINE_DISCONNECTS: &str = "socketio_engine_disconnects_total";
/// `socketio_engine_messages_received_total`.
pub const ENGINE_MESSAGES_RECEIVED: &str = "socketio_engine_messages_received_total";
/// `socketio_engine_bytes_received_total`.
pub const ENGINE_BYTES_RECEIVED: &str = "socketio_engine_bytes_received_total";
/// `socketio_engine_messages_sent_total`.
pub const ENGINE_MESSAGES_SENT: &str = "socketio_engine_messages_sent_total";
/// `socketio_engine_bytes_sent_total`.
pub const ENGINE_BYTES_SENT: &str = "socketio_engine_bytes_sent_total";
/// `socketio_sockets`.
pub const SOCKETS: &str = "socketio_sockets";
/// `socketio_socket_connects_total`.
pub const SOCKET_CONNECTS: &str = "socketio_socket_connects_total";
/// `socketio_socket_disconnects_total`.
pub const SOCKET_DISCONNECTS: &str = "socketio_socket_disconnects_total";
/// `socketio_broadcasts_total`.
pub const BROADCASTS: &str = "socketio_broadcasts_total";
/// `socketio_broadcast_recipients_total`.
pub const BROADCAST_RECIPIENTS: &str = "socketio_broadcast_recipients_total";
/// `socketio_acks_pending`.
pub const ACKS_PENDING: &str = "socketio_acks_pending";
/// `socketio_acks_timed_out_total`.
pub const ACKS_TIMED_OUT: &str = "socketio_acks_timed_out_total";
/// `socketio_packets_dropped_total`.
pub const PACKETS_DROPPED: &str = "socketio_packets_dropped_total";
/// `socketio_recoveries_total`.
pub const RECOVERIES: &str = "socketio_recoveries_total";
/// `socketio_adapter_publish_failures_total`.
pub const ADAPTER_PUBLISH_FAILURES: &str = "socketio_adapter_publish_failures_total";

#[cfg(feature = "metrics")]
use ::metrics::{counter, gauge};

use crate::engine::message::DisconnectReason;
use sio_protocol::engine::TransportKind;

/// Why a handshake was refused (the label of [`ENGINE_HANDSHAKE_REFUSALS`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    Forbidden,
    BadMethod,
    UnsupportedVersion,
    ServerBusy,
    Error,
}

impl Refusal {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refusal::Forbidden => "forbidden",
            Refusal::BadMethod => "bad_method",
            Refusal::UnsupportedVersion => "unsupported_version",
            Refusal::ServerBusy => "server_busy",
            Refusal::Error => "error",
        }
    }
}

#[cfg(feature = "metrics")]
fn transport_label(transport: TransportKind) -> &'static str {
    match transport {
        TransportKind::Polling => "polling",
        TransportKind::WebSocket => "websocket",
    }
}

/// A session opened on `transport`.
#[inline]
pub(crate) fn engine_opened(transport: TransportKind) {
    #[cfg(feature = "metrics")]
    {
        let label = transport_label(transport);
        gauge!(ENGINE_CLIENTS, "transport" => label).increment(1.0);
        counter!(ENGINE_CONNECTIONS, "transport" => label).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = transport;
}

/// A session upgraded to WebSocket.
#[inline]
pub(crate) fn engine_upgraded() {
    #[cfg(feature = "metrics")]
    {
        gauge!(ENGINE_CLIENTS, "transport" => "polling").decrement(1.0);
        gauge!(ENGINE_CLIENTS, "transport" => "websocket").increment(1.0);
        counter!(ENGINE_UPGRADES).increment(1);
    }
}

/// A session on `transport` closed.
#[inline]
pub(crate) fn engine_closed(transport: TransportKind, reason: DisconnectReason) {
    #[cfg(feature = "metrics")]
    {
        gauge!(ENGINE_CLIENTS, "transport" => transport_label(transport)).decrement(1.0);
        let reason = match reason {
            DisconnectReason::Engine(reason) => reason.as_str(),
            DisconnectReason::SendBufferFull => "send buffer full",
        };
        counter!(ENGINE_DISCONNECTS, "reason" => reason).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (transport, reason);
}

/// A handshake refused.
#[inline]
pub(crate) fn handshake_refused(refusal: Refusal) {
    #[cfg(feature = "metrics")]
    counter!(ENGINE_HANDSHAKE_REFUSALS, "reason" => refusal.as_str()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = refusal;
}

/// The handles of the Engine.IO message counters (the metrics recorded for every message),
/// cached per thread for the recorder in use: looking them up in the recorder's registry for
/// each message was about 5 % of the server's CPU in the echo benchmark (BENCHMARKS.md §6).
#[cfg(feature = "metrics")]
struct EngineCounters {
    /// The address of the recorder the handles come from.
    recorder: usize,
    messages_received: ::metrics::Counter,
    bytes_received: ::metrics::Counter,
    messages_sent: ::metrics::Counter,
    bytes_sent: ::metrics::Counter,
}

#[cfg(feature = "metrics")]
thread_local! {
    static ENGINE_COUNTERS: std::cell::RefCell<Option<EngineCounters>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the message counters of the current recorder (the global one, or a local
/// one set with `metrics::with_local_recorder`), looked up again when the recorder changes.
/// A global recorder is installed once and stays; a local recorder that reuses the address
/// of a dropped one would get that one's handles (not a case of a running server).
#[cfg(feature = "metrics")]
fn with_engine_counters(f: impl FnOnce(&EngineCounters)) {
    let recorder = ::metrics::with_recorder(|r| (r as *const dyn ::metrics::Recorder).addr());
    ENGINE_COUNTERS.with(|cell| {
        let mut cached = cell.borrow_mut();
        let counters = match &mut *cached {
            Some(c) if c.recorder == recorder => c,
            slot => slot.insert(EngineCounters {
                recorder,
                messages_received: counter!(ENGINE_MESSAGES_RECEIVED),
                bytes_received: counter!(ENGINE_BYTES_RECEIVED),
                messages_sent: counter!(ENGINE_MESSAGES_SENT),
                bytes_sent: counter!(ENGINE_BYTES_SENT),
            }),
        };
        f(counters)
    });
}

/// An Engine.IO message of `bytes` received.
#[inline]
pub(crate) fn message_received(bytes: usize) {
    #[cfg(feature = "metrics")]
    with_engine_counters(|c| {
        c.messages_received.increment(1);
        c.bytes_received.increment(bytes as u64);
    });
    #[cfg(not(feature = "metrics"))]
    let _ = bytes;
}

/// `messages` Engine.IO messages, `bytes` in all, handed to the transport.
#[inline]
pub(crate) fn messages_sent(messages: u64, bytes: usize) {
    #[cfg(feature = "metrics")]
    if messages > 0 {
        with_engine_counters(|c| {
            c.messages_sent.increment(messages);
            c.bytes_sent.increment(bytes as u64);
        });
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (messages, bytes);
}

/// The handles of a namespace's metrics, labelled once with its name.
#[derive(Debug, Clone)]
pub(crate) struct NamespaceMetrics {
    #[cfg(feature = "metrics")]
    sockets: ::metrics::Gauge,
    #[cfg(feature = "metrics")]
    connects: ::metrics::Counter,
}

impl NamespaceMetrics {
    /// The handles of the namespace `name`.
    pub(crate) fn new(name: &str) -> NamespaceMetrics {
        #[cfg(feature = "metrics")]
        {
            let name = name.to_owned();
            NamespaceMetrics {
                sockets: gauge!(SOCKETS, "namespace" => name.clone()),
                connects: counter!(SOCKET_CONNECTS, "namespace" => name),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = name;
            NamespaceMetrics {}
        }
    }

    /// A socket joined.
    #[inline]
    pub(crate) fn connected(&self) {
        #[cfg(feature = "metrics")]
        {
            self.sockets.increment(1.0);
            self.connects.increment(1);
        }
    }

    /// A socket left.
    #[inline]
    pub(crate) fn disconnected(&self) {
        #[cfg(feature = "metrics")]
        self.sockets.decrement(1.0);
    }
}

/// A socket left for `reason`.
#[inline]
pub(crate) fn socket_disconnected(reason: &'static str) {
    #[cfg(feature = "metrics")]
    counter!(SOCKET_DISCONNECTS, "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

/// A broadcast written to `recipients` sockets.
#[inline]
pub(crate) fn broadcast(recipients: usize) {
    #[cfg(feature = "metrics")]
    {
        counter!(BROADCASTS).increment(1);
        counter!(BROADCAST_RECIPIENTS).increment(recipients as u64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = recipients;
}

/// The server waits for one more acknowledgement.
#[inline]
pub(crate) fn ack_expected() {
    #[cfg(feature = "metrics")]
    gauge!(ACKS_PENDING).increment(1.0);
}

/// An acknowledgement is no longer waited for (`timed_out`: its deadline passed).
#[inline]
pub(crate) fn ack_done(timed_out: bool) {
    #[cfg(feature = "metrics")]
    {
        gauge!(ACKS_PENDING).decrement(1.0);
        if timed_out {
            counter!(ACKS_TIMED_OUT).increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = timed_out;
}

/// A packet dropped: `volatile`, or its send queue was full.
#[inline]
pub(crate) fn packet_dropped(volatile: bool) {
    #[cfg(feature = "metrics")]
    {
        let reason = if volatile { "volatile" } else { "queue_full" };
        counter!(PACKETS_DROPPED, "reason" => reason).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = volatile;
}

/// A connection state recovery attempt ended.
#[inline]
pub(crate) fn recovery(recovered: bool) {
    #[cfg(feature = "metrics")]
    {
        let result = if recovered { "recovered" } else { "failed" };
        counter!(RECOVERIES, "result" => result).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = recovered;
}

/// The adapter could not send an event to the cluster.
#[inline]
pub(crate) fn adapter_publish_failed() {
    #[cfg(feature = "metrics")]
    counter!(ADAPTER_PUBLISH_FAILURES).increment(1);
}
