//! A `ClientSession` and a `ServerSession` wired together in virtual time.
//!
//! `Pair` plays both runtimes: every packet goes through the real codec (`Encoder` on one
//! side, `Decoder` on the other), the Engine.IO connection is a link that opens when the
//! client asks (`ClientEvent::OpenEngine`) and dies when the test cuts it, and `now` jumps to
//! the next deadline instead of sleeping. The server runtime's part of connection state
//! recovery (an offset appended to each stored event, sessions persisted on disconnect and
//! restored on request) is `Store`, a small model of socket.io's `SessionAwareAdapter`.

#[path = "socket_session_pair/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sio_protocol::socket::{
    AckFailure, Args, ClientConfig, ClientDisconnectReason, ClientEvent, ClientSession, Emit,
    Packet, PacketData, ProtocolVersion, RecoveryRequest, ServerConfig, ServerDisconnectReason,
    ServerEvent, ServerSession, SessionReason,
};
use sio_protocol::{Map, Str, Value};

use harness::{Lone, Pair, json, ms};

// ------------------------------------------------------------------------------------------
// Connecting, refusals, events and acks
// ------------------------------------------------------------------------------------------

#[test]
fn two_namespaces_connect_with_auth_and_exchange_events() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    p.auth
        .insert("/admin".into(), json(serde_json::json!({"token": "abc"})));
    p.connect("/");
    p.connect("/admin");
    assert_eq!(
        p.wire_since(0),
        [
            "> 0",
            r#"< 0{"sid":"sid-1"}"#,
            r#"> 0/admin,{"token":"abc"}"#,
            r#"< 0/admin,{"sid":"sid-2"}"#,
        ]
    );
    assert_eq!(
        p.client_connects(),
        [
            ("/".into(), "sid-1".into(), false),
            ("/admin".into(), "sid-2".into(), false)
        ]
    );
    // `socket.handshake.auth`: `{}` without a payload.
    assert_eq!(p.connect_requests[0].auth, Value::Object(Map::new()));
    assert_eq!(
        p.connect_requests[1].auth,
        json(serde_json::json!({"token": "abc"}))
    );
    assert!(
        p.connect_requests
            .iter()
            .all(|r| r.recovery.is_none() && r.legacy_id.is_none())
    );
    // Without recovery the reply carries no pid.
    assert_eq!(p.client.pid("/"), None);

    let w = p.wire.len();
    let n = p.emit("/admin", "chat", false, None);
    p.server_emit("/", "news", vec![Value::from("x")]);
    assert_eq!(
        p.wire_since(w),
        [r#"> 2/admin,["chat",1]"#, r#"< 2["news","x"]"#]
    );
    assert_eq!(p.server_got("chat"), [n]);
    assert_eq!(p.server_rx[0].1, "sid-2");
    assert_eq!(
        p.client_rx(),
        [("/".into(), "news".into(), vec![Value::from("x")])]
    );
    // Nothing pending: no timer at all (no connect timeout once joined, no acks).
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn refused_and_unknown_namespaces_are_not_retried() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    p.refused.insert(
        "/private".into(),
        (
            "not authorized".into(),
            Some(json(serde_json::json!({"code": 7}))),
        ),
    );
    p.unknown.push("/nope".into());
    p.connect("/");
    p.connect("/private");
    p.connect("/nope");
    assert_eq!(
        p.wire_since(2),
        [
            "> 0/private,",
            r#"< 4/private,{"message":"not authorized","data":{"code":7}}"#,
            "> 0/nope,",
            r#"< 4/nope,{"message":"Invalid namespace"}"#,
        ]
    );
    let errors: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::ConnectError { nsp, message, data } => {
                Some((nsp.to_string(), message.clone(), data.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                "/private".into(),
                "not authorized".into(),
                Some(json(serde_json::json!({"code": 7})))
            ),
            ("/nope".into(), "Invalid namespace".into(), None),
        ]
    );
    assert!(!p.client.is_active("/private") && !p.client.is_active("/nope"));
    // The connection stays for `/`, and a cut reconnects `/` only.
    assert!(p.client.is_connected("/"));
    p.cut();
    p.advance_by(Duration::from_secs(10));
    assert!(p.client.is_connected("/"));
    let connects: Vec<_> = p.wire.iter().filter(|w| w.starts_with("> 0")).collect();
    assert_eq!(connects, ["> 0", "> 0/private,", "> 0/nope,", "> 0"]);

    // A client whose only socket is refused closes its connection (`_destroy`).
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    p.refused.insert("/private".into(), ("no".into(), None));
    p.connect("/private");
    assert!(p.server.is_none(), "the client closed the connection");
    assert_eq!(p.count_client(|e| matches!(e, ClientEvent::CloseEngine)), 1);
    p.advance_by(Duration::from_secs(60));
    assert_eq!(p.count_client(|e| matches!(e, ClientEvent::OpenEngine)), 1);
}

#[test]
fn acks_both_ways_with_their_timeouts() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    p.connect("/");
    let w = p.wire.len();
    // Client → server, answered.
    let a = p.emit("/", "question", true, None);
    assert_eq!(p.wire_since(w), [r#"> 20["question",1]"#, r#"< 30[1]"#]);
    // Client → server, never answered: `operation has timed out` after its timeout.
    let b = p.emit("/", "noack-question", true, Some(ms(1500)));
    // Two deadlines at the same instant both fire.
    let c = p.emit("/", "noack-question", true, Some(ms(1500)));
    assert_eq!(p.client.pending_acks("/"), 2);
    assert_eq!(p.next_deadline(), Some(p.start + ms(1500)));
    p.advance_by(Duration::from_secs(5));
    assert_eq!(
        p.client_acks(),
        [
            (a, Ok(vec![Value::from(a)]), Duration::ZERO),
            (b, Err(AckFailure::Timeout), ms(1500)),
            (c, Err(AckFailure::Timeout), ms(1500))
        ]
    );
    assert_eq!(p.client.pending_acks("/"), 0);

    // Server → client, answered by the client runtime.
    let x = p.server_emit_with_ack("/", "ping", Duration::from_secs(2));
    // Server → client, not answered: the session's deadline, not a timer per ack.
    p.client_answers = false;
    let y = p.server_emit_with_ack("/", "ping", Duration::from_secs(2));
    let z = p.server_emit_with_ack("/", "ping", Duration::from_secs(2));
    let t = p.elapsed();
    assert_eq!(p.server.as_ref().unwrap().session.pending_acks("/"), 2);
    p.advance_by(Duration::from_secs(5));
    assert_eq!(
        p.server_acks(),
        [
            (x, Ok(vec![Value::from(x)]), t),
            (y, Err(AckFailure::Timeout), t + Duration::from_secs(2)),
            (z, Err(AckFailure::Timeout), t + Duration::from_secs(2))
        ]
    );
    // A late answer to the timed-out id, and an unknown id, are ignored.
    let s = p.server.as_mut().unwrap();
    s.session
        .handle_packet(p.now, Packet::ack("/", Args::empty(), y));
    s.session
        .handle_packet(p.now, Packet::ack("/", Args::empty(), 99));
    assert!(s.session.poll_event().is_none());
    assert!(!s.session.is_closed());
}

#[test]
fn pending_acks_fail_on_disconnect_unless_their_packet_is_buffered() {
    let mut p = Pair::recovery();
    p.client_answers = false;
    p.connect("/");
    let sent = p.emit("/", "noack-sent", true, None);
    let server_waits = p.server_emit_with_ack("/", "ping", Duration::from_secs(60));
    p.cut();
    // Both sides fail what was in flight.
    assert_eq!(
        p.client_acks(),
        [(sent, Err(AckFailure::Disconnected), Duration::ZERO)]
    );
    assert_eq!(
        p.server_acks(),
        [(server_waits, Err(AckFailure::Disconnected), Duration::ZERO)]
    );
    // An emit while disconnected is buffered with its ack...
    let buffered = p.emit("/", "later", true, None);
    assert_eq!((p.client.buffered("/"), p.client.pending_acks("/")), (1, 1));
    // ...which survives a cut of the next connection while its CONNECT is with the server.
    p.middleware_latency = ms(500);
    p.advance_by(ms(1100));
    assert!(p.client.is_open() && !p.client.is_connected("/"));
    p.cut();
    assert_eq!((p.client.buffered("/"), p.client.pending_acks("/")), (1, 1));
    assert_eq!(p.client_acks().len(), 1);
    p.advance_by(Duration::from_secs(3));
    assert!(p.client.is_connected("/"));
    assert_eq!(p.server_got("later"), [buffered]);
    assert_eq!(
        p.client_acks().last().map(|a| (a.0, a.1.clone())),
        Some((buffered, Ok(vec![Value::from(buffered)])))
    );
}

// ------------------------------------------------------------------------------------------
// The server's state rules, protocol 4
// ------------------------------------------------------------------------------------------

#[test]
fn invalid_state_closes_the_connection() {
    // (packets before, the offending packet)
    let cases: [(&[&str], &str); 6] = [
        (&[], r#"2["x"]"#),
        (&[], "1"),
        (&[], "3/admin,1[]"),
        (&["0"], "0"), // a CONNECT while the first is with the middlewares
        (&["0", "!accept"], "0"),
        (&["0", "!accept"], r#"4{"message":"x"}"#),
    ];
    for (before, offending) in cases {
        let mut lone = Lone::new(ServerConfig::default());
        for step in before {
            if *step == "!accept" {
                lone.request();
                lone.session.accept("/", "sid".into(), None).unwrap();
                lone.sent();
            } else {
                lone.feed(step);
            }
        }
        lone.feed(offending);
        assert_eq!(
            lone.closed_with(),
            Some(ServerDisconnectReason::ForcedServerClose),
            "{before:?} then {offending}"
        );
        assert!(lone.session.is_closed());
        // Later input is ignored; commands fail.
        lone.feed("0/other,");
        assert!(lone.events().is_empty());
        assert_eq!(
            session_reason(lone.session.accept("/", "s".into(), None)),
            Some(SessionReason::Closed)
        );
    }
}

#[test]
fn commands_that_do_not_fit_the_state_change_nothing() {
    let mut lone = Lone::new(ServerConfig::default().recovery(true));
    assert_eq!(
        session_reason(lone.session.accept("/", "s".into(), None)),
        Some(SessionReason::NoConnectRequest)
    );
    assert_eq!(
        session_reason(
            lone.session
                .send(Packet::event("/", "x", Args::empty(), None))
        ),
        Some(SessionReason::NotConnected)
    );
    lone.feed("0");
    let request = lone.request();
    assert_eq!(request.recovery, None);
    assert_eq!(
        session_reason(lone.session.accept_recovered("/", "s".into(), [])),
        Some(SessionReason::NoRecoveryRequest)
    );
    lone.feed(r#"0/admin,{"pid":"p","offset":"o"}"#);
    let request = lone.request();
    assert_eq!(request.recovery, Some(RecoveryRequest::new("p", "o")));
    // Replayed packets must be events of the namespace without ack id.
    for bad in [
        Packet::event("/", "x", Args::empty(), None),
        Packet::event("/admin", "x", Args::empty(), Some(1)),
        Packet::new("/admin", PacketData::Disconnect),
    ] {
        assert_eq!(
            session_reason(lone.session.accept_recovered("/admin", "s".into(), [bad])),
            Some(SessionReason::InvalidPacket)
        );
    }
    assert!(lone.sent().is_empty());
    assert!(!lone.session.is_connected("/admin"));
    lone.session.accept("/", "s1".into(), None).unwrap();
    // Control packets have their own methods; an EVENT without id cannot wait for an ack.
    assert_eq!(
        session_reason(lone.session.send(Packet::new("/", PacketData::Disconnect))),
        Some(SessionReason::InvalidPacket)
    );
    assert_eq!(
        session_reason(lone.session.send_with_ack(
            Packet::event("/", "x", Args::empty(), None),
            None,
            1
        )),
        Some(SessionReason::InvalidPacket)
    );
    assert_eq!(
        session_reason(lone.session.disconnect("/admin")),
        Some(SessionReason::NotConnected)
    );
    // Recovery on, but the runtime gave no pid: the reply has none.
    assert_eq!(lone.sent(), [r#"0{"sid":"s1"}"#]);
}

#[test]
fn connect_timeout_and_namespace_disconnects() {
    let t0 = Instant::now();
    let config = ServerConfig::default().recovery(true);
    let mut session: ServerSession<u64> = ServerSession::new("e".into(), config.clone(), t0);
    assert_eq!(session.poll_timeout(), Some(t0 + Duration::from_secs(45)));
    session.handle_timeout(t0 + Duration::from_secs(44));
    assert!(!session.is_closed());
    session.handle_timeout(t0 + Duration::from_secs(45));
    let events: Vec<_> = std::iter::from_fn(|| session.poll_event()).collect();
    assert!(matches!(
        events[..],
        [ServerEvent::Closed(
            ServerDisconnectReason::ForcedServerClose
        )]
    ));

    // A join clears the timeout for good, even after the namespace is left.
    let mut lone = Lone::new(config.connect_timeout(Duration::from_secs(1)));
    lone.feed("0");
    // Still with the middlewares: the timeout still counts.
    assert!(lone.session.poll_timeout().is_some());
    lone.request();
    lone.session
        .accept("/", "s".into(), Some("pid-1".into()))
        .unwrap();
    assert_eq!(lone.sent(), [r#"0{"sid":"s","pid":"pid-1"}"#]);
    assert_eq!(lone.session.poll_timeout(), None);
    // The client leaves: not recoverable, and the connection stays.
    lone.feed("1");
    let events = lone.events();
    assert!(
        matches!(
            &events[..],
            [ServerEvent::Disconnected {
                reason: ServerDisconnectReason::ClientNamespaceDisconnect,
                persist: None,
                ..
            }]
        ),
        "{events:?}"
    );
    assert!(!lone.session.is_closed() && lone.session.poll_timeout().is_none());
    // The server disconnects a socket: DISCONNECT, not recoverable either.
    lone.feed("0/a,");
    lone.request();
    lone.session
        .accept("/a", "sa".into(), Some("pid-2".into()))
        .unwrap();
    lone.session
        .expect_ack("/a", 4, Some(lone.now + Duration::from_secs(9)), 44)
        .unwrap();
    lone.session.disconnect("/a").unwrap();
    assert_eq!(lone.sent(), [r#"0/a,{"sid":"sa","pid":"pid-2"}"#, "1/a,"]);
    let events = lone.events();
    assert!(
        matches!(
            &events[..],
            [
                ServerEvent::Disconnected {
                    reason: ServerDisconnectReason::ServerNamespaceDisconnect,
                    persist: None,
                    ..
                },
                ServerEvent::Ack {
                    id: 4,
                    value: 44,
                    result: Err(AckFailure::Disconnected),
                    ..
                }
            ]
        ),
        "{events:?}"
    );
    // A packet for the namespace left is now invalid state.
    lone.feed(r#"2/a,["x"]"#);
    assert_eq!(
        lone.closed_with(),
        Some(ServerDisconnectReason::ForcedServerClose)
    );
}

#[test]
fn recoverable_reasons_decide_persistence() {
    for (reason, persisted) in [
        (ServerDisconnectReason::TransportClose, true),
        (ServerDisconnectReason::PingTimeout, true),
        (ServerDisconnectReason::ServerShuttingDown, true),
        (ServerDisconnectReason::ForcedServerClose, true),
        (ServerDisconnectReason::ParseError, false),
    ] {
        for recovery in [true, false] {
            let mut lone = Lone::new(ServerConfig::default().recovery(recovery));
            lone.feed("0");
            lone.request();
            lone.session
                .accept("/", "s".into(), Some("the-pid".into()))
                .unwrap();
            assert_eq!(lone.session.pid("/").is_some(), recovery);
            lone.session.close(lone.now, reason);
            let persist = lone.events().into_iter().find_map(|e| match e {
                ServerEvent::Disconnected {
                    persist, reason: r, ..
                } => {
                    assert_eq!(r, reason);
                    Some(persist)
                }
                _ => None,
            });
            let expected = (persisted && recovery).then(|| Str::from("the-pid"));
            assert_eq!(persist, Some(expected), "{reason} recovery={recovery}");
        }
    }
}

#[test]
fn protocol_4_connections() {
    let mut lone = Lone::new(
        ServerConfig::default()
            .version(ProtocolVersion::V4)
            .recovery(true),
    );
    // `/` is joined without a CONNECT, with the engine id as socket id.
    let root = lone.request();
    assert_eq!(root.nsp, "/");
    assert_eq!(root.legacy_id.as_deref(), Some("engine"));
    assert_eq!(root.auth, Value::Object(Map::new()));
    lone.session
        .accept("/", root.legacy_id.unwrap(), Some("ignored".into()))
        .unwrap();
    // Auth in the query; no pid in protocol 4; no payload in the reply.
    lone.feed("0/admin?token=abc&pid=p&offset=o,");
    let admin = lone.request();
    assert_eq!(admin.nsp, "/admin");
    assert_eq!(
        admin.auth,
        json(serde_json::json!({"token": "abc", "pid": "p", "offset": "o"}))
    );
    assert_eq!(admin.recovery, None);
    assert_eq!(admin.legacy_id.as_deref(), Some("/admin#engine"));
    lone.session
        .accept("/admin", admin.legacy_id.unwrap(), Some("pid".into()))
        .unwrap();
    assert_eq!(lone.sent(), ["0", "0/admin,"]);
    assert_eq!(lone.session.pid("/admin"), None);
    // CONNECT_ERROR is `err.data || err.message`; an unknown namespace still gets the object.
    for (data, expected) in [
        (None, r#"4/x,"not authorized""#),
        (Some(Value::from("")), r#"4/x,"not authorized""#),
        (Some(Value::from(0)), r#"4/x,"not authorized""#),
        (
            Some(json(serde_json::json!({"code": 1}))),
            r#"4/x,{"code":1}"#,
        ),
    ] {
        lone.feed("0/x?a=1,");
        lone.request();
        lone.session.refuse("/x", "not authorized", data).unwrap();
        assert_eq!(lone.sent(), [expected]);
    }
    lone.feed("0/y,");
    lone.request();
    lone.session.refuse_unknown_namespace("/y").unwrap();
    assert_eq!(lone.sent(), [r#"4/y,{"message":"Invalid namespace"}"#]);
    // Events of the namespace (the query of a packet's namespace is not part of its name).
    lone.feed(r#"2/admin,7["echo",1]"#);
    let events = lone.events();
    assert!(matches!(
        &events[..],
        [ServerEvent::Event { nsp, sid, id: Some(7), .. }] if nsp == "/admin" && sid == "/admin#engine"
    ));
    // A cut: no session is persisted in protocol 4.
    lone.session
        .handle_close(lone.now, ServerDisconnectReason::TransportClose);
    let persisted = lone
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                ServerEvent::Disconnected {
                    persist: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(persisted, 0);
}

// ------------------------------------------------------------------------------------------
// Cuts, reconnection, buffers, retries
// ------------------------------------------------------------------------------------------

#[test]
fn buffered_emits_are_flushed_in_order_after_a_reconnection() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig::default().randomization_factor(0.0),
    );
    p.connect("/");
    p.advance_by(ms(100));
    p.cut();
    let cut_at = p.elapsed();
    let buffered: Vec<u64> = (0..5).map(|i| p.emit("/", "e", i % 2 == 0, None)).collect();
    assert_eq!(p.client.buffered("/"), 5);
    assert!(p.server_got("e").is_empty());
    // The first reconnection attempt comes `reconnectionDelay` after the cut.
    p.advance_by(Duration::from_secs(3));
    assert_eq!(
        p.client_event_times(|e| matches!(e, ClientEvent::ReconnectAttempt(1))),
        [cut_at + Duration::from_secs(1)]
    );
    assert_eq!(
        p.count_client(|e| matches!(e, ClientEvent::Reconnect(1))),
        1
    );
    assert_eq!(p.server_got("e"), buffered);
    assert_eq!(p.client.buffered("/"), 0);
    // The flush comes after the CONNECT reply, before `connect` is handed out.
    let reply = p.wire.iter().rposition(|w| w.starts_with("< 0{")).unwrap();
    assert!(p.wire[reply + 1].starts_with(r#"> 20["e""#));
    let connects = p.client_connects();
    assert_eq!(connects.len(), 2);
    assert_ne!(
        connects[0].1, connects[1].1,
        "a fresh session without recovery"
    );
    let acked: Vec<u64> = p.client_acks().iter().map(|a| a.0).collect();
    assert_eq!(acked, [buffered[0], buffered[2], buffered[4]]);
}

#[test]
fn a_buffered_emit_whose_ack_times_out_is_never_sent() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig::default().randomization_factor(0.0),
    );
    p.connect("/");
    p.cut();
    let dropped = p.emit("/", "late", true, Some(ms(500)));
    let kept = p.emit("/", "late", true, Some(ms(5000)));
    p.advance_by(Duration::from_secs(10));
    assert_eq!(p.server_got("late"), [kept]);
    assert_eq!(
        p.client_acks(),
        [
            (dropped, Err(AckFailure::Timeout), ms(500)),
            (kept, Ok(vec![Value::from(kept)]), Duration::from_secs(1))
        ]
    );
}

#[test]
fn volatile_emits_are_dropped_when_the_transport_cannot_take_them() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    p.connect("/");
    let now = p.now;
    p.client.emit(
        now,
        "/",
        Emit::new("v", Args::new(&(1,)).unwrap()).volatile(),
        false,
    );
    p.client.emit(
        now,
        "/",
        Emit::new("v", Args::new(&(2,)).unwrap()).volatile(),
        true,
    );
    // A volatile emit with an ack keeps its ack: it ends with the timeout.
    let emit = Emit::new("v", Args::new(&(3,)).unwrap())
        .volatile()
        .with_ack(3)
        .timeout(ms(300));
    p.client.emit(now, "/", emit, false);
    p.run();
    p.cut();
    // Disconnected: a volatile emit is dropped, not buffered.
    p.client.emit(
        p.now,
        "/",
        Emit::new("v", Args::new(&(4,)).unwrap()).volatile(),
        true,
    );
    assert_eq!(p.client.buffered("/"), 0);
    p.advance_by(Duration::from_secs(10));
    assert_eq!(p.server_got("v"), [2]);
    // The cut failed the ack of the dropped packet first (it was not buffered).
    assert_eq!(
        p.client_acks(),
        [(3, Err(AckFailure::Disconnected), Duration::ZERO)]
    );
}

#[test]
fn retries_resend_until_acknowledged_one_at_a_time() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig::default()
            .retries(Some(2))
            .ack_timeout(Some(Duration::from_secs(1)))
            .randomization_factor(0.0),
    );
    p.connect("/");
    // The server drops the first two receptions of `flaky`: the third try is acknowledged.
    p.flaky_drops = 2;
    let flaky = p.emit("/", "flaky", true, None);
    // Queued behind it: sent only once `flaky` is done.
    let next = p.emit("/", "next", false, None);
    assert_eq!(p.server_got("flaky"), [flaky]);
    assert!(p.server_got("next").is_empty());
    p.advance_by(Duration::from_secs(10));
    assert_eq!(p.server_got("flaky"), [flaky, flaky, flaky]);
    assert_eq!(p.server_got("next"), [next]);
    assert_eq!(
        p.client_acks(),
        [(flaky, Ok(vec![Value::from(flaky)]), Duration::from_secs(2))]
    );
    // Never answered: tried 1 + 2 times, then the caller gets the timeout.
    let t = p.elapsed();
    let lost = p.emit("/", "noack", true, None);
    p.advance_by(Duration::from_secs(10));
    assert_eq!(p.server_got("noack"), [lost, lost, lost]);
    assert_eq!(
        p.client_acks().last().cloned(),
        Some((lost, Err(AckFailure::Timeout), t + Duration::from_secs(3)))
    );
    // Volatile emits skip the queue.
    let now = p.now;
    p.client.emit(
        now,
        "/",
        Emit::new("vol", Args::new(&(0,)).unwrap()).volatile(),
        true,
    );
    p.run();
    assert_eq!(p.server_got("vol"), [0]);
}

#[test]
fn retries_with_a_zero_timeout_settle_within_one_timer() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig::default()
            .retries(Some(3))
            .ack_timeout(Some(Duration::ZERO)),
    );
    p.connect("/");
    let lost = p.emit("/", "noack", true, None);
    // `advance` checks that nothing is still due after `handle_timeout`.
    assert!(p.advance());
    assert_eq!(p.server_got("noack"), [lost; 4]);
    assert_eq!(
        p.client_acks(),
        [(lost, Err(AckFailure::Timeout), Duration::ZERO)]
    );
}

#[test]
fn the_head_of_the_retries_queue_is_sent_again_on_reconnection() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig::default()
            .retries(Some(5))
            .randomization_factor(0.0),
    );
    p.connect("/");
    // No ack timeout: a try ends only with its answer or a disconnection.
    let head = p.emit("/", "noack-head", true, None);
    let queued = p.emit("/", "after", false, None);
    p.cut();
    assert_eq!(p.server_got("noack-head"), [head]);
    p.advance_by(Duration::from_secs(2));
    assert!(p.client.is_connected("/"));
    // Sent again on the new connection; the packet behind it still waits.
    assert_eq!(p.server_got("noack-head"), [head, head]);
    assert!(p.server_got("after").is_empty());
    assert_eq!(p.client.buffered("/"), 0);
    assert!(p.client_acks().is_empty());
    let _ = queued;
}

#[test]
fn reconnection_gives_up_after_its_attempts() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig::default()
            .reconnection_attempts(Some(3))
            .randomization_factor(0.0),
    );
    p.server_down = true;
    p.connect("/");
    p.advance_by(Duration::from_secs(60));
    let kinds: Vec<String> = p
        .client_events
        .iter()
        .map(|(at, e)| {
            let what = match e {
                ClientEvent::OpenEngine => "open-engine".to_owned(),
                ClientEvent::Error(e) => format!("error {e}"),
                ClientEvent::ConnectError { message, .. } => format!("connect_error {message}"),
                ClientEvent::ReconnectAttempt(n) => format!("reconnect_attempt {n}"),
                ClientEvent::ReconnectError(e) => format!("reconnect_error {e}"),
                ClientEvent::ReconnectFailed => "reconnect_failed".to_owned(),
                other => format!("{other:?}"),
            };
            format!("{} {what}", at.as_millis())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "0 open-engine",
            "0 error xhr poll error",
            "0 connect_error xhr poll error",
            "1000 reconnect_attempt 1",
            "1000 open-engine",
            "1000 error xhr poll error",
            "1000 connect_error xhr poll error",
            "1000 reconnect_error xhr poll error",
            "3000 reconnect_attempt 2",
            "3000 open-engine",
            "3000 error xhr poll error",
            "3000 connect_error xhr poll error",
            "3000 reconnect_error xhr poll error",
            "7000 reconnect_attempt 3",
            "7000 open-engine",
            "7000 error xhr poll error",
            "7000 connect_error xhr poll error",
            "7000 reconnect_failed",
            "7000 reconnect_error xhr poll error",
        ]
    );
    assert!(!p.client.is_reconnecting());
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn an_attempt_that_hangs_times_out() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig::default().randomization_factor(0.0),
    );
    p.server_hangs = true;
    p.connect("/");
    assert_eq!(p.next_deadline(), Some(p.start + Duration::from_secs(20)));
    p.advance_by(Duration::from_secs(20));
    let at_20: Vec<String> = p
        .client_events
        .iter()
        .filter(|(at, _)| *at == Duration::from_secs(20))
        .map(|(_, e)| format!("{e:?}"))
        .collect();
    assert_eq!(
        at_20,
        [
            "CloseEngine",
            r#"Error("timeout")"#,
            r#"ConnectError { nsp: "/", message: "timeout", data: None }"#,
        ]
    );
    // The first connection's failure is retried too (`maybeReconnectOnOpen`).
    p.server_hangs = false;
    p.advance_by(Duration::from_secs(2));
    assert!(p.client.is_connected("/"));
}

#[test]
fn closing_the_manager_and_server_disconnects_end_reconnection() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    p.connect("/");
    p.connect("/admin");
    let now = p.now;
    p.client.close(now);
    p.run();
    let after: Vec<String> = p
        .client_events
        .iter()
        .skip_while(|(_, e)| !matches!(e, ClientEvent::Close(_)))
        .map(|(_, e)| format!("{e:?}"))
        .collect();
    assert_eq!(
        after,
        [
            "Close(ForcedClose)",
            r#"Disconnect { nsp: "/", reason: ForcedClose }"#,
            r#"Disconnect { nsp: "/admin", reason: ForcedClose }"#,
            "CloseEngine",
        ]
    );
    assert!(p.server.is_none());
    p.advance_by(Duration::from_secs(60));
    assert_eq!(p.count_client(|e| matches!(e, ClientEvent::OpenEngine)), 1);

    // `io server disconnect`: that socket is done; the last one leaving closes the manager.
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    p.connect("/");
    p.connect("/admin");
    p.server
        .as_mut()
        .unwrap()
        .session
        .disconnect("/admin")
        .unwrap();
    p.run();
    assert!(!p.client.is_active("/admin") && p.client.is_connected("/"));
    let w = p.wire.len();
    p.client.disconnect(p.now, "/");
    p.run();
    assert_eq!(p.wire_since(w), ["> 1"]);
    let reasons: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::Disconnect { nsp, reason } => Some((nsp.to_string(), *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("/admin".into(), ClientDisconnectReason::IoServerDisconnect),
            ("/".into(), ClientDisconnectReason::IoClientDisconnect),
        ]
    );
    assert!(p.server.is_none(), "closed once no socket is active");
    p.advance_by(Duration::from_secs(60));
    assert_eq!(p.count_client(|e| matches!(e, ClientEvent::OpenEngine)), 1);
}

#[test]
fn a_connect_timeout_seen_by_the_client_is_a_transport_close() {
    let mut p = Pair::new(
        ServerConfig::default().connect_timeout(Duration::from_secs(1)),
        ClientConfig::default().randomization_factor(0.0),
    );
    // The manager opens, but no socket connects.
    let now = p.now;
    p.client.open(now);
    p.run();
    p.advance_by(ms(1500));
    assert!(
        p.count_client(|e| matches!(
            e,
            ClientEvent::Close(ClientDisconnectReason::TransportClose)
        )) == 1
    );
    assert_eq!(
        p.client_event_times(|e| matches!(e, ClientEvent::Close(_))),
        [Duration::from_secs(1)]
    );
}

#[test]
fn disconnecting_while_the_connect_is_with_the_server() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    p.middleware_latency = ms(50);
    p.connect("/");
    p.connect("/admin");
    p.advance_by(ms(10));
    // `/admin` leaves while its CONNECT is with the middlewares.
    p.client.disconnect(p.now, "/admin");
    p.run();
    p.advance_by(ms(100));
    // The server's late acceptance is answered with DISCONNECT: no socket is left behind.
    assert_eq!(
        p.wire
            .iter()
            .filter(|w| w.contains("/admin"))
            .cloned()
            .collect::<Vec<_>>(),
        ["> 0/admin,", r#"< 0/admin,{"sid":"sid-2"}"#, "> 1/admin,"]
    );
    assert!(!p.server.as_ref().unwrap().session.is_connected("/admin"));
    assert_eq!(p.client_connects(), [("/".into(), "sid-1".into(), false)]);
}

// ------------------------------------------------------------------------------------------
// The receive buffer and connection state recovery
// ------------------------------------------------------------------------------------------

#[test]
fn events_before_the_connect_reply_are_buffered_then_handed_out_first() {
    let t = Instant::now();
    let mut client: ClientSession<u64> = ClientSession::new(ClientConfig::default(), t);
    client.connect(t, "/");
    assert!(matches!(client.poll_event(), Some(ClientEvent::OpenEngine)));
    client.handle_open(t);
    client.send_connect(t, "/", None);
    let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    for i in 0..3 {
        client.handle_packet(
            t,
            Packet::event("/", "early", Args::new(&(i,)).unwrap(), None),
        );
    }
    assert!(
        client.poll_event().is_none(),
        "not handed out before `connect`"
    );
    let reply = json(serde_json::json!({"sid": "s"}));
    client.handle_packet(t, Packet::new("/", PacketData::Connect(Some(reply))));
    let events: Vec<String> = std::iter::from_fn(|| client.poll_event())
        .map(|e| match e {
            ClientEvent::Event { args, .. } => {
                format!("event {}", args.deserialize::<(i64,)>().unwrap().0)
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        events,
        [
            "event 0",
            "event 1",
            "event 2",
            r#"Connect { nsp: "/", sid: "s", recovered: false }"#,
        ]
    );
    // A reply without sid is a Socket.IO 2.x server.
    let mut client: ClientSession<u64> = ClientSession::new(ClientConfig::default(), t);
    client.connect(t, "/");
    client.handle_open(t);
    client.send_connect(t, "/", None);
    client.handle_packet(t, Packet::new("/", PacketData::Connect(None)));
    let last = std::iter::from_fn(|| client.poll_event()).last();
    assert!(matches!(
        last,
        Some(ClientEvent::ConnectError { ref message, .. }) if message.starts_with("It seems you are trying to reach a Socket.IO server in v2.x")
    ));
}

#[test]
fn an_error_of_the_open_connection_reaches_the_sockets_still_connecting() {
    let t = Instant::now();
    let config = ClientConfig::default().randomization_factor(0.0);
    let mut client: ClientSession<u64> = ClientSession::new(config, t);
    client.connect(t, "/");
    client.connect(t, "/admin");
    client.handle_open(t);
    client.send_connect(t, "/", None);
    client.send_connect(t, "/admin", None);
    let reply = json(serde_json::json!({"sid": "s"}));
    client.handle_packet(t, Packet::new("/", PacketData::Connect(Some(reply))));
    let _ = std::iter::from_fn(|| client.poll_event()).count();
    // `/admin` still waits for its reply when the transport fails.
    client.handle_error(t, "xhr post error");
    client.handle_close(t, ClientDisconnectReason::TransportError);
    let events: Vec<String> = std::iter::from_fn(|| client.poll_event())
        .map(|e| format!("{e:?}"))
        .collect();
    assert_eq!(
        events,
        [
            r#"Error("xhr post error")"#,
            r#"ConnectError { nsp: "/admin", message: "xhr post error", data: None }"#,
            "Close(TransportError)",
            r#"Disconnect { nsp: "/", reason: TransportError }"#,
        ]
    );
    assert!(client.is_reconnecting() && client.is_active("/admin"));
    assert_eq!(client.poll_timeout(), Some(t + Duration::from_secs(1)));
    // Not open: nothing to report.
    client.handle_error(t, "late");
    assert!(client.poll_event().is_none());
}

/// Connects `/` with recovery on and receives two stored events.
fn recovering_pair() -> Pair {
    let mut p = Pair::recovery();
    p.auth
        .insert("/".into(), json(serde_json::json!({"token": "t"})));
    p.connect("/");
    p.server_emit("/", "e", vec![Value::from(1)]);
    p.server_emit("/", "e", vec![Value::from(2)]);
    p
}

#[test]
fn a_cut_session_is_recovered_with_what_it_missed() {
    let mut p = recovering_pair();
    assert_eq!(
        p.wire_since(0),
        [
            r#"> 0{"token":"t"}"#,
            r#"< 0{"sid":"sid-1","pid":"pid-00000000000000000001"}"#,
            r#"< 2["e",1,"off-1"]"#,
            r#"< 2["e",2,"off-2"]"#,
        ]
    );
    assert_eq!(
        p.client.pid("/").map(|s| s.as_str()),
        Some("pid-00000000000000000001")
    );
    assert_eq!(p.client.last_offset("/").map(|s| s.as_str()), Some("off-2"));
    p.cut();
    // Emitted while the client is away: stored for its session.
    p.server_emit("/", "e", vec![Value::from(3)]);
    p.server_emit("/", "e", vec![Value::from(4)]);
    let buffered = p.emit("/", "hello", false, None);
    let w = p.wire.len();
    p.advance_by(Duration::from_secs(2));
    // The CONNECT carries pid and offset (and the auth); the missed packets come before the
    // reply, which has the same sid and pid; then the buffered emit.
    assert_eq!(
        p.wire_since(w),
        [
            r#"> 0{"pid":"pid-00000000000000000001","offset":"off-2","token":"t"}"#,
            r#"< 2["e",3,"off-3"]"#,
            r#"< 2["e",4,"off-4"]"#,
            r#"< 0{"sid":"sid-1","pid":"pid-00000000000000000001"}"#,
            r#"> 2["hello",1]"#,
        ]
    );
    assert_eq!(
        p.connect_requests[1].recovery,
        Some(RecoveryRequest::new("pid-00000000000000000001", "off-2"))
    );
    // `handshake.auth` keeps the pid and offset, as in socket.io.
    assert_eq!(
        p.connect_requests[1]
            .auth
            .get("offset")
            .and_then(Value::as_str),
        Some("off-2")
    );
    assert_eq!(p.client_connects()[1], ("/".into(), "sid-1".into(), true));
    assert!(p.client.recovered("/"));
    assert_eq!(p.server_got("hello"), [buffered]);
    // Each event once, in order, the missed ones before `connect`.
    let rx: Vec<i64> = p
        .client_rx()
        .iter()
        .map(|r| r.2[0].as_i64().unwrap())
        .collect();
    assert_eq!(rx, [1, 2, 3, 4]);
    let connect = p
        .client_events
        .iter()
        .rposition(|(_, e)| matches!(e, ClientEvent::Connect { .. }))
        .unwrap();
    let last_event = p
        .client_events
        .iter()
        .rposition(|(_, e)| matches!(e, ClientEvent::Event { .. }))
        .unwrap();
    assert!(last_event < connect);
    assert_eq!(p.client.last_offset("/").map(|s| s.as_str()), Some("off-4"));

    // The recovered socket keeps its pid: a second cut recovers again.
    p.cut();
    p.server_emit("/", "e", vec![Value::from(5)]);
    p.advance_by(Duration::from_secs(2));
    assert_eq!(p.client_connects()[2], ("/".into(), "sid-1".into(), true));
    let rx: Vec<i64> = p
        .client_rx()
        .iter()
        .map(|r| r.2[0].as_i64().unwrap())
        .collect();
    assert_eq!(rx, [1, 2, 3, 4, 5]);
}

/// After a cut, whatever `tamper` does to the store or the client, the client must get a
/// fresh session: a new sid and pid, nothing replayed, `recovered` false.
fn assert_fresh_session(tamper: impl FnOnce(&mut Pair), wait: Duration) {
    let mut p = recovering_pair();
    p.cut();
    p.server_emit("/", "e", vec![Value::from(3)]);
    tamper(&mut p);
    p.advance_by(wait);
    let connects = p.client_connects();
    assert_eq!(connects.len(), 2, "{:?}", p.client_events);
    assert_eq!(connects[1].1, "sid-2");
    assert!(!connects[1].2 && !p.client.recovered("/"));
    assert_eq!(
        p.client.pid("/").map(|s| s.as_str()),
        Some("pid-00000000000000000002")
    );
    let rx: Vec<i64> = p
        .client_rx()
        .iter()
        .map(|r| r.2[0].as_i64().unwrap())
        .collect();
    assert_eq!(rx, [1, 2], "nothing replayed");
    // A new session's offsets start over: the old offset is not sent with the new pid.
    assert_eq!(p.client.last_offset("/"), None);
}

#[test]
fn an_expired_session_gives_a_fresh_one() {
    // The client stays away past `maxDisconnectionDuration` (2 min).
    assert_fresh_session(
        |p| {
            p.server_down = true;
            p.advance_by(Duration::from_secs(121));
            p.server_down = false;
        },
        Duration::from_secs(10),
    );
}

#[test]
fn a_forged_or_unknown_pid_gives_a_fresh_session() {
    assert_fresh_session(
        |p| {
            // What a client sends is what the store looks up: a forged pid finds nothing.
            p.store.sessions = p
                .store
                .sessions
                .drain()
                .map(|(pid, s)| (format!("{pid}-other"), s))
                .collect();
        },
        Duration::from_secs(2),
    );
}

#[test]
fn an_unknown_or_too_old_offset_gives_a_fresh_session() {
    assert_fresh_session(
        |p| {
            // The log moved on: `off-2` is no longer stored.
            p.store.max_log = 1;
            let sid = Str::from("someone-else");
            p.server_emit_to("/", &sid, "other", vec![]);
        },
        Duration::from_secs(2),
    );
}

#[test]
fn a_session_past_its_storage_bound_is_not_recoverable() {
    assert_fresh_session(
        |p| {
            p.store.max_per_session = 3;
            for i in 0..3 {
                p.server_emit("/", "e", vec![Value::from(10 + i)]);
            }
        },
        Duration::from_secs(2),
    );
}

#[test]
fn a_pid_is_usable_once_and_never_gives_another_clients_state() {
    let mut p = recovering_pair();
    p.cut();
    p.server_emit("/", "e", vec![Value::from(3)]);
    // An attacker who learnt the pid and offset gets there first...
    let now = p.now;
    let stolen = RecoveryRequest::new("pid-00000000000000000001", "off-2");
    assert!(p.store.restore(now, "/", &stolen).is_some());
    // ...so the legitimate client gets a fresh session (and the attacker's second try too).
    assert!(p.store.restore(now, "/", &stolen).is_none());
    p.advance_by(Duration::from_secs(2));
    let connects = p.client_connects();
    assert_eq!(connects[1], ("/".into(), "sid-2".into(), false));

    // A second client replaying the first one's CONNECT payload after a recovery gets a
    // fresh session: the pid was consumed by the recovery.
    let mut p = recovering_pair();
    p.cut();
    p.advance_by(Duration::from_secs(2));
    assert!(p.client.recovered("/"));
    let engine = Str::from("engine-attacker");
    let mut attacker: ServerSession<u64> =
        ServerSession::new(engine, ServerConfig::default().recovery(true), p.now);
    let payload = json(serde_json::json!({"pid": "pid-00000000000000000001", "offset": "off-2"}));
    attacker.handle_packet(p.now, Packet::new("/", PacketData::Connect(Some(payload))));
    let Some(ServerEvent::ConnectRequest(request)) = attacker.poll_event() else {
        panic!()
    };
    let now = p.now;
    assert!(
        p.store
            .restore(now, "/", request.recovery.as_ref().unwrap())
            .is_none()
    );
}

#[test]
fn sessions_left_on_purpose_are_not_kept() {
    let mut p = recovering_pair();
    // The client leaves the namespace, then comes back: "client namespace disconnect" is not
    // recoverable, so the CONNECT with the old pid gets a fresh session.
    p.client.disconnect(p.now, "/");
    p.run();
    assert!(p.store.sessions.is_empty());
    assert!(p.server.is_none());
    p.connect("/");
    let connects = p.client_connects();
    assert_eq!(
        connects.last().unwrap(),
        &("/".into(), "sid-2".into(), false)
    );
    assert_eq!(
        p.connect_requests.last().unwrap().recovery,
        Some(RecoveryRequest::new("pid-00000000000000000001", "off-2"))
    );
}

#[test]
fn missed_packets_wait_for_a_slow_restore_and_middlewares_are_the_runtimes_choice() {
    let mut p = recovering_pair();
    p.middleware_latency = ms(300);
    p.cut();
    p.server_emit("/", "e", vec![Value::from(3)]);
    let buffered = p.emit("/", "q", true, None);
    p.advance_by(Duration::from_secs(1) + ms(100));
    // The CONNECT is with the runtime: nothing flushed, nothing replayed yet.
    assert!(!p.client.is_connected("/"));
    assert_eq!(p.client.buffered("/"), 1);
    p.advance_by(ms(300));
    assert!(p.client.recovered("/"));
    let rx: Vec<i64> = p
        .client_rx()
        .iter()
        .map(|r| r.2[0].as_i64().unwrap())
        .collect();
    assert_eq!(rx, [1, 2, 3]);
    assert_eq!(p.client_acks()[0].0, buffered);
}

// ------------------------------------------------------------------------------------------
// Property: arbitrary interleavings
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    /// A client emit: with an ack (and maybe a timeout), or without.
    Emit { ack: bool, timeout_ms: Option<u16> },
    /// A server emit to the client's current socket (stored for recovery).
    ServerEmit,
    /// A server `emit_with_ack` (if connected), answered by the client or not.
    ServerAsk { timeout_ms: u16, answered: bool },
    /// The connection dies.
    Cut,
    /// Time passes.
    Wait { ms: u16 },
    /// The server is down (connection attempts fail) or back.
    ServerDown(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), proptest::option::of(100u16..3000))
            .prop_map(|(ack, timeout_ms)| Op::Emit { ack, timeout_ms }),
        3 => Just(Op::ServerEmit),
        2 => (100u16..3000, any::<bool>())
            .prop_map(|(timeout_ms, answered)| Op::ServerAsk { timeout_ms, answered }),
        2 => Just(Op::Cut),
        3 => (0u16..4000).prop_map(|ms| Op::Wait { ms }),
        1 => any::<bool>().prop_map(Op::ServerDown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the interleaving of cuts, emits and acks: no panic; every client emit reaches
    /// the server at most once, and exactly once unless its ack timed out first; every ack of
    /// either side ends exactly once; the server's events reach the client at most once and
    /// in order, and all of them when every reconnection was recovered.
    #[test]
    fn interleavings_never_lose_or_duplicate(
        ops in proptest::collection::vec(op(), 1..60),
        latency in 0u64..400,
    ) {
        let mut p = Pair::recovery();
        p.middleware_latency = ms(latency);
        p.connect("/");
        p.advance_by(ms(500));
        let mut emits: Vec<(u64, bool)> = Vec::new();
        let mut server_emits = 0i64;
        let mut asks: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Op::Emit { ack, timeout_ms } => {
                    let n = p.emit("/", "e", ack, timeout_ms.map(|t| ms(t.into())));
                    emits.push((n, ack));
                }
                Op::ServerEmit => {
                    if p.current_sid.contains_key("/") {
                        server_emits += 1;
                        p.server_emit("/", "s", vec![Value::from(server_emits)]);
                    }
                }
                Op::ServerAsk { timeout_ms, answered } => {
                    if p.server.as_ref().is_some_and(|s| s.session.is_connected("/")) {
                        p.client_answers = answered;
                        asks.push(p.server_emit_with_ack("/", "ask", ms(timeout_ms.into())));
                        p.client_answers = true;
                    }
                }
                Op::Cut => p.cut(),
                Op::Wait { ms: n } => p.advance_by(ms(n.into())),
                Op::ServerDown(down) => p.server_down = down,
            }
        }
        // Heal: the server comes back, and time passes until everything settled.
        p.server_down = false;
        p.advance_by(Duration::from_secs(30));
        prop_assert!(p.client.is_connected("/"), "{:?}", p.client);
        prop_assert_eq!(p.client.buffered("/"), 0);

        let got = p.server_got("e");
        let acks = p.client_acks();
        for (n, ack) in &emits {
            let received = got.iter().filter(|g| *g == n).count();
            let outcomes: Vec<_> = acks.iter().filter(|a| a.0 == *n).collect();
            prop_assert!(received <= 1, "emit {} received {} times", n, received);
            if *ack {
                prop_assert_eq!(outcomes.len(), 1, "emit {}: {:?}", n, outcomes);
                if outcomes[0].1.is_ok() {
                    prop_assert_eq!(received, 1);
                }
                if received == 0 {
                    prop_assert_eq!(&outcomes[0].1, &Err(AckFailure::Timeout));
                }
            } else {
                prop_assert!(outcomes.is_empty());
                prop_assert_eq!(received, 1, "emit {} without ack lost", n);
            }
        }
        // Server asks end exactly once each.
        let server_acks = p.server_acks();
        for id in &asks {
            prop_assert_eq!(server_acks.iter().filter(|a| a.0 == *id).count(), 1);
        }
        // Server events: at most once, in order; all of them if every reconnection recovered.
        let rx: Vec<i64> = p
            .client_rx()
            .iter()
            .filter(|r| r.1 == "s")
            .map(|r| r.2[0].as_i64().unwrap())
            .collect();
        prop_assert!(rx.windows(2).all(|w| w[0] < w[1]), "{:?}", rx);
        let connects = p.client_connects();
        if connects.iter().skip(1).all(|c| c.2) {
            prop_assert_eq!(rx, (1..=server_emits).collect::<Vec<_>>());
        }
        prop_assert_eq!(p.client.pending_acks("/"), 0);
    }
}

/// The reason of a command's error, which must be of the session kind.
fn session_reason<T: std::fmt::Debug>(
    result: Result<T, sio_protocol::Error>,
) -> Option<SessionReason> {
    let error = result.expect_err("the command fails");
    assert!(error.is_session(), "{error:?}");
    error.session_reason()
}
