//! `sio-client` against the real Node.js socket.io 4.8.4 server (`tests/js/client-server.js`),
//! in each transport mode: polling only, WebSocket only, polling then upgrade.
//!
//! Every wait is bounded ([`WAIT`]); the Node child is killed when its guard drops, a failed
//! test included.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sio_client::{DisconnectReason, Manager, ManagerEvent, Options, Socket, TransportKind, Value};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// The longest any single step may take (a loaded 2-core machine).
const WAIT: Duration = Duration::from_secs(30);

/// A running `client-server.js`; killed on drop.
struct NodeServer {
    child: Child,
    port: u16,
}

impl NodeServer {
    fn start(port: u16) -> NodeServer {
        Self::start_with(port, &[])
    }

    fn start_with(port: u16, extra: &[&str]) -> NodeServer {
        let script = sio_tests::tests_dir().join("js").join("client-server.js");
        let mut child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .args(extra)
            .current_dir(sio_tests::tests_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed (see README)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std_mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(port) = line.strip_prefix("PORT ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        let mut server = NodeServer { child, port: 0 };
        match rx.recv_timeout(WAIT) {
            Ok(Some(port)) => server.port = port,
            other => panic!("client-server.js did not start: {other:?}"),
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Polling,
    WebSocket,
    Upgrade,
}

impl Mode {
    fn options(self) -> Options {
        let options = Options::default()
            .reconnection_delay(Duration::from_millis(100))
            .reconnection_delay_max(Duration::from_millis(200));
        match self {
            Mode::Polling => options.transports([TransportKind::Polling]),
            Mode::WebSocket => options.transports([TransportKind::WebSocket]),
            Mode::Upgrade => options,
        }
    }

    fn final_transport(self) -> &'static str {
        match self {
            Mode::Polling => "polling",
            Mode::WebSocket | Mode::Upgrade => "websocket",
        }
    }
}

async fn recv<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(value)) => value,
        Ok(None) => panic!("{what}: channel closed"),
        Err(_) => panic!("{what}: nothing within {WAIT:?}"),
    }
}

/// A socket whose `connect`, `disconnect` and `connect_error` go to channels.
struct Watched {
    socket: Socket,
    connects: UnboundedReceiver<()>,
    disconnects: UnboundedReceiver<DisconnectReason>,
    errors: UnboundedReceiver<sio_client::ConnectError>,
}

fn watch(socket: Socket) -> Watched {
    let (ctx, connects) = unbounded_channel();
    let (dtx, disconnects) = unbounded_channel();
    let (etx, errors) = unbounded_channel();
    socket.on_connect(move || {
        let _ = ctx.send(());
    });
    socket.on_disconnect(move |reason| {
        let _ = dtx.send(reason);
    });
    socket.on_connect_error(move |e| {
        let _ = etx.send(e.clone());
    });
    Watched {
        socket,
        connects,
        disconnects,
        errors,
    }
}

/// Events named `event` as their argument lists.
fn events(socket: &Socket, event: &str) -> UnboundedReceiver<Vec<Value>> {
    let (tx, rx) = unbounded_channel();
    socket.on(event, move |msg| {
        let _ = tx.send(msg.args().to_values().expect("decodable args"));
    });
    rx
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Info {
    nsp: String,
    id: String,
    auth: serde_json::Value,
    transport: String,
    engine_id: String,
    /// The Cookie header of each request after the handshake.
    cookies: Vec<Option<String>>,
    query: serde_json::Value,
    header: Option<String>,
}

async fn info(socket: &Socket) -> Info {
    let args = socket
        .timeout(WAIT)
        .emit_with_ack("info", &())
        .await
        .expect("info ack");
    args.deserialize().expect("an Info")
}

async fn roundtrip(mode: Mode) {
    let server = NodeServer::start(0);
    let options = mode
        .options()
        .query("token", "q v")
        .extra_header("x-test", "yes");
    let manager = Manager::new(&server.url(), options).expect("manager");
    let mut main = watch(manager.socket("/"));
    main.socket.set_auth(&json!({"user": "ann"})).unwrap();
    let mut echoes = events(&main.socket, "echo");
    let mut answers = events(&main.socket, "answer");
    main.socket.on("question", |msg| {
        let (q,): (String,) = msg.deserialize().expect("a question");
        assert!(msg.wants_ack());
        msg.ack(&(format!("{q}?"), 7)).unwrap();
    });
    // Emitted before connecting: buffered, then sent in order.
    main.socket.emit("echo", &("early", 1)).unwrap();
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    assert!(main.socket.connected());
    let id = main.socket.id().expect("an id once connected");
    assert_eq!(
        recv(&mut echoes, "early echo").await,
        vec![Value::from("early"), Value::from(1.0)]
    );

    // Typed events both ways.
    #[derive(Debug, Deserialize, PartialEq, serde::Serialize)]
    struct Point {
        x: i32,
        label: String,
    }
    let point = Point {
        x: -3,
        label: "é\u{1F600}".into(),
    };
    main.socket
        .emit("echo", &(&point, true, [1, 2, 3]))
        .unwrap();
    let (tx, mut typed) = unbounded_channel();
    main.socket.on("echo", move |msg| {
        if let Ok(v) = msg.deserialize::<(Point, bool, Vec<u8>)>() {
            let _ = tx.send(v);
        }
    });
    let _ = recv(&mut echoes, "typed echo").await;
    assert_eq!(
        recv(&mut typed, "typed").await,
        (point, true, vec![1, 2, 3])
    );

    // Binary both ways, several attachments, nested.
    let a = Bytes::from_static(&[0, 1, 2, 255]);
    let b = Bytes::from(vec![7u8; 3000]);
    main.socket
        .emit(
            "echo",
            &("bin", &a, json!({"k": "v"}), vec![b.clone(), Bytes::new()]),
        )
        .unwrap();
    let got = recv(&mut echoes, "binary echo").await;
    assert_eq!(got[0], Value::from("bin"));
    assert_eq!(got[1].as_binary(), Some(&a));
    assert_eq!(got[3][0].as_binary(), Some(&b));
    assert_eq!(got[3][1].as_binary(), Some(&Bytes::new()));

    // Acks: ours answered by the server (binary inside), the server's answered by us.
    let reply = main
        .socket
        .timeout(WAIT)
        .emit_with_ack("echo-ack", &(1, "two", &a))
        .await
        .expect("ack");
    let values = reply.to_values().unwrap();
    assert_eq!(values[0], Value::from(1.0));
    assert_eq!(values[2].as_binary(), Some(&a));
    main.socket.emit("ask", &"why").unwrap();
    assert_eq!(
        recv(&mut answers, "answer").await,
        vec![Value::from("why?"), Value::from(7.0)]
    );

    // An ack that never comes.
    let err = main
        .socket
        .timeout(Duration::from_millis(300))
        .emit_with_ack("no-ack", &())
        .await
        .expect_err("a timeout");
    assert!(err.is_timeout());
    assert_eq!(err.to_string(), "operation has timed out");

    // A second namespace over the same connection, with an auth closure.
    let admin = watch(manager.socket("/admin"));
    let mut admin = admin;
    admin
        .socket
        .set_auth_with(|| Value::from(json!({"token": "secret"})));
    let mut admin_echoes = events(&admin.socket, "echo");
    admin.socket.connect();
    recv(&mut admin.connects, "admin connect").await;
    admin.socket.emit("echo", &"to admin").unwrap();
    main.socket.emit("echo", &"to main").unwrap();
    assert_eq!(
        recv(&mut admin_echoes, "admin echo").await,
        vec![Value::from("to admin")]
    );
    assert_eq!(
        recv(&mut echoes, "main echo").await,
        vec![Value::from("to main")]
    );
    let admin_info = info(&admin.socket).await;
    assert_eq!(admin_info.nsp, "/admin");
    assert_eq!(admin_info.auth, json!({"token": "secret"}));

    // The transport the server sees (after the upgrade, if any).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let main_info = info(&main.socket).await;
        assert_eq!(main_info.id, id);
        assert_eq!(main_info.auth, json!({"user": "ann"}));
        assert_eq!(main_info.query["token"], json!("q v"));
        assert_eq!(main_info.header.as_deref(), Some("yes"));
        if main_info.transport == mode.final_transport() {
            // The handshake's cookie came back with every later request (sticky sessions).
            let expected = format!("io={}", main_info.engine_id);
            // (WebSocket only: the handshake is the only request.)
            assert_eq!(
                main_info.cookies.is_empty(),
                matches!(mode, Mode::WebSocket)
            );
            for cookie in &main_info.cookies {
                assert_eq!(
                    cookie.as_deref(),
                    Some(expected.as_str()),
                    "{:?}",
                    main_info.cookies
                );
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still on {}",
            main_info.transport
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Leaving: no reconnection.
    admin.socket.disconnect();
    assert_eq!(
        recv(&mut admin.disconnects, "admin disconnect").await,
        DisconnectReason::IoClientDisconnect
    );
    main.socket.emit("echo", &"still here").unwrap();
    assert_eq!(
        recv(&mut echoes, "echo after admin left").await,
        vec![Value::from("still here")]
    );
    main.socket.disconnect();
    assert_eq!(
        recv(&mut main.disconnects, "disconnect").await,
        DisconnectReason::IoClientDisconnect
    );
    assert!(!main.socket.connected() && !main.socket.active());
    assert!(main.errors.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_polling() {
    roundtrip(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_websocket() {
    roundtrip(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_upgrade() {
    roundtrip(Mode::Upgrade).await;
}

async fn connect_error_with_data(mode: Mode) {
    let server = NodeServer::start(0);
    let manager = Manager::new(&server.url(), mode.options()).unwrap();
    let mut admin = watch(manager.socket("/admin"));
    admin.socket.set_auth(&json!({"token": "wrong"})).unwrap();
    admin.socket.connect();
    let err = recv(&mut admin.errors, "connect_error").await;
    assert_eq!(err.message, "not authorized");
    let data = err.data.expect("data");
    assert_eq!(data.get("code").and_then(Value::as_u64), Some(42));
    assert_eq!(
        data.get("reason").and_then(Value::as_str),
        Some("bad token")
    );
    assert!(!admin.socket.active() && !admin.socket.connected());
    // Retried by hand with the right token: it connects.
    admin.socket.set_auth(&json!({"token": "secret"})).unwrap();
    admin.socket.connect();
    recv(&mut admin.connects, "connect after retry").await;
    // A namespace the server does not have.
    let mut nope = watch(manager.socket("nope"));
    assert_eq!(nope.socket.nsp(), "/nope");
    nope.socket.connect();
    let err = recv(&mut nope.errors, "connect_error").await;
    assert_eq!(
        (err.message.as_str(), err.data),
        ("Invalid namespace", None)
    );
    // The other namespace is unaffected.
    assert!(admin.socket.connected());
    assert_eq!(info(&admin.socket).await.nsp, "/admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_polling() {
    connect_error_with_data(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_websocket() {
    connect_error_with_data(Mode::WebSocket).await;
}

async fn server_disconnect(mode: Mode) {
    let server = NodeServer::start(0);
    let manager = Manager::new(&server.url(), mode.options()).unwrap();
    let (mtx, mut manager_events) = unbounded_channel();
    manager.on(move |e| {
        let _ = mtx.send(e.clone());
    });
    let mut main = watch(manager.socket("/"));
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    main.socket.emit("kick", &()).unwrap();
    assert_eq!(
        recv(&mut main.disconnects, "disconnect").await,
        DisconnectReason::IoServerDisconnect
    );
    assert!(!main.socket.active());
    // The manager closes (no socket left) and does not reconnect.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut seen = Vec::new();
    while let Ok(e) = manager_events.try_recv() {
        seen.push(e);
    }
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, ManagerEvent::ReconnectAttempt(_))),
        "{seen:?}"
    );
    assert!(main.connects.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_polling() {
    server_disconnect(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_upgrade() {
    server_disconnect(Mode::Upgrade).await;
}

/// The server dies and comes back on the same port: the client reconnects by itself, and
/// what was emitted meanwhile arrives, in order.
async fn reconnects(mode: Mode) {
    let mut server = NodeServer::start(0);
    let port = server.port;
    let manager = Manager::new(&server.url(), mode.options()).unwrap();
    let (mtx, mut manager_events) = unbounded_channel();
    manager.on(move |e| {
        let _ = mtx.send(e.clone());
    });
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    let first_id = main.socket.id();
    // A second namespace, whose auth closure runs at each connection.
    let mut admin = watch(manager.socket("/admin"));
    let auth_calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls = auth_calls.clone();
    admin.socket.set_auth_with(move || {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Value::from(json!({"token": "secret", "n": n}))
    });
    admin.socket.connect();
    recv(&mut admin.connects, "admin connect").await;

    drop(server);
    let reason = recv(&mut main.disconnects, "disconnect").await;
    assert!(reason.reconnects(), "{reason}");
    for i in 0..5 {
        main.socket.emit("echo", &("buffered", i)).unwrap();
    }
    // Let a few attempts fail before the server is back.
    loop {
        if let ManagerEvent::ReconnectError(_) = recv(&mut manager_events, "reconnect_error").await
        {
            break;
        }
    }
    server = NodeServer::start(port);
    recv(&mut main.connects, "reconnect").await;
    assert_ne!(main.socket.id(), first_id);
    recv(&mut admin.connects, "admin reconnect").await;
    assert_eq!(
        recv(&mut admin.disconnects, "admin disconnect").await,
        reason
    );
    assert_eq!(
        info(&admin.socket).await.auth,
        json!({"token": "secret", "n": 1})
    );
    assert_eq!(auth_calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    for i in 0..5 {
        assert_eq!(
            recv(&mut echoes, "buffered echo").await,
            vec![Value::from("buffered"), Value::from(f64::from(i))]
        );
    }
    let mut reconnected = false;
    while let Ok(e) = manager_events.try_recv() {
        reconnected |= matches!(e, ManagerEvent::Reconnect(n) if n >= 1);
    }
    assert!(reconnected);
    main.socket.disconnect();
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_polling() {
    reconnects(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_websocket() {
    reconnects(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_upgrade() {
    reconnects(Mode::Upgrade).await;
}

/// The server stops answering without closing its sockets (SIGSTOP): the heartbeat notices
/// (`"ping timeout"`, pingInterval + pingTimeout = 4 s), and once it runs again the client
/// reconnects by itself.
async fn dead_server(mode: Mode) {
    let server = NodeServer::start(0);
    let options = mode.options().timeout(Some(Duration::from_millis(1000)));
    let manager = Manager::new(&server.url(), options).unwrap();
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    if let Mode::Upgrade = mode {
        // Wait for the upgrade, so that the WebSocket is the one that goes silent.
        while info(&main.socket).await.transport != "websocket" {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let pid = server.child.id().to_string();
    let signal = |sig: &str| {
        let status = Command::new("kill").args([sig, pid.as_str()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {sig}");
    };
    signal("-STOP");
    let reason = recv(&mut main.disconnects, "disconnect").await;
    assert_eq!(reason, DisconnectReason::PingTimeout);
    main.socket.emit("echo", &"after the pause").unwrap();
    signal("-CONT");
    recv(&mut main.connects, "reconnect").await;
    assert_eq!(
        recv(&mut echoes, "buffered echo").await,
        vec![Value::from("after the pause")]
    );
    main.socket.disconnect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_polling() {
    dead_server(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_upgrade() {
    dead_server(Mode::Upgrade).await;
}

/// The server refuses the WebSocket: the probe fails and the client stays on polling, with
/// nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_upgrade_stays_on_polling() {
    let server = NodeServer::start(0);
    let options = Mode::Upgrade.options().query("noupgrade", "1");
    let manager = Manager::new(&server.url(), options).unwrap();
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    for i in 0..50 {
        main.socket.emit("echo", &i).unwrap();
    }
    for i in 0..50 {
        assert_eq!(
            recv(&mut echoes, "echo").await,
            vec![Value::from(f64::from(i))]
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(info(&main.socket).await.transport, "polling");
    assert!(main.socket.connected());
    main.socket.disconnect();
}

/// A CA and a certificate for `localhost` / 127.0.0.1 signed by it, made with the openssl
/// command line in a fresh directory.
fn make_certificates() -> std::path::PathBuf {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("sio-client-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [Vec<&str>; 3] = [
        [
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
            &[
                "-subj",
                "/CN=sio test ca",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "req.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(&args)
            .current_dir(&dir)
            .output();
        let out = out.expect("the openssl command line tool");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// `https://` polling, then the upgrade to `wss://`, with one rustls configuration that
/// trusts the test CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_polling_then_websocket() {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let dir = make_certificates();
    let server = NodeServer::start_with(0, &["--tls", dir.to_str().unwrap()]);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap())
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let options = Mode::Upgrade
        .options()
        .tls_config(std::sync::Arc::new(config));
    let url = format!("https://localhost:{}", server.port);
    let manager = Manager::new(&url, options).unwrap();
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    main.socket
        .emit("echo", &("secure", Bytes::from_static(b"\x01\x02")))
        .unwrap();
    let got = recv(&mut echoes, "echo").await;
    assert_eq!(got[0], Value::from("secure"));
    assert_eq!(got[1].as_binary(), Some(&Bytes::from_static(b"\x01\x02")));
    while info(&main.socket).await.transport != "websocket" {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    main.socket.emit("echo", &"over wss").unwrap();
    assert_eq!(
        recv(&mut echoes, "wss echo").await,
        vec![Value::from("over wss")]
    );
    main.socket.disconnect();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without the test CA the certificate is refused: `connect_error`, no connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_untrusted_certificate_is_refused() {
    let dir = make_certificates();
    let server = NodeServer::start_with(0, &["--tls", dir.to_str().unwrap()]);
    let url = format!("https://localhost:{}", server.port);
    let options = Mode::Polling.options().reconnection(false);
    let Ok(manager) = Manager::new(&url, options) else {
        // No root certificates on this machine at all: nothing to check.
        return;
    };
    let mut main = watch(manager.socket("/"));
    main.socket.connect();
    let err = recv(&mut main.errors, "connect_error").await;
    assert!(err.message.contains("xhr poll error"), "{err}");
    assert!(!main.socket.connected());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Over polling, a batch larger than the server's `maxPayload` (1 MB) is split into several
/// POSTs, in order (the server would refuse one large body with 413).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_are_split() {
    let server = NodeServer::start(0);
    let manager = Manager::new(&server.url(), Mode::Polling.options()).unwrap();
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    let chunk = "x".repeat(50_000);
    for i in 0..30 {
        main.socket.emit("echo", &(i, &chunk)).unwrap();
    }
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    for i in 0..30 {
        let got = recv(&mut echoes, "echo").await;
        assert_eq!(got[0], Value::from(f64::from(i)));
        assert_eq!(got[1].as_str().map(str::len), Some(50_000));
    }
    assert!(main.disconnects.try_recv().is_err());
    main.socket.disconnect();
}
