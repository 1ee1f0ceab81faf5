//! Connection state recovery on this server: the packet log and the sessions waiting to be
//! recovered of one namespace ([`RecoveryStore`]), what the default
//! [`Adapter::persist_session`](super::Adapter::persist_session) and
//! [`Adapter::restore_session`](super::Adapter::restore_session) act on.
//!
//! socket.io's `SessionAwareAdapter`, with bounds:
//!
//! - every EVENT sent to sockets of the namespace that is neither volatile nor acknowledged
//!   gets an **offset** (the next number of the namespace's sequence, in base 36) as its last
//!   argument, and goes into the namespace's **log** with the rooms it was sent to, in the
//!   order it was written (offsets are given, packets logged and written under one lock, so
//!   every client receives them in offset order);
//! - the log keeps the packets of the last
//!   [`max_disconnection_duration`](super::ConnectionStateRecovery::max_disconnection_duration),
//!   at most [`max_stored_packets`](super::ConnectionStateRecovery::max_stored_packets) and
//!   [`max_stored_bytes`](super::ConnectionStateRecovery::max_stored_bytes) (the oldest go
//!   first); it remembers the highest offset it dropped;
//! - a socket that disconnects for a recoverable reason leaves a **session** (id, rooms,
//!   `data`) under its pid, kept for `max_disconnection_duration`, at most
//!   [`max_sessions`](super::ConnectionStateRecovery::max_sessions) (the oldest go first);
//! - a CONNECT with `{pid, offset}` **claims** the session (each pid is used once: whatever
//!   the outcome, the session is gone), and when the socket is connected again, **finishes**
//!   it: the packets of the log after the offset that were sent to one of its rooms and to
//!   none of its exceptions are written before the CONNECT reply, in order. No session when
//!   the pid is unknown, expired or already used, when the offset is not one this namespace
//!   gave or packets after it left the log, or when the client missed more than
//!   [`max_missed_packets`](super::ConnectionStateRecovery::max_missed_packets) or
//!   [`max_missed_bytes`](super::ConnectionStateRecovery::max_missed_bytes).
//!
//! Expired packets and sessions go lazily: at each packet logged, session persisted or
//! claimed (the work is proportional to what expired).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sio_protocol::{Str, Value};

use super::config::ConnectionStateRecovery;
use crate::engine::message::Message;

/// What a socket leaves behind for connection state recovery, and gets back: what
/// [`Adapter::persist_session`](super::Adapter::persist_session) stores and
/// [`Adapter::restore_session`](super::Adapter::restore_session) returns (socket.io's
/// `Session`).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionState {
    /// The socket id, which the recovered socket keeps.
    pub sid: Str,
    /// The private session id the client recovers with (a credential: not in `Debug`).
    pub pid: Str,
    /// The socket's rooms when it disconnected (its own id included).
    pub rooms: Vec<Str>,
    /// Its [`data`](super::Socket::set_data).
    pub data: Value,
}

impl SessionState {
    /// The state of socket `sid` with private session id `pid`.
    pub fn new(sid: Str, pid: Str, rooms: Vec<Str>, data: Value) -> Self {
        SessionState {
            sid,
            pid,
            rooms,
            data,
        }
    }
}

impl fmt::Debug for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionState")
            .field("sid", &self.sid)
            .field("rooms", &self.rooms)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

/// A session found for a client's `{pid, offset}`: what
/// [`Adapter::restore_session`](super::Adapter::restore_session) returns.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RestoredSession {
    /// The session.
    pub state: SessionState,
    /// The EVENTs of the namespace the client missed, in order, each with its offset as last
    /// argument (a cluster adapter's; the default adapter writes the packets of this server's
    /// log itself, when the socket is connected again).
    pub missed: Vec<sio_protocol::socket::Packet>,
    /// Claimed in this server's [`RecoveryStore`]: its missed packets come from there.
    pub(crate) local: bool,
}

impl RestoredSession {
    /// A session restored by an adapter, with the packets the client missed.
    pub fn new(state: SessionState, missed: Vec<sio_protocol::socket::Packet>) -> Self {
        RestoredSession {
            state,
            missed,
            local: false,
        }
    }
}

/// What a namespace holds for connection state recovery on this server
/// ([`Namespace::recovery_stats`](super::Namespace::recovery_stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RecoveryStats {
    /// Sessions of disconnected sockets waiting to be recovered.
    pub sessions: usize,
    /// Events in the log.
    pub packets: usize,
    /// Their bytes, as counted for
    /// [`max_stored_bytes`](super::ConnectionStateRecovery::max_stored_bytes).
    pub bytes: usize,
}

/// A private session id: 15 bytes from the operating system's CSPRNG, 20 characters of
/// base64url (120 bits: not guessable).
pub(crate) fn generate_pid() -> Result<Str, getrandom::Error> {
    let mut bytes = [0u8; 15];
    getrandom::fill(&mut bytes)?;
    Ok(Str::from(URL_SAFE_NO_PAD.encode(bytes)))
}

/// The text of offset `seq`: base 36, lowercase.
fn offset_text(mut seq: u64) -> Str {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut buf = [0u8; 13];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(seq % 36) as usize];
        seq /= 36;
        if seq == 0 {
            break;
        }
    }
    Str::from(String::from_utf8_lossy(&buf[i..]).into_owned())
}

/// The sequence number of an offset text; `None` for anything [`offset_text`] does not write.
fn parse_offset(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 13 || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        return None;
    }
    u64::from_str_radix(text, 36).ok()
}

/// One packet of the log.
struct Logged {
    seq: u64,
    rooms: Box<[Str]>,
    except: Box<[Str]>,
    messages: Box<[Message]>,
    bytes: usize,
    at: Instant,
}

impl Logged {
    /// socket.io's `shouldIncludePacket`: sent to one of `rooms` (or to everyone) and to none
    /// of them excepted.
    fn reaches(&self, rooms: &[Str]) -> bool {
        let included = self.rooms.is_empty() || self.rooms.iter().any(|r| rooms.contains(r));
        included && !self.except.iter().any(|r| rooms.contains(r))
    }
}

/// A session waiting to be recovered.
struct Waiting {
    state: SessionState,
    disconnected_at: Instant,
    /// A CONNECT claimed it and is being answered.
    claimed: bool,
}

/// How [`RecoveryStore::finish`] ended.
pub(crate) enum Finish {
    /// The packets the client missed, in order (their messages).
    Missed(Vec<Box<[Message]>>),
    /// The session cannot be recovered after all (it expired meanwhile, packets after the
    /// offset left the log, or the client missed too many).
    Lost,
}

/// The packet log and the waiting sessions of one namespace (see the module docs).
pub(crate) struct RecoveryStore {
    config: ConnectionStateRecovery,
    /// The offset the next packet gets (0 is never given).
    next_seq: u64,
    /// The highest offset dropped from the log (0: none).
    dropped: u64,
    log: VecDeque<Logged>,
    log_bytes: usize,
    /// Boxed: the table grows in powers of two, its empty slots stay small.
    sessions: HashMap<Str, Box<Waiting>>,
    /// Pids in the order they were persisted (entries of sessions gone since stay until they
    /// would have expired), for expiry and `max_sessions`.
    order: VecDeque<(Instant, Str)>,
}

impl fmt::Debug for RecoveryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryStore")
            .field("next_seq", &self.next_seq)
            .field("dropped", &self.dropped)
            .field("packets", &self.log.len())
            .field("bytes", &self.log_bytes)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl RecoveryStore {
    pub(crate) fn new(config: ConnectionStateRecovery) -> Self {
        RecoveryStore {
            config,
            next_seq: 1,
            dropped: 0,
            log: VecDeque::new(),
            log_bytes: 0,
            sessions: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The sessions waiting, and the packets and bytes of the log.
    pub(crate) fn stats(&self) -> RecoveryStats {
        RecoveryStats {
            sessions: self.sessions.len(),
            packets: self.log.len(),
            bytes: self.log_bytes,
        }
    }

    fn expired(&self, at: Instant, now: Instant) -> bool {
        at.checked_add(self.config.max_disconnection_duration)
            .is_none_or(|end| end < now)
    }

    /// Drops the packets and sessions older than `max_disconnection_duration`.
    fn expire(&mut self, now: Instant) {
        while self.log.front().is_some_and(|p| self.expired(p.at, now)) {
            self.drop_oldest_packet();
        }
        while let Some((at, _)) = self.order.front() {
            if !self.expired(*at, now) {
                break;
            }
            if let Some((at, pid)) = self.order.pop_front() {
                if self
                    .sessions
                    .get(&pid)
                    .is_some_and(|s| s.disconnected_at == at)
                {
                    self.sessions.remove(&pid);
                }
            }
        }
        if self.sessions.is_empty() && self.sessions.capacity() > 64 {
            self.sessions = HashMap::new();
        }
        if self.order.is_empty() && self.order.capacity() > 64 {
            self.order = VecDeque::new();
        }
    }

    fn drop_oldest_packet(&mut self) {
        if let Some(packet) = self.log.pop_front() {
            self.log_bytes -= packet.bytes;
            self.dropped = self.dropped.max(packet.seq);
        }
        if self.log.is_empty() && self.log.capacity() > 64 {
            self.log = VecDeque::new();
        }
    }

    /// The offset of the next packet (the caller logs it with [`log`](Self::log) before
    /// releasing the store's lock).
    pub(crate) fn next_offset(&mut self) -> (u64, Str) {
        let seq = self.next_seq;
        self.next_seq += 1;
        (seq, offset_text(seq))
    }

    /// Logs packet `seq` (its messages carry its offset), sent to the sockets in any of
    /// `rooms` (everyone when empty) and in none of `except`.
    pub(crate) fn log(
        &mut self,
        now: Instant,
        seq: u64,
        rooms: &[Str],
        except: &[Str],
        messages: &[Message],
    ) {
        self.expire(now);
        let bytes = messages.iter().map(Message::len).sum::<usize>()
            + std::mem::size_of::<Logged>()
            + (rooms.len() + except.len()) * std::mem::size_of::<Str>();
        self.log.push_back(Logged {
            seq,
            rooms: rooms.into(),
            except: except.into(),
            messages: messages.into(),
            bytes,
            at: now,
        });
        self.log_bytes += bytes;
        while self.log.len() > self.config.max_stored_packets
            || (self.log_bytes > self.config.max_stored_bytes && !self.log.is_empty())
        {
            self.drop_oldest_packet();
        }
    }

    /// Keeps the session of a socket that disconnected (replacing one with the same pid).
    pub(crate) fn persist(&mut self, now: Instant, state: SessionState) {
        self.expire(now);
        if self.config.max_sessions == 0 {
            return;
        }
        while self.sessions.len() >= self.config.max_sessions {
            let Some((at, pid)) = self.order.pop_front() else {
                break;
            };
            if self
                .sessions
                .get(&pid)
                .is_some_and(|s| s.disconnected_at == at)
            {
                self.sessions.remove(&pid);
            }
        }
        let pid = state.pid.clone();
        self.order.push_back((now, pid.clone()));
        self.sessions.insert(
            pid,
            Box::new(Waiting {
                state,
                disconnected_at: now,
                claimed: false,
            }),
        );
    }

    /// A CONNECT with `{pid, offset}`: the session, claimed (a second claim of the same pid
    /// finds nothing), if it can be recovered now. A session found but not recoverable (its
    /// offset is unknown or too old) is dropped: each pid is tried once.
    pub(crate) fn claim(&mut self, now: Instant, pid: &str, offset: &str) -> Option<SessionState> {
        self.expire(now);
        let waiting = self.sessions.get(pid)?;
        if waiting.claimed {
            return None;
        }
        let recoverable = parse_offset(offset)
            .filter(|&seq| seq >= 1 && seq < self.next_seq && seq >= self.dropped)
            .is_some_and(|seq| self.missed(seq, &waiting.state.rooms).is_some());
        if !recoverable {
            self.sessions.remove(pid);
            return None;
        }
        let waiting = self.sessions.get_mut(pid)?;
        waiting.claimed = true;
        Some(waiting.state.clone())
    }

    /// The packets after offset `seq` that reach `rooms`, if within the bounds of one session.
    fn missed(&self, seq: u64, rooms: &[Str]) -> Option<Vec<Box<[Message]>>> {
        let start = self.log.partition_point(|p| p.seq <= seq);
        let mut missed = Vec::new();
        let mut bytes = 0usize;
        for packet in self.log.range(start..).filter(|p| p.reaches(rooms)) {
            bytes += packet.messages.iter().map(Message::len).sum::<usize>();
            if missed.len() >= self.config.max_missed_packets
                || bytes > self.config.max_missed_bytes
            {
                return None;
            }
            missed.push(packet.messages.clone());
        }
        Some(missed)
    }

    /// The claimed session `pid` is being connected again: it is gone from the store, and
    /// the packets of the log after `offset` that reach its rooms are what to write before the
    /// CONNECT reply.
    pub(crate) fn finish(&mut self, now: Instant, pid: &str, offset: &str) -> Finish {
        self.expire(now);
        let Some(waiting) = self.sessions.remove(pid).filter(|w| w.claimed) else {
            return Finish::Lost;
        };
        parse_offset(offset)
            .filter(|&seq| seq >= self.dropped)
            .and_then(|seq| self.missed(seq, &waiting.state.rooms))
            .map_or(Finish::Lost, Finish::Missed)
    }

    /// A claimed session that will not be connected (refused by a middleware, the connection
    /// closed): forgotten.
    pub(crate) fn abandon(&mut self, pid: &str) {
        if self.sessions.get(pid).is_some_and(|w| w.claimed) {
            self.sessions.remove(pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(s: &str) -> Message {
        Message::Text(Str::from(s.to_owned()))
    }

    fn state(pid: &str, rooms: &[&str]) -> SessionState {
        SessionState::new(
            Str::from("sid"),
            Str::from(pid.to_owned()),
            rooms.iter().map(|r| Str::from((*r).to_owned())).collect(),
            Value::Null,
        )
    }

    fn missed(finish: Finish) -> Vec<String> {
        match finish {
            Finish::Missed(packets) => packets
                .iter()
                .map(|m| match &m[0] {
                    Message::Text(t) => t.to_string(),
                    Message::Binary(_) => "binary".into(),
                })
                .collect(),
            Finish::Lost => panic!("lost"),
        }
    }

    #[test]
    fn offsets_round_trip_and_reject_what_was_not_written() {
        for seq in [1, 35, 36, 1_000_000, u64::MAX] {
            assert_eq!(parse_offset(&offset_text(seq)), Some(seq));
        }
        for bad in ["", "A", "01", "-1", "zzzzzzzzzzzzzz", "1 ", "é"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn pids_are_twenty_url_safe_characters_and_differ() {
        let a = generate_pid().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_pid().unwrap());
    }

    #[test]
    fn a_session_gets_the_packets_of_its_rooms_after_its_offset_once() {
        let now = Instant::now();
        let mut store = RecoveryStore::new(ConnectionStateRecovery::default());
        let r = |s: &str| vec![Str::from(s.to_owned())];
        let (a, _) = store.next_offset();
        store.log(now, a, &r("x"), &[], &[text("a")]);
        let (b, _) = store.next_offset();
        store.log(now, b, &r("y"), &[], &[text("b")]);
        let (c, _) = store.next_offset();
        store.log(now, c, &[], &r("x"), &[text("c")]);
        let (d, _) = store.next_offset();
        store.log(now, d, &[], &[], &[text("d")]);
        store.persist(now, state("p", &["sid", "x"]));
        let offset = offset_text(a);
        assert!(store.claim(now, "p", &offset).is_some());
        assert!(store.claim(now, "p", &offset).is_none(), "claimed once");
        assert_eq!(missed(store.finish(now, "p", &offset)), ["d"]);
        assert!(matches!(store.finish(now, "p", &offset), Finish::Lost));
    }

    #[test]
    fn unknown_old_or_future_offsets_and_expired_sessions_give_nothing() {
        let now = Instant::now();
        let config = ConnectionStateRecovery::default().max_stored_packets(2);
        let mut store = RecoveryStore::new(config);
        for _ in 0..4 {
            let (seq, _) = store.next_offset();
            store.log(now, seq, &[], &[], &[text("p")]);
        }
        // Offsets 1 and 2 left the log (3 and 4 are kept): a client at 1 missed 2, which is
        // gone. One at 2 has all it missed.
        store.persist(now, state("p", &["sid"]));
        assert!(store.claim(now, "p", "1").is_none());
        assert!(store.claim(now, "p", "2").is_none(), "tried once");
        store.persist(now, state("o", &["sid"]));
        assert!(store.claim(now, "o", "2").is_some());
        store.persist(now, state("q", &["sid"]));
        assert!(store.claim(now, "q", "5").is_none(), "never given");
        store.persist(now, state("r", &["sid"]));
        assert!(store.claim(now, "r", "x y").is_none());
        store.persist(now, state("s", &["sid"]));
        let later = now + Duration::from_secs(121);
        assert!(store.claim(later, "s", "3").is_none(), "expired");
        assert_eq!(
            store.stats(),
            RecoveryStats::default(),
            "everything expired"
        );
    }

    #[test]
    fn too_many_missed_packets_lose_the_session() {
        let now = Instant::now();
        let config = ConnectionStateRecovery::default().max_missed_packets(2);
        let mut store = RecoveryStore::new(config);
        let (first, _) = store.next_offset();
        store.log(now, first, &[], &[], &[text("0")]);
        store.persist(now, state("p", &["sid"]));
        assert!(store.claim(now, "p", &offset_text(first)).is_some());
        for _ in 0..3 {
            let (seq, _) = store.next_offset();
            store.log(now, seq, &[], &[], &[text("n")]);
        }
        assert!(matches!(
            store.finish(now, "p", &offset_text(first)),
            Finish::Lost
        ));
    }

    #[test]
    fn the_oldest_sessions_go_past_max_sessions() {
        let now = Instant::now();
        let config = ConnectionStateRecovery::default().max_sessions(2);
        let mut store = RecoveryStore::new(config);
        let (seq, _) = store.next_offset();
        store.log(now, seq, &[], &[], &[text("0")]);
        for pid in ["a", "b", "c"] {
            store.persist(now, state(pid, &["sid"]));
        }
        assert_eq!(store.stats().sessions, 2);
        assert!(store.claim(now, "a", "1").is_none());
        assert!(store.claim(now, "c", "1").is_some());
    }
}
