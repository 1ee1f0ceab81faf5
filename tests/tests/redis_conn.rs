//! sio-redis' connection layer against real Redis 7 processes: a single server and a cluster of
//! three masters, each restarted in the middle of a test; publish failures while Redis is down;
//! the bounds of the message stream (size, backlog); garbage on the adapter's channels.

mod redis_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use redis_support::{RedisCluster, RedisServer, redis_missing};
use sio_redis::conn::{Message, MessageKind, Messages, RedisConfig, RedisConnection};
use sio_redis::format::classic::{Broadcast, Request};
use sio_redis::format::cluster::ClusterMessage;

const WAIT: Duration = Duration::from_secs(20);

async fn next(messages: &mut Messages) -> Message {
    tokio::time::timeout(WAIT, messages.recv())
        .await
        .expect("a message within the timeout")
        .expect("stream open")
}

/// Polls `check` until it holds (the state of a Redis server, which no event announces).
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let done = sio_test_support::wait::first(WAIT, async || check().await.then_some(())).await;
    assert!(done.is_some(), "never: {what}");
}

#[tokio::test]
async fn standalone_resubscribes_after_a_restart_and_fails_publishes_while_down() {
    if redis_missing() {
        return;
    }
    let mut redis = RedisServer::start();
    let config = RedisConfig::standalone(redis.url()).publish_timeout(Duration::from_millis(500));
    let conn = RedisConnection::connect(config).await.unwrap();
    let (sub, mut messages) = conn.subscriber().await.unwrap();
    sub.subscribe("socket.io-request#/#").await.unwrap();
    sub.psubscribe("socket.io#/#*").await.unwrap();
    sub.ssubscribe("socket.io#/shard#").await.unwrap();

    let check_all = |conn: RedisConnection| async move {
        assert_eq!(
            conn.publish("socket.io-request#/#", "req".into())
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            conn.publish("socket.io#/#room#", "bc".into())
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            conn.spublish("socket.io#/shard#", "sh".into())
                .await
                .unwrap(),
            1
        );
    };
    check_all(conn.clone()).await;
    let m = next(&mut messages).await;
    assert_eq!(
        (m.kind, &m.channel[..], &m.payload[..]),
        (
            MessageKind::Message,
            &b"socket.io-request#/#"[..],
            &b"req"[..]
        )
    );
    let m = next(&mut messages).await;
    assert_eq!(m.kind, MessageKind::PMessage);
    assert_eq!(m.pattern.as_deref(), Some(&b"socket.io#/#*"[..]));
    assert_eq!(&m.channel[..], b"socket.io#/#room#");
    let m = next(&mut messages).await;
    assert_eq!(
        (m.kind, &m.payload[..]),
        (MessageKind::SMessage, &b"sh"[..])
    );
    assert_eq!(conn.numsub("socket.io-request#/#").await.unwrap(), 1);
    assert_eq!(conn.shardnumsub("socket.io#/shard#").await.unwrap(), 1);

    // Redis goes away: publishing fails within the publish timeout, and is counted.
    redis.stop();
    let started = Instant::now();
    let err = conn
        .publish("socket.io#/#", "lost".into())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    eprintln!("publish while down: {err} after {:?}", started.elapsed());
    assert!(err.is_redis() || err.is_timeout(), "{err:?}");
    assert!(conn.stats().publish_failures >= 1);

    // Back: the subscriber subscribes again by itself.
    redis.restart();
    eventually("resubscribed", || {
        let conn = conn.clone();
        async move {
            conn.numsub("socket.io-request#/#").await.ok() == Some(1)
                && conn.shardnumsub("socket.io#/shard#").await.ok() == Some(1)
                && conn.stats().resubscriptions >= 1
        }
    })
    .await;
    check_all(conn.clone()).await;
    let kinds: Vec<MessageKind> = [
        next(&mut messages).await,
        next(&mut messages).await,
        next(&mut messages).await,
    ]
    .iter()
    .map(|m| m.kind)
    .collect();
    assert_eq!(
        kinds,
        [
            MessageKind::Message,
            MessageKind::PMessage,
            MessageKind::SMessage
        ]
    );
    assert!(
        messages.try_recv().is_none(),
        "no duplicate after the reconnection"
    );
    let stats = conn.stats();
    assert!(
        stats.disconnections >= 1 && stats.resubscriptions >= 1,
        "{stats:?}"
    );
}

#[tokio::test]
async fn cluster_of_three_masters_subscribes_once_and_again_after_a_node_restart() {
    if redis_missing() {
        return;
    }
    let mut cluster = RedisCluster::start();
    let config = RedisConfig::cluster(cluster.urls()).publish_timeout(Duration::from_secs(2));
    let conn = RedisConnection::connect(config).await.unwrap();
    let (sub, mut messages) = conn.subscriber().await.unwrap();

    // Shard channels on each of the three masters, one of them on the first node (which also
    // holds the classic subscriptions).
    let first_port = cluster.nodes[0].port;
    let mut channels = Vec::new();
    let mut ports = Vec::new();
    for i in 0.. {
        let ch = format!("socket.io#/#room{i}#");
        let port = cluster.node_of(&ch).port;
        if !ports.contains(&port) {
            ports.push(port);
            channels.push(ch);
        }
        if ports.len() == 3 {
            break;
        }
    }
    let on_first = channels[ports.iter().position(|p| *p == first_port).unwrap()].clone();
    for ch in &channels {
        sub.ssubscribe(ch).await.unwrap();
    }
    sub.subscribe("socket.io-request#/#").await.unwrap();
    sub.psubscribe("socket.io#/#*").await.unwrap();

    let check_all = async |conn: &RedisConnection, messages: &mut Messages, tag: &str| {
        for ch in &channels {
            assert_eq!(
                conn.spublish(ch, Bytes::from(format!("{tag}{ch}")))
                    .await
                    .unwrap(),
                1
            );
            let m = next(messages).await;
            assert_eq!(
                (m.kind, m.channel_str()),
                (MessageKind::SMessage, ch.as_str().into())
            );
        }
        conn.publish("socket.io-request#/#", Bytes::from(tag.to_owned()))
            .await
            .unwrap();
        let m = next(messages).await;
        assert_eq!(
            (m.kind, &m.payload[..]),
            (MessageKind::Message, tag.as_bytes())
        );
        conn.publish("socket.io#/#", Bytes::from(tag.to_owned()))
            .await
            .unwrap();
        let m = next(messages).await;
        assert_eq!(m.kind, MessageKind::PMessage);
        // Exactly one subscription of each: PUBSUB NUMSUB summed over the three nodes.
        assert_eq!(conn.numsub("socket.io-request#/#").await.unwrap(), 1);
        for ch in &channels {
            assert_eq!(conn.shardnumsub(ch).await.unwrap(), 1, "{ch}");
        }
        assert!(messages.try_recv().is_none(), "no duplicate");
    };
    check_all(&conn, &mut messages, "before").await;

    // The first node restarts (same identity): its shard channel and the classic
    // subscriptions are lost, and must come back.
    cluster.nodes[0].restart();
    cluster.wait_ok();
    eventually("resubscribed on the restarted node", || {
        let conn = conn.clone();
        let ch = on_first.clone();
        async move {
            conn.shardnumsub(&ch).await.ok() == Some(1)
                && conn.numsub("socket.io-request#/#").await.ok() == Some(1)
        }
    })
    .await;
    check_all(&conn, &mut messages, "after").await;
    assert!(conn.stats().resubscriptions >= 1);
}

#[tokio::test]
async fn oversized_and_backlogged_messages_are_dropped_and_counted() {
    if redis_missing() {
        return;
    }
    // Redis' default pubsub output buffer limit (32 MB) would disconnect the subscriber for a
    // 50 MB message before it is delivered; lift it to see what the subscriber does with one.
    let redis = RedisServer::start_with_args(&["--client-output-buffer-limit", "pubsub 0 0 0"]);
    let config = RedisConfig::standalone(redis.url())
        .max_message_size(1 << 20)
        .message_buffer(4)
        .publish_timeout(Duration::from_secs(10));
    let conn = RedisConnection::connect(config).await.unwrap();
    let (sub, mut messages) = conn.subscriber().await.unwrap();
    sub.psubscribe("socket.io#/#*").await.unwrap();

    // 50 MB on the broadcast channel: dropped before anyone decodes it.
    let big = Bytes::from(vec![0x93; 50 << 20]);
    conn.publish("socket.io#/#", big).await.unwrap();
    conn.publish("socket.io#/#", "small".into()).await.unwrap();
    let m = next(&mut messages).await;
    assert_eq!(&m.payload[..], b"small");
    assert_eq!(conn.stats().dropped_oversized, 1);

    // A reader that does not read: 4 wait, the rest are dropped (and counted), nothing grows.
    for i in 0..20 {
        conn.publish("socket.io#/#", Bytes::from(format!("m{i}")))
            .await
            .unwrap();
    }
    eventually("all 20 handled", || {
        let stats = conn.stats();
        async move { stats.received + stats.dropped_full >= 21 }
    })
    .await;
    let stats = conn.stats();
    assert_eq!((stats.received, stats.dropped_full), (5, 16), "{stats:?}");
    let kept: Vec<Bytes> = std::iter::from_fn(|| messages.try_recv().map(|m| m.payload)).collect();
    assert_eq!(
        kept,
        ["m0", "m1", "m2", "m3"].map(|s| Bytes::from_static(s.as_bytes()))
    );
}

#[tokio::test]
async fn garbage_on_the_adapter_channels_is_an_error_not_a_panic() {
    if redis_missing() {
        return;
    }
    let redis = RedisServer::start();
    let conn = RedisConnection::connect(RedisConfig::standalone(redis.url()))
        .await
        .unwrap();
    let (sub, mut messages) = conn.subscriber().await.unwrap();
    sub.psubscribe("socket.io#/#*").await.unwrap();
    sub.subscribe("socket.io-request#/#").await.unwrap();

    let valid = Broadcast::new(
        "abc".into(),
        sio_redis::format::Packet::event(
            Some("/".into()),
            "ev",
            vec![sio_protocol::Value::from(1)],
        ),
        sio_redis::format::Opts::default(),
    )
    .encode()
    .unwrap();
    let garbage: Vec<Bytes> = vec![
        Bytes::from_static(b"hello from another program"),
        valid.slice(..valid.len() - 3), // truncated msgpack
        Bytes::from_static(&[0xc1]),
        Bytes::from_static(&[0xdd, 0xff, 0xff, 0xff, 0xff]), // an array of 4 G items, no bytes
        Bytes::from_static(b"{\"type\":7"),
        Bytes::from_static(b"{\"type\":42,\"uid\":\"x\",\"nsp\":\"/\"}"),
        Bytes::new(),
    ];
    for payload in &garbage {
        conn.publish("socket.io#/#", payload.clone()).await.unwrap();
        conn.publish("socket.io-request#/#", payload.clone())
            .await
            .unwrap();
    }
    conn.publish("socket.io#/#", valid.clone()).await.unwrap();
    for _ in 0..garbage.len() * 2 {
        let m = next(&mut messages).await;
        assert!(Broadcast::decode(&m.payload).is_err(), "{:?}", m.payload);
        assert!(Request::decode(&m.payload).is_err(), "{:?}", m.payload);
        assert!(
            ClusterMessage::decode(&m.payload).is_err(),
            "{:?}",
            m.payload
        );
    }
    let m = next(&mut messages).await;
    let decoded = Broadcast::decode(&m.payload).unwrap();
    assert_eq!(decoded.packet.event_name(), Some("ev"));
}
