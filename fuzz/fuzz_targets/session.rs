//! The Engine.IO session state machine, both roles, both protocol versions: an arbitrary
//! sequence of packets, transport events, commands and clock jumps never panics, never asks for
//! a timer in the past once its timeout was handled, and a closed session stays quiet.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_protocol::Str;
use sio_protocol::engine::{
    OpenPacket, Packet, ProtocolVersion, Session, SessionConfig, TransportKind,
};

#[derive(Debug, Arbitrary)]
enum Wire {
    Polling,
    WebSocket,
}

#[derive(Debug, Arbitrary)]
enum In {
    Open { interval: u16, timeout: u16, upgrades: bool },
    Close,
    Ping(bool),
    Pong(bool),
    Message(String),
    Binary(Vec<u8>),
    Upgrade,
    Noop,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Packet(Wire, In),
    ParseError(Wire),
    TransportError(Wire),
    TransportClosed(Wire),
    Writable(Wire),
    Advance(u16),
    Timeout,
    Send(String),
    Close,
    BeginUpgrade(Wire),
    StartProbe(Wire),
    FinishUpgrade,
}

#[derive(Debug, Arbitrary)]
struct Input {
    server: bool,
    v3: bool,
    first: Wire,
    interval: u16,
    timeout: u16,
    upgrade_timeout: u16,
    ops: Vec<Op>,
}

fn kind(w: &Wire) -> TransportKind {
    match w {
        Wire::Polling => TransportKind::Polling,
        Wire::WebSocket => TransportKind::WebSocket,
    }
}

fn packet(p: In) -> Packet {
    let probe = |b: bool| if b { Str::from_static("probe") } else { Str::new() };
    match p {
        In::Open { interval, timeout, upgrades } => Packet::Open(OpenPacket {
            sid: Str::from_static("fuzz"),
            upgrades: if upgrades { vec![Str::from_static("websocket")] } else { Vec::new() },
            ping_interval: u64::from(interval),
            ping_timeout: u64::from(timeout),
            max_payload: Some(1_000_000),
        }),
        In::Close => Packet::Close,
        In::Ping(b) => Packet::Ping(probe(b)),
        In::Pong(b) => Packet::Pong(probe(b)),
        In::Message(s) => Packet::Message(Str::from(s)),
        In::Binary(b) => Packet::Binary(Bytes::from(b)),
        In::Upgrade => Packet::Upgrade,
        In::Noop => Packet::Noop,
    }
}

fuzz_target!(|input: Input| {
    let version = if input.v3 { ProtocolVersion::V3 } else { ProtocolVersion::V4 };
    let config = SessionConfig::default()
        .version(version)
        .ping_interval(Duration::from_millis(u64::from(input.interval)))
        .ping_timeout(Duration::from_millis(u64::from(input.timeout)))
        .upgrade_timeout(Duration::from_millis(u64::from(input.upgrade_timeout)));
    let mut now = Instant::now();
    let first = kind(&input.first);
    let mut s = if input.server {
        Session::server(Str::from_static("fuzz-sid"), first, config, now)
    } else {
        Session::client(first, config, now)
    };
    for op in input.ops {
        match op {
            Op::Packet(w, p) => s.handle_packet(now, kind(&w), packet(p)),
            Op::ParseError(w) => s.handle_parse_error(now, kind(&w)),
            Op::TransportError(w) => s.handle_transport_error(now, kind(&w)),
            Op::TransportClosed(w) => s.handle_transport_closed(now, kind(&w)),
            Op::Writable(w) => s.handle_writable(now, kind(&w)),
            Op::Advance(ms) => now += Duration::from_millis(u64::from(ms)),
            Op::Timeout => {
                s.handle_timeout(now);
                if let Some(t) = s.poll_timeout() {
                    assert!(t > now, "timer in the past after handle_timeout");
                }
            }
            Op::Send(m) => {
                let _ = s.send(Packet::Message(Str::from(m)));
            }
            Op::Close => s.close(now),
            Op::BeginUpgrade(w) => {
                let _ = s.begin_upgrade(now, kind(&w));
            }
            Op::StartProbe(w) => {
                let _ = s.start_probe(now, kind(&w));
            }
            Op::FinishUpgrade => s.finish_upgrade(now),
        }
        while s.poll_transmit().is_some() {}
        while s.poll_event().is_some() {}
    }
    if s.is_closed() {
        s.handle_packet(now, first, Packet::Message(Str::from_static("late")));
        assert!(s.poll_event().is_none(), "closed session emitted an event");
    }
});
