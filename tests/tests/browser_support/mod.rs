//! What the browser tests share: finding Chromium, and running a Node.js driver
//! (tests/js/browser-*.js, playwright-core) that is always stopped, Chromium with it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The Chromium the drivers launch (Debian's package; `scripts/test.sh` installs it).
pub(crate) fn require_chromium() -> PathBuf {
    let path = std::env::var_os("SIO_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "the browser tests need Chromium at {} (Debian's `chromium` package): run \
         `bash scripts/test.sh`, which installs it, or `apt-get install -y chromium`; \
         SIO_CHROMIUM=<path> picks another binary",
        path.display()
    );
    path
}

/// The directory of the `sio-tests` crate (`tests/`).
pub(crate) fn tests_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The official browser bundle of socket.io-client, installed by `npm ci` in `tests/`.
pub(crate) fn client_bundle() -> PathBuf {
    let path = tests_dir().join("node_modules/socket.io-client/dist/socket.io.min.js");
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/test.sh` (it runs `npm ci` in tests/)",
        path.display()
    );
    path
}

/// A running driver: stopped when dropped (SIGTERM, so that playwright closes Chromium, then
/// SIGKILL if it is still there after a few seconds).
struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let exited = sio_test_support::wait::blocking_first(Duration::from_secs(5), || {
                (!matches!(self.child.try_wait(), Ok(None))).then_some(())
            });
            if exited.is_some() {
                return;
            }
        }
        let _ = self.child.start_kill();
    }
}

/// Runs `node tests/js/<script> <args>`, waits at most `timeout`, and returns the JSON line it
/// printed. Panics (after stopping the driver and its Chromium) if it fails or hangs.
pub(crate) async fn run_driver(script: &str, args: &[String], timeout: Duration) -> Value {
    let chromium = require_chromium();
    let mut child = Command::new("node")
        .arg(tests_dir().join("js").join(script))
        .args(args)
        .current_dir(tests_dir())
        .env("SIO_CHROMIUM", chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is on PATH");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let mut driver = Driver { child };
    let out = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s).await;
        s
    });
    let err = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let status = tokio::time::timeout(timeout, driver.child.wait()).await;
    // Stops the driver if it is still running; its pipes close then.
    drop(driver);
    let stdout = out.await.unwrap_or_default();
    let stderr = err.await.unwrap_or_default();
    let status = match status {
        Ok(status) => status.expect("waiting for node"),
        Err(_) => {
            panic!("{script} did not finish in {timeout:?}\nstderr:\n{stderr}\nstdout:\n{stdout}")
        }
    };
    assert!(
        status.success(),
        "{script} failed ({status})\nstderr:\n{stderr}\nstdout:\n{stdout}"
    );
    // Shown by the test harness when the caller's assertions fail.
    eprintln!("{script} stderr:\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("{script} printed no JSON ({e})\nstderr:\n{stderr}\nstdout:\n{stdout}")
    })
}

/// Builds the chat example of sio-server (a no-op when `cargo test` built it already) and returns its path.
pub(crate) async fn build_chat() -> PathBuf {
    if let Some(path) = std::env::var_os("SIO_CHAT_EXAMPLE") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(cargo)
        .args([
            "build",
            "--workspace",
            "--all-features",
            "--example",
            "chat",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(tests_dir().join(".."))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), build)
        .await
        .expect("`cargo build --example chat` finished in 10 minutes")
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cargo build --example chat failed:\n{stderr}"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "chat")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no chat executable:\n{stderr}"))
}
