//! The chat example (`sio-server/examples/chat`) on two nodes sharing a Redis (sio-redis's
//! classic adapter, `--redis`), behind nginx, in headless Chromium (`tests/js/browser-cluster.js`):
//!
//! - with sticky sessions (nginx hashes a cookie, the configuration of sio-redis's guide
//!   `docs/multiple-nodes.md`), two users on *different* nodes chat over HTTP long-polling,
//!   then over WebSocket after the upgrade; a third user without a cookie gets one and stays on
//!   one node;
//! - without stickiness (the same configuration, round-robin), long-polling fails with
//!   "Session ID unknown" (the control), and WebSocket-only clients on different nodes chat.
//!
//! Each test starts its own Redis (`redis_support`), its two chat nodes, and its own nginx
//! (`nginx -p <temp dir> -c <generated config>`, in the foreground, on free ports). nginx is
//! Debian's `nginx` package (`scripts/nginx-deps.sh` installs it); `SIO_NGINX=<path>` picks
//! another binary, `SIO_SKIP_NGINX=1` skips the tests when it is missing.

mod browser_support;
mod redis_support;

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use browser_support::{build_chat, client_bundle, require_chromium, run_driver, tests_dir};
use redis_support::{RedisServer, redis_missing};

/// One browser test at a time in this file (each starts a Chromium, two nodes and nginx).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The guide whose nginx configuration the tests run.
fn guide() -> PathBuf {
    tests_dir().join("../sio-redis/docs/multiple-nodes.md")
}

/// The nginx binary, or `None` (test skipped) when it is missing and `SIO_SKIP_NGINX=1`.
fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("SIO_NGINX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    let found = std::process::Command::new(&path)
        .arg("-v")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(path);
    }
    assert!(
        std::env::var("SIO_SKIP_NGINX").is_ok_and(|v| v == "1"),
        "nginx not found at {}: run scripts/test.sh (scripts/nginx-deps.sh installs Debian's \
         nginx), set SIO_NGINX=<path>, or SIO_SKIP_NGINX=1 to skip",
        path.display()
    );
    eprintln!("nginx not found: skipped (SIO_SKIP_NGINX=1)");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// The `http` block of the guide's nginx configuration (its first ```nginx block), for nodes
/// `a` and `b` and nginx on `port`; without the `hash` line when `sticky` is false (nginx's
/// default round-robin). Panics when the guide no longer holds what is replaced, so that the
/// guide and the test cannot drift apart.
fn guide_config(a: u16, b: u16, port: u16, sticky: bool) -> String {
    let text = std::fs::read_to_string(guide()).expect("the guide");
    let block = text
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```nginx block in the guide");
    let mut config = String::new();
    let mut replaced = [false; 4];
    for line in block.lines() {
        let line = if line.contains("server 127.0.0.1:3001;") {
            replaced[0] = true;
            line.replace("127.0.0.1:3001", &format!("127.0.0.1:{a}"))
        } else if line.contains("server 127.0.0.1:3002;") {
            replaced[1] = true;
            line.replace("127.0.0.1:3002", &format!("127.0.0.1:{b}"))
        } else if line.contains("listen 127.0.0.1:8080;") {
            replaced[2] = true;
            line.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
        } else if line.trim() == "hash $sio_node consistent;" {
            replaced[3] = true;
            if !sticky {
                continue;
            }
            line.to_owned()
        } else {
            line.to_owned()
        };
        config.push_str(&line);
        config.push('\n');
    }
    assert_eq!(
        replaced, [true; 4],
        "the guide's nginx block lost a line the test replaces (servers 3001/3002, listen 8080, \
         hash):\n{block}"
    );
    config
}

/// nginx in the foreground (`master_process off`: one process, killed on drop), everything in
/// a temp dir.
struct Nginx {
    child: std::process::Child,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    fn start(binary: &Path, http: &str) -> Nginx {
        let port_line = http
            .lines()
            .find_map(|l| l.trim().strip_prefix("listen 127.0.0.1:"))
            .and_then(|p| p.trim_end_matches(';').parse().ok())
            .expect("a listen line");
        let dir =
            std::env::temp_dir().join(format!("sio-nginx-test-{}-{port_line}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("nginx dir");
        let d = dir.display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 512; }}\nhttp {{\n\
             access_log {d}/access.log;\nclient_body_temp_path {d}/client_body;\n\
             proxy_temp_path {d}/proxy;\nfastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n{http}}}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, &config).expect("nginx.conf");
        let mut child = std::process::Command::new(binary)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        // Listening (connect succeeds), or exited.
        let listening = sio_test_support::wait::blocking_first(Duration::from_secs(10), || {
            if TcpStream::connect(("127.0.0.1", port_line)).is_ok() {
                return Some(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}):\n{log}\nconfig:\n{config}");
            }
            None
        });
        assert!(listening.is_some(), "nginx never listened");
        Nginx {
            child,
            dir,
            port: port_line,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A chat node (`--redis URL --name NAME`, `PORT=0`), killed on drop; its output lines are
/// kept.
struct Node {
    name: &'static str,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    _child: Child,
}

impl Node {
    async fn start(chat: &Path, redis: &str, name: &'static str) -> Node {
        let mut child = Command::new(chat)
            .args(["--redis", redis, "--name", name])
            .env("PORT", "0")
            .env("SIO_CLIENT_BUNDLE", client_bundle())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chat.display()));
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = out.next_line().await {
                if let Some(url) = line.strip_prefix("open http://127.0.0.1:") {
                    return url.trim_end_matches('/').parse::<u16>().expect("a port");
                }
            }
            panic!("chat node {name} exited before listening");
        })
        .await
        .expect("the chat node listens within 30 s");
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let keep = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                keep.lock().unwrap().push(line);
            }
        });
        Node {
            name,
            port,
            lines,
            _child: child,
        }
    }

    fn upstream(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// A Redis, nodes `a` and `b` of the chat on it, nginx in front (sticky or round-robin).
struct Setup {
    nodes: [Node; 2],
    nginx: Nginx,
    _redis: RedisServer,
}

impl Setup {
    /// `None` when Redis or nginx is missing and the environment says to skip.
    async fn start(sticky: bool) -> Option<Setup> {
        if redis_missing() {
            return None;
        }
        let nginx = nginx_binary()?;
        require_chromium();
        let chat = build_chat().await;
        let redis = RedisServer::start();
        let a = Node::start(&chat, &redis.url(), "a").await;
        let b = Node::start(&chat, &redis.url(), "b").await;
        let config = guide_config(a.port, b.port, free_port(), sticky);
        let nginx = Nginx::start(&nginx, &config);
        Some(Setup {
            nodes: [a, b],
            nginx,
            _redis: redis,
        })
    }

    /// The node behind an upstream address (`X-Upstream`).
    fn node(&self, upstream: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.upstream() == upstream)
            .unwrap_or_else(|| panic!("{upstream} is no node"))
    }

    async fn drive(&self, mode: &str) -> Value {
        run_driver(
            "browser-cluster.js",
            &[self.nginx.url(), mode.to_owned(), "75000".to_owned()],
            Duration::from_secs(85),
        )
        .await
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_owned()
        })
        .collect()
}

/// The nodes that answered a user's Socket.IO requests (HTTP and WebSocket handshakes).
fn upstreams(user: &Value) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = user["http"]
        .as_array()
        .expect("http")
        .iter()
        .map(|r| {
            r["upstream"]
                .as_str()
                .expect("X-Upstream on every answer")
                .to_owned()
        })
        .collect();
    set.extend(strings(&user["ws"]));
    set
}

fn statuses(user: &Value) -> BTreeSet<u64> {
    user["http"]
        .as_array()
        .expect("http")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect()
}

/// Whether `node` printed that `nick` connected to it over `transport` (waiting a little for
/// its output to be read).
async fn connected(node: &Node, nick: &str, transport: &str) -> bool {
    let line = format!("{nick} connected to {} ({transport})", node.name);
    sio_test_support::wait::holds_within(Duration::from_secs(5), || node.lines().contains(&line))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_sessions_carry_polling_and_upgrades_across_nodes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(setup) = Setup::start(true).await else {
        return;
    };
    let report = setup.drive("sticky").await;
    let user = |name: &str| &report[name];
    let log = |name: &str| strings(&report[name]["log"]);

    // alice and bob: each on one node, not the same one, over long-polling only.
    let alice = upstreams(user("alice"));
    let bob = upstreams(user("bob"));
    assert_eq!(
        alice.len(),
        1,
        "alice's requests went to {alice:?}: {report:#}"
    );
    assert_eq!(bob.len(), 1, "bob's requests went to {bob:?}: {report:#}");
    assert_ne!(alice, bob, "{report:#}");
    let (alice_node, bob_node) = (
        setup.node(alice.first().unwrap()),
        setup.node(bob.first().unwrap()),
    );
    for name in ["alice", "bob", "carol"] {
        assert_eq!(user(name)["transport"], "polling", "{report:#}");
        assert_eq!(user(name)["ws"], serde_json::json!([]), "{report:#}");
        // Every answer a success: no "Session ID unknown" with stickiness.
        assert!(
            statuses(user(name)).iter().all(|s| *s == 200),
            "{name}: {report:#}"
        );
    }
    assert!(connected(alice_node, "alice", "polling").await);
    assert!(connected(bob_node, "bob", "polling").await);
    assert!(
        !alice_node
            .lines()
            .iter()
            .any(|l| l.starts_with("bob connected"))
    );

    // The join's list comes from both nodes; messages cross through Redis both ways.
    assert_eq!(
        log("alice"),
        [
            "joined lobby as alice; here: alice",
            "bob joined",
            "bob: hello from bob",
            "alice: hello from alice (sent)",
            "carol joined",
        ],
        "{report:#}"
    );
    assert_eq!(
        log("bob"),
        [
            "joined lobby as bob; here: alice, bob",
            "bob: hello from bob (sent)",
            "alice: hello from alice",
            "carol joined",
        ],
        "{report:#}"
    );
    assert_eq!(
        log("carol"),
        ["joined lobby as carol; here: alice, bob, carol"],
        "{report:#}"
    );
    // carol came without a cookie: nginx gave her one (its random key), and she stayed on the
    // node it maps to.
    let cookie = user("carol")["cookie"].as_str().expect("carol's cookie");
    assert!(
        cookie.len() == 32 && cookie.bytes().all(|c| c.is_ascii_hexdigit()),
        "{report:#}"
    );
    assert_eq!(upstreams(user("carol")).len(), 1, "{report:#}");

    // The default transports: polling, then the upgrade, on the node of the cookie.
    assert_eq!(upstreams(user("ann")), alice, "{report:#}");
    assert_eq!(upstreams(user("bob2")), bob, "{report:#}");
    for name in ["ann", "bob2"] {
        assert_eq!(user(name)["transport"], "websocket", "{report:#}");
        assert_eq!(strings(&user(name)["ws"]).len(), 1, "{report:#}");
    }
    assert!(connected(alice_node, "ann", "polling").await);
    assert!(connected(bob_node, "bob2", "polling").await);
    assert_eq!(
        log("ann"),
        [
            "joined upgraded as ann; here: ann",
            "bob2 joined",
            "bob2: upgraded hello from bob2",
            "ann: upgraded hello from ann (sent)",
        ],
        "{report:#}"
    );
    assert_eq!(
        log("bob2"),
        [
            "joined upgraded as bob2; here: ann, bob2",
            "bob2: upgraded hello from bob2 (sent)",
            "ann: upgraded hello from ann",
        ],
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_stickiness_polling_fails_and_websocket_works() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(setup) = Setup::start(false).await else {
        return;
    };
    let report = setup.drive("round-robin").await;
    let user = |name: &str| &report[name];
    let log = |name: &str| strings(&report[name]["log"]);

    // The control: polly's requests went to both nodes, and the node that did not open her
    // session answered 400 "Session ID unknown", at the first attempt and after reconnecting.
    let polly = user("polly");
    assert_eq!(
        upstreams(polly),
        setup.nodes.iter().map(Node::upstream).collect(),
        "{report:#}"
    );
    let unknown: Vec<&Value> = polly["http"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 400)
        .collect();
    assert!(unknown.len() >= 2, "{report:#}");
    for r in unknown {
        assert_eq!(
            r["body"], r#"{"code":1,"message":"Session ID unknown"}"#,
            "{report:#}"
        );
    }
    assert!(
        !log("polly").iter().any(|l| l.starts_with("joined")),
        "{report:#}"
    );

    // WebSocket only: one request per connection, no stickiness needed; wendy and walt on
    // different nodes.
    let wendy = upstreams(user("wendy"));
    let walt_ws = strings(&user("walt")["ws"]);
    let walt = walt_ws.last().expect("walt's WebSocket").clone();
    assert_eq!(wendy.len(), 1, "{report:#}");
    assert!(!wendy.contains(&walt), "{report:#}");
    assert!(connected(setup.node(wendy.first().unwrap()), "wendy", "websocket").await);
    assert!(connected(setup.node(&walt), "walt", "websocket").await);
    for name in ["wendy", "walt"] {
        assert_eq!(user(name)["transport"], "websocket", "{report:#}");
        assert_eq!(user(name)["http"], serde_json::json!([]), "{report:#}");
    }
    assert_eq!(
        log("wendy"),
        [
            "joined lobby as wendy; here: wendy",
            "walt joined",
            "walt: hello from walt",
            "wendy: hello from wendy (sent)",
        ],
        "{report:#}"
    );
    assert_eq!(
        log("walt"),
        [
            "joined lobby as walt; here: walt, wendy",
            "walt: hello from walt (sent)",
            "wendy: hello from wendy",
        ],
        "{report:#}"
    );
}
