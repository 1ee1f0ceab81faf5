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
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pings(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server on {} never answered",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &self.nodes {
            while !node.cli(&["cluster", "info"]).contains("cluster_state:ok") {
                assert!(Instant::now() < deadline, "cluster never became ok");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
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
        let dir = sio_tests::tests_dir();
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
