//! Connection state recovery with raw peers: a WebSocket and a long-polling connection cut
//! in the middle of a stream of events come back with `{pid, offset}` and get the events
//! they missed, in order, once, with the same id, rooms and data; and every way a recovery
//! must fail gives a fresh session, never another client's state.

use sio_test_support::io as io_support;

use std::time::Duration;

use io_support::{Peer, Polling, server};
use serde_json::{Value, json};
use sio_server::{Ack, ConnectionStateRecovery, Socket, SocketIo, SocketIoConfig};

fn config(recovery: ConnectionStateRecovery) -> SocketIoConfig {
    SocketIoConfig::default().connection_state_recovery(recovery)
}

/// The handlers of the `conformance` example's `/`, and `set_data` / `data`.
fn handlers(io: &SocketIo) {
    io.of("/").on_connection(|socket| async move {
        socket.on(
            "join",
            |socket: Socket, (room,): (String,), ack: Ack| async move {
                socket.join(room).await;
                let _ = ack.send(&true);
            },
        );
        socket.on("rooms", |socket: Socket, (): (), ack: Ack| async move {
            let mut rooms: Vec<String> =
                socket.rooms().await.iter().map(|r| r.to_string()).collect();
            rooms.sort();
            let _ = ack.send(&(rooms,));
        });
        socket.on(
            "ticks",
            |socket: Socket, (n, every_ms): (u32, u64), ack: Ack| async move {
                let _ = ack.send(&true);
                tokio::spawn(async move {
                    for i in 0..n {
                        // scenario: the handler emits a tick every `every_ms`.
                        tokio::time::sleep(Duration::from_millis(every_ms)).await;
                        let _ = socket.emit("tick", &i).await;
                    }
                });
            },
        );
        socket.on("status", |socket: Socket, (): (), ack: Ack| async move {
            let _ = ack.send(&json!({"id": socket.id().as_str(), "recovered": socket.recovered()}));
        });
        socket.on(
            "set_data",
            |socket: Socket, (data,): (Value,), ack: Ack| async move {
                let _ = socket.set_data(&data);
                let _ = ack.send(&true);
            },
        );
        socket.on("data", |socket: Socket, (): (), ack: Ack| async move {
            let _ = ack.send(&(socket.data_value(),));
        });
    });
}

/// A tick packet `2["tick",i,"offset"]`: `(i, offset)`.
fn tick(packet: &str) -> Option<(u64, String)> {
    let data: Value = serde_json::from_str(packet.strip_prefix('2')?).ok()?;
    (data[0] == "tick").then(|| {
        (
            data[1].as_u64().unwrap(),
            data[2].as_str().unwrap().to_owned(),
        )
    })
}

/// The CONNECT reply `0{...}` as JSON.
fn connect_reply(packet: &str) -> Option<Value> {
    serde_json::from_str(packet.strip_prefix('0')?).ok()
}

/// The arguments of ACK `3<id>[...]`.
fn ack_args(packet: &str, id: u64) -> Option<Value> {
    serde_json::from_str(packet.strip_prefix(&format!("3{id}"))?).ok()
}

// ---------------------------------------------------------------------------------------
// WebSocket peers (real time)
// ---------------------------------------------------------------------------------------

/// Sends CONNECT with `auth`; the packets before the reply (the missed events), and the
/// reply.
async fn ws_connect(peer: &mut Peer, auth: &Value) -> (Vec<String>, Value) {
    peer.send(&format!("0{auth}")).await;
    let mut before = Vec::new();
    loop {
        let packet = peer.text().await;
        if let Some(reply) = connect_reply(&packet) {
            return (before, reply);
        }
        before.push(packet);
    }
}

/// Sends `2<id>[name, ...args]` and waits for its ack; the ticks that arrived meanwhile go
/// to `ticks`.
async fn ws_call(peer: &mut Peer, id: u64, call: Value, ticks: &mut Vec<(u64, String)>) -> Value {
    peer.send(&format!("2{id}{call}")).await;
    loop {
        let packet = peer.text().await;
        if let Some(args) = ack_args(&packet, id) {
            return args;
        }
        ticks.push(tick(&packet).unwrap_or_else(|| panic!("unexpected {packet}")));
    }
}

#[tokio::test]
async fn a_websocket_cut_mid_stream_recovers_every_missed_event_once() {
    let s = server(config(ConnectionStateRecovery::default()), handlers).await;
    let mut ticks = Vec::new();
    let mut peer = Peer::connect(s.addr).await;
    let (_, reply) = ws_connect(&mut peer, &json!({})).await;
    let (sid, pid) = (
        reply["sid"].as_str().unwrap().to_owned(),
        reply["pid"].as_str().unwrap().to_owned(),
    );
    assert!(pid.len() >= 20 && pid != sid, "{reply}");
    assert_eq!(
        ws_call(&mut peer, 1, json!(["join", "room-a"]), &mut ticks).await,
        json!([true])
    );
    assert_eq!(
        ws_call(
            &mut peer,
            2,
            json!(["set_data", {"user": "ann"}]),
            &mut ticks
        )
        .await,
        json!([true])
    );
    assert_eq!(
        ws_call(&mut peer, 3, json!(["ticks", 40, 10]), &mut ticks).await,
        json!([true])
    );
    // Some ticks, then the connection is cut (the TCP connection closes, no close frame).
    while ticks.len() < 5 {
        ticks.push(tick(&peer.text().await).unwrap());
    }
    drop(peer);
    let ns = s.io.of("/");
    io_support::until(|| ns.recovery_stats().unwrap().sessions == 1).await;
    // Ticks go on meanwhile, into the log.
    let logged = ns.recovery_stats().unwrap().packets;
    io_support::until(|| ns.recovery_stats().unwrap().packets > logged).await;
    let offset = ticks.last().unwrap().1.clone();
    let mut peer = Peer::connect(s.addr).await;
    let (missed, reply) = ws_connect(&mut peer, &json!({"pid": pid, "offset": offset})).await;
    assert_eq!(reply, json!({"sid": sid, "pid": pid}), "same id and pid");
    assert!(!missed.is_empty(), "ticks were emitted during the cut");
    ticks.extend(missed.iter().map(|p| tick(p).unwrap()));
    assert_eq!(
        ws_call(&mut peer, 4, json!(["status"]), &mut ticks).await,
        json!([{"id": sid, "recovered": true}])
    );
    let mut rooms = vec!["room-a".to_owned(), sid.clone()];
    rooms.sort();
    assert_eq!(
        ws_call(&mut peer, 5, json!(["rooms"]), &mut ticks).await,
        json!([rooms])
    );
    assert_eq!(
        ws_call(&mut peer, 6, json!(["data"]), &mut ticks).await,
        json!([{"user": "ann"}])
    );
    while ticks.len() < 40 {
        ticks.push(tick(&peer.text().await).unwrap());
    }
    let order: Vec<u64> = ticks.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        order,
        (0..40).collect::<Vec<_>>(),
        "every tick once, in order"
    );
    peer.quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn offsets_mark_the_events_neither_volatile_nor_acknowledged() {
    let s = server(config(ConnectionStateRecovery::default()), handlers).await;
    let mut peer = Peer::connect(s.addr).await;
    let (_, reply) = ws_connect(&mut peer, &json!({})).await;
    let sid = reply["sid"].as_str().unwrap().to_owned();
    let ns = s.io.of("/");
    let socket = ns.get_socket(&sid).unwrap();
    socket.emit("one", &1).await.unwrap();
    ns.emit("all", &2).await.unwrap();
    ns.volatile().emit("volatile", &3).await.unwrap();
    ns.to(sid.clone()).emit("room", &4).await.unwrap();
    let pending = tokio::spawn(async move { socket.emit_with_ack("ask", &5).await });
    let expect = [
        r#"["one",1,"#,
        r#"["all",2,"#,
        r#"["volatile",3]"#,
        r#"["room",4,"#,
    ];
    for prefix in expect {
        let packet = peer.text().await;
        assert!(packet.starts_with(&format!("2{prefix}")), "{packet}");
    }
    let asked = peer.text().await;
    assert!(asked.ends_with(r#"["ask",5]"#), "{asked}");
    let id: String = asked[1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    peer.send(&format!("3{id}[\"ok\"]")).await;
    assert!(pending.await.unwrap().is_ok());
    // Offsets count up: "1", "2", then "3" for the room (the volatile one has none).
    assert_eq!(ns.recovery_stats().unwrap().packets, 3);
}

#[tokio::test]
async fn without_recovery_there_is_no_pid_and_no_offset() {
    let s = server(SocketIoConfig::default(), handlers).await;
    let mut peer = Peer::connect(s.addr).await;
    let (_, reply) = ws_connect(&mut peer, &json!({"pid": "x", "offset": "1"})).await;
    assert_eq!(reply.as_object().unwrap().len(), 1, "{reply}");
    s.io.of("/").emit("all", &1).await.unwrap();
    assert_eq!(peer.text().await, r#"2["all",1]"#);
    assert!(s.io.of("/").recovery_stats().is_none());
}

// ---------------------------------------------------------------------------------------
// Long-polling peers (paused time)
// ---------------------------------------------------------------------------------------

/// Starts a server in the current (paused) runtime, without a listener.
fn polling_server(recovery: ConnectionStateRecovery) -> SocketIo {
    let io = SocketIo::new(config(recovery));
    handlers(&io);
    io.start();
    io
}

/// A polling client that joined `/` with `auth`: the client, the packets before the CONNECT
/// reply, the reply.
async fn polling_connect(io: &SocketIo, auth: &Value) -> (Polling, Vec<String>, Value) {
    let client = Polling::open(io).await;
    client.post(&[&format!("0{auth}")]).await;
    let mut before = Vec::new();
    loop {
        for packet in client.get().await {
            if let Some(reply) = connect_reply(&packet) {
                return (client, before, reply);
            }
            before.push(packet);
        }
    }
}

/// Sends a call and GETs until its ack; ticks received meanwhile go to `ticks`.
async fn polling_call(
    client: &Polling,
    id: u64,
    call: Value,
    ticks: &mut Vec<(u64, String)>,
) -> Value {
    client.post(&[&format!("2{id}{call}")]).await;
    loop {
        let (status, packets, _) = client.get_timed().await;
        assert_eq!(status, 200);
        for packet in packets {
            if packet == "2" {
                client.post_raw("3").await;
                continue;
            }
            let packet = packet
                .strip_prefix('4')
                .unwrap_or_else(|| panic!("{packet}"));
            if let Some(args) = ack_args(packet, id) {
                return args;
            }
            ticks.push(tick(packet).unwrap_or_else(|| panic!("unexpected {packet}")));
        }
    }
}

/// GETs until `ticks` holds `n` ticks.
async fn polling_ticks(client: &Polling, n: usize, ticks: &mut Vec<(u64, String)>) {
    while ticks.len() < n {
        let (status, packets, _) = client.get_timed().await;
        assert_eq!(status, 200);
        if packets.iter().any(|p| p == "2") {
            // The heartbeat: answered, or the session would end.
            client.post_raw("3").await;
        }
        ticks.extend(packets.iter().filter_map(|p| tick(p.strip_prefix('4')?)));
    }
}

fn ids(reply: &Value) -> (String, String) {
    (
        reply["sid"].as_str().unwrap().to_owned(),
        reply["pid"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_polling_client_that_stops_polling_recovers_after_the_ping_timeout() {
    let io = polling_server(ConnectionStateRecovery::default());
    let (client, _, reply) = polling_connect(&io, &json!({})).await;
    let (sid, pid) = ids(&reply);
    let mut ticks = Vec::new();
    assert_eq!(
        polling_call(&client, 1, json!(["join", "r"]), &mut ticks).await,
        json!([true])
    );
    // A tick a second for two minutes.
    assert_eq!(
        polling_call(&client, 2, json!(["ticks", 120, 1000]), &mut ticks).await,
        json!([true])
    );
    polling_ticks(&client, 3, &mut ticks).await;
    // The client vanishes: ticks pile up in its session until the heartbeat gives up
    // ("ping timeout", 25 + 20 s); they were never delivered.
    drop(client);
    let ns = io.of("/");
    io_support::until_within(Duration::from_secs(60), || {
        ns.recovery_stats().unwrap().sessions != 0
    })
    .await;
    assert!(ns.sockets().is_empty());
    let offset = ticks.last().unwrap().1.clone();
    let (client, missed, reply) =
        polling_connect(&io, &json!({"pid": pid, "offset": offset})).await;
    assert_eq!(reply, json!({"sid": sid, "pid": pid}));
    assert!(missed.len() >= 40, "{} missed", missed.len());
    ticks.extend(missed.iter().map(|p| tick(p).unwrap()));
    assert_eq!(
        polling_call(&client, 3, json!(["status"]), &mut ticks).await,
        json!([{"id": sid, "recovered": true}])
    );
    let mut rooms = vec!["r".to_owned(), sid.clone()];
    rooms.sort();
    assert_eq!(
        polling_call(&client, 4, json!(["rooms"]), &mut ticks).await,
        json!([rooms])
    );
    polling_ticks(&client, 120, &mut ticks).await;
    let order: Vec<u64> = ticks.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        order,
        (0..120).collect::<Vec<_>>(),
        "every tick once, in order"
    );
    assert_eq!(
        ns.recovery_stats().unwrap().sessions,
        0,
        "the session was used"
    );
}

/// A client cut after `n` ticks: its pid and the offset of its last tick, once its session
/// waits to be recovered.
async fn cut_client(io: &SocketIo, ticks: usize) -> (String, String, String) {
    let (client, _, reply) = polling_connect(io, &json!({})).await;
    let (sid, pid) = ids(&reply);
    let mut got = Vec::new();
    assert_eq!(
        polling_call(&client, 1, json!(["join", "secret-room"]), &mut got).await,
        json!([true])
    );
    assert_eq!(
        polling_call(&client, 2, json!(["set_data", "secret"]), &mut got).await,
        json!([true])
    );
    assert_eq!(
        polling_call(&client, 3, json!(["ticks", ticks, 100]), &mut got).await,
        json!([true])
    );
    polling_ticks(&client, ticks, &mut got).await;
    let before = io.of("/").recovery_stats().unwrap().sessions;
    // Close the transport: "transport close".
    let (status, _) = client.post_raw("1").await;
    assert_eq!(status, 200);
    io_support::until(|| io.of("/").recovery_stats().unwrap().sessions != before).await;
    (sid, pid, got.last().unwrap().1.clone())
}

/// Asserts `reply` is a fresh session: a new id, and nothing of the old one.
async fn assert_fresh(io: &SocketIo, auth: Value, old_sid: &str) {
    let (client, missed, reply) = polling_connect(io, &auth).await;
    assert!(missed.is_empty(), "{missed:?}");
    let (sid, pid) = ids(&reply);
    assert_ne!(sid, old_sid);
    assert_ne!(json!(pid), auth["pid"]);
    let mut ticks = Vec::new();
    assert_eq!(
        polling_call(&client, 1, json!(["status"]), &mut ticks).await,
        json!([{"id": sid, "recovered": false}])
    );
    assert_eq!(
        polling_call(&client, 2, json!(["rooms"]), &mut ticks).await,
        json!([[sid]])
    );
    assert_eq!(
        polling_call(&client, 3, json!(["data"]), &mut ticks).await,
        json!([{}])
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_session_gives_a_fresh_one() {
    let recovery =
        ConnectionStateRecovery::default().max_disconnection_duration(Duration::from_secs(5));
    let io = polling_server(recovery);
    let (sid, pid, offset) = cut_client(&io, 2).await;
    tokio::time::sleep(Duration::from_secs(6)).await; // virtual time
    assert_fresh(&io, json!({"pid": pid, "offset": offset}), &sid).await;
}

#[tokio::test(start_paused = true)]
async fn a_wrong_forged_or_guessed_pid_gives_a_fresh_session_and_leaves_the_real_one() {
    let io = polling_server(ConnectionStateRecovery::default());
    let (sid, pid, offset) = cut_client(&io, 2).await;
    // Guesses: other ids of the same shape, the socket id, the pid with one character
    // changed, a prefix, another type.
    let mut changed = pid.clone().into_bytes();
    changed[0] = if changed[0] == b'A' { b'B' } else { b'A' };
    let guesses = [
        json!("AAAAAAAAAAAAAAAAAAAA"),
        json!(sid.clone()),
        json!(String::from_utf8(changed).unwrap()),
        json!(&pid[..10]),
        json!(""),
    ];
    for guess in guesses {
        assert_fresh(&io, json!({"pid": guess, "offset": offset}), &sid).await;
    }
    // Not strings: no recovery asked.
    assert_fresh(&io, json!({"pid": 1, "offset": offset}), &sid).await;
    // The real client still recovers.
    let (_, _, reply) = polling_connect(&io, &json!({"pid": pid, "offset": offset})).await;
    assert_eq!(reply["sid"], json!(sid));
}

#[tokio::test(start_paused = true)]
async fn a_pid_recovers_once() {
    let io = polling_server(ConnectionStateRecovery::default());
    let (sid, pid, offset) = cut_client(&io, 2).await;
    let (_first, _, reply) = polling_connect(&io, &json!({"pid": pid, "offset": offset})).await;
    assert_eq!(reply["sid"], json!(sid));
    // The same credentials again, while the first is connected.
    assert_fresh(&io, json!({"pid": pid, "offset": offset}), &sid).await;
}

#[tokio::test(start_paused = true)]
async fn unknown_or_too_old_offsets_give_a_fresh_session_and_use_the_pid() {
    // The log keeps 5 events: the first ticks leave it.
    let io = polling_server(ConnectionStateRecovery::default().max_stored_packets(5));
    let (sid, pid, _) = cut_client(&io, 3).await;
    for offset in ["zzzz", "-1", "0", "", "1.5"] {
        let (sid2, pid2, _) = cut_client(&io, 1).await;
        assert_fresh(&io, json!({"pid": pid2, "offset": offset}), &sid2).await;
        // Once tried, the pid is gone, even with a good offset afterwards.
        assert_fresh(&io, json!({"pid": pid2, "offset": "1"}), &sid2).await;
    }
    // The first client's offset ("1", its first tick) left the log while the others came.
    assert_fresh(&io, json!({"pid": pid, "offset": "1"}), &sid).await;
}

#[tokio::test(start_paused = true)]
async fn a_session_that_missed_too_much_is_not_recovered() {
    let io = polling_server(ConnectionStateRecovery::default().max_missed_packets(3));
    let (sid, pid, offset) = cut_client(&io, 1).await;
    // Four events for its room while it is away.
    for i in 0..4 {
        io.of("/").to("secret-room").emit("news", &i).await.unwrap();
    }
    assert_fresh(&io, json!({"pid": pid, "offset": offset}), &sid).await;
}

#[tokio::test(start_paused = true)]
async fn a_pid_of_another_namespace_is_unknown() {
    let io = polling_server(ConnectionStateRecovery::default());
    io.of("/other");
    let (sid, pid, offset) = cut_client(&io, 1).await;
    let client = Polling::open(&io).await;
    client
        .post(&[&format!(
            "0/other,{}",
            json!({"pid": pid, "offset": offset})
        )])
        .await;
    let reply = client.get().await;
    let v: Value = serde_json::from_str(reply[0].strip_prefix("0/other,").unwrap()).unwrap();
    assert_ne!(v["sid"], json!(sid));
    assert_ne!(v["pid"], json!(pid));
}

#[tokio::test(start_paused = true)]
async fn middlewares_run_on_a_recovery_unless_skipped() {
    for skip in [true, false] {
        let io = polling_server(ConnectionStateRecovery::default().skip_middlewares(skip));
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        io.of("/").use_middleware(move |socket| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // The middleware sees the recovered socket.
                assert_eq!(
                    socket.recovered(),
                    counted.load(std::sync::atomic::Ordering::SeqCst) == 2
                );
                Ok(())
            }
        });
        let (sid, pid, offset) = cut_client(&io, 1).await;
        let (_, _, reply) = polling_connect(&io, &json!({"pid": pid, "offset": offset})).await;
        assert_eq!(reply["sid"], json!(sid));
        let expected = if skip { 1 } else { 2 };
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            expected,
            "skip {skip}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_namespace_disconnect_leaves_no_session() {
    let io = polling_server(ConnectionStateRecovery::default());
    let (client, _, _) = polling_connect(&io, &json!({})).await;
    client.post(&["1"]).await;
    io_support::until(|| io.of("/").sockets().is_empty()).await;
    assert_eq!(io.of("/").recovery_stats().unwrap().sessions, 0);
}

/// Pids cannot be guessed from other pids or from socket ids: 200 of them are 20+ characters
/// of base64url, all different, unrelated to their socket ids, and every position varies as
/// random characters do (a counter or a timestamp would leave most positions fixed).
#[tokio::test(start_paused = true)]
async fn pids_are_long_distinct_and_random_looking() {
    const N: usize = 200;
    let io = polling_server(ConnectionStateRecovery::default());
    let mut pids = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..N {
        let (client, _, reply) = polling_connect(&io, &json!({})).await;
        let (sid, pid) = ids(&reply);
        assert!(pid.len() >= 20, "{pid}");
        assert!(
            pid.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{pid}"
        );
        assert!(!pid.contains(&sid) && !sid.contains(&pid), "{pid} {sid}");
        pids.push(pid);
        clients.push(client);
    }
    let mut unique = pids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), N);
    let len = pids.iter().map(String::len).min().unwrap();
    for position in 0..len {
        let mut seen: Vec<u8> = pids.iter().map(|p| p.as_bytes()[position]).collect();
        seen.sort_unstable();
        seen.dedup();
        // 200 draws from 64 characters show about 61 of them; fewer than 32 would be far
        // outside chance. (The last character of 15 random bytes in base64url still takes
        // 64 values: 120 bits fill 20 characters exactly.)
        assert!(
            seen.len() >= 32,
            "position {position}: {} characters",
            seen.len()
        );
    }
}

/// An attacker who knows a valid offset tries 500 well-formed pids while a real session
/// waits: every attempt gets a fresh session (none of the victim's id, rooms or data), and
/// the victim still recovers afterwards.
#[tokio::test(start_paused = true)]
async fn guessing_pids_never_recovers_another_clients_session() {
    let io = polling_server(ConnectionStateRecovery::default());
    let (sid, pid, offset) = cut_client(&io, 2).await;
    // Guesses drawn from a small generator, of the pid's shape (20 base64url characters).
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut state = 0x2026_1125_u64;
    for _ in 0..500 {
        let guess: String = (0..pid.len())
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % 64) as usize] as char
            })
            .collect();
        assert_ne!(guess, pid);
        let (_client, missed, reply) =
            polling_connect(&io, &json!({"pid": guess, "offset": offset})).await;
        assert!(missed.is_empty(), "{missed:?}");
        assert_ne!(reply["sid"], json!(sid));
        assert_ne!(reply["pid"], json!(pid));
    }
    // The waiting session is untouched (still one, besides the 500 connected guessers).
    assert_eq!(io.of("/").recovery_stats().unwrap().sessions, 1);
    let (client, _, reply) = polling_connect(&io, &json!({"pid": pid, "offset": offset})).await;
    assert_eq!(reply["sid"], json!(sid));
    let mut ticks = Vec::new();
    let mut rooms = vec![sid.clone(), "secret-room".to_owned()];
    rooms.sort();
    assert_eq!(
        polling_call(&client, 1, json!(["rooms"]), &mut ticks).await,
        json!([rooms])
    );
    assert_eq!(
        polling_call(&client, 2, json!(["data"]), &mut ticks).await,
        json!(["secret"])
    );
}
