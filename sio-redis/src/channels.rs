//! Channel names of the Redis adapters, per namespace.
//!
//! | adapter | channel | carries |
//! |---|---|---|
//! | classic | `<key>#<nsp>#` | broadcasts to everyone ([`Classic::broadcast`]) |
//! | classic | `<key>#<nsp>#<room>#` | broadcasts to exactly one room ([`Classic::room`]) |
//! | classic | `<key>-request#<nsp>#` | requests ([`Classic::request`]; subscribing to it is what makes a server count in `PUBSUB NUMSUB`) |
//! | classic | `<key>-response#<nsp>#` | responses ([`Classic::response`]) |
//! | classic | `<key>-response#<nsp>#<uid>#` | responses with `publishOnSpecificResponseChannel` |
//! | sharded | `<prefix>#<nsp>#` | every `ClusterMessage` but responses ([`Sharded::channel`]) |
//! | sharded | `<prefix>#<nsp>#<uid>#` | responses to server `uid` ([`Sharded::response`]) |
//! | sharded | `<prefix>#<nsp>#<room>#` | broadcasts to one room in the `dynamic` modes ([`Sharded::room`]) |
//!
//! The classic adapter subscribes with the pattern `<key>#<nsp>#*` (PSUBSCRIBE); the sharded one
//! with SSUBSCRIBE. `key` and `prefix` default to [`DEFAULT_KEY`].

use sio_protocol::Str;

use crate::format::cluster::{ClusterBody, ClusterMessage};

/// The default key (classic) and channel prefix (sharded): `socket.io`.
pub const DEFAULT_KEY: &str = "socket.io";

/// The channels of the classic adapter (and the emitter) for one namespace.
///
/// ```
/// use sio_redis::channels::Classic;
///
/// let ch = Classic::new("socket.io", "/chat");
/// assert_eq!(ch.broadcast(), "socket.io#/chat#");
/// assert_eq!(ch.room("r1"), "socket.io#/chat#r1#");
/// assert_eq!(ch.pattern(), "socket.io#/chat#*");
/// assert_eq!(ch.request(), "socket.io-request#/chat#");
/// assert_eq!(ch.response(), "socket.io-response#/chat#");
/// assert_eq!(ch.specific_response("abc123"), "socket.io-response#/chat#abc123#");
/// assert_eq!(ch.room_of(b"socket.io#/chat#r1#"), Some("r1".into()));
/// assert_eq!(ch.room_of(b"socket.io#/chat#"), Some("".into()));
/// assert_eq!(ch.room_of(b"socket.io#/other#"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classic {
    broadcast: String,
    request: String,
    response: String,
}

impl Classic {
    /// The channels of namespace `nsp` under `key`.
    pub fn new(key: &str, nsp: &str) -> Classic {
        Classic {
            broadcast: format!("{key}#{nsp}#"),
            request: format!("{key}-request#{nsp}#"),
            response: format!("{key}-response#{nsp}#"),
        }
    }

    /// `<key>#<nsp>#`: broadcasts to everyone, and the prefix of the room channels.
    pub fn broadcast(&self) -> &str {
        &self.broadcast
    }

    /// `<key>#<nsp>#<room>#`.
    pub fn room(&self, room: &str) -> String {
        format!("{}{room}#", self.broadcast)
    }

    /// Where a broadcast to `rooms` goes: the room's channel when there is exactly one room,
    /// [`Classic::broadcast`] otherwise.
    pub fn broadcast_channel(&self, rooms: &[Str]) -> String {
        match rooms {
            [room] => self.room(room),
            _ => self.broadcast.clone(),
        }
    }

    /// `<key>#<nsp>#*`: the pattern a server subscribes to for broadcasts.
    pub fn pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// `<key>-request#<nsp>#`.
    pub fn request(&self) -> &str {
        &self.request
    }

    /// `<key>-response#<nsp>#`.
    pub fn response(&self) -> &str {
        &self.response
    }

    /// `<key>-response#<nsp>#<uid>#`.
    pub fn specific_response(&self, uid: &str) -> String {
        format!("{}{uid}#", self.response)
    }

    /// The room a received broadcast channel names, as the adapter reads it: `None` if the
    /// channel does not start with [`Classic::broadcast`], `""` for the broadcast channel
    /// itself, otherwise what lies between the prefix and the last character. Invalid UTF-8 is
    /// replaced by U+FFFD.
    pub fn room_of(&self, channel: &[u8]) -> Option<String> {
        let rest = channel.strip_prefix(self.broadcast.as_bytes())?;
        let room = &rest[..rest.len().saturating_sub(1)];
        Some(String::from_utf8_lossy(room).into_owned())
    }
}

/// How the sharded adapter spreads broadcasts over channels (its `subscriptionMode` option).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionMode {
    /// Every message on the namespace's channel.
    Static,
    /// Broadcasts to exactly one public room (not a 20-character socket id) on the room's own
    /// channel (the default).
    #[default]
    Dynamic,
    /// Like `Dynamic`, private rooms (socket ids) too.
    DynamicPrivate,
}

/// The channels of the sharded adapter for one namespace.
///
/// ```
/// use sio_redis::channels::Sharded;
///
/// let ch = Sharded::new("socket.io", "/");
/// assert_eq!(ch.channel(), "socket.io#/#");
/// assert_eq!(ch.response("0123456789abcdef"), "socket.io#/#0123456789abcdef#");
/// assert_eq!(ch.room("news"), "socket.io#/#news#");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharded {
    channel: String,
}

impl Sharded {
    /// The channels of namespace `nsp` under `prefix`.
    pub fn new(prefix: &str, nsp: &str) -> Sharded {
        Sharded {
            channel: format!("{prefix}#{nsp}#"),
        }
    }

    /// `<prefix>#<nsp>#`.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// `<prefix>#<nsp>#<uid>#`: responses to server `uid`.
    pub fn response(&self, uid: &str) -> String {
        format!("{}{uid}#", self.channel)
    }

    /// `<prefix>#<nsp>#<room>#`: a room's channel in the dynamic modes.
    pub fn room(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    /// Whether a server in `mode` subscribes to a room's own channel when the room appears
    /// locally (`is_socket_id`: the room is the id of a local socket).
    pub fn subscribes_to_room(mode: SubscriptionMode, is_socket_id: bool) -> bool {
        match mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !is_socket_id,
            SubscriptionMode::DynamicPrivate => true,
        }
    }

    /// Where the sharded adapter publishes `message` (not a response): a broadcast without
    /// acks to exactly one room goes to the room's channel in the dynamic modes (in `Dynamic`
    /// only when the room does not look like a socket id), everything else to
    /// [`Sharded::channel`].
    pub fn publish_channel(&self, message: &ClusterMessage, mode: SubscriptionMode) -> String {
        if let ClusterBody::Broadcast {
            request_id: None,
            opts,
            ..
        } = &message.body
        {
            if let [room] = opts.rooms.as_slice() {
                let dynamic = match mode {
                    SubscriptionMode::Static => false,
                    SubscriptionMode::Dynamic => !looks_like_a_socket_id(room),
                    SubscriptionMode::DynamicPrivate => true,
                };
                if dynamic {
                    return self.room(room);
                }
            }
        }
        self.channel.clone()
    }
}

/// The sharded adapter's test for a socket id: 20 UTF-16 code units (JavaScript's `length`).
pub fn looks_like_a_socket_id(room: &str) -> bool {
    room.encode_utf16().count() == 20
}
