//! The Node.js socket.io servers of the client interop tests (`tests/js/client-server.js`, and
//! `tests/js/client-recovery-server.js` with connection state recovery), run from the
//! workspace's `tests/` directory, whose `node_modules` the project's test command installs.
//! Used by `sio-client`'s tests and by `sio-tests`' `client_node` and `client_recovery`.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the server may take to start (a loaded 2-core machine).
const START: Duration = Duration::from_secs(30);

/// A running `client-server.js` (or another script of `tests/js/`); killed on drop (a failed
/// test included). It also exits when its stdin closes, so it never outlives the test process.
#[derive(Debug)]
pub struct NodeServer {
    child: Child,
    pub port: u16,
}

impl NodeServer {
    /// Starts `client-server.js` on `port` (0: any free port) with `extra` arguments
    /// (`--msgpack`).
    pub fn start(port: u16, extra: &[&str]) -> NodeServer {
        let port = port.to_string();
        let mut args = vec![port.as_str()];
        args.extend_from_slice(extra);
        Self::start_script("client-server.js", &args)
    }

    /// Starts `tests/js/<script>` with `args`; it prints `PORT <n>` once listening.
    pub fn start_script(script: &str, args: &[&str]) -> NodeServer {
        let tests = crate::tests_dir();
        let mut child = Command::new("node")
            .arg(tests.join("js").join(script))
            .args(args)
            .current_dir(tests)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed (see README)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(port) = line.strip_prefix("PORT ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        let mut server = NodeServer { child, port: 0 };
        match rx.recv_timeout(START) {
            Ok(Some(port)) => server.port = port,
            other => panic!("{script} did not start: {other:?}"),
        }
        server
    }

    /// Sends `sig` (`-STOP`, `-CONT`, ...) to the process with `kill(1)`.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([sig, pid.as_str()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {sig}");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
