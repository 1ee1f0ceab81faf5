//! `bench_server` with metrics on: the same server (`bench_server.rs`, included as a module),
//! built with sio-server's cargo feature `metrics` (this binary requires sio-bench's feature
//! `metrics`, which enables it) and with a real recorder installed before the server starts:
//! `metrics-exporter-prometheus`'s, as in sio-server's `prometheus` example, without its HTTP
//! listener. So every counter and gauge the server records is looked up and updated in the
//! recorder's registry, as in production; `bench/run.py` runs it as the server `sio_metrics`,
//! against `bench_server` (the build without the feature) as `sio`: BENCHMARKS.md §6.
//!
//! ```text
//! bench_server_metrics [PORT] [--redis URL]     as bench_server
//! ```
//!
//! When stdin closes it prints the exposition of the Engine.IO message counters on stderr (the
//! server's log in `bench/run.py`), the proof that the recorder saw the traffic.

use metrics_exporter_prometheus::PrometheusBuilder;

#[path = "bench_server.rs"]
mod server;

fn main() -> std::io::Result<()> {
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .map_err(std::io::Error::other)?;
    let result = server::main();
    for line in prometheus.render().lines() {
        if line.starts_with("socketio_engine_messages") {
            eprintln!("{line}");
        }
    }
    result
}
