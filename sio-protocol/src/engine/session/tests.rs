//! Unit tests of the session internals; the two-sided scenarios are in `tests/session_pair.rs`.

use super::*;

fn drain(s: &mut Session) -> Vec<Transmit> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

#[test]
fn server_open_packet() {
    let now = Instant::now();
    let mut s = Session::server(
        "abc".into(),
        TransportKind::Polling,
        SessionConfig::default(),
        now,
    );
    let t = drain(&mut s);
    assert_eq!(t.len(), 1);
    let Packet::Open(open) = &t[0].packet else {
        panic!("{t:?}")
    };
    assert_eq!(open.upgrades, vec![Str::from("websocket")]);
    assert_eq!(open.ping_interval, 25_000);
    assert_eq!(open.max_payload, Some(1_000_000));
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(25)));
    // Polling is no longer writable: a message waits for the next GET.
    assert!(s.send(Packet::Message("x".into())));
    assert!(drain(&mut s).is_empty());
    s.handle_writable(now, TransportKind::Polling);
    assert_eq!(drain(&mut s).len(), 1);
}

#[test]
fn server_ws_handshake_has_no_upgrades() {
    let now = Instant::now();
    let mut s = Session::server(
        "abc".into(),
        TransportKind::WebSocket,
        SessionConfig::default(),
        now,
    );
    let t = drain(&mut s);
    assert!(matches!(&t[0].packet, Packet::Open(o) if o.upgrades.is_empty()));
    assert!(!s.begin_upgrade(now, TransportKind::WebSocket));
}

#[test]
fn upgrade_rearms_an_awaited_pong() {
    let t0 = Instant::now();
    let s30 = Duration::from_secs(30);
    let mut s = Session::server(
        "a".into(),
        TransportKind::Polling,
        SessionConfig::default(),
        t0,
    );
    let _ = drain(&mut s);
    assert!(s.begin_upgrade(t0 + Duration::from_secs(24), TransportKind::WebSocket));
    s.handle_timeout(t0 + Duration::from_secs(25)); // ping; pong expected by 45 s
    s.handle_packet(t0 + s30, TransportKind::WebSocket, Packet::ping_probe());
    s.handle_packet(t0 + s30, TransportKind::WebSocket, Packet::Upgrade);
    assert_eq!(s.transport(), TransportKind::WebSocket);
    // JS clears the ping timeout here; we re-arm it from the switch.
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(50)));
    let out = drain(&mut s);
    assert_eq!(out[0].packet, Packet::pong_probe());
    // No GET was pending when the ping was due: it waited and now goes out on the WebSocket.
    assert_eq!(
        out[1],
        Transmit {
            transport: TransportKind::WebSocket,
            packet: Packet::PING
        }
    );
    s.handle_packet(t0 + s30, TransportKind::WebSocket, Packet::PONG);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(55)));
}

#[test]
fn client_close_while_paused_waits_for_the_upgrade() {
    let t0 = Instant::now();
    let mut c = Session::client(TransportKind::Polling, SessionConfig::default(), t0);
    let open = OpenPacket {
        sid: "a".into(),
        upgrades: vec!["websocket".into()],
        ping_interval: 25_000,
        ping_timeout: 20_000,
        max_payload: None,
    };
    c.handle_packet(t0, TransportKind::Polling, Packet::Open(open));
    assert!(c.start_probe(t0, TransportKind::WebSocket));
    c.handle_packet(t0, TransportKind::WebSocket, Packet::pong_probe());
    assert!(c.send(Packet::Message("last".into())));
    c.close(t0);
    assert!(!c.is_closed());
    let out = drain(&mut c);
    assert_eq!(out.len(), 1, "only 2probe: polling is paused");
    c.finish_upgrade(t0);
    assert!(c.is_closed());
    let out: Vec<_> = drain(&mut c).into_iter().map(|t| t.packet).collect();
    assert_eq!(out, [Packet::Upgrade, Packet::Message("last".into())]);
    let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(
        events[1..],
        [
            Event::ProbeSucceeded(TransportKind::WebSocket),
            Event::Upgraded(TransportKind::WebSocket),
            Event::Closed(CloseReason::ForcedClose)
        ]
    );
}

#[test]
fn client_close_before_open() {
    let t0 = Instant::now();
    let mut c = Session::client(TransportKind::Polling, SessionConfig::default(), t0);
    assert!(c.send(Packet::Message("x".into())));
    c.close(t0);
    assert!(drain(&mut c).is_empty());
    assert_eq!(
        c.poll_event(),
        Some(Event::Closed(CloseReason::ForcedClose))
    );
}

#[test]
fn huge_durations_do_not_overflow() {
    let now = Instant::now();
    let config = SessionConfig::default()
        .ping_interval(Duration::MAX)
        .ping_timeout(Duration::MAX)
        .upgrade_timeout(Duration::MAX);
    let mut s = Session::server("a".into(), TransportKind::Polling, config.clone(), now);
    assert!(s.begin_upgrade(now, TransportKind::WebSocket));
    s.handle_timeout(now);
    let mut c = Session::client(TransportKind::Polling, config, now);
    let open = OpenPacket {
        sid: "a".into(),
        upgrades: vec![],
        ping_interval: u64::MAX,
        ping_timeout: u64::MAX,
        max_payload: None,
    };
    c.handle_packet(now, TransportKind::Polling, Packet::Open(open));
    c.handle_timeout(now);
    assert!(!c.is_closed());
}

#[test]
fn noops_during_an_upgrade_are_paced() {
    // A client that sent `2probe` but never `5`, and polls again as soon as each GET is
    // answered: engine.io answers at most one noop per 100 ms (its `check` interval).
    let t0 = Instant::now();
    let ws = TransportKind::WebSocket;
    let polling = TransportKind::Polling;
    let config = SessionConfig::default().upgrade_timeout(Duration::from_secs(60));
    let mut s = Session::server("s".into(), polling, config, t0);
    let _ = drain(&mut s);
    assert!(s.begin_upgrade(t0, ws));
    s.handle_packet(t0, ws, Packet::ping_probe());
    let probe = drain(&mut s);
    assert_eq!(probe.len(), 1, "{probe:?}");
    assert_eq!(probe[0].packet, Packet::pong_probe());

    // The first GET gets a noop at once.
    s.handle_writable(t0, polling);
    assert_eq!(drain(&mut s)[0].packet, Packet::Noop);

    // Then a GET every millisecond for 12 s, each re-sent as soon as it is answered.
    let mut now = t0;
    let mut pending = false;
    let mut answered = Vec::new();
    let end = t0 + Duration::from_secs(12);
    while now < end {
        now += Duration::from_millis(1);
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
        }
        if !pending {
            s.handle_writable(now, polling);
            pending = true;
        }
        for t in drain(&mut s) {
            assert_eq!((t.transport, t.packet), (polling, Packet::Noop));
            answered.push(now);
            pending = false;
        }
    }
    // One noop per 100 ms: 120 in 12 s (engine.io answered 137 in the replay).
    assert!((119..=121).contains(&answered.len()), "{}", answered.len());
    assert!(
        answered
            .windows(2)
            .all(|w| w[1] - w[0] >= Duration::from_millis(100))
    );
    assert!(s.is_upgrading() && !s.is_closed());
    // `5` completes the upgrade; the pacing timer is gone with it.
    s.handle_packet(now, ws, Packet::Upgrade);
    assert_eq!(s.transport(), ws);
    assert!(
        s.poll_timeout()
            .is_some_and(|t| t > now + Duration::from_secs(1))
    );
}
