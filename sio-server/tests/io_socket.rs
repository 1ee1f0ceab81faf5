//! Socket behaviour with a raw peer: handler order, acks both ways, per-packet middleware,
//! onAny/onAnyOutgoing, per-socket data, disconnect reasons.

use sio_test_support::io as io_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_support::{Peer, WAIT, server, until};
use sio_server::{Ack, Socket, SocketIo, SocketIoConfig};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::default()
}

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

#[tokio::test]
async fn handlers_of_one_socket_run_in_arrival_order() {
    let order = log();
    let o = order.clone();
    let s = server(SocketIoConfig::default(), move |io: &SocketIo| {
        io.of("/").on_connection(move |socket| {
            let o = o.clone();
            async move {
                // Registering after an await is fine: no event is dispatched before this
                // handler returns. scenario: a connection handler that takes its time.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let o2 = o.clone();
                socket.on("step", move |_, (n, delay): (u32, u64), _| {
                    let o = o2.clone();
                    async move {
                        // scenario: each step takes the `delay` the client asks for.
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        push(&o, format!("step {n}"));
                    }
                });
                socket.on_any(move |_, name, _| {
                    let o = o.clone();
                    async move { push(&o, format!("any {}", name.as_str())) }
                });
            }
        });
    })
    .await;
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    // The first handler waits longest; the order must still be the arrival order.
    for (n, delay) in [(1, 200), (2, 0), (3, 50), (4, 0)] {
        peer.send(&format!(r#"2["step",{n},{delay}]"#)).await;
    }
    until(|| entries(&order).len() == 8).await;
    assert_eq!(
        entries(&order),
        [
            "any step", "step 1", "any step", "step 2", "any step", "step 3", "any step", "step 4"
        ]
    );
}

#[tokio::test]
async fn server_emit_with_ack_answered_and_timed_out() {
    let results = log();
    let r = results.clone();
    let s = server(SocketIoConfig::default(), move |io: &SocketIo| {
        io.of("/").on_connection(move |socket| {
            let r = r.clone();
            async move {
                socket.on("go", move |socket: Socket, (): (), _| {
                    let r = r.clone();
                    async move {
                        let answer = socket
                            .emit_with_ack("question", &("a", 1))
                            .timeout(Duration::from_secs(5))
                            .await;
                        match answer {
                            Ok(args) => {
                                let (text,): (String,) = args.deserialize().unwrap();
                                push(&r, format!("answer {text}"));
                            }
                            Err(e) => push(&r, format!("error {e}")),
                        }
                        let unanswered = socket
                            .emit_with_ack("ignored", &())
                            .timeout(Duration::from_millis(200))
                            .await;
                        assert!(unanswered.as_ref().is_err_and(|e| e.is_timeout()));
                        push(&r, format!("error {}", unanswered.unwrap_err()));
                    }
                });
            }
        });
    })
    .await;
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.send(r#"2["go"]"#).await;
    let question = peer.text().await;
    let rest = question.strip_prefix('2').unwrap();
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(&rest[id.len()..], r#"["question","a",1]"#);
    peer.send(&format!(r#"3{id}["yes"]"#)).await;
    let ignored = peer.text().await;
    assert!(ignored.ends_with(r#"["ignored"]"#), "{ignored}");
    until(|| entries(&results).len() == 2).await;
    assert_eq!(
        entries(&results),
        ["answer yes", "error operation has timed out"]
    );
    // A late answer to the timed-out ack is ignored.
    let late: String = ignored[1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    peer.send(&format!("3{late}[]")).await;
}

#[tokio::test]
async fn per_packet_middleware_any_outgoing_and_data() {
    let seen = log();
    let s1 = seen.clone();
    let s = server(SocketIoConfig::default(), move |io: &SocketIo| {
        io.of("/").on_connection(move |socket| {
            let seen = s1.clone();
            async move {
                socket.insert_data(7u32);
                socket.use_middleware(|_, name, _| async move {
                    if name.as_str() == "forbidden" {
                        Err(sio_server::Error::rejected("not allowed"))
                    } else {
                        Ok(())
                    }
                });
                let s4 = seen.clone();
                socket.on_any(move |_, name, _| {
                    let s4 = s4.clone();
                    async move { push(&s4, format!("any {}", name.as_str())) }
                });
                let s2 = seen.clone();
                socket.on_error(move |_, e| push(&s2, format!("error {e}")));
                let s3 = seen.clone();
                socket.on_any_outgoing(move |name, args| {
                    push(&s3, format!("out {name} {}", args.len()));
                });
                socket.on("count", |socket: Socket, (): (), ack: Ack| async move {
                    let n = socket.with_data(|n: &mut u32| {
                        *n += 1;
                        *n
                    });
                    let _ = ack.send(&n);
                    let _ = socket.emit("counted", &(n, "x")).await;
                });
                socket.on("forbidden", move |_, (): (), _| {
                    let seen = seen.clone();
                    async move { push(&seen, "forbidden ran") }
                });
            }
        });
    })
    .await;
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.send(r#"21["count"]"#).await;
    assert_eq!(peer.text().await, "31[8]");
    assert_eq!(peer.text().await, r#"2["counted",8,"x"]"#);
    peer.send(r#"2["forbidden"]"#).await;
    peer.send(r#"22["count"]"#).await;
    assert_eq!(peer.text().await, "32[9]");
    peer.text().await;
    assert_eq!(
        entries(&seen),
        [
            "any count",
            "out counted 2",
            // onAny runs before the middlewares, as in socket.io.
            "any forbidden",
            "error not allowed",
            "any count",
            "out counted 2"
        ]
    );
    let socket = s.io.of("/").sockets().pop().unwrap();
    assert_eq!(socket.data::<u32>(), Some(9));
    assert_eq!(socket.data::<String>(), None);
}

#[tokio::test]
async fn disconnect_reasons() {
    let reasons = log();
    let r = reasons.clone();
    let s = server(SocketIoConfig::default(), move |io: &SocketIo| {
        let setup = move |socket: sio_server::Socket| {
            let r = r.clone();
            async move {
                let r2 = r.clone();
                socket.on_disconnecting(move |socket, reason| {
                    let r = r2.clone();
                    async move {
                        let rooms = socket.rooms().await;
                        assert!(rooms.contains(socket.id()));
                        push(&r, format!("disconnecting {}", reason));
                    }
                });
                socket.on_disconnect(move |socket, reason| {
                    let r = r.clone();
                    async move {
                        assert!(!socket.connected());
                        assert!(socket.rooms().await.is_empty());
                        push(&r, format!("{} {reason}", socket.namespace().name()));
                    }
                });
                socket.on("kick", |socket: Socket, (close,): (bool,), _| async move {
                    socket.disconnect(close);
                });
            }
        };
        io.of("/").on_connection(setup.clone());
        io.of("/b").on_connection(setup);
    })
    .await;
    let done = |n: usize| {
        let reasons = reasons.clone();
        move || entries(&reasons).len() == n
    };
    // Client namespace disconnect.
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.send("1").await;
    until(done(2)).await;
    // Server namespace disconnect: the client gets DISCONNECT.
    peer.connect_nsp("/", None).await;
    peer.send(r#"2["kick",false]"#).await;
    assert_eq!(peer.text().await, "1");
    until(done(4)).await;
    // disconnect(true): every namespace gets DISCONNECT, then the connection closes.
    peer.connect_nsp("/", None).await;
    peer.connect_nsp("/b", None).await;
    peer.send(r#"2["kick",true]"#).await;
    peer.closed().await;
    until(done(8)).await;
    // Transport close.
    let (peer, _) = Peer::join(s.addr, "/").await;
    peer.close().await;
    until(done(10)).await;
    // A protocol violation: forced server close.
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.send("0").await;
    peer.closed().await;
    until(done(12)).await;
    let all = entries(&reasons);
    assert_eq!(
        all[..4],
        [
            "disconnecting client namespace disconnect",
            "/ client namespace disconnect",
            "disconnecting server namespace disconnect",
            "/ server namespace disconnect",
        ]
    );
    let mut kicked = all[4..8].to_vec();
    kicked.sort();
    assert_eq!(
        kicked,
        [
            "/ server namespace disconnect",
            "/b server namespace disconnect",
            "disconnecting server namespace disconnect",
            "disconnecting server namespace disconnect",
        ]
    );
    assert_eq!(
        all[8..],
        [
            "disconnecting transport close",
            "/ transport close",
            "disconnecting forced server close",
            "/ forced server close",
        ]
    );
}

#[tokio::test]
async fn close_disconnects_everyone_with_server_shutting_down() {
    let reasons = log();
    let r = reasons.clone();
    let s = server(SocketIoConfig::default(), move |io: &SocketIo| {
        io.of("/").on_connection(move |socket| {
            let r = r.clone();
            async move {
                socket.on_disconnect(move |_, reason| {
                    let r = r.clone();
                    async move { push(&r, reason.as_str()) }
                });
            }
        });
    })
    .await;
    let (mut a, _) = Peer::join(s.addr, "/").await;
    let (mut b, _) = Peer::join(s.addr, "/").await;
    s.io.close().await;
    a.closed().await;
    b.closed().await;
    until(|| entries(&reasons).len() == 2).await;
    assert_eq!(
        entries(&reasons),
        ["server shutting down", "server shutting down"]
    );
    // New connections are closed at once.
    let mut c = Peer::connect(s.addr).await;
    c.closed().await;
}

#[tokio::test]
async fn a_stuck_handler_delays_its_socket_only_and_disconnection_is_still_seen() {
    let release = Arc::new(tokio::sync::Notify::new());
    let reasons = log();
    let (rel, r) = (release.clone(), reasons.clone());
    let config = SocketIoConfig::default().socket_queue(1);
    let s = server(config, move |io: &SocketIo| {
        io.of("/").on_connection(move |socket| {
            let (rel, r) = (rel.clone(), r.clone());
            async move {
                socket.on("wait", move |_, (): (), _| {
                    let rel = rel.clone();
                    async move { rel.notified().await }
                });
                socket.on("echo", |socket: Socket, (n,): (u32,), _| async move {
                    let _ = socket.emit("echo", &n).await;
                });
                socket.on_disconnect(move |_, reason| {
                    let r = r.clone();
                    async move { push(&r, reason.as_str()) }
                });
            }
        });
    })
    .await;
    let (mut stuck, _) = Peer::join(s.addr, "/").await;
    let (mut other, _) = Peer::join(s.addr, "/").await;
    stuck.send(r#"2["wait"]"#).await;
    for n in 0..5 {
        stuck.send(&format!(r#"2["echo",{n}]"#)).await;
    }
    // Another socket is not held back.
    other.send(r#"2["echo",7]"#).await;
    assert_eq!(other.text().await, r#"2["echo",7]"#);
    let ns = s.io.of("/");
    until(|| ns.sockets().len() == 2).await;
    stuck.close().await;
    // The socket is marked disconnected although its handler still waits...
    until(|| ns.sockets().iter().filter(|s| s.connected()).count() == 1).await;
    assert!(entries(&reasons).is_empty());
    // ...and its disconnect handler runs once the handler returns.
    release.notify_one();
    until(|| entries(&reasons) == ["transport close"]).await;
    until(|| ns.sockets().len() == 1).await;
}

#[tokio::test]
async fn a_client_leaving_during_a_slow_middleware_leaves_nothing_behind() {
    let entered = std::sync::Arc::new(tokio::sync::Notify::new());
    let notify = entered.clone();
    let s = server(SocketIoConfig::default(), move |io: &SocketIo| {
        io.of("/").use_middleware(move |_| {
            let notify = notify.clone();
            async move {
                notify.notify_one();
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    })
    .await;
    let mut peer = Peer::connect(s.addr).await;
    peer.send("0").await;
    // The CONNECT waits in the middleware.
    tokio::time::timeout(WAIT, entered.notified())
        .await
        .expect("the middleware runs");
    peer.close().await;
    until(|| s.io.engine().session_count() == 0).await;
    assert!(s.io.of("/").sockets().is_empty());
}

#[tokio::test]
async fn engine_reasons_reach_the_sockets() {
    let reasons = log();
    let r = reasons.clone();
    let engine = sio_server::EngineConfig::default()
        .path("/socket.io/")
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(100));
    let s = server(
        SocketIoConfig::default().engine(engine),
        move |io: &SocketIo| {
            io.of("/").on_connection(move |socket| {
                let r = r.clone();
                async move {
                    socket.on_disconnect(move |_, reason| {
                        let r = r.clone();
                        async move { push(&r, reason.as_str()) }
                    });
                }
            });
        },
    )
    .await;
    // A Socket.IO packet the decoder rejects: the server closes the connection.
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.send("2{}").await;
    peer.closed().await;
    until(|| entries(&reasons) == ["forced close"]).await;
    // An Engine.IO packet that does not parse.
    let (mut peer, _) = Peer::join(s.addr, "/").await;
    peer.send_raw_text("x").await;
    peer.closed().await;
    until(|| entries(&reasons).len() == 2).await;
    assert_eq!(entries(&reasons)[1], "parse error");
    // A client that stops answering pings.
    let (peer, _) = Peer::join(s.addr, "/").await;
    until(|| entries(&reasons).len() == 3).await;
    assert_eq!(entries(&reasons)[2], "ping timeout");
    drop(peer);
}
