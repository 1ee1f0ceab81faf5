//! Delivery under cuts (BENCHMARKS.md §4): the recovery storm of the interop tests
//! (`sio_test_support::storm`) at benchmark scale. N clients (half over WebSocket, half over
//! long-polling) receive a numbered broadcast every `every` ms for `seconds`, while a
//! fault-injecting TCP proxy cuts each of their connections after a random lifetime of
//! `cut_min`..`cut_max` seconds (a new lifetime for every new connection); for each pair of
//! server and clients, with connection state recovery on and off, once each.
//!
//! ```text
//! recovery_bench [--clients 50] [--seconds 60] [--every-ms 10] [--cut 2-5] [--ping-ms 5000]
//!                [--pairs node-official,ours-official,ours-ours,node-ours] [--recovery on,off]
//!                [--out FILE.jsonl]
//! ```
//!
//! Prints one Markdown table row per run (and appends a JSON line to `--out`): the ticks
//! delivered over the ticks sent to every client, the clients that got every tick exactly
//! once and in order, the ticks that arrived twice or out of order, the reconnections and
//! how many were recovered. Needs Node.js and `tests/node_modules` for the Node peers.

use std::io::Write;
use std::time::Duration;

use serde_json::json;
use sio_test_support::storm::{ClientKind, Cuts, ServerKind, StormConfig, run};

fn parse_pair(pair: &str) -> Result<(ServerKind, ClientKind), String> {
    let (server, clients) = pair
        .split_once('-')
        .ok_or_else(|| format!("a pair is server-clients: {pair}"))?;
    let server = match server {
        "ours" => ServerKind::Ours,
        "node" => ServerKind::Node,
        other => return Err(format!("server {other}: ours or node")),
    };
    let clients = match clients {
        "ours" => ClientKind::Ours,
        "official" => ClientKind::Official,
        other => return Err(format!("clients {other}: ours or official")),
    };
    Ok((server, clients))
}

fn name(server: ServerKind, clients: ClientKind) -> &'static str {
    match (server, clients) {
        (ServerKind::Node, ClientKind::Official) => "Node server + socket.io-client",
        (ServerKind::Ours, ClientKind::Official) => "sio-server + socket.io-client",
        (ServerKind::Ours, ClientKind::Ours) => "sio-server + sio-client",
        (ServerKind::Node, ClientKind::Ours) => "Node server + sio-client",
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let clients: usize = value("--clients").map_or(Ok(50), |v| v.parse())?;
    let seconds: u64 = value("--seconds").map_or(Ok(60), |v| v.parse())?;
    let every_ms: u64 = value("--every-ms").map_or(Ok(10), |v| v.parse())?;
    let ping_ms: u64 = value("--ping-ms").map_or(Ok(5000), |v| v.parse())?;
    let cut = value("--cut").unwrap_or_else(|| "2-5".to_owned());
    let (cut_min, cut_max) = cut.split_once('-').ok_or("--cut MIN-MAX (seconds)")?;
    let (cut_min, cut_max): (f64, f64) = (cut_min.parse()?, cut_max.parse()?);
    let pairs = value("--pairs")
        .unwrap_or_else(|| "node-official,ours-official,ours-ours,node-ours".to_owned());
    let recovery = value("--recovery").unwrap_or_else(|| "on,off".to_owned());
    let mut out = match value("--out") {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => None,
    };
    println!(
        "{clients} clients, a tick every {every_ms} ms for {seconds} s, each connection cut \
         after {cut_min}-{cut_max} s, ping {ping_ms} ms\n"
    );
    println!(
        "| pair | recovery | delivered | clients complete | duplicated or out of order | \
         reconnections (recovered) |"
    );
    println!("|---|---|---|---|---|---|");
    for pair in pairs.split(',') {
        let (server, client_kind) = parse_pair(pair)?;
        for on in recovery.split(',') {
            let on = match on {
                "on" => true,
                "off" => false,
                other => return Err(format!("--recovery on,off: {other}").into()),
            };
            let mut config = StormConfig::new(server, client_kind, on);
            config.count = clients;
            config.every = Duration::from_millis(every_ms);
            config.ticks = seconds * 1000 / every_ms.max(1);
            config.cuts =
                Cuts::Lifetime(Duration::from_secs_f64(cut_min)..Duration::from_secs_f64(cut_max));
            config.ping = Duration::from_millis(ping_ms);
            config.grace = Duration::from_secs(5);
            let report = run(config).await;
            let misordered: u64 = report.clients.iter().map(|c| c.misordered()).sum();
            let (recovered, reconnects) = report.reconnects();
            println!(
                "| {} | {} | {:.2} % | {}/{} | {misordered} | {reconnects} ({recovered}) |",
                name(server, client_kind),
                if on { "on" } else { "off" },
                report.delivery_percent(),
                report.complete_clients(),
                report.clients.len(),
            );
            if let Some(out) = &mut out {
                let line = json!({
                    "pair": pair,
                    "recovery": on,
                    "clients": clients,
                    "seconds": seconds,
                    "every_ms": every_ms,
                    "cut_s": [cut_min, cut_max],
                    "ping_ms": ping_ms,
                    "sent": report.sent,
                    "delivered_percent": report.delivery_percent(),
                    "complete_clients": report.complete_clients(),
                    "misordered": misordered,
                    "reconnects": reconnects,
                    "recovered": recovered,
                    "lost": report.clients.iter().map(|c| c.lost(report.sent)).collect::<Vec<_>>(),
                    "proxy": {
                        "accepted": report.proxy.accepted,
                        "cut": report.proxy.cut,
                    },
                    "elapsed_s": report.elapsed.as_secs_f64(),
                });
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}
