//! Test support for sio-redis: Redis servers and clusters on free loopback ports (killed on
//! drop, restartable), and Node.js helper processes speaking one JSON line per message.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

/// Whether to skip a Redis test: only when `redis-server` is missing *and* `SIO_SKIP_REDIS=1`
/// says so (scripts/test.sh installs Redis; a missing Redis is otherwise a failure, so that a
/// broken install never passes as a green run).
pub fn redis_missing() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return false;
    }
    assert!(
        std::env::var("SIO_SKIP_REDIS").is_ok_and(|v| v == "1"),
        "redis-server not found: run scripts/test.sh (it installs it), or set SIO_SKIP_REDIS=1"
    );
    eprintln!("redis-server not found: skipped (SIO_SKIP_REDIS=1)");
    true
}

/// A free loopback port (and, with `bus`, its cluster bus port +10000 too).
fn free_port(bus: bool) -> u16 {
    for _ in 0..200 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !bus {
            return port;
        }
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair")
}

/// Whether a Redis answers PING on `port`.
fn pings(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// One `redis-server` process on a free port, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    cluster: bool,
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// A standalone Redis (no persistence).
    pub fn start() -> RedisServer {
        RedisServer::start_with(false, &[])
    }

    /// A standalone Redis with more `redis-server` arguments.
    pub fn start_with_args(args: &[&str]) -> RedisServer {
        RedisServer::start_with(false, args)
    }

    fn start_with(cluster: bool, extra: &[&str]) -> RedisServer {
        let port = free_port(cluster);
        let dir =
            std::env::temp_dir().join(format!("sio-redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer {
            port,
            dir,
            cluster,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.cluster {
            cmd.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
            ]);
        }
        self.child = Some(cmd.spawn().expect("redis-server starts"));
        let port = self.port;
        sio_test_support::wait::blocking_until(
            Duration::from_secs(10),
            "redis-server answers",
            || pings(port),
        );
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (a cluster node keeps its identity: same nodes.conf).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs `redis-cli -p <port> args...` and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of three masters (no replicas), each killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3).map(|_| RedisServer::start_with(true, &[])).collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create runs");
        assert!(
            out.status.success(),
            "cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = RedisCluster { nodes };
        cluster.wait_ok();
        cluster
    }

    /// Waits until every node says `cluster_state:ok`.
    pub fn wait_ok(&self) {
        sio_test_support::wait::blocking_until(Duration::from_secs(20), "cluster_state:ok", || {
            self.nodes
                .iter()
                .all(|node| node.cli(&["cluster", "info"]).contains("cluster_state:ok"))
        });
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The node that serves the slot of `key` (a channel name for sharded pub/sub).
    pub fn node_of(&mut self, key: &str) -> &mut RedisServer {
        let slot: u16 = self.nodes[0]
            .cli(&["cluster", "keyslot", key])
            .trim()
            .parse()
            .unwrap();
        let nodes = self.nodes[0].cli(&["cluster", "nodes"]);
        // `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <state> <slots>...`
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let serves = fields.iter().skip(8).any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if (lo..=hi).contains(&slot))
            });
            if serves {
                let port: u16 = fields[1].split(['@', ':']).nth(1).unwrap().parse().unwrap();
                return self.nodes.iter_mut().find(|n| n.port == port).unwrap();
            }
        }
        panic!("no node serves slot {slot}: {nodes}")
    }
}

/// A Node.js process running a script of tests/js, one JSON value per line both ways.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

impl NodeProcess {
    /// `node tests/js/<script> args...` (stderr inherited, for its logs).
    pub fn spawn(script: &str, args: &[&str]) -> NodeProcess {
        let dir = sio_test_support::tests_dir();
        let mut child = Command::new("node")
            .arg(dir.join("js").join(script))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs (tests/node_modules installed by scripts/test.sh)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        NodeProcess {
            child,
            stdin,
            lines,
            next_id: 0,
        }
    }

    /// Writes one JSON line.
    pub fn send(&mut self, value: &Json) {
        writeln!(self.stdin, "{value}").expect("node is alive");
        self.stdin.flush().unwrap();
    }

    /// The next JSON line (panics after `timeout`).
    pub fn recv(&mut self, timeout: Duration) -> Json {
        let line = self
            .lines
            .recv_timeout(timeout)
            .unwrap_or_else(|e| panic!("no line from node within {timeout:?}: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))
    }

    /// Waits for a line whose `"event"` is `event` (other lines are skipped).
    pub fn wait_event(&mut self, event: &str, timeout: Duration) -> Json {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.recv(left);
            if line["event"] == event {
                return line;
            }
        }
    }

    /// Sends `{"id", "op", "args"}` requests and returns their `ok` (or `error` as `Err`).
    pub fn call_batch(&mut self, requests: &[(&str, Json)]) -> Vec<Result<Json, String>> {
        let raw: Vec<(&str, String)> = requests
            .iter()
            .map(|(op, args)| (*op, args.to_string()))
            .collect();
        self.call_batch_raw(&raw)
    }

    /// [`NodeProcess::call_batch`] with the args as JSON text (to keep a key order that
    /// `serde_json::Value` would not keep).
    pub fn call_batch_raw(&mut self, requests: &[(&str, String)]) -> Vec<Result<Json, String>> {
        let first = self.next_id;
        let mut text = String::new();
        for (op, args) in requests {
            text.push_str(&format!(
                "{{\"id\":{},\"op\":{},\"args\":{args}}}\n",
                self.next_id,
                json!(op)
            ));
            self.next_id += 1;
        }
        self.stdin
            .write_all(text.as_bytes())
            .expect("node is alive");
        self.stdin.flush().unwrap();
        (0..requests.len() as u64)
            .map(|i| {
                let answer = self.recv(Duration::from_secs(60));
                assert_eq!(answer["id"], json!(first + i), "answers in order");
                match answer.get("ok") {
                    Some(ok) => Ok(ok.clone()),
                    None => Err(answer["error"].as_str().unwrap_or("?").to_owned()),
                }
            })
            .collect()
    }

    pub fn call(&mut self, op: &str, args: Json) -> Result<Json, String> {
        self.call_batch(&[(op, args)]).pop().unwrap()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- the mixed-cluster tests: Rust nodes, Node.js helpers with events -----

/// A free loopback port.
pub fn free_tcp_port() -> u16 {
    free_port(false)
}

/// The `conformance` example of sio-server (the Rust node of the cluster tests), built once
/// per test binary.
///
/// The path returned is cargo's hashed file (`examples/conformance-<hash>`), found by the
/// inode of the uplifted `examples/conformance` right after the build: a target directory
/// shared by several checkouts may get another checkout's `examples/conformance` at any time,
/// but not our hashed file.
pub fn conformance_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(sio_test_support::workspace_root())
            .args([
                "build",
                "-p",
                "sio-server",
                "--example",
                "conformance",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo build --example conformance failed"
        );
        let exe = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Json>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "conformance")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the conformance executable");
        hashed_twin(&exe).unwrap_or(exe)
    })
    .clone()
}

#[cfg(unix)]
fn hashed_twin(exe: &std::path::Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(exe).ok()?.ino();
    let stem = exe.file_name()?.to_str()?.to_owned();
    std::fs::read_dir(exe.parent()?)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(&format!("{stem}-"))
                && !name.ends_with(".d")
                && std::fs::metadata(p).is_ok_and(|m| m.ino() == ino)
        })
}

#[cfg(not(unix))]
fn hashed_twin(_: &std::path::Path) -> Option<PathBuf> {
    None
}

/// A Rust node: the `conformance` example in cluster mode, killed on drop.
#[derive(Debug)]
pub struct RustNode {
    pub name: String,
    pub port: u16,
    child: Child,
}

impl RustNode {
    /// `conformance --redis <url> --name <name> <extra...>` on a free port; returns once it
    /// listens.
    pub fn start(name: &str, redis_url: &str, extra: &[&str]) -> RustNode {
        let port = free_port(false);
        let mut child = Command::new(conformance_binary())
            .env("PORT", port.to_string())
            .args(["--redis", redis_url, "--name", name])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the conformance example starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("rust node {name} did not start: {e}"));
        assert!(line.starts_with("listening on"), "rust node {name}: {line}");
        RustNode {
            name: name.to_owned(),
            port,
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs (it did not panic and exit).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// Sends a signal (`STOP`, `CONT`, `KILL`) with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }

    /// Kills the process and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RustNode {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug, Default)]
struct JsState {
    answers: std::collections::HashMap<u64, Json>,
    events: Vec<Json>,
    closed: bool,
}

/// A Node.js helper process (`{"id","op","args"}` requests, `{"id","ok"|"error"}` answers)
/// that also prints event lines (`{"event", ...}`) at any time: answers are matched by id,
/// events are kept in arrival order.
#[derive(Debug)]
pub struct JsDriver {
    child: Child,
    stdin: ChildStdin,
    state: std::sync::Arc<(std::sync::Mutex<JsState>, std::sync::Condvar)>,
    next_id: u64,
}

impl JsDriver {
    pub fn spawn(script: &str, args: &[&str]) -> JsDriver {
        let dir = sio_test_support::tests_dir();
        let mut child = Command::new("node")
            .arg(dir.join("js").join(script))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs (tests/node_modules installed by scripts/test.sh)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let state = std::sync::Arc::new((
            std::sync::Mutex::new(JsState::default()),
            std::sync::Condvar::new(),
        ));
        let shared = state.clone();
        let script = script.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(value) = serde_json::from_str::<Json>(&line) else {
                    eprintln!("{script}: {line}");
                    continue;
                };
                let (lock, cvar) = &*shared;
                let mut state = lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match value.get("id").and_then(Json::as_u64) {
                    Some(id) if value.get("event").is_none() => {
                        state.answers.insert(id, value);
                    }
                    _ => state.events.push(value),
                }
                cvar.notify_all();
            }
            let (lock, cvar) = &*shared;
            lock.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .closed = true;
            cvar.notify_all();
        });
        JsDriver {
            child,
            stdin,
            state,
            next_id: 0,
        }
    }

    /// Sends a request; [`JsDriver::answer`] waits for its answer.
    pub fn send(&mut self, op: &str, args: Json) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        writeln!(self.stdin, "{}", json!({"id": id, "op": op, "args": args}))
            .expect("node is alive");
        self.stdin.flush().unwrap();
        id
    }

    /// The answer to request `id` (panics after `timeout`).
    pub fn answer(&mut self, id: u64, timeout: Duration) -> Result<Json, String> {
        let (lock, cvar) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut state = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(answer) = state.answers.remove(&id) {
                return match answer.get("ok") {
                    Some(ok) => Ok(ok.clone()),
                    None => Err(answer["error"].as_str().unwrap_or("?").to_owned()),
                };
            }
            assert!(
                !state.closed,
                "the node process ended before answering {id}"
            );
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no answer to request {id} within {timeout:?}"
            );
            state = cvar
                .wait_timeout(state, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// A request and its answer (within 30 s).
    pub fn call(&mut self, op: &str, args: Json) -> Result<Json, String> {
        let id = self.send(op, args);
        self.answer(id, Duration::from_secs(30))
    }

    /// Waits until `pred` holds for the events received so far (panics after `timeout`, with
    /// the events in the message).
    pub fn wait_events(&self, timeout: Duration, what: &str, pred: impl Fn(&[Json]) -> bool) {
        let (lock, cvar) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut state = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while !pred(&state.events) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; events: {:#?}",
                state.events
            );
            state = cvar
                .wait_timeout(state, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// The first event with `"event": event` (waits up to `timeout`).
    pub fn wait_event(&self, event: &str, timeout: Duration) -> Json {
        self.wait_events(timeout, event, |events| {
            events.iter().any(|e| e["event"] == event)
        });
        self.events()
            .into_iter()
            .find(|e| e["event"] == event)
            .unwrap()
    }

    /// The events received so far.
    pub fn events(&self) -> Vec<Json> {
        self.state
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .events
            .clone()
    }

    /// Forgets the events received so far.
    pub fn clear_events(&self) {
        self.state
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .events
            .clear();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for JsDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes seen by a [`Monitor`]: `(channel, payload)`.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// `MONITOR` on a Redis: the PUBLISH and SPUBLISH commands it runs, as `(channel, payload)`.
#[derive(Debug)]
pub struct Monitor {
    seen: Seen,
    stream: TcpStream,
}

impl Monitor {
    pub fn start(port: u16) -> Monitor {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("redis");
        stream.write_all(b"MONITOR\r\n").unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut ok = String::new();
        reader.read_line(&mut ok).unwrap();
        assert_eq!(ok.trim_end(), "+OK");
        let seen: Seen = Default::default();
        let shared = seen.clone();
        std::thread::spawn(move || {
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let args = parse_monitor_line(&line);
                line.clear();
                let publish = args.first().is_some_and(|c| {
                    c.eq_ignore_ascii_case(b"publish") || c.eq_ignore_ascii_case(b"spublish")
                });
                if publish && args.len() == 3 {
                    let channel = String::from_utf8_lossy(&args[1]).into_owned();
                    shared
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((channel, args[2].clone()));
                }
            }
        });
        Monitor { seen, stream }
    }

    /// Forgets what was seen so far.
    pub fn clear(&self) {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The first publish (in order) for which `f` gives something, waiting up to `timeout`.
    pub fn find<T>(&self, timeout: Duration, f: impl Fn(&str, &[u8]) -> Option<T>) -> Option<T> {
        let mut next = 0;
        sio_test_support::wait::blocking_first(timeout, || {
            let batch: Vec<(String, Vec<u8>)> = {
                let seen = self
                    .seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                seen[next.min(seen.len())..].to_vec()
            };
            next += batch.len();
            batch
                .iter()
                .find_map(|(channel, payload)| f(channel, payload))
        })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The arguments of a MONITOR line: `+<time> [<db> <addr>] "arg" "arg" ...`, each argument
/// quoted with Redis' escapes (`\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, `\xHH`).
fn parse_monitor_line(line: &[u8]) -> Vec<Vec<u8>> {
    let Some(start) = line.windows(2).position(|w| w == b"] ") else {
        return Vec::new();
    };
    let mut args = Vec::new();
    let mut i = start + 2;
    while i < line.len() {
        if line[i] != b'"' {
            i += 1;
            continue;
        }
        i += 1;
        let mut arg = Vec::new();
        while i < line.len() && line[i] != b'"' {
            if line[i] == b'\\' && i + 1 < line.len() {
                i += 1;
                match line[i] {
                    b'n' => arg.push(b'\n'),
                    b'r' => arg.push(b'\r'),
                    b't' => arg.push(b'\t'),
                    b'a' => arg.push(7),
                    b'b' => arg.push(8),
                    b'x' if i + 2 < line.len() => {
                        let hex = std::str::from_utf8(&line[i + 1..i + 3]).unwrap_or("00");
                        arg.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                        i += 2;
                    }
                    other => arg.push(other),
                }
            } else {
                arg.push(line[i]);
            }
            i += 1;
        }
        args.push(arg);
        i += 1;
    }
    args
}
