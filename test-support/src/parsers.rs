//! The real JavaScript parsers behind a line-based JSON protocol, for the differential tests.
//!
//! # The real JavaScript parsers, one process per test binary
//!
//! [`NodePeer`] runs `tests/js/parsers.js` under Node.js. That script loads the
//! npm packages pinned in `tests/package-lock.json` (engine.io-parser,
//! engine.io's v3 parser, socket.io-parser, socket.io-msgpack-parser and the
//! socket.io-parser of socket.io-client 2.x) and answers one JSON line per
//! request line. [`NodePeer::call`] sends a request to a process shared by all
//! the tests of one test binary, so a property test can make thousands of
//! calls without starting Node each time.
//!
//! ```no_run
//! use serde_json::json;
//! use sio_test_support::{NodePeer, bin};
//!
//! let frames = NodePeer::call(
//!     "sio.encode",
//!     json!({"packet": {"type": 2, "nsp": "/", "data": ["a", bin(&[1, 2, 3])]}}),
//! )
//! .unwrap();
//! assert_eq!(
//!     frames,
//!     json!([r#"51-["a",{"_placeholder":true,"num":0}]"#, {"$bin": "AQID"}])
//! );
//! assert!(NodePeer::call("sio.decode", json!({"frames": ["2{}"]})).is_err());
//! ```
//!
//! `Ok` is the value the JavaScript side returned, `Err` the message of the
//! error it reported (a rejected input). A broken harness (Node missing, the
//! process gone, no answer within the timeout) is not an `Err`: it panics, so
//! a differential test can never take a dead peer for a rejection.
//!
//! # Conventions in arguments and results
//!
//! - Bytes are `{"$bin": "<base64>"}` in both directions ([`bin`], [`as_bin`],
//!   [`Frame`]). An object whose only key is `$bin` is always read as bytes.
//! - In results only: a non-finite number is `{"$num": "Infinity"}`
//!   (`"-Infinity"`, `"NaN"`), a JavaScript `undefined` inside data is
//!   `{"$undefined": true}`, a `Date` is `{"$date": <milliseconds>}`.
//! - A result string holding a lone UTF-16 surrogate cannot be a Rust string:
//!   the call then returns an `Err` starting with `unrepresentable:`.
//!
//! The operations and their shapes are listed at the top of
//! `tests/js/parsers.js` and in the tests of `tests/tests/harness.rs`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use crate::tests_dir;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

/// How many lines of Node's stderr are kept for panic messages.
const STDERR_LINES: usize = 40;

/// The default time one request may take, in seconds; the environment
/// variable `SIO_NODE_TIMEOUT_SECS` overrides it.
const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// A Node.js process running `tests/js/parsers.js`, the real JavaScript
/// parsers behind a line-based JSON protocol.
///
/// Most tests use the process shared by the test binary through
/// [`NodePeer::call`]; [`NodePeer::spawn`] starts a private one. The process
/// ends when the `NodePeer` is dropped, or, for the shared one, when the test
/// binary exits and its stdin closes.
#[derive(Debug)]
pub struct NodePeer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Hangs up when the stderr reader thread ends (Node's stderr closed).
    stderr_done: Receiver<()>,
    next_id: u64,
    timeout: Duration,
}

/// The process shared by the tests of one test binary; `None` after a broken
/// request, so that the next call starts a fresh process.
static SHARED: OnceLock<Mutex<Option<NodePeer>>> = OnceLock::new();

impl NodePeer {
    /// Sends one request to the process shared by this test binary (started on
    /// first use) and waits for its answer.
    ///
    /// Returns the `ok` value, or the `error` message of the JavaScript side.
    /// Panics if the harness itself fails (see the crate docs).
    pub fn call(op: &str, args: Value) -> Result<Value, String> {
        Self::with_shared(|peer| peer.request(op, args))
    }

    /// Sends several requests to the shared process at once and returns their
    /// answers in order (fewer round trips than one [`NodePeer::call`] each).
    pub fn call_batch(requests: &[(&str, Value)]) -> Vec<Result<Value, String>> {
        Self::with_shared(|peer| peer.request_batch(requests))
    }

    fn with_shared<T>(f: impl FnOnce(&mut NodePeer) -> T) -> T {
        let shared = SHARED.get_or_init(|| Mutex::new(None));
        let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
        // A panic inside `f` leaves `None` behind: the next call respawns.
        let mut peer = match guard.take() {
            Some(peer) => peer,
            None => NodePeer::spawn(),
        };
        let out = f(&mut peer);
        *guard = Some(peer);
        out
    }

    /// Starts a private Node.js process running `tests/js/parsers.js` and
    /// checks that it answers `ping`.
    ///
    /// Panics with instructions if `node` or `tests/node_modules` is missing.
    pub fn spawn() -> NodePeer {
        let dir = tests_dir();
        let script = dir.join("js").join("parsers.js");
        for package in [
            "engine.io-parser",
            "engine.io",
            "socket.io-parser",
            "socket.io-msgpack-parser",
        ] {
            if !dir
                .join("node_modules")
                .join(package)
                .join("package.json")
                .is_file()
            {
                panic!(
                    "{} has no npm package `{package}`: run `bash scripts/test.sh`, which installs \
                     them (`npm ci` in tests/)",
                    dir.join("node_modules").display()
                );
            }
        }
        let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
        let mut child = match Command::new(&node)
            .arg(&script)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot start `{}` (Node.js 20): {e}. Install Node.js, then run \
                 `bash scripts/test.sh`, which installs the npm packages the tests need",
                Path::new(&node).display()
            ),
        };
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");

        let (tx, lines) = mpsc::channel();
        thread::Builder::new()
            .name("node-peer-stdout".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                    }
                }
            })
            .expect("spawn the stdout reader thread");

        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr);
        let (done, stderr_done) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("node-peer-stderr".into())
            .spawn(move || {
                let _done = done;
                let mut reader = BufReader::new(stderr_pipe);
                let mut buf = Vec::new();
                while let Ok(n) = reader.by_ref().read_until(b'\n', &mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == STDERR_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(String::from_utf8_lossy(&buf).trim_end().to_owned());
                    buf.clear();
                }
            })
            .expect("spawn the stderr reader thread");

        let timeout = std::env::var("SIO_NODE_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        let mut peer = NodePeer {
            child,
            stdin,
            lines,
            stderr,
            stderr_done,
            next_id: 1,
            timeout: Duration::from_secs(timeout),
        };
        match peer.request("ping", json!({})) {
            Ok(Value::String(s)) if s == "pong" => peer,
            other => panic!(
                "{} answered ping with {other:?}{}",
                script.display(),
                peer.stderr_tail()
            ),
        }
    }

    /// Sends one request to this process and waits for its answer.
    ///
    /// Returns the `ok` value, or the `error` message of the JavaScript side.
    /// Panics if the harness itself fails (see the crate docs).
    pub fn request(&mut self, op: &str, args: Value) -> Result<Value, String> {
        self.request_batch(&[(op, args)])
            .pop()
            .expect("one answer per request")
    }

    /// Sends several requests at once and returns their answers in order.
    pub fn request_batch(&mut self, requests: &[(&str, Value)]) -> Vec<Result<Value, String>> {
        let first = self.next_id;
        let mut text = String::new();
        for (op, args) in requests {
            let id = self.next_id;
            self.next_id += 1;
            let line = json!({"id": id, "op": op, "args": args}).to_string();
            text.push_str(&line);
            text.push('\n');
        }
        if let Err(e) = self
            .stdin
            .write_all(text.as_bytes())
            .and_then(|()| self.stdin.flush())
        {
            panic!(
                "cannot write to the node process: {e}{}",
                self.stderr_tail()
            );
        }
        let mut answers = Vec::with_capacity(requests.len());
        for (i, (op, _)) in requests.iter().enumerate() {
            let id = first + i as u64;
            let line = match self.lines.recv_timeout(self.timeout) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "node gave no answer to `{op}` (request {id}) within {:?}{}",
                        self.timeout,
                        self.stderr_tail()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                    // The stderr thread may still be reading the last lines: until it ends.
                    let _ = self.stderr_done.recv_timeout(Duration::from_secs(1));
                    panic!(
                        "the node process ended ({status}) before answering `{op}`{}",
                        self.stderr_tail()
                    );
                }
            };
            let answer: Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(e) => panic!("node answered `{op}` with a line that is not JSON ({e}): {line}"),
            };
            if answer.get("id").and_then(Value::as_u64) != Some(id) {
                panic!("node answered request {id} (`{op}`) out of order: {line}");
            }
            answers.push(match (answer.get("ok"), answer.get("error")) {
                (Some(ok), None) => Ok(ok.clone()),
                (None, Some(Value::String(e))) => Err(e.clone()),
                _ => panic!("node answered `{op}` with neither ok nor error: {line}"),
            });
        }
        answers
    }

    fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        if tail.is_empty() {
            String::new()
        } else {
            let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
            format!("\n--- node stderr ---\n{}", lines.join("\n"))
        }
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes in the `{"$bin": "<base64>"}` form that `parsers.js` reads as a
/// Buffer.
pub fn bin(bytes: &[u8]) -> Value {
    json!({ "$bin": BASE64.encode(bytes) })
}

/// The bytes of a `{"$bin": "<base64>"}` value, or `None` if `value` is not
/// of that form.
pub fn as_bin(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Object(map) if map.len() == 1 => BASE64.decode(map.get("$bin")?.as_str()?).ok(),
        _ => None,
    }
}

/// One frame (WebSocket message or Engine.IO packet data) as the parsers see
/// it: text, or bytes in the `{"$bin"}` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A string.
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
}

impl Frame {
    /// The JSON form: a string, or `{"$bin": "<base64>"}`.
    pub fn to_json(&self) -> Value {
        match self {
            Frame::Text(s) => Value::String(s.clone()),
            Frame::Binary(b) => bin(b),
        }
    }

    /// Reads the JSON form of a frame.
    pub fn from_json(value: &Value) -> Result<Frame, String> {
        match value {
            Value::String(s) => Ok(Frame::Text(s.clone())),
            other => as_bin(other)
                .map(Frame::Binary)
                .ok_or_else(|| format!("not a frame: {other}")),
        }
    }

    /// Reads a JSON array of frames (what `sio.encode` returns).
    pub fn list_from_json(value: &Value) -> Result<Vec<Frame>, String> {
        value
            .as_array()
            .ok_or_else(|| format!("not an array of frames: {value}"))?
            .iter()
            .map(Frame::from_json)
            .collect()
    }

    /// The JSON array of `frames` (what `sio.decode` takes).
    pub fn list_to_json(frames: &[Frame]) -> Value {
        Value::Array(frames.iter().map(Frame::to_json).collect())
    }
}

impl From<&str> for Frame {
    fn from(s: &str) -> Self {
        Frame::Text(s.to_owned())
    }
}

impl From<String> for Frame {
    fn from(s: String) -> Self {
        Frame::Text(s)
    }
}

impl From<Vec<u8>> for Frame {
    fn from(b: Vec<u8>) -> Self {
        Frame::Binary(b)
    }
}

impl From<&[u8]> for Frame {
    fn from(b: &[u8]) -> Self {
        Frame::Binary(b.to_vec())
    }
}

/// Runs `node tests/js/<script> <port> <args>...` (a test driver of the real JavaScript client
/// against our server on `port`) and returns the JSON array it prints on stdout. Panics, with
/// the driver's stderr and stdout, when it fails, prints something else, or outlives `timeout`
/// (the child is killed then).
pub async fn run_node_driver(
    script: &str,
    port: u16,
    args: &[&str],
    timeout: Duration,
) -> Vec<serde_json::Value> {
    let dir = tests_dir();
    let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
    let child = tokio::process::Command::new(node)
        .arg(dir.join("js").join(script))
        .arg(port.to_string())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node must be installed (see README)");
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {timeout:?}"))
        .expect("node output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed: {stderr}\n{stdout}"
    );
    let results: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script}: {e}: stdout {stdout}, stderr {stderr}"));
    match results {
        serde_json::Value::Array(results) => results,
        other => panic!("{script} printed {other} instead of an array"),
    }
}
