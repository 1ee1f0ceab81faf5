//! A client `Session` and a server `Session` wired together in virtual time.
//!
//! `Pair` moves transmits from one session to the other (the transport label says which wire),
//! simulates the long-polling loop (the client always keeps one GET pending at the server while
//! it polls; a POST completes as soon as the server has read it) and jumps `now` to the next
//! `poll_timeout` instead of sleeping.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sio_protocol::engine::{
    CloseReason, Event, OpenPacket, Packet, ProtocolVersion, Role, Session, SessionConfig,
    TransportKind,
};

const POLLING: TransportKind = TransportKind::Polling;
const WS: TransportKind = TransportKind::WebSocket;

struct Pair {
    client: Session,
    server: Session,
    now: Instant,
    start: Instant,
    client_events: Vec<(Duration, Event)>,
    server_events: Vec<(Duration, Event)>,
    /// Every packet delivered client → server and server → client, with its wire.
    to_server: Vec<(TransportKind, Packet)>,
    to_client: Vec<(TransportKind, Packet)>,
    /// Drop everything the client (server) writes.
    client_mute: bool,
    server_mute: bool,
    /// The client has a GET pending at the server.
    get_pending: bool,
    /// The client wants to pause polling (it saw `ProbeSucceeded`).
    pausing: bool,
    /// Closing one side closes the wires: the runtime tells the other side.
    propagate_close: bool,
}

impl Pair {
    fn new(transport: TransportKind, config: SessionConfig) -> Pair {
        let now = Instant::now();
        let server = Session::server(
            "sid-0123456789abcdef".into(),
            transport,
            config.clone(),
            now,
        );
        let client = Session::client(transport, config, now);
        let mut pair = Pair {
            client,
            server,
            now,
            start: now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            to_server: Vec::new(),
            to_client: Vec::new(),
            client_mute: false,
            server_mute: false,
            // The handshake GET.
            get_pending: transport == POLLING,
            pausing: false,
            propagate_close: true,
        };
        pair.run();
        pair
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// One round of deliveries in both directions; true if anything moved.
    fn round(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;

        // Client → server. Polling transmits form one POST, complete once read.
        let mut posted = false;
        while let Some(t) = self.client.poll_transmit() {
            moved = true;
            posted |= t.transport == POLLING;
            if !self.client_mute {
                self.to_server.push((t.transport, t.packet.clone()));
                self.server.handle_packet(now, t.transport, t.packet);
            }
        }
        if posted {
            self.client.handle_writable(now, POLLING);
        }

        // Server → client. Polling transmits answer the pending GET.
        let mut answered = false;
        while let Some(t) = self.server.poll_transmit() {
            moved = true;
            if t.transport == POLLING {
                assert!(self.get_pending, "polling packet without a GET: {t:?}");
                answered = true;
            }
            if !self.server_mute {
                self.to_client.push((t.transport, t.packet.clone()));
                self.client.handle_packet(now, t.transport, t.packet);
            }
        }
        if answered {
            self.get_pending = false;
        }

        // Events, and the runtime's reactions to them.
        while let Some(e) = self.client.poll_event() {
            moved = true;
            match e {
                Event::ProbeSucceeded(_) => self.pausing = true,
                Event::Closed(_) if self.propagate_close => {
                    let t = self.server.transport();
                    self.server.handle_transport_closed(now, t);
                }
                _ => {}
            }
            self.client_events.push((self.elapsed(), e));
        }
        while let Some(e) = self.server.poll_event() {
            moved = true;
            if matches!(e, Event::Closed(_)) && self.propagate_close {
                let t = self.client.transport();
                self.client.handle_transport_closed(now, t);
            }
            self.server_events.push((self.elapsed(), e));
        }

        // The client's GET loop.
        if self.pausing && !self.get_pending {
            self.pausing = false;
            self.client.finish_upgrade(now);
            moved = true;
        }
        let polling = self.client.transport() == POLLING && self.server.transport() == POLLING;
        if polling && !self.get_pending && !self.pausing && !self.client.is_closed() {
            self.get_pending = true;
            self.server.handle_writable(now, POLLING);
            moved = true;
        }
        moved
    }

    fn run(&mut self) {
        for _ in 0..1000 {
            if !self.round() {
                return;
            }
        }
        panic!("the pair does not settle");
    }

    /// Jumps to the next deadline of either side and handles it; false if there is none.
    fn advance(&mut self) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        assert!(next >= self.now, "deadline in the past");
        self.now = next;
        self.client.handle_timeout(next);
        self.server.handle_timeout(next);
        self.run();
        true
    }

    /// Advances through deadlines until `elapsed() >= until` or nothing is scheduled.
    fn advance_until(&mut self, until: Duration) {
        while self.elapsed() < until {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(next) if next - self.start <= until => {
                    self.advance();
                }
                _ => {
                    self.now = self.start + until;
                    self.run();
                    return;
                }
            }
        }
    }

    fn messages(events: &[(Duration, Event)]) -> Vec<String> {
        events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message(m) => Some(m.to_string()),
                Event::Binary(b) => Some(format!("bin{:?}", b.as_ref())),
                _ => None,
            })
            .collect()
    }

    fn closed(events: &[(Duration, Event)]) -> Option<(Duration, CloseReason)> {
        events.iter().find_map(|(at, e)| match e {
            Event::Closed(r) => Some((*at, *r)),
            _ => None,
        })
    }

    fn count(events: &[(Duration, Event)], wanted: &Event) -> usize {
        events.iter().filter(|(_, e)| e == wanted).count()
    }
}

fn fast() -> SessionConfig {
    SessionConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
}

fn msg(s: &str) -> Packet {
    Packet::Message(s.to_owned().into())
}

#[test]
fn handshake_over_polling() {
    let pair = Pair::new(POLLING, SessionConfig::default());
    let open = match &pair.client_events[..] {
        [(_, Event::Opened(open))] => open.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(open.sid, "sid-0123456789abcdef");
    assert_eq!(open.upgrades, ["websocket"]);
    assert_eq!((open.ping_interval, open.ping_timeout), (25_000, 20_000));
    assert_eq!(open.max_payload, Some(1_000_000));
    assert_eq!(pair.client.sid(), pair.server.sid());
    assert_eq!(pair.client.role(), Role::Client);
    assert_eq!(pair.server.version(), ProtocolVersion::V4);
    assert!(pair.get_pending, "the client polls again");
    assert_eq!(
        pair.client.poll_timeout(),
        Some(pair.start + Duration::from_secs(45))
    );
    assert_eq!(
        pair.server.poll_timeout(),
        Some(pair.start + Duration::from_secs(25))
    );
}

#[test]
fn handshake_over_websocket() {
    let pair = Pair::new(WS, SessionConfig::default());
    assert!(matches!(&pair.client_events[..], [(_, Event::Opened(o))] if o.upgrades.is_empty()));
    assert_eq!(pair.to_client.len(), 1);
}

#[test]
fn client_queues_before_open() {
    let now = Instant::now();
    let mut client = Session::client(POLLING, SessionConfig::default(), now);
    assert!(client.send(msg("early")));
    assert_eq!(client.poll_transmit(), None);
    assert_eq!(client.poll_timeout(), None);
    let open = OpenPacket {
        sid: "s".into(),
        upgrades: vec![],
        ping_interval: 100,
        ping_timeout: 100,
        max_payload: None,
    };
    client.handle_packet(now, POLLING, Packet::Open(open));
    assert_eq!(client.poll_transmit().map(|t| t.packet), Some(msg("early")));
}

#[test]
fn messages_both_ways() {
    for transport in [POLLING, WS] {
        let mut pair = Pair::new(transport, SessionConfig::default());
        assert!(pair.client.send(msg("c1")));
        assert!(pair.client.send(Packet::Binary(vec![1, 2, 3].into())));
        assert!(pair.client.send(msg("c2")));
        assert!(pair.server.send(msg("s1")));
        assert!(pair.server.send(Packet::Binary(vec![4].into())));
        assert!(!pair.server.send(Packet::PING), "only messages");
        pair.run();
        assert_eq!(
            Pair::messages(&pair.server_events),
            ["c1", "bin[1, 2, 3]", "c2"]
        );
        assert_eq!(Pair::messages(&pair.client_events), ["s1", "bin[4]"]);
        assert!(pair.to_client.iter().all(|(t, _)| *t == transport));
    }
}

#[test]
fn polling_batches_until_the_next_get() {
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    // A GET is pending: the three messages leave together in its response.
    for m in ["a", "b", "c"] {
        assert!(pair.server.send(msg(m)));
    }
    let batch: Vec<_> = std::iter::from_fn(|| pair.server.poll_transmit()).collect();
    assert_eq!(batch.len(), 3);
    // No GET now: nothing goes out until one arrives.
    assert!(pair.server.send(msg("d")));
    assert_eq!(pair.server.poll_transmit(), None);
    pair.server.handle_writable(pair.now, POLLING);
    assert_eq!(
        pair.server.poll_transmit().map(|t| t.packet),
        Some(msg("d"))
    );
}

#[test]
fn v4_heartbeat_over_many_intervals() {
    for transport in [POLLING, WS] {
        let mut pair = Pair::new(transport, SessionConfig::default());
        pair.advance_until(Duration::from_secs(25 * 40));
        assert!(!pair.client.is_closed() && !pair.server.is_closed());
        assert_eq!(Pair::count(&pair.client_events, &Event::Ping), 40);
        assert_eq!(Pair::count(&pair.server_events, &Event::Pong), 40);
        // Pongs arrive at once, so pings are exactly pingInterval apart.
        let pongs: Vec<_> = pair
            .server_events
            .iter()
            .filter(|(_, e)| *e == Event::Pong)
            .map(|(at, _)| *at)
            .collect();
        for (i, at) in pongs.iter().enumerate() {
            assert_eq!(*at, Duration::from_secs(25) * (i as u32 + 1));
        }
        let pings = pair
            .to_client
            .iter()
            .filter(|(_, p)| *p == Packet::PING)
            .count();
        let answers = pair
            .to_server
            .iter()
            .filter(|(_, p)| *p == Packet::PONG)
            .count();
        assert_eq!((pings, answers), (40, 40));
    }
}

#[test]
fn ping_timeout_seen_by_the_server() {
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    pair.client_mute = true;
    pair.propagate_close = false;
    pair.advance_until(Duration::from_secs(60));
    assert_eq!(
        Pair::closed(&pair.server_events),
        Some((Duration::from_secs(45), CloseReason::PingTimeout))
    );
    // The pending GET received `1`: the client closes with "transport close".
    assert_eq!(pair.to_client.last(), Some(&(POLLING, Packet::Close)));
    assert_eq!(
        Pair::closed(&pair.client_events),
        Some((Duration::from_secs(45), CloseReason::TransportClose))
    );
}

#[test]
fn ping_timeout_seen_by_the_client() {
    let mut pair = Pair::new(WS, SessionConfig::default());
    pair.server_mute = true;
    pair.propagate_close = false;
    pair.advance_until(Duration::from_secs(60));
    assert_eq!(
        Pair::closed(&pair.client_events),
        Some((Duration::from_secs(45), CloseReason::PingTimeout))
    );
    // Only pings re-arm the client's timer: messages do not.
    let now = Instant::now();
    let mut client = Session::client(WS, SessionConfig::default(), now);
    let open = OpenPacket {
        sid: "s".into(),
        upgrades: vec![],
        ping_interval: 1000,
        ping_timeout: 500,
        max_payload: None,
    };
    client.handle_packet(now, WS, Packet::Open(open));
    let ms = Duration::from_millis;
    client.handle_packet(now + ms(1000), WS, msg("x"));
    assert_eq!(client.poll_timeout(), Some(now + ms(1500)));
    client.handle_packet(now + ms(1200), WS, Packet::PING);
    assert_eq!(client.poll_timeout(), Some(now + ms(2700)));
    assert_eq!(client.poll_transmit().map(|t| t.packet), Some(Packet::PONG));
}

#[test]
fn refresh_rule_of_engine_io_6_6_10() {
    let ms = Duration::from_millis;
    let t0 = Instant::now();
    let mut server = Session::server("s".into(), WS, fast(), t0);
    let _ = server.poll_transmit();
    server.handle_timeout(t0 + ms(300)); // ping, pong expected by 500
    assert_eq!(server.poll_transmit().map(|t| t.packet), Some(Packet::PING));
    assert_eq!(server.poll_timeout(), Some(t0 + ms(500)));
    server.handle_packet(t0 + ms(400), WS, msg("a")); // refreshed once: 600
    assert_eq!(server.poll_timeout(), Some(t0 + ms(600)));
    server.handle_packet(t0 + ms(450), WS, msg("b")); // not again
    assert_eq!(server.poll_timeout(), Some(t0 + ms(600)));
    server.handle_timeout(t0 + ms(599));
    assert!(!server.is_closed());
    server.handle_timeout(t0 + ms(600));
    assert!(server.is_closed());
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(
        events.last(),
        Some(&Event::Closed(CloseReason::PingTimeout))
    );

    // After a pong the next ping refreshes again; a pong does not itself refresh.
    let mut server = Session::server("s".into(), WS, fast(), t0);
    server.handle_timeout(t0 + ms(300));
    server.handle_packet(t0 + ms(350), WS, msg("a"));
    assert_eq!(server.poll_timeout(), Some(t0 + ms(550)));
    server.handle_packet(t0 + ms(360), WS, Packet::PONG);
    assert_eq!(server.poll_timeout(), Some(t0 + ms(660)), "next ping");
    server.handle_timeout(t0 + ms(660));
    server.handle_packet(t0 + ms(700), WS, msg("b"));
    assert_eq!(server.poll_timeout(), Some(t0 + ms(900)));
}

#[test]
fn heartbeat_in_the_wrong_direction() {
    let now = Instant::now();
    // v4: a client `2` (even `2probe` on the main transport) is a transport error.
    for ping in [Packet::PING, Packet::ping_probe()] {
        let mut server = Session::server("s".into(), POLLING, SessionConfig::default(), now);
        server.handle_packet(now, POLLING, ping);
        assert_eq!(
            server.poll_event(),
            Some(Event::Closed(CloseReason::TransportError))
        );
    }
    // v3: a client `3` is a transport error.
    let v3 = SessionConfig::default().version(ProtocolVersion::V3);
    let mut server = Session::server("s".into(), WS, v3, now);
    server.handle_packet(now, WS, Packet::PONG);
    assert_eq!(
        server.poll_event(),
        Some(Event::Closed(CloseReason::TransportError))
    );
}

#[test]
fn v3_reversed_heartbeat() {
    let v3 = SessionConfig::default().version(ProtocolVersion::V3);
    for transport in [POLLING, WS] {
        let mut pair = Pair::new(transport, v3.clone());
        assert_eq!(
            pair.server.poll_timeout(),
            Some(pair.start + Duration::from_secs(45))
        );
        pair.advance_until(Duration::from_secs(25 * 20));
        assert!(!pair.client.is_closed() && !pair.server.is_closed());
        assert_eq!(Pair::count(&pair.server_events, &Event::Ping), 20);
        assert_eq!(Pair::count(&pair.client_events, &Event::Pong), 20);
        assert!(pair.to_server.iter().any(|(_, p)| *p == Packet::PING));
        assert!(!pair.to_client.iter().any(|(_, p)| *p == Packet::PING));
    }
}

#[test]
fn v3_ping_timeout() {
    let v3 = SessionConfig::default().version(ProtocolVersion::V3);
    // The client stops pinging: the server gives up pingInterval + pingTimeout after open.
    let mut pair = Pair::new(WS, v3.clone());
    pair.client_mute = true;
    pair.propagate_close = false;
    pair.advance_until(Duration::from_secs(100));
    assert_eq!(
        Pair::closed(&pair.server_events),
        Some((Duration::from_secs(45), CloseReason::PingTimeout))
    );
    // The server stops answering: the client pinged at 25 s and gives up at 45 s.
    let mut pair = Pair::new(WS, v3);
    pair.server_mute = true;
    pair.propagate_close = false;
    pair.advance_until(Duration::from_secs(100));
    assert_eq!(
        Pair::closed(&pair.client_events),
        Some((Duration::from_secs(45), CloseReason::PingTimeout))
    );
}

/// Sends `c{i}` / `s{i}` from both sides between rounds while the upgrade goes on.
#[test]
fn upgrade_loses_nothing() {
    let mut pair = Pair::new(POLLING, fast());
    let mut sent = 0;
    let mut send = |pair: &mut Pair| {
        assert!(pair.client.send(msg(&format!("c{sent}"))));
        assert!(pair.server.send(msg(&format!("s{sent}"))));
        sent += 1;
    };
    for _ in 0..3 {
        send(&mut pair);
        pair.round();
    }
    // The WebSocket connects.
    assert!(pair.server.begin_upgrade(pair.now, WS));
    assert!(pair.client.start_probe(pair.now, WS));
    assert!(pair.client.is_upgrading() && pair.server.is_upgrading());
    assert!(
        !pair.server.begin_upgrade(pair.now, WS),
        "one upgrade at a time"
    );
    for _ in 0..12 {
        send(&mut pair);
        send(&mut pair);
        pair.round();
    }
    pair.run();
    assert_eq!((pair.client.transport(), pair.server.transport()), (WS, WS));
    assert!(!pair.client.is_upgrading() && !pair.server.is_upgrading());
    for _ in 0..3 {
        send(&mut pair);
    }
    pair.run();
    // Heartbeats keep working on the new transport.
    pair.advance_until(Duration::from_secs(3));
    assert!(!pair.server.is_closed() && !pair.client.is_closed());

    let expect =
        |prefix: &str| -> Vec<String> { (0..sent).map(|i| format!("{prefix}{i}")).collect() };
    assert_eq!(Pair::messages(&pair.server_events), expect("c"));
    assert_eq!(Pair::messages(&pair.client_events), expect("s"));
    assert!(
        pair.client_events
            .iter()
            .any(|(_, e)| *e == Event::Upgraded(WS))
    );
    assert!(
        pair.server_events
            .iter()
            .any(|(_, e)| *e == Event::Upgraded(WS))
    );
    // The wire: 2probe/3probe, a noop for the pending GET, then 5 on the WebSocket.
    let ws_to_server: Vec<_> = pair.to_server.iter().filter(|(t, _)| *t == WS).collect();
    assert_eq!(ws_to_server[0].1, Packet::ping_probe());
    assert_eq!(ws_to_server[1].1, Packet::Upgrade);
    assert_eq!(
        pair.to_client
            .iter()
            .find(|(t, _)| *t == WS)
            .map(|(_, p)| p),
        Some(&Packet::pong_probe())
    );
    // Nothing travels on polling after the upgrade.
    let switch = pair
        .to_server
        .iter()
        .position(|(_, p)| *p == Packet::Upgrade)
        .unwrap_or_default();
    assert!(pair.to_server[switch..].iter().all(|(t, _)| *t == WS));
    assert!(!pair.client.start_probe(pair.now, WS), "already upgraded");
    assert!(!pair.server.begin_upgrade(pair.now, WS), "already upgraded");
}

#[test]
fn quiet_upgrade_ends_the_pending_get_with_a_noop() {
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    assert!(pair.get_pending);
    assert!(pair.server.begin_upgrade(pair.now, WS));
    assert!(pair.client.start_probe(pair.now, WS));
    pair.run();
    assert_eq!((pair.client.transport(), pair.server.transport()), (WS, WS));
    let wire: Vec<_> = pair.to_client.iter().skip(1).cloned().collect();
    assert_eq!(wire, [(WS, Packet::pong_probe()), (POLLING, Packet::Noop)]);
    let wire: Vec<_> = pair.to_server.to_vec();
    assert_eq!(wire, [(WS, Packet::ping_probe()), (WS, Packet::Upgrade)]);
    // The client sends and the server answers on the WebSocket only.
    pair.client.send(msg("hi"));
    pair.server.send(msg("ho"));
    pair.run();
    assert_eq!(pair.to_server.last(), Some(&(WS, msg("hi"))));
    assert_eq!(pair.to_client.last(), Some(&(WS, msg("ho"))));
    // Late packets on the old polling transport are ignored.
    pair.server.handle_packet(pair.now, POLLING, msg("stale"));
    pair.client.handle_packet(pair.now, POLLING, msg("stale"));
    pair.run();
    assert_eq!(Pair::messages(&pair.server_events), ["hi"]);
    assert_eq!(Pair::messages(&pair.client_events), ["ho"]);
}

#[test]
fn upgrade_timeout() {
    // The WebSocket connects but the client never completes the upgrade.
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    let t0 = pair.elapsed();
    assert!(pair.server.begin_upgrade(pair.now, WS));
    pair.advance_until(Duration::from_secs(11));
    let failed = pair
        .server_events
        .iter()
        .find(|(_, e)| *e == Event::UpgradeFailed(WS))
        .map(|(at, _)| *at);
    assert_eq!(failed, Some(t0 + Duration::from_secs(10)));
    assert!(!pair.server.is_upgrading() && !pair.server.is_closed());
    assert_eq!(pair.server.transport(), POLLING);
    // A later attempt is allowed again.
    assert!(pair.server.begin_upgrade(pair.now, WS));

    // The client's probe is never answered.
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    assert!(pair.client.start_probe(pair.now, WS));
    let _ = pair.client.poll_transmit(); // `2probe` lost
    pair.advance_until(Duration::from_secs(11));
    assert!(
        pair.client_events
            .iter()
            .any(|(at, e)| *e == Event::UpgradeFailed(WS) && *at == Duration::from_secs(10))
    );
    assert_eq!(pair.client.transport(), POLLING);
    pair.server.send(msg("still polling"));
    pair.run();
    assert_eq!(Pair::messages(&pair.client_events), ["still polling"]);
}

#[test]
fn non_probe_packet_during_the_upgrade() {
    let now = Instant::now();
    for packet in [
        msg("x"),
        Packet::PING,
        Packet::PONG,
        Packet::Close,
        Packet::Noop,
    ] {
        let mut server = Session::server("s".into(), POLLING, SessionConfig::default(), now);
        assert!(server.begin_upgrade(now, WS));
        server.handle_packet(now, WS, packet.clone());
        assert_eq!(
            server.poll_event(),
            Some(Event::UpgradeFailed(WS)),
            "{packet:?}"
        );
        assert!(!server.is_closed() && !server.is_upgrading());
        // The probe transport is no longer listened to.
        server.handle_packet(now, WS, msg("late"));
        assert_eq!(server.poll_event(), None);
    }
    // Client: the first answer on the probe transport is not `3probe`.
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    assert!(pair.client.start_probe(pair.now, WS));
    pair.client.handle_packet(pair.now, WS, msg("nope"));
    assert_eq!(pair.client.poll_event(), Some(Event::UpgradeFailed(WS)));
    assert!(!pair.client.is_upgrading());
    // A parse error or a dead probe transport fails the upgrade, not the session.
    let mut server = Session::server("s".into(), POLLING, SessionConfig::default(), now);
    assert!(server.begin_upgrade(now, WS));
    server.handle_parse_error(now, WS);
    assert_eq!(server.poll_event(), Some(Event::UpgradeFailed(WS)));
    assert!(server.begin_upgrade(now, WS));
    server.handle_transport_error(now, WS);
    assert_eq!(server.poll_event(), Some(Event::UpgradeFailed(WS)));
    assert!(!server.is_closed());
}

#[test]
fn upgrade_refused() {
    let now = Instant::now();
    let no_upgrades = SessionConfig::default().allow_upgrades(false);
    let mut server = Session::server("s".into(), POLLING, no_upgrades, now);
    let Some(Packet::Open(open)) = server.poll_transmit().map(|t| t.packet) else {
        panic!()
    };
    assert!(open.upgrades.is_empty());
    assert!(!server.begin_upgrade(now, WS));
    let mut server = Session::server("s".into(), POLLING, SessionConfig::default(), now);
    assert!(!server.begin_upgrade(now, POLLING));
    assert!(!server.start_probe(now, WS), "client only");
}

#[test]
fn server_close_over_polling() {
    // A GET is pending: it carries the queued message and `1`.
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    pair.server.send(msg("bye"));
    pair.server.close(pair.now);
    assert!(!pair.server.send(msg("too late")));
    pair.run();
    assert_eq!(
        Pair::closed(&pair.server_events).map(|c| c.1),
        Some(CloseReason::ForcedClose)
    );
    let tail: Vec<_> = pair.to_client.iter().rev().take(2).rev().cloned().collect();
    assert_eq!(tail, [(POLLING, msg("bye")), (POLLING, Packet::Close)]);
    assert_eq!(
        Pair::closed(&pair.client_events).map(|c| c.1),
        Some(CloseReason::TransportClose)
    );
    assert_eq!(Pair::messages(&pair.client_events), ["bye"]);

    // No GET pending: the session waits for the next one.
    let now = Instant::now();
    let mut server = Session::server("s".into(), POLLING, SessionConfig::default(), now);
    let _ = server.poll_transmit();
    server.send(msg("bye"));
    server.close(now);
    assert!(!server.is_closed());
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(25)));
    server.handle_writable(now, POLLING);
    let out: Vec<_> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.packet)
        .collect();
    assert_eq!(out, [msg("bye"), Packet::Close]);
    assert!(server.is_closed());

    // ...but not forever: 30 s, engine.io's `closeTimeout`.
    let mut server = Session::server("s".into(), POLLING, fast(), now);
    let _ = server.poll_transmit();
    server.close(now);
    server.handle_timeout(now + Duration::from_millis(300)); // the ping is not sent
    assert_eq!(server.poll_transmit(), None);
    let mut t = now;
    while let Some(next) = server.poll_timeout() {
        t = next;
        server.handle_timeout(t);
    }
    // The ping timeout (armed by the unsent ping) fires before the close timeout, as in JS.
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(events, [Event::Closed(CloseReason::PingTimeout)]);
    assert_eq!(t, now + Duration::from_millis(500));

    let slow = SessionConfig::default().ping_interval(Duration::from_secs(100));
    let mut server = Session::server("s".into(), POLLING, slow, now);
    let _ = server.poll_transmit();
    server.close(now);
    assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(30)));
    server.handle_timeout(now + Duration::from_secs(30));
    assert_eq!(
        server.poll_event(),
        Some(Event::Closed(CloseReason::ForcedClose))
    );
}

#[test]
fn server_close_over_websocket() {
    let mut pair = Pair::new(WS, SessionConfig::default());
    pair.server.send(msg("bye"));
    pair.server.close(pair.now);
    assert!(pair.server.is_closed(), "a WebSocket is always writable");
    pair.run();
    assert_eq!(
        pair.to_client.last(),
        Some(&(WS, msg("bye"))),
        "no `1` on WebSocket"
    );
    assert_eq!(
        Pair::closed(&pair.client_events).map(|c| c.1),
        Some(CloseReason::TransportClose)
    );
    assert_eq!(pair.server.poll_timeout(), None);
}

#[test]
fn client_close_over_polling() {
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    pair.client.send(msg("bye"));
    pair.client.close(pair.now);
    pair.run();
    assert_eq!(
        Pair::closed(&pair.client_events).map(|c| c.1),
        Some(CloseReason::ForcedClose)
    );
    let tail: Vec<_> = pair.to_server.iter().rev().take(2).rev().cloned().collect();
    assert_eq!(tail, [(POLLING, msg("bye")), (POLLING, Packet::Close)]);
    // The server closes with "transport close"; its pending GET got a noop.
    assert_eq!(
        Pair::closed(&pair.server_events).map(|c| c.1),
        Some(CloseReason::TransportClose)
    );
    assert_eq!(pair.to_client.last(), Some(&(POLLING, Packet::Noop)));
    assert_eq!(Pair::messages(&pair.server_events), ["bye"]);
}

#[test]
fn client_close_over_websocket() {
    let mut pair = Pair::new(WS, SessionConfig::default());
    pair.client.send(msg("bye"));
    pair.client.close(pair.now);
    pair.run();
    assert_eq!(
        pair.to_server.last(),
        Some(&(WS, msg("bye"))),
        "no `1` on WebSocket"
    );
    assert_eq!(
        Pair::closed(&pair.client_events).map(|c| c.1),
        Some(CloseReason::ForcedClose)
    );
    assert_eq!(
        Pair::closed(&pair.server_events).map(|c| c.1),
        Some(CloseReason::TransportClose)
    );
}

#[test]
fn close_packet_over_websocket_closes_at_once() {
    let now = Instant::now();
    let mut server = Session::server("s".into(), WS, SessionConfig::default(), now);
    server.handle_packet(now, WS, Packet::Close);
    assert_eq!(
        server.poll_event(),
        Some(Event::Closed(CloseReason::TransportClose))
    );
    let out: Vec<_> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.packet)
        .collect();
    assert!(matches!(&out[..], [Packet::Open(_)]), "{out:?}");
}

#[test]
fn errors_close_with_their_reason() {
    let now = Instant::now();
    type Handler = fn(&mut Session, Instant, TransportKind);
    let cases: [(Handler, CloseReason, CloseReason); 3] = [
        (
            Session::handle_parse_error,
            CloseReason::ParseError,
            CloseReason::TransportError,
        ),
        (
            Session::handle_transport_error,
            CloseReason::TransportError,
            CloseReason::TransportError,
        ),
        (
            Session::handle_transport_closed,
            CloseReason::TransportClose,
            CloseReason::TransportClose,
        ),
    ];
    for (handle, server_reason, client_reason) in cases {
        let mut pair = Pair::new(WS, SessionConfig::default());
        handle(&mut pair.server, now, WS);
        handle(&mut pair.client, now, WS);
        assert_eq!(pair.server.poll_event(), Some(Event::Closed(server_reason)));
        assert_eq!(pair.client.poll_event(), Some(Event::Closed(client_reason)));
        assert_eq!(server_reason.as_str(), server_reason.to_string());
    }
    // Overlapping GETs: the pending one is answered with `1`.
    let mut pair = Pair::new(POLLING, SessionConfig::default());
    pair.server.handle_transport_error(now, POLLING);
    assert_eq!(
        pair.server.poll_transmit().map(|t| (t.transport, t.packet)),
        Some((POLLING, Packet::Close))
    );
    // Input after the close is ignored.
    pair.server.handle_packet(now, POLLING, msg("x"));
    pair.server.handle_timeout(now + Duration::from_secs(1000));
    assert_eq!(
        pair.server.poll_event(),
        Some(Event::Closed(CloseReason::TransportError))
    );
    assert_eq!(pair.server.poll_event(), None);
}

#[test]
fn names() {
    assert_eq!(POLLING.as_str(), "polling");
    assert_eq!(WS.to_string(), "websocket");
    let reasons = [
        (CloseReason::TransportError, "transport error"),
        (CloseReason::TransportClose, "transport close"),
        (CloseReason::ForcedClose, "forced close"),
        (CloseReason::PingTimeout, "ping timeout"),
        (CloseReason::ParseError, "parse error"),
    ];
    for (reason, s) in reasons {
        assert_eq!(reason.as_str(), s);
    }
}

// ---------------------------------------------------------------------------------------------
// Garbage: arbitrary input to both roles never panics and keeps `poll_timeout` sane.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Packet(TransportKind, Packet),
    Advance(u64),
    Writable(TransportKind),
    TransportError(TransportKind),
    TransportClosed(TransportKind),
    ParseError(TransportKind),
    Send(Packet),
    Close,
    BeginUpgrade(TransportKind),
    StartProbe(TransportKind),
    FinishUpgrade,
    Drain,
}

fn transport() -> impl Strategy<Value = TransportKind> {
    prop_oneof![Just(POLLING), Just(WS)]
}

fn packet() -> impl Strategy<Value = Packet> {
    let text = prop_oneof![Just(""), Just("probe"), Just("x")].prop_map(|s: &str| s.to_owned());
    prop_oneof![
        (0u64..50, 0u64..50, any::<bool>()).prop_map(|(i, t, up)| Packet::Open(OpenPacket {
            sid: "s".into(),
            upgrades: if up { vec!["websocket".into()] } else { vec![] },
            ping_interval: i,
            ping_timeout: t,
            max_payload: None,
        })),
        Just(Packet::Close),
        text.clone().prop_map(|s| Packet::Ping(s.into())),
        text.clone().prop_map(|s| Packet::Pong(s.into())),
        text.prop_map(|s| Packet::Message(s.into())),
        Just(Packet::Binary(vec![0u8, 1].into())),
        Just(Packet::Upgrade),
        Just(Packet::Noop),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (transport(), packet()).prop_map(|(t, p)| Op::Packet(t, p)),
        3 => (0u64..80).prop_map(Op::Advance),
        2 => transport().prop_map(Op::Writable),
        1 => transport().prop_map(Op::TransportError),
        1 => transport().prop_map(Op::TransportClosed),
        1 => transport().prop_map(Op::ParseError),
        2 => packet().prop_map(Op::Send),
        1 => Just(Op::Close),
        2 => transport().prop_map(Op::BeginUpgrade),
        2 => transport().prop_map(Op::StartProbe),
        2 => Just(Op::FinishUpgrade),
        2 => Just(Op::Drain),
    ]
}

fn apply(s: &mut Session, now: &mut Instant, op: &Op) -> Result<(), TestCaseError> {
    match op.clone() {
        Op::Packet(t, p) => s.handle_packet(*now, t, p),
        Op::Advance(ms) => {
            *now += Duration::from_millis(ms);
            s.handle_timeout(*now);
            if let Some(next) = s.poll_timeout() {
                prop_assert!(next > *now, "timer at or before now after handle_timeout");
            }
        }
        Op::Writable(t) => s.handle_writable(*now, t),
        Op::TransportError(t) => s.handle_transport_error(*now, t),
        Op::TransportClosed(t) => s.handle_transport_closed(*now, t),
        Op::ParseError(t) => s.handle_parse_error(*now, t),
        Op::Send(p) => {
            let _ = s.send(p);
        }
        Op::Close => s.close(*now),
        Op::BeginUpgrade(t) => {
            let _ = s.begin_upgrade(*now, t);
        }
        Op::StartProbe(t) => {
            let _ = s.start_probe(*now, t);
        }
        Op::FinishUpgrade => s.finish_upgrade(*now),
        Op::Drain => {
            while s.poll_transmit().is_some() {}
            let mut closed = 0;
            while let Some(e) = s.poll_event() {
                closed += usize::from(matches!(e, Event::Closed(_)));
            }
            prop_assert!(closed <= 1);
        }
    }
    if let Some(next) = s.poll_timeout() {
        prop_assert!(next >= *now, "timer in the past");
    }
    if s.is_closed() {
        prop_assert_eq!(s.poll_timeout(), None);
        prop_assert!(!s.is_upgrading());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn garbage_never_panics(
        ops in prop::collection::vec(op(), 0..60),
        v3 in any::<bool>(),
        first in transport(),
        interval in 0u64..40,
        timeout in 0u64..40,
        upgrade in 0u64..40,
    ) {
        let version = if v3 { ProtocolVersion::V3 } else { ProtocolVersion::V4 };
        let config = SessionConfig::default()
            .version(version)
            .ping_interval(Duration::from_millis(interval))
            .ping_timeout(Duration::from_millis(timeout))
            .upgrade_timeout(Duration::from_millis(upgrade));
        let start = Instant::now();
        let mut server = Session::server("s".into(), first, config.clone(), start);
        let mut client = Session::client(first, config, start);
        let (mut ts, mut tc) = (start, start);
        for op in &ops {
            apply(&mut server, &mut ts, op)?;
            apply(&mut client, &mut tc, op)?;
        }
        // Whatever happened, a closed session stays quiet.
        for s in [&mut server, &mut client] {
            while s.poll_event().is_some() {}
            if s.is_closed() {
                s.handle_packet(ts, first, Packet::Message("x".into()));
                prop_assert_eq!(s.poll_event(), None);
            }
        }
    }
}
