//! `siocat` end to end against the real Node.js socket.io server
//! (`tests/js/client-server.js`, see `support`).
//!
//! Every wait is bounded ([`WAIT`]); the Node and siocat children are killed on drop.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

/// The longest any single step may take (a loaded 2-core machine).
const WAIT: Duration = Duration::from_secs(30);

/// A child process killed on drop, with its stdout as lines on a channel.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Lines read while looking for another one.
    seen: Vec<String>,
}

impl Proc {
    fn spawn(command: &mut Command) -> Proc {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Proc {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to the child");
        stdin.flush().expect("flush");
    }

    /// The first line (already seen or new) that `pred` accepts, parsed as JSON.
    fn expect(&mut self, what: &str, pred: impl Fn(&Json) -> bool) -> Json {
        let parse = |line: &str| -> Json {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))
        };
        if let Some(i) = self.seen.iter().position(|l| pred(&parse(l))) {
            return parse(&self.seen.remove(i));
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let json = parse(&line);
                    if pred(&json) {
                        return json;
                    }
                    self.seen.push(line);
                }
                Err(_) => panic!("{what}: not within {WAIT:?}; other lines: {:?}", self.seen),
            }
        }
    }

    /// Closes stdin and waits for the exit status: the end of stdout (the reader thread
    /// hangs up), then the exit. The lines read meanwhile are kept for [`Proc::rest`].
    fn finish(&mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("no exit within {WAIT:?}"),
            }
        }
        self.child.wait().expect("wait")
    }

    /// The remaining stdout lines (after the exit).
    fn rest(&mut self) -> Vec<Json> {
        let mut lines: Vec<String> = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            lines.push(line);
        }
        lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use sio_test_support::node as support;

use support::NodeServer;

/// `client-server.js` on a free port; returns it and its URL.
fn node_server() -> (NodeServer, String) {
    node_server_on(0)
}

fn node_server_on(port: u16) -> (NodeServer, String) {
    let server = NodeServer::start(port, &[]);
    let url = server.url();
    (server, url)
}

fn siocat(args: &[&str]) -> Proc {
    Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_siocat"))
            .args(args)
            .stderr(Stdio::null()),
    )
}

fn key(json: &Json, k: &str) -> bool {
    json.get(k).is_some()
}

#[test]
fn events_acks_binary_errors_and_disconnect() {
    let (_server, url) = node_server();
    let mut cat = siocat(&[
        &url,
        "--namespace",
        "/",
        "--namespace",
        "/admin",
        "--auth",
        r#"{"token":"wrong"}"#,
        "--ack-timeout",
        "2000",
    ]);
    let connect = cat.expect("connect", |j| key(j, "connect"));
    assert_eq!(connect["connect"]["namespace"], "/");
    assert!(connect["connect"]["id"].is_string());
    assert_eq!(connect["connect"]["recovered"], false);
    // The middleware of /admin refuses the token, with data.
    let refused = cat.expect("connect_error", |j| key(j, "connect_error"));
    assert_eq!(
        refused,
        json!({"connect_error": {"namespace": "/admin", "message": "not authorized",
            "data": {"code": 42, "reason": "bad token"}}})
    );
    // A line that is not JSON is skipped; the next one still works.
    cat.send("this is not json");
    // Events both ways, binary included.
    cat.send(r#"{"emit":"echo","args":["hi",{"b":{"$binary":"AAEC/w=="}},[1,2.5,null]]}"#);
    let echo = cat.expect("echo", |j| j["event"] == "echo");
    assert_eq!(
        echo,
        json!({"event": "echo", "namespace": "/",
            "args": ["hi", {"b": {"$binary": "AAEC/w=="}}, [1, 2.5, null]]})
    );
    // An ack answered (with binary), one that times out.
    cat.send(r#"{"emit":"echo-ack","args":[7,{"$binary":"YWJj"}],"ack":true}"#);
    let ack = cat.expect("ack", |j| j["ack"]["event"] == "echo-ack");
    assert_eq!(ack["ack"]["args"], json!([7, {"$binary": "YWJj"}]));
    assert_eq!(ack["ack"]["namespace"], "/");
    cat.send(r#"{"emit":"no-ack","ack":true,"namespace":"/"}"#);
    let timeout = cat.expect("ack timeout", |j| j["ack"]["event"] == "no-ack");
    assert_eq!(timeout["ack"]["error"], "operation has timed out");
    assert!(timeout["ack"].get("args").is_none());
    // The server disconnects the socket.
    cat.send(r#"{"emit":"kick"}"#);
    let gone = cat.expect("disconnect", |j| key(j, "disconnect"));
    assert_eq!(
        gone,
        json!({"disconnect": {"namespace": "/", "reason": "io server disconnect"}})
    );
    assert!(cat.finish().success());
    let rest = cat.rest();
    assert!(
        !rest.iter().any(|j| key(j, "reconnect_attempt")),
        "{rest:?}"
    );
}

#[test]
fn upgrade_and_emits_at_the_end_of_stdin() {
    let (_server, url) = node_server();
    let mut cat = siocat(&[&url, "--transport", "default"]);
    // Written before anything connects: buffered, then sent at the connection; siocat waits
    // for the ack before it exits.
    cat.send(r#"{"emit":"echo","args":["early"]}"#);
    cat.send(r#"{"emit":"echo-ack","args":["last"],"ack":true}"#);
    let upgrade = cat.expect("upgrade", |j| key(j, "upgrade"));
    assert_eq!(upgrade, json!({"upgrade": "websocket"}));
    assert!(cat.finish().success());
    let rest = cat.rest();
    assert!(
        rest.iter()
            .any(|j| j["event"] == "echo" && j["args"] == json!(["early"])),
        "{rest:?}"
    );
    assert!(
        rest.iter()
            .any(|j| j["ack"]["event"] == "echo-ack" && j["ack"]["args"] == json!(["last"])),
        "{rest:?}"
    );
    // Leaving at the end is a client disconnect.
    assert!(
        rest.iter()
            .any(|j| j["disconnect"]["reason"] == "io client disconnect"),
        "{rest:?}"
    );
}

#[test]
fn reconnects_after_the_server_died() {
    let (server, url) = node_server();
    let mut cat = siocat(&[&url, "--transport", "websocket"]);
    cat.expect("connect", |j| key(j, "connect"));
    drop(server);
    let gone = cat.expect("disconnect", |j| key(j, "disconnect"));
    let reason = &gone["disconnect"]["reason"];
    // A killed server resets the connection or closes it, depending on timing.
    assert!(
        reason == "transport close" || reason == "transport error",
        "{gone}"
    );
    assert_eq!(
        cat.expect("reconnect_attempt", |j| key(j, "reconnect_attempt")),
        json!({"reconnect_attempt": 1})
    );
    // Back on the same port: the manager reconnects, and the socket connects again.
    let port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap();
    let (_server, _) = node_server_on(port);
    let back = cat.expect("reconnect", |j| key(j, "reconnect"));
    assert!(back["reconnect"].as_u64().is_some_and(|n| n >= 1), "{back}");
    cat.expect("connect again", |j| key(j, "connect"));
    assert!(cat.finish().success());
}

/// With connection state recovery on the server: the server closes the connection, broadcasts
/// while siocat is away; siocat reconnects with its session's pid and last offset, gets the
/// missed event before its `connect` line, which says `"recovered": true` and has the same id.
#[test]
fn connect_lines_tell_a_recovered_session() {
    let server = NodeServer::start_script(
        "client-recovery-server.js",
        &["--recovery", "60000", "--ping", "2000"],
    );
    let mut cat = siocat(&[&server.url(), "--transport", "websocket"]);
    let first = cat.expect("connect", |j| key(j, "connect"));
    assert_eq!(first["connect"]["recovered"], false);
    // An event first: the server recovers a session only from an offset the client has.
    cat.send(r#"{"emit":"stream","args":[1,10]}"#);
    let tick = cat.expect("tick", |j| j["event"] == "tick");
    assert_eq!(tick["args"][0], 0);
    assert!(tick["args"][1].is_string(), "the offset: {tick}");
    cat.send(r#"{"emit":"cut","args":["while away"]}"#);
    let gone = cat.expect("disconnect", |j| key(j, "disconnect"));
    assert_eq!(gone["disconnect"]["reason"], "transport close");
    let again = cat.expect("connect again", |j| key(j, "connect"));
    assert_eq!(again["connect"]["recovered"], true, "{again}");
    assert_eq!(again["connect"]["id"], first["connect"]["id"]);
    // The missed event was printed before the `connect` line.
    assert!(
        cat.seen.iter().any(|l| l.contains(r#""while away""#)),
        "{:?}",
        cat.seen
    );
    assert!(cat.finish().success());
}

/// A server that answers every request `200` with an empty body (as a hostile or broken
/// server may); its URL. Its threads end with the test process.
fn empty_body_server() -> String {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    head.extend_from_slice(&buf[..n]);
                    // GETs only: the handshake never succeeds.
                    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        head.drain(..end + 4);
                        let empty = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                        if stream.write_all(empty).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

/// An empty `200` answer to the handshake is engine.io-parser's `error` packet: a
/// `connect_error` at once (socket.io-client: "server error"), then the retries.
#[test]
fn empty_body_server_is_a_quick_connect_error() {
    let url = empty_body_server();
    let start = Instant::now();
    let mut cat = siocat(&[&url]);
    let failed = cat.expect("connect_error", |j| key(j, "connect_error"));
    // The process start included; the connection timeout would be 20 s.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(failed["connect_error"]["namespace"], "/");
    let message = failed["connect_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.starts_with("server error"), "{failed}");
    assert_eq!(
        cat.expect("reconnect_attempt", |j| key(j, "reconnect_attempt")),
        json!({"reconnect_attempt": 1})
    );
    cat.expect("connect_error again", |j| key(j, "connect_error"));
    assert!(cat.finish().success());
}

#[test]
fn no_reconnect_and_bad_arguments() {
    let (server, url) = node_server();
    let mut cat = siocat(&[&url, "--transport", "polling", "--no-reconnect"]);
    cat.expect("connect", |j| key(j, "connect"));
    drop(server);
    cat.expect("disconnect", |j| key(j, "disconnect"));
    assert!(cat.finish().success());
    assert!(!cat.rest().iter().any(|j| key(j, "reconnect_attempt")));

    let mut bad = siocat(&["--transport", "carrier-pigeon"]);
    assert_eq!(bad.finish().code(), Some(2));
    let mut help = siocat(&["--help"]);
    assert!(help.finish().success());
    // (The lines printed before the exit, kept by `finish`.)
    let usage = help
        .seen
        .first()
        .is_some_and(|l| l.starts_with("usage: siocat URL"));
    assert!(usage, "{:?}", help.seen);
}
