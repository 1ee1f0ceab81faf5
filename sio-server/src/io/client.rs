//! One Engine.IO connection: decodes its packets, applies socket.io's state rules, connects
//! its sockets, routes their events and writes their packets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sio_protocol::socket::{
    Decoder, DecoderConfig, Encoder, Packet, PacketData, Parser, ProtocolVersion as SocketProtocol,
};
use sio_protocol::{Map, Str, Value};

use super::handshake::Handshake;
use super::server::SocketIo;
use super::socket::{EmitError, Incoming, Socket, SocketDisconnectReason, frames};
use crate::{CloseReason, Connection, ConnectionSender, DisconnectReason, Message, SendError};

/// What the sockets of one connection share.
#[derive(Debug)]
pub(crate) struct ClientShared {
    pub(crate) sender: ConnectionSender,
    pub(crate) encoder: Encoder,
    /// Held while the messages of one packet are queued, so packets never interleave.
    write: Mutex<()>,
    /// The connected sockets, by namespace.
    sockets: Mutex<HashMap<Str, Socket>>,
}

impl ClientShared {
    pub(crate) fn new(sender: ConnectionSender, parser: Parser) -> Self {
        ClientShared {
            sender,
            encoder: Encoder::new(parser),
            write: Mutex::new(()),
            sockets: Mutex::new(HashMap::new()),
        }
    }

    /// Queues the messages of one packet, all or none.
    pub(crate) fn write(&self, messages: Vec<Message>, volatile: bool) -> Result<(), EmitError> {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let result = if messages.len() == 1 {
            let mut messages = messages;
            match messages.pop() {
                Some(message) => self.sender.try_send(message),
                None => Ok(()),
            }
        } else {
            self.sender.try_send_all(messages)
        };
        match result {
            Ok(()) => Ok(()),
            Err(SendError::Full(_)) => {
                if !volatile {
                    tracing::debug!(sid = %self.sender.sid(), "send queue full: packet dropped");
                }
                Err(EmitError::Full)
            }
            Err(_) => Err(EmitError::Disconnected),
        }
    }

    pub(crate) fn send_packet(&self, packet: &Packet, volatile: bool) -> Result<(), EmitError> {
        let encoded = self.encoder.encode(packet).map_err(EmitError::Serialize)?;
        self.write(frames(encoded), volatile)
    }

    fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<Str, Socket>> {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        self.sockets().get(nsp).cloned()
    }

    /// Forgets the socket of `nsp` if it is `id`.
    pub(crate) fn remove(&self, nsp: &str, id: &str) {
        let mut sockets = self.sockets();
        if sockets.get(nsp).is_some_and(|s| s.id() == id) {
            sockets.remove(nsp);
        }
    }

    fn take_all(&self) -> Vec<Socket> {
        self.sockets().drain().map(|(_, s)| s).collect()
    }

    /// `socket.disconnect(true)`: every namespace gets DISCONNECT, then the connection closes.
    pub(crate) fn disconnect_all(&self) {
        for socket in self.take_all() {
            socket.close_with(SocketDisconnectReason::ServerNamespaceDisconnect, true);
        }
        self.sender.close();
    }

    /// Closes every socket with `reason` (no packet) and the connection.
    pub(crate) fn close_all(&self, reason: SocketDisconnectReason) {
        for socket in self.take_all() {
            socket.close_with(reason, false);
        }
        self.sender.close();
    }
}

fn engine_reason(reason: DisconnectReason) -> SocketDisconnectReason {
    match reason {
        DisconnectReason::Engine(CloseReason::TransportClose) => {
            SocketDisconnectReason::TransportClose
        }
        DisconnectReason::Engine(CloseReason::PingTimeout) => SocketDisconnectReason::PingTimeout,
        DisconnectReason::Engine(CloseReason::ParseError) => SocketDisconnectReason::ParseError,
        DisconnectReason::Engine(CloseReason::ForcedClose) => SocketDisconnectReason::ForcedClose,
        _ => SocketDisconnectReason::TransportError,
    }
}

/// Serves one connection until it closes.
pub(crate) async fn run(io: SocketIo, mut conn: Connection) {
    let config = io.config();
    let shared = Arc::new(ClientShared::new(conn.sender(), config.parser));
    io.register_client(&shared);
    let v3 = conn.protocol() == crate::ProtocolVersion::V3;
    let mut decoder_config = DecoderConfig::default()
        .with_max_attachments(config.max_attachments)
        .with_parser(config.parser);
    if v3 {
        decoder_config = decoder_config.with_protocol(SocketProtocol::V4);
    }
    let mut decoder = Decoder::new(decoder_config);
    // Boxed and dropped once a namespace is joined: the task keeps no timer while it waits.
    let mut connect_timeout = Some(Box::pin(tokio::time::sleep(config.connect_timeout)));
    // Socket.IO v4 (Engine.IO v3): the client is in `/` without sending CONNECT.
    let mut joined = v3
        && Box::pin(connect(
            &io,
            &shared,
            &conn,
            Str::from_static("/"),
            None,
            true,
        ))
        .await;
    if joined {
        connect_timeout = None;
    }
    // Set once the connection is being closed: later messages are ignored.
    let mut closing: Option<SocketDisconnectReason> = None;
    loop {
        let message = tokio::select! {
            message = conn.recv() => message,
            () = async {
                match connect_timeout.as_mut() {
                    Some(timer) => timer.await,
                    None => std::future::pending().await,
                }
            }, if !joined && closing.is_none() => {
                tracing::debug!(sid = %conn.sid(), "no namespace joined in time");
                closing = Some(SocketDisconnectReason::ForcedServerClose);
                conn.close();
                continue;
            }
        };
        let Some(message) = message else { break };
        if closing.is_some() {
            continue;
        }
        let decoded = match message {
            Message::Text(text) => decoder.decode_text(text),
            Message::Binary(data) => decoder.decode_binary(data),
        };
        let violation = match decoded {
            Ok(None) => None,
            Ok(Some(packet)) => match handle(&io, &shared, &conn, packet) {
                Handled::Done(violation) => violation,
                // The rare cases that wait are boxed: the task's future would otherwise be as
                // large as them for its whole life.
                Handled::Connect { nsp, auth } => {
                    let v3 = conn.protocol() == crate::ProtocolVersion::V3;
                    if Box::pin(connect(&io, &shared, &conn, nsp, auth, v3)).await {
                        joined = true;
                        connect_timeout = None;
                    }
                    None
                }
                Handled::QueueFull(socket, incoming) => {
                    // A handler of this socket waits: stop reading, but notice when the
                    // connection closes meanwhile.
                    Box::pin(async {
                        tokio::select! {
                            () = socket.enqueue(incoming) => None,
                            reason = conn.closed() => Some(engine_reason(reason)),
                        }
                    })
                    .await
                }
            },
            Err(error) => {
                tracing::debug!(sid = %conn.sid(), %error, "invalid packet");
                Some(SocketDisconnectReason::ForcedClose)
            }
        };
        if let Some(reason) = violation {
            // Every socket of the connection goes with it.
            closing = Some(reason);
            shared.close_all(reason);
        }
    }
    let reason = match closing {
        Some(reason) => reason,
        None => engine_reason(conn.closed().await),
    };
    shared.close_all(reason);
    io.unregister_client(&shared);
}

/// What [`handle`] leaves to do.
enum Handled {
    /// Done; `Some(reason)` when the packet broke the state rules (the connection closes).
    Done(Option<SocketDisconnectReason>),
    /// A CONNECT to carry out.
    Connect { nsp: Str, auth: Option<Value> },
    /// An event for a socket whose queue is full.
    QueueFull(Socket, Incoming),
}

/// Handles one packet, without waiting.
fn handle(io: &SocketIo, shared: &Arc<ClientShared>, conn: &Connection, packet: Packet) -> Handled {
    let invalid = Handled::Done(Some(SocketDisconnectReason::ForcedServerClose));
    let v3 = conn.protocol() == crate::ProtocolVersion::V3;
    let (nsp, query_auth) = if v3 {
        split_v4_namespace(&packet.nsp)
    } else {
        (packet.nsp, None)
    };
    let socket = shared.socket(&nsp);
    match (packet.data, socket) {
        (PacketData::Connect(auth), None) => {
            if io.is_closed() {
                return invalid;
            }
            let auth = if v3 { query_auth } else { auth };
            Handled::Connect { nsp, auth }
        }
        (PacketData::Event { name, args, id }, Some(socket)) => {
            match socket.try_enqueue(Incoming { name, args, id }) {
                Ok(()) => Handled::Done(None),
                Err(incoming) => Handled::QueueFull(socket, incoming),
            }
        }
        (PacketData::Ack { args, id }, Some(socket)) => {
            socket.handle_ack(id, args);
            Handled::Done(None)
        }
        (PacketData::Disconnect, Some(socket)) => {
            socket.close_with(SocketDisconnectReason::ClientNamespaceDisconnect, false);
            Handled::Done(None)
        }
        _ => invalid,
    }
}

/// A CONNECT: resolves the namespace, runs the middlewares, answers. `true` if connected.
async fn connect(
    io: &SocketIo,
    shared: &Arc<ClientShared>,
    conn: &Connection,
    nsp: Str,
    auth: Option<Value>,
    v3: bool,
) -> bool {
    let auth = auth.unwrap_or_else(|| Value::Object(Map::new()));
    let Some(ns) = io.resolve(&nsp, &auth) else {
        let payload = super::namespace::ConnectError::new("Invalid namespace").to_value();
        let _ = shared.send_packet(&Packet::new(nsp, PacketData::ConnectError(payload)), false);
        return false;
    };
    let id = if v3 {
        // Socket.IO 2.x: the engine id, prefixed by the namespace outside `/`.
        if &*nsp == "/" {
            conn.sid().clone()
        } else {
            Str::from(format!("{nsp}#{}", conn.sid()))
        }
    } else {
        match crate::sid::generate() {
            Ok(id) => id,
            Err(_) => return false,
        }
    };
    let handshake = Handshake::new(conn, &io.config().engine.normalized_path(), auth);
    let socket = Socket::new(id.clone(), ns.clone(), handshake, shared.clone());
    let middlewares = io
        .middlewares()
        .into_iter()
        .chain(ns.handlers().middlewares());
    let run_middlewares = async {
        for middleware in middlewares {
            middleware(socket.clone()).await?;
        }
        Ok(())
    };
    let outcome: Result<(), super::namespace::ConnectError> = tokio::select! {
        outcome = run_middlewares => outcome,
        _ = conn.closed() => return false,
    };
    if let Err(error) = outcome {
        // Socket.IO 2.x gets `err.data || err.message`.
        let payload = match (v3, error.data.clone()) {
            (false, _) => error.to_value(),
            (true, Some(data)) if !data.is_null() => data,
            (true, _) => Value::from(error.message.as_str()),
        };
        let packet = Packet::new(nsp, PacketData::ConnectError(payload));
        let _ = shared.send_packet(&packet, false);
        return false;
    }
    if shared.sender.is_closed() {
        return false;
    }
    shared.sockets().insert(nsp.clone(), socket.clone());
    ns.add_socket(socket.clone());
    ns.adapter().add_all(id.clone(), vec![id.clone()]).await;
    socket.set_connected();
    let reply = if v3 {
        None
    } else {
        let mut reply = Map::new();
        reply.insert("sid".to_owned(), Value::from(id));
        Some(Value::Object(reply))
    };
    let _ = shared.send_packet(&Packet::new(nsp, PacketData::Connect(reply)), false);
    socket.start(ns.handlers().connection());
    true
}

/// Socket.IO 2.x sends the auth of a CONNECT as a query string in the namespace
/// (`/admin?token=abc`): the namespace and that query as an object of strings.
fn split_v4_namespace(nsp: &Str) -> (Str, Option<Value>) {
    let Some((path, query)) = nsp.split_once('?') else {
        return (nsp.clone(), None);
    };
    let mut auth = Map::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        auth.insert(key.into_owned(), Value::from(value.into_owned()));
    }
    let path = if path.is_empty() { "/" } else { path };
    (nsp.slice_ref(path), Some(Value::Object(auth)))
}
