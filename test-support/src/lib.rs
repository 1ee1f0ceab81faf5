//! Test support shared by the tests of every crate of the workspace (`sio-server`,
//! `sio-client`, `sio-tests`); not published.
//!
//! - [`engine`]: a scripted raw Engine.IO peer (HTTP/1.1 over a plain TCP socket, WebSocket over
//!   tokio-tungstenite), an echo server, and requests to the engine in process
//!   ([`engine::call`]) for tests on tokio's paused clock.
//! - [`io`]: a scripted raw Socket.IO peer, a polling client that calls the engine directly (no
//!   socket, so tests can run on tokio's paused time), a log capture.
//! - [`node`]: the Node.js socket.io servers of the client interop tests.
//! - [`NodePeer`] and the packet helpers ([`bin`], [`Frame`]): the real JavaScript parsers.
//! - [`proxy`]: a fault-injecting TCP proxy; [`storm`]: the reconnection-storm scenario.
//! - [`wait`]: waiting for a condition with a bound, the one place that polls.
//!
//! It depends on `sio-server` and `sio-client`, so it is only ever a dev-dependency of those
//! two (Cargo allows that cycle through dev-dependencies: their integration tests link the same
//! library the support crate links).
//!
//! # Sleeps in tests
//!
//! `sio-tests`' `sleeps` test counts the `sleep(` calls of all test code. Every one carries a
//! marker comment on its line or in the comment lines above: `wall-clock:` (a real wait that
//! cannot be an event; the test caps their number), `virtual time` (on tokio's paused clock),
//! `scenario:` (pacing that is part of the tested scenario, not a wait for a condition) or
//! `poll:` (the polling interval of [`wait::first`], only in this crate).
//!
//! Paused time and real sockets do not mix: tokio's paused clock can move while bytes are in
//! flight, straight to the next deadline, a heartbeat's included (a v3 test over TCP lost its
//! session that way in every run). Tests on paused time talk to the server in process
//! ([`engine::call`], [`io::Polling`]).

#![allow(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod engine;
pub mod io;
pub mod node;
mod parsers;
pub mod proxy;
pub mod storm;
pub mod wait;
pub mod ws;

use std::path::{Path, PathBuf};

pub use parsers::*;

/// The directory of the `sio-tests` crate (`<workspace>/tests`): its `js/` scripts and
/// `node_modules`.
pub fn tests_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| workspace_root().join("tests"))
}

/// The root of the Cargo workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the support crate lives inside the workspace")
        .to_path_buf()
}
