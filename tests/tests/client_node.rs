//! `sio-client` against the real Node.js socket.io 4.8.4 server (`tests/js/client-server.js`),
//! in each transport mode: polling only, WebSocket only, polling then upgrade. The scenarios
//! shared with our own server are in `client_support/`; the ones below need a separate process
//! (`?noupgrade=1` refusing WebSocket requests) or TLS.
//!
//! Every wait is bounded ([`WAIT`]); the Node child is killed when its guard drops, a failed
//! test included.

use std::process::Command;

use bytes::Bytes;
use sio_client::{Manager, Value};
use sio_test_support::node::NodeServer;

mod client_support;

use client_support::{Mode, TestServer, WAIT, events, info, info_on, recv, watch};

impl TestServer for NodeServer {
    fn start(port: u16) -> NodeServer {
        NodeServer::start(port, &[])
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn freeze(&self) {
        self.signal("-STOP");
    }

    fn thaw(&self) {
        self.signal("-CONT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_polling() {
    client_support::roundtrip::<NodeServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_websocket() {
    client_support::roundtrip::<NodeServer>(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_upgrade() {
    client_support::roundtrip::<NodeServer>(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_polling() {
    client_support::connect_error_with_data::<NodeServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_websocket() {
    client_support::connect_error_with_data::<NodeServer>(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_polling() {
    client_support::server_disconnect::<NodeServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_upgrade() {
    client_support::server_disconnect::<NodeServer>(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_polling() {
    client_support::reconnects::<NodeServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_websocket() {
    client_support::reconnects::<NodeServer>(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_upgrade() {
    client_support::reconnects::<NodeServer>(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_polling() {
    client_support::dead_server::<NodeServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_upgrade() {
    client_support::dead_server::<NodeServer>(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_are_split() {
    client_support::large_batches_are_split::<NodeServer>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_under_load() {
    client_support::upgrade_under_load::<NodeServer>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_all_and_once_polling() {
    client_support::catch_all_and_once::<NodeServer>(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_all_and_once_upgrade() {
    client_support::catch_all_and_once::<NodeServer>(Mode::Upgrade).await;
}

/// The server refuses the WebSocket: the probe fails and the client stays on polling, with
/// nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_upgrade_stays_on_polling() {
    let server = <NodeServer as TestServer>::start(0);
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
    // Once the server has refused the probe, the client has no other way to the WebSocket.
    let socket = &main.socket;
    let refused = sio_test_support::wait::first(WAIT, || async move {
        let info = info(socket).await;
        (info.refused_probes > 0).then_some(info)
    })
    .await
    .expect("the probe reaches the server");
    assert_eq!(refused.transport, "polling");
    // The client's fallback after the failed probe goes on over polling.
    assert_eq!(info(&main.socket).await.transport, "polling");
    assert!(main.socket.connected());
    main.socket.disconnect();
}

/// A WebSocket message over the client's bound: the client drops the connection and tells
/// the server why with close code 1009 (message too big), as `ws` does; then it reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_bound_is_refused_with_close_code_1009() {
    let server = <NodeServer as TestServer>::start(0);
    let options = Mode::WebSocket
        .options()
        .max_payload(Some(1_000))
        .reconnection_delay(std::time::Duration::from_millis(50));
    let manager = Manager::new(&server.url(), options).unwrap();
    let mut main = watch(manager.socket("/"));
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    let refused = info(&main.socket).await.engine_id;
    main.socket.emit("big", &2_000).unwrap();
    let reason = recv(&mut main.disconnects, "disconnect").await;
    assert_eq!(reason.to_string(), "transport error");
    recv(&mut main.connects, "reconnect").await;
    let (socket, refused) = (&main.socket, &refused);
    let code = sio_test_support::wait::first(WAIT, || async move {
        let codes: std::collections::HashMap<String, u16> = socket
            .timeout(WAIT)
            .emit_with_ack("ws-close-codes", &())
            .await
            .expect("ws-close-codes ack")
            .deserialize()
            .expect("codes");
        codes.get(refused).copied()
    })
    .await
    .expect("the server sees the WebSocket close");
    assert_eq!(code, 1009);
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
    let server = NodeServer::start(0, &["--tls", dir.to_str().unwrap()]);
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
    info_on(&main.socket, "websocket").await;
    main.socket.emit("echo", &"over wss").unwrap();
    assert_eq!(
        recv(&mut echoes, "wss echo").await,
        vec![Value::from("over wss")]
    );
    main.socket.disconnect();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connects over `https://` polling then `wss://` with `tls`, and echoes one event each way.
async fn tls_echo(url: &str, tls: std::sync::Arc<rustls::ClientConfig>) {
    let manager = Manager::new(url, Mode::Upgrade.options().tls_config(tls)).unwrap();
    let mut main = watch(manager.socket("/"));
    let mut echoes = events(&main.socket, "echo");
    main.socket.connect();
    recv(&mut main.connects, "connect").await;
    main.socket.emit("echo", &"secure").unwrap();
    assert_eq!(recv(&mut echoes, "echo").await, vec![Value::from("secure")]);
    info_on(&main.socket, "websocket").await;
    main.socket.emit("echo", &"over wss").unwrap();
    assert_eq!(
        recv(&mut echoes, "wss echo").await,
        vec![Value::from("over wss")]
    );
    main.socket.disconnect();
}

/// `tls::with_system_roots` with the test CA as an extra root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_extra_root_certificate() {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let dir = make_certificates();
    let server = NodeServer::start(0, &["--tls", dir.to_str().unwrap()]);
    let ca = CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap();
    let tls = sio_client::tls::with_system_roots([ca]).unwrap();
    tls_echo(&format!("https://localhost:{}", server.port), tls).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The explicit development opt-in accepts a certificate nothing vouches for, even for a host
/// name it does not name (127.0.0.2 is not in the test certificate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_danger_accept_invalid_certs() {
    let dir = make_certificates();
    let server = NodeServer::start(0, &["--tls", dir.to_str().unwrap()]);
    let tls = sio_client::tls::danger_accept_invalid_certs();
    tls_echo(&format!("https://127.0.0.2:{}", server.port), tls).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without the test CA the certificate is refused: `connect_error`, no connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_untrusted_certificate_is_refused() {
    let dir = make_certificates();
    let server = NodeServer::start(0, &["--tls", dir.to_str().unwrap()]);
    let url = format!("https://localhost:{}", server.port);
    let options = Mode::Polling.options().reconnection(false);
    let Ok(manager) = Manager::new(&url, options) else {
        // No root certificates on this machine at all: nothing to check.
        return;
    };
    let mut main = watch(manager.socket("/"));
    main.socket.connect();
    let err = recv(&mut main.errors, "connect_error").await;
    assert!(
        err.is_transport() && err.to_string() == "xhr poll error",
        "{err:?}"
    );
    assert!(!main.socket.connected());
    let _ = std::fs::remove_dir_all(&dir);
}
