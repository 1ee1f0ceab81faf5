//! The client's timers in virtual time (`start_paused`): the reconnection delays follow
//! socket.io-client's backoff, `reconnection_attempts` ends in `reconnect_failed`, and an
//! emit after an unnoticed heartbeat deadline is buffered, not lost.
//!
//! The peers are local (a port that refuses connections, or a scripted WebSocket peer in the
//! same runtime), so no virtual time passes while a connection attempt is in flight: the
//! instants the handlers see are the backoff's delays, to the millisecond.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use sio_client::{DisconnectReason, Manager, ManagerEvent, Options, TransportKind};
use tokio::net::TcpListener;
use tokio::sync::mpsc::unbounded_channel;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Virtual time: far more than any delay here, never reached unless something hangs.
const WAIT: Duration = Duration::from_secs(600);

/// A port nothing listens on (a WebSocket connection to it is refused at once).
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// The manager events with their virtual instants, until `reconnect_failed`.
async fn attempts_until_failed(options: Options) -> Vec<(Duration, ManagerEvent)> {
    let port = closed_port().await;
    let manager = Manager::new(&format!("http://127.0.0.1:{port}"), options).unwrap();
    let start = Instant::now();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, mut done) = unbounded_channel();
    let sink = Arc::clone(&log);
    manager.on(move |e| {
        sink.lock().unwrap().push((start.elapsed(), e.clone()));
        if matches!(e, ManagerEvent::ReconnectFailed) {
            let _ = tx.send(());
        }
    });
    manager.socket("/").connect();
    tokio::time::timeout(WAIT, done.recv())
        .await
        .expect("reconnect_failed")
        .unwrap();
    log.lock().unwrap().clone()
}

/// The instants of `reconnect_attempt` n, and of the first `error`.
fn attempt_times(events: &[(Duration, ManagerEvent)]) -> (Duration, Vec<Duration>) {
    let first_error = events
        .iter()
        .find(|(_, e)| matches!(e, ManagerEvent::Error(_)))
        .map(|(t, _)| *t)
        .expect("an error");
    let attempts = events
        .iter()
        .filter_map(|(t, e)| match e {
            ManagerEvent::ReconnectAttempt(_) => Some(*t),
            _ => None,
        })
        .collect();
    (first_error, attempts)
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[tokio::test(start_paused = true)]
async fn delays_double_up_to_the_maximum_without_jitter() {
    let options = Options::default()
        .transports([TransportKind::WebSocket])
        .randomization_factor(0.0)
        .reconnection_attempts(Some(6));
    let events = attempts_until_failed(options).await;
    let (first_error, attempts) = attempt_times(&events);
    // 1000 * 2^k, capped at reconnection_delay_max (5000).
    let mut gaps = Vec::new();
    let mut previous = first_error;
    for at in &attempts {
        gaps.push(ms(*at - previous));
        previous = *at;
    }
    assert_eq!(gaps, [1000, 2000, 4000, 5000, 5000, 5000], "{events:?}");
    // Numbered 1 to 6, then reconnect_failed, then the last reconnect_error.
    let numbers: Vec<u32> = events
        .iter()
        .filter_map(|(_, e)| match e {
            ManagerEvent::ReconnectAttempt(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    let failed_at = events
        .iter()
        .position(|(_, e)| matches!(e, ManagerEvent::ReconnectFailed))
        .unwrap();
    // It comes right after the 6th attempt failed, with no delay.
    assert_eq!(events[failed_at].0, *attempts.last().unwrap());
}

#[tokio::test(start_paused = true)]
async fn jittered_delays_stay_in_their_bounds() {
    let options = Options::default()
        .transports([TransportKind::WebSocket])
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(1000))
        .randomization_factor(0.5)
        .reconnection_attempts(Some(8));
    for _ in 0..5 {
        let events = attempts_until_failed(options.clone()).await;
        let (first_error, attempts) = attempt_times(&events);
        assert_eq!(attempts.len(), 8);
        let mut previous = first_error;
        for (k, at) in attempts.iter().enumerate() {
            let gap = ms(*at - previous);
            previous = *at;
            // min * 2^k, then ±50 % jitter (floored), then the cap (jitter comes first).
            let nominal = 100u128 << k;
            let low = (nominal / 2).min(1000);
            let high = (nominal + nominal / 2).min(1000);
            assert!(
                (low..=high).contains(&gap),
                "attempt {}: {gap} ms not in {low}..={high}",
                k + 1
            );
        }
    }
}

/// An emit made once the heartbeat deadline has passed (here: the clock jumps over it before
/// the manager's timer could fire) is not written to the dead connection: the connection
/// closes as `"ping timeout"` first and the event goes out after the reconnection.
#[tokio::test(start_paused = true)]
async fn emit_after_an_unnoticed_heartbeat_deadline_is_buffered() {
    const OPEN: &str = r#"0{"sid":"abcdefghijklmnopqrst","upgrades":[],"pingInterval":1000,"pingTimeout":1000,"maxPayload":1000000}"#;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let options = Options::default()
        .transports([TransportKind::WebSocket])
        .randomization_factor(0.0)
        .reconnection_delay(Duration::from_millis(100));
    let manager = Manager::new(&url, options).unwrap();
    let socket = manager.socket("/");
    let (dtx, mut disconnects) = unbounded_channel();
    socket.on_disconnect(move |r| {
        let _ = dtx.send(r);
    });
    let (ctx, mut connects) = unbounded_channel();
    socket.on_connect(move || {
        let _ = ctx.send(());
    });
    socket.connect();
    let accept = async || {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::text(OPEN)).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "40");
        ws.send(Message::text(r#"40{"sid":"s"}"#)).await.unwrap();
        ws
    };
    let mut first = accept().await;
    tokio::time::timeout(WAIT, connects.recv()).await.unwrap();
    // The emit is queued before the clock moves past pingInterval + pingTimeout; the manager
    // sees both at once.
    socket.emit("late", &1).unwrap();
    tokio::time::advance(Duration::from_millis(2500)).await;
    assert_eq!(
        tokio::time::timeout(WAIT, disconnects.recv())
            .await
            .unwrap(),
        Some(DisconnectReason::PingTimeout)
    );
    // Nothing but the close reached the dead connection.
    loop {
        match tokio::time::timeout(WAIT, first.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => panic!("sent on the dead connection: {text}"),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    let mut second = accept().await;
    assert_eq!(next_text(&mut second).await, r#"42["late",1]"#);
}

async fn next_text(ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> String {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return text.as_str().to_owned(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no text frame: {other:?}"),
        }
    }
}
