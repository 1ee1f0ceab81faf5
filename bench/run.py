#!/usr/bin/env python3
"""Side-by-side benchmarks of three Socket.IO servers in one run: ours (bench_server, release),
Node socket.io 4.8 (bench/js/node-server.js) and socketioxide (socketioxide_server).

Every server runs pinned to CPU 0, every load generator to CPU 1 (except in the cluster
scenario, BENCHMARKS.md section 4: two nodes on one Redis, A on CPU 0 and B on CPU 1, each
sharing its core with the other node's clients). The scenarios (a)-(g) of BENCHMARKS.md run for each server in turn, inside each repetition, so that the three servers
see the same machine; tables give the median [min-max] over the repetitions and ratios
between servers. Raw JSON lines, CSVs, a markdown summary and SVG plots go to --out.

    python3 bench/run.py --smoke                 # every scenario, small, a few seconds each
    python3 bench/run.py --reps 3                # the full run
    python3 bench/run.py --scenarios idle,echo --servers sio,node
    python3 bench/run.py --scenarios cluster --servers sio,node --reps 3   # two nodes on Redis
    python3 bench/run.py --scenarios echo --servers sio,sio_metrics --reps 5  # metrics' cost

The server `sio_metrics` (not in the default set) is ours with sio-server's `metrics` feature and
a Prometheus recorder installed (bench_server_metrics, BENCHMARKS.md section 6): with `sio` in the
same run, the tables get the ratio metrics on / off of each repetition (they take turns).

Build first: cargo build --release -p sio-bench -p sio-client --example idle_clients, and for
sio_metrics: cargo build --release -p sio-bench --features metrics --bin bench_server_metrics
(scripts/bench-all.sh does it, the latter only when the arguments name sio_metrics).
"""

import argparse
import json
import os
import re
import select
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release")
SERVERS = ["sio", "node", "socketioxide"]
# Selectable with --servers, not in the default set: ours with metrics on (BENCHMARKS.md section 6).
EXTRA_SERVERS = ["sio_metrics"]
LABEL = {"sio": "sio-server (ours)", "node": "Node socket.io", "socketioxide": "socketioxide",
         "sio_metrics": "sio-server, metrics on",
         "sio-sio": "A Rust, B Rust (ours)", "node-node": "A Node, B Node",
         "sio-node": "A Rust, B Node", "node-sio": "A Node, B Rust"}
SCENARIOS = ["idle", "idle_cpu", "echo", "fanout", "storm", "client", "slow", "cluster"]
# The cluster scenario: two nodes on one Redis; for each server X of --servers, the pairs
# X-X and X-Y (Y: the other of sio and node). socketioxide is left out (its Redis adapter
# speaks its own format, and cannot join Node servers).
CLUSTER_SERVERS = ["sio", "node"]

FULL = dict(
    idle_n=[1000, 5000, 10000, 19000], idle_polling=2000, settle=3.0, idle_cpu_window=4.0,
    idle_cpu_n=10000, idle_cpu_long=26.0,
    echo_clients=[100, 1000], echo_windows=[1, 16], echo_payloads=[60, 1024],
    echo_duration=3.0, echo_warmup=1.0,
    open_clients=100, open_rates=[5000, 10000, 20000, 40000, 60000, 80000],
    fanout=[(1000, 2, 40, 100), (10000, 4, 25, 300)],  # room size, processes, rounds, ms apart
    storm_n=10000, storm_concurrency=256, avalanche_n=10000,
    client_n=10000, client_recv_clients=10, client_recv_secs=5,
    slow_receivers=20, slow_rounds=4000, slow_payload=16384,
    # Clients per node, broadcasts, ms apart: 5,000 receivers on each node; then one, to isolate
    # what the adapter itself costs (the sender's handler, the publish, Redis, the decoding).
    cluster=[(5000, 20, 1000), (1, 1000, 5)], cluster_idle_s=2.0,
)
SMOKE = dict(
    idle_n=[1000], idle_polling=200, settle=0.5, idle_cpu_window=0.5,
    idle_cpu_n=1000, idle_cpu_long=1.0,
    echo_clients=[100], echo_windows=[16], echo_payloads=[60],
    echo_duration=1.0, echo_warmup=0.5,
    open_clients=100, open_rates=[5000],
    fanout=[(1000, 2, 5, 100)],
    storm_n=1000, storm_concurrency=256, avalanche_n=1000,
    client_n=1000, client_recv_clients=4, client_recv_secs=1,
    slow_receivers=20, slow_rounds=300, slow_payload=16384,
    cluster=[(500, 5, 100)], cluster_idle_s=0.5,
)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# /proc


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None


def cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def tcp_mem_kib():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                return int(w[w.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return 0


def listen_drops():
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for i in range(0, len(lines) - 1, 2):
        if lines[i].startswith("TcpExt:"):
            keys, vals = lines[i].split()[1:], lines[i + 1].split()[1:]
            return int(dict(zip(keys, vals)).get("ListenDrops", 0))
    return 0


# ------------------------------------------------------------------------------------------
# Processes

_src = [2 + int(time.time()) % 200]
LOGDIR = ["/tmp"]
PERF = [False]  # --perf: `perf record` both nodes of the cluster scenario during the broadcasts


def next_src():
    """A fresh 127.X.0.1 range per load generator: clear of earlier TIME_WAIT sockets."""
    _src[0] = 2 + (_src[0] - 1) % 250
    return f"127.{_src[0]}.0.1"


class Server:
    def __init__(self, name, cpu=0, args=()):
        self.name = name
        env = dict(os.environ)
        if name == "sio":
            cmd = [os.path.join(T, "bench_server"), "0"]
        elif name == "sio_metrics":
            cmd = [os.path.join(T, "bench_server_metrics"), "0"]
        elif name == "socketioxide":
            cmd = [os.path.join(T, "socketioxide_server"), "0"]
        else:
            cmd = ["node", os.path.join(ROOT, "bench/js/node-server.js"), "0"]
            env["NODE_ENV"] = "production"
        cmd += list(args)
        self.err = open(os.path.join(LOGDIR[0], f"server-{name}.log"), "a")
        self.p = subprocess.Popen(["taskset", "-c", str(cpu)] + cmd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err, env=env, text=True)
        self.pid = self.p.pid  # taskset execs the server
        line = self.p.stdout.readline()
        m = re.match(r"PORT (\d+)", line)
        if not m:
            raise RuntimeError(f"{name} did not start: {line}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}/socket.io/"
        time.sleep(0.5)
        self.rss0 = rss_kib(self.pid)

    def stop(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=5)
        except Exception:
            self.p.kill()
            self.p.wait()
        self.err.close()


def loadgen_args(server, scenario, cpu=1, **opts):
    args = ["taskset", "-c", str(cpu), os.path.join(T, "loadgen"), scenario, "--url", server.url,
            "--server-pid", str(server.pid), "--src", next_src()]
    for k, v in opts.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    return args


def run_json(args, timeout):
    """Runs a command; returns its JSON lines (last first)."""
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        log(f"  timeout: {' '.join(args)}")
        return []
    res = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    if not res:
        log(f"  no result from {' '.join(args)}: {out.stderr[-500:]}")
    return res


class Held:
    """A load generator that holds connections until its stdin closes."""

    def __init__(self, args):
        self.err = open(os.path.join(LOGDIR[0], "loadgen.log"), "a")
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True)

    def first(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([self.p.stdout], [], [], max(0.0, end - time.time()))
            if not r:
                break
            line = self.p.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                return json.loads(line)
        return None

    def finish(self, timeout=30):
        try:
            out, _ = self.p.communicate(timeout=timeout)  # closes stdin: the "stop"
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, _ = self.p.communicate()
        self.err.close()
        lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        return lines[-1] if lines else None


# ------------------------------------------------------------------------------------------
# Scenarios: each returns a list of result rows (dicts)


def sc_idle_cpu(name, c, smoke):
    """CPU while idle over a whole ping interval (25 s): every client gets one ping."""
    c = dict(c, idle_n=[c["idle_cpu_n"]], idle_polling=None, idle_cpu_window=c["idle_cpu_long"])
    rows = sc_idle(name, c, smoke)
    for r in rows:
        r["scenario"] = "idle_cpu"
        r["window_s"] = c["idle_cpu_long"]
    return rows


def sc_idle(name, c, smoke):
    rows = []
    runs = [(n, "websocket") for n in c["idle_n"]]
    if c["idle_polling"]:
        runs.append((c["idle_polling"], "polling"))
    for n, transport in runs:
        s = Server(name)
        try:
            before, tcp0 = rss_kib(s.pid), tcp_mem_kib()
            g = Held(loadgen_args(s, "idle", clients=n, hold=600,
                                  transport="polling" if transport == "polling" else "ws"))
            up = g.first(240)
            if not up:
                g.finish()
                continue
            time.sleep(c["settle"])
            after, tcp1 = rss_kib(s.pid), tcp_mem_kib()
            cpu0 = cpu_s(s.pid)
            time.sleep(c["idle_cpu_window"])
            idle_cpu = (cpu_s(s.pid) - cpu0) / c["idle_cpu_window"] * 100
            g.finish()
            conn = up["connected"]
            rows.append(dict(
                scenario="idle", server=name, transport=transport, clients=n, connected=conn,
                failed=up["failed"], rss_before_kib=before, rss_after_kib=after,
                rss_per_conn_kb=round((after - before) * 1.024 / conn, 2) if conn else None,
                kernel_tcp_per_conn_kb=round((tcp1 - tcp0) * 1.024 / conn, 2) if conn else None,
                idle_cpu_percent=round(idle_cpu, 2), connect_s=round(up["connect_s"], 2)))
            log(f"  idle {transport} {n}: {rows[-1]['rss_per_conn_kb']} KB/conn, "
                f"{conn} connected, idle CPU {idle_cpu:.1f}%")
        finally:
            s.stop()
    return rows


def sc_echo(name, c, smoke):
    rows = []
    s = Server(name)
    try:
        for n in c["echo_clients"]:
            for w in c["echo_windows"]:
                for b in c["echo_payloads"]:
                    r = run_json(loadgen_args(s, "echo", clients=n, window=w, payload=b,
                                              duration=c["echo_duration"],
                                              warmup=c["echo_warmup"]), 120)
                    if r:
                        r = r[-1]
                        rows.append(echo_row(name, r, "closed"))
                        log(f"  echo {n}x{w} {b} B: {r['acks_per_s']:.0f}/s, "
                            f"{r['server_cpu_us_per_ack']} us/ack, p99 {r['latency']['p99_us']} us")
        for rate in c["open_rates"]:
            r = run_json(loadgen_args(s, "echo", clients=c["open_clients"], window=1, payload=60,
                                      rate=rate, duration=c["echo_duration"],
                                      warmup=c["echo_warmup"]), 120)
            if r:
                r = r[-1]
                rows.append(echo_row(name, r, "open"))
                log(f"  open loop {rate}/s: {r['acks_per_s']:.0f}/s, p50 "
                    f"{r['latency']['p50_us']} us, p99 {r['latency']['p99_us']} us")
    finally:
        s.stop()
    return rows


def echo_row(name, r, loop):
    return dict(scenario="echo" if loop == "closed" else "echo_open", server=name,
                clients=r["connected"], window=r["window"], payload=r["payload"],
                offered_per_s=r["offered_per_s"], acks_per_s=round(r["acks_per_s"]),
                p50_us=r["latency"]["p50_us"], p99_us=r["latency"]["p99_us"],
                p999_us=r["latency"]["p999_us"], max_us=r["latency"]["max_us"],
                server_cpu_us_per_ack=round(r["server_cpu_us_per_ack"] or 0, 2),
                server_cpu_percent=round(r["server"]["cpu_s"] / r["duration_s"] * 100, 1),
                generator_cpu_percent=round(r["generator_cpu_s"] / r["duration_s"] * 100, 1),
                errors=r["errors"])


def fanout_once(s, n, procs, rounds, interval, payload, stall=0):
    """Receivers in `procs` processes (the first one also holds `stall` stalled clients), then
    the driver; returns (send result, merged receiver results)."""
    room = "room"
    per = n // procs
    recvs = [Held(loadgen_args(s, "recv", clients=per + (stall if i == 0 else 0), room=room,
                               stall=stall if i == 0 else 0, hold=600)) for i in range(procs)]
    ready = [g.first(240) for g in recvs]
    if not all(ready):
        for g in recvs:
            g.finish()
        return None, None
    joined = sum(r["ready"] for r in ready)
    time.sleep(0.5)
    send = run_json(loadgen_args(s, "send", room=room, rounds=rounds, interval_ms=interval,
                                 payload=payload), 600)
    time.sleep(1.0)
    results = [g.finish() for g in recvs]
    if not send or not all(results):
        return None, None
    merged = {}
    for res in results:
        for seq, count, first, last in res["rounds"]:
            m = merged.setdefault(seq, [0, first, last])
            m[0] += count
            m[1] = min(m[1], first)
            m[2] = max(m[2], last)
    return send[-1], dict(joined=joined, rounds=merged, results=results)


def pct(values, q):
    v = sorted(values)
    if not v:
        return None
    return v[min(len(v) - 1, int(q * len(v)))]


def sc_fanout(name, c, smoke):
    rows = []
    for n, procs, rounds, interval in c["fanout"]:
        s = Server(name)
        try:
            send, recv = fanout_once(s, n, procs, rounds, interval, 50)
            if not send:
                continue
            receivers = n - n % procs
            warm = 2 if rounds > 4 else 0
            seqs = sorted(recv["rounds"])[warm:]
            lasts = [recv["rounds"][q][2] / 1e6 for q in seqs]
            firsts = [recv["rounds"][q][1] / 1e6 for q in seqs]
            complete = sum(1 for q in seqs if recv["rounds"][q][0] >= receivers)
            rows.append(dict(
                scenario="fanout", server=name, receivers=receivers, joined=recv["joined"],
                rounds=len(seqs), complete_rounds=complete,
                first_p50_ms=round(pct(firsts, 0.5), 2),
                last_p50_ms=round(pct(lasts, 0.5), 2), last_p99_ms=round(pct(lasts, 0.99), 2),
                deliveries_per_s=round(receivers / (pct(lasts, 0.5) / 1e3)),
                server_cpu_ms_per_broadcast=round(send["server"]["cpu_s"] * 1e3 / rounds, 2),
                server_cpu_us_per_delivery=round(send["server"]["cpu_s"] * 1e6 / rounds / receivers, 3),
                emit_ack_p50_ms=round(send["emit_to_ack"]["p50_us"] / 1e3, 2),
                rss_before_kib=send["server"]["rss_before_kib"],
                rss_peak_kib=send["server_rss_peak_kib"],
                receiver_cpu_s=round(sum(r["generator_cpu_s"] for r in recv["results"]), 2)))
            log(f"  fanout {n}: last p50 {rows[-1]['last_p50_ms']} ms p99 "
                f"{rows[-1]['last_p99_ms']} ms, {complete}/{len(seqs)} complete")
        finally:
            s.stop()
    return rows


def sc_storm(name, c, smoke):
    rows = []
    for mode in ["ws", "upgrade"]:
        s = Server(name)
        try:
            d0 = listen_drops()
            r = run_json(loadgen_args(s, "storm", clients=c["storm_n"], mode=mode,
                                      concurrency=c["storm_concurrency"]), 300)
            drops = listen_drops() - d0
            if r:
                r = r[-1]
                rows.append(dict(
                    scenario="storm", server=name, mode=r["mode"], clients=r["clients"],
                    connected=r["connected"], failed=r["failed"],
                    handshakes_per_s=round(r["handshakes_per_s"]),
                    connect_p50_ms=round(r["connect"]["p50_us"] / 1e3, 1),
                    connect_p99_ms=round(r["connect"]["p99_us"] / 1e3, 1),
                    listen_drops=drops,
                    server_cpu_us_per_handshake=round(r["server_cpu_us_per_handshake"] or 0, 1),
                    server_cpu_percent=round(r.get("server_cpu_percent", 0), 1),
                    generator_cpu_percent=round(r.get("generator_cpu_percent", 0), 1),
                    server_rss_after_kib=r["server"]["rss_after_kib"],
                    first_error=r["first_error"]))
                log(f"  storm {mode}: {rows[-1]['handshakes_per_s']}/s, {r['failed']} failed, "
                    f"{drops} listen drops")
        finally:
            s.stop()
    s = Server(name)
    try:
        d0 = listen_drops()
        r = run_json(loadgen_args(s, "avalanche", clients=c["avalanche_n"], timeout=60), 300)
        drops = listen_drops() - d0
        if r:
            r = r[-1]
            rows.append(dict(
                scenario="avalanche", server=name, clients=r["clients"],
                connected_before=r["connected_before"], back=r["back"],
                all_back_s=None if r["all_back_s"] is None else round(r["all_back_s"], 3),
                reconnect_p50_ms=round(r["reconnect"]["p50_us"] / 1e3, 1),
                retries=r["retries"], listen_drops=drops,
                server_cpu_s=round(r["server"]["cpu_s"], 2), first_error=r["first_error"]))
            log(f"  avalanche: all back in {rows[-1]['all_back_s']} s, {r['retries']} retries")
    finally:
        s.stop()
    return rows


def sc_client(name, c, smoke):
    """Client side: our client and the Node client, idle memory against the Node server (as in
    BENCHMARKS.md section 3), and events received per second and per CPU-second from the Node
    server and from ours (`source`; `source_cpu_percent` is the source's CPU over the client's
    whole run, warm-up included). Runs once per repetition, reported under the client's name."""
    rows = []
    if name != "sio":
        return rows
    n = c["client_n"]
    settle = "1" if smoke else "5"
    s = Server("node")
    try:
        for client, args in [
            ("sio-client", [os.path.join(T, "examples", "idle_clients"), f"http://127.0.0.1:{s.port}", str(n), settle]),
            ("socket.io-client", ["node", "--expose-gc", os.path.join(ROOT, "bench/js/node-idle-clients.js"),
                                  f"http://127.0.0.1:{s.port}", str(n), settle]),
        ]:
            try:
                out = subprocess.run(["taskset", "-c", "1"] + args, capture_output=True, text=True,
                                     timeout=300, stdin=subprocess.DEVNULL).stdout
            except subprocess.TimeoutExpired:
                out = ""
            m = re.search(r"rss per idle connection: ([\d.]+) KiB", out)
            conn = re.search(r"\((\d+) connected", out)
            if m:
                rows.append(dict(scenario="client_idle", server=client, clients=n,
                                 connected=int(conn.group(1)) if conn else None,
                                 rss_per_conn_kib=float(m.group(1))))
                log(f"  client idle {client}: {m.group(1)} KiB/conn")
            else:
                log(f"  client idle {client}: no result: {out[-300:]}")
    finally:
        s.stop()
    # Events received: from two sources, each pinned to the other core. The Node server is
    # the reference peer, but at about 150k events/s it is its core that sets the rate (one
    # write per event; `source_cpu_percent` ~100 % with either client), and a client that
    # keeps up sleeps between events and makes the source pay a wakeup for each (BENCHMARKS.md
    # section 2.0). Our server writes a burst of frames in one writev and outpaces both clients:
    # with it, events/s measures the client.
    for source in ["node", "sio"]:
        s = Server(source)
        try:
            url = f"http://127.0.0.1:{s.port}"
            m, secs = str(c["client_recv_clients"]), str(c["client_recv_secs"])
            warm = "0.5" if smoke else "2"
            for args in [[os.path.join(T, "client_recv"), url, m, secs, "200", warm],
                         ["node", os.path.join(ROOT, "bench/js/node-recv-clients.js"), url, m, secs,
                          "200", warm]]:
                t0, c0 = time.monotonic(), cpu_s(s.pid)
                r = run_json(["taskset", "-c", "1"] + args, 120)
                t1, c1 = time.monotonic(), cpu_s(s.pid)
                if r:
                    r = r[-1]
                    rows.append(dict(scenario="client_recv", source=source, server=r["client"],
                                     clients=r["clients"], events_per_s=r["events_per_s"],
                                     client_cpu_s=r["cpu_s"],
                                     events_per_cpu_s=r["events_per_cpu_s"],
                                     source_cpu_percent=None if c0 is None or c1 is None
                                     else round(100 * (c1 - c0) / (t1 - t0), 1)))
                    log(f"  client recv {r['client']} from {source}: {r['events_per_s']}/s, "
                        f"{r['events_per_cpu_s']} per CPU-second, source at "
                        f"{rows[-1]['source_cpu_percent']} %")
        finally:
            s.stop()
    return rows


def sc_slow(name, c, smoke):
    rows = []
    for stall in [0, 1]:
        s = Server(name)
        try:
            n = c["slow_receivers"]
            send, recv = fanout_once(s, n, 1, c["slow_rounds"], 1, c["slow_payload"], stall=stall)
            if not send:
                continue
            res = recv["results"][0]
            expected = n * send["rounds"]
            rows.append(dict(
                scenario="slow", server=name, stalled=stall, receivers=n,
                broadcasts=send["rounds"], broadcasts_per_s=round(send["rounds"] / send["elapsed_s"]),
                delivered_fraction=round(res["deliveries"] / expected, 4) if expected else None,
                others_p50_ms=round(res["latency"]["p50_us"] / 1e3, 2),
                others_p99_ms=round(res["latency"]["p99_us"] / 1e3, 2),
                rss_before_kib=send["server"]["rss_before_kib"],
                rss_peak_kib=send["server_rss_peak_kib"],
                rss_after_kib=send["server"]["rss_after_kib"],
                error=send["error"]))
            log(f"  slow stall={stall}: {rows[-1]['broadcasts_per_s']} bcast/s, delivered "
                f"{rows[-1]['delivered_fraction']}, p99 {rows[-1]['others_p99_ms']} ms, RSS peak "
                f"{rows[-1]['rss_peak_kib']} KiB")
        finally:
            s.stop()
    return rows


class Redis:
    """A redis-server of its own on a free loopback port (no persistence), stopped at the end."""

    def __init__(self):
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.err = open(os.path.join(LOGDIR[0], "redis.log"), "a")
        self.p = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no"],
                                  stdout=self.err, stderr=self.err, stdin=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}"
        end = time.time() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.time() > end or self.p.poll() is not None:
                    raise RuntimeError("redis-server did not start (see redis.log)")
                time.sleep(0.05)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.err.close()


def cluster_once(a_name, b_name, n, rounds, interval, idle_s=2.0):
    """Nodes A (CPU 0) and B (CPU 1) on one Redis, `n` receivers in room "room" on each (the
    receivers of A on CPU 1, those of B on CPU 0), then `rounds` broadcasts sent on A (the
    driver on CPU 1). Returns a result row, or None."""
    redis = Redis()
    servers, recvs = [], []
    try:
        a = Server(a_name, cpu=0, args=["--redis", redis.url])
        servers.append(a)
        b = Server(b_name, cpu=1, args=["--redis", redis.url])
        servers.append(b)
        recvs = [Held(loadgen_args(a, "recv", cpu=1, clients=n, room="room", hold=600)),
                 Held(loadgen_args(b, "recv", cpu=0, clients=n, room="room", hold=600))]
        ready = [g.first(240) for g in recvs]
        if not all(ready):
            return None
        # Idle CPU of each node, before the broadcasts.
        time.sleep(0.5)
        idle0 = [cpu_s(a.pid), cpu_s(b.pid)]
        time.sleep(idle_s)
        idle = [(cpu_s(x.pid) - c0) / idle_s * 100 for x, c0 in zip((a, b), idle0)]
        perfs = []
        if PERF[0]:
            for side, x in (("a", a), ("b", b)):
                data = os.path.join(LOGDIR[0], f"perf-{a_name}-{b_name}-{n}-{side}.data")
                perfs.append(subprocess.Popen(
                    ["perf", "record", "-F", "1999", "-g", "-o", data, "-p", str(x.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.5)
        send = run_json(loadgen_args(a, "send", room="room", rounds=rounds, interval_ms=interval,
                                     payload=50, peer_pid=b.pid), 600)
        for p in perfs:
            p.send_signal(2)  # SIGINT: perf writes its file and exits
            p.wait()
        time.sleep(1.0)
        results = [g.finish() for g in recvs]
        recvs = []
        if not send or not all(results):
            return None
        send = send[-1]
        warm = 2 if rounds > 4 else 0
        row = dict(scenario="cluster", server=f"{a_name}-{b_name}", clients_per_node=n,
                   joined=[r["ready"] for r in ready], rounds=rounds - warm)
        for side, res in zip("ab", results):
            got = {seq: (count, first, last) for seq, count, first, last in res["rounds"]}
            seqs = [q for q in range(1 + warm, rounds + 1)]
            lasts = [got[q][2] / 1e6 for q in seqs if q in got]
            row[f"{side}_complete"] = sum(1 for q in seqs if q in got and got[q][0] >= n)
            row[f"{side}_last_p50_ms"] = round(pct(lasts, 0.5), 2) if lasts else None
            row[f"{side}_last_p99_ms"] = round(pct(lasts, 0.99), 2) if lasts else None
        row["a_cpu_ms_per_broadcast"] = round(send["server"]["cpu_s"] * 1e3 / rounds, 3)
        row["b_cpu_ms_per_broadcast"] = round(send["peer"]["cpu_s"] * 1e3 / rounds, 3)
        row["pair_cpu_ms_per_broadcast"] = round(
            row["a_cpu_ms_per_broadcast"] + row["b_cpu_ms_per_broadcast"], 3)
        row["a_idle_cpu_percent"], row["b_idle_cpu_percent"] = (round(x, 2) for x in idle)
        row["emit_ack_p50_ms"] = round(send["emit_to_ack"]["p50_us"] / 1e3, 2)
        row["window_s"] = round(send["elapsed_s"], 2)
        return row
    finally:
        for g in recvs:
            g.finish()
        for x in servers:
            x.stop()
        redis.stop()


def sc_cluster(name, c, smoke):
    rows = []
    for n, rounds, interval in c["cluster"]:
        for peer in [name] + [x for x in CLUSTER_SERVERS if x != name]:
            row = cluster_once(name, peer, n, rounds, interval, c["cluster_idle_s"])
            if row:
                rows.append(row)
                log(f"  cluster {name}-{peer} {n}+{n}: B last p50 {row['b_last_p50_ms']} ms p99 "
                    f"{row['b_last_p99_ms']} ms ({row['b_complete']}/{row['rounds']} complete), "
                    f"CPU per broadcast A {row['a_cpu_ms_per_broadcast']} ms, "
                    f"B {row['b_cpu_ms_per_broadcast']} ms")
    return rows


RUNNERS = dict(idle=sc_idle, idle_cpu=sc_idle_cpu, echo=sc_echo, fanout=sc_fanout, storm=sc_storm, client=sc_client,
               slow=sc_slow, cluster=sc_cluster)

# ------------------------------------------------------------------------------------------
# Tables


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float):
        if 0 < abs(v) < 0.1:
            return f"{v:.3f}"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def summarize(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None, "–"
    med = statistics.median(vals)
    if len(vals) == 1:
        return med, fmt(med)
    return med, f"{fmt(med)} [{fmt(min(vals))}–{fmt(max(vals))}]"


def table(rows, scenario, keys, metrics, servers, ratio_metrics=(), lower_is_better=()):
    """One markdown table: a row per (key values, server), medians [min-max] over repetitions,
    and for `ratio_metrics` the ratio of each peer to ours (x > 1: ours better)."""
    rows = [r for r in rows if r["scenario"] == scenario]
    if not rows:
        return ""
    groups = []
    for r in rows:
        k = tuple(r.get(x) for x in keys)
        if k not in groups:
            groups.append(k)
    head = keys + ["server", "runs"] + metrics + [f"{m}: ours better by" for m in ratio_metrics]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in groups:
        meds = {}
        for srv in servers:
            rs = [r for r in rows if tuple(r.get(x) for x in keys) == k and r["server"] == srv]
            if not rs:
                continue
            cells = []
            for m in metrics:
                med, txt = summarize([r.get(m) for r in rs])
                meds[(srv, m)] = med
                cells.append(txt)
            ratios = []
            for m in ratio_metrics:
                ours, theirs = meds.get((servers[0], m)), meds.get((srv, m))
                if srv == servers[0] or not ours or not theirs:
                    ratios.append("")
                elif m in lower_is_better:
                    ratios.append(f"{theirs / ours:.2f}x")
                else:
                    ratios.append(f"{ours / theirs:.2f}x")
            out.append("| " + " | ".join([fmt(x) for x in k] + [LABEL.get(srv, srv), str(len(rs))]
                                         + cells + ratios) + " |")
    return "\n".join(out) + "\n"


def paired(rows, scenario, keys, metric, base, other):
    """The cost of `other` against `base` (same code but one switch, e.g. metrics off / on), as
    the ratio other / base of `metric` within each repetition (the two took turns in it): a row
    per key, medians [min-max] of each server and of the ratios."""
    rows = [r for r in rows if r["scenario"] == scenario and r.get(metric) is not None]
    groups = []
    for r in rows:
        k = tuple(r.get(x) for x in keys)
        if k not in groups:
            groups.append(k)
    head = keys + ["reps", f"{base}: {metric}", f"{other}: {metric}", f"{other} / {base}"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in groups:
        by = {}
        for r in rows:
            if tuple(r.get(x) for x in keys) == k and r["server"] in (base, other):
                by.setdefault(r.get("rep"), {})[r["server"]] = r[metric]
        both = [v for v in by.values() if base in v and other in v]
        if not both:
            continue
        ratios = sorted(v[other] / v[base] for v in both if v[base])
        ratio = (f"{statistics.median(ratios):.3f} [{ratios[0]:.3f}–{ratios[-1]:.3f}]"
                 if ratios else "–")
        out.append("| " + " | ".join(
            [fmt(x) for x in k] + [str(len(both)), summarize([v[base] for v in both])[1],
                                   summarize([v[other] for v in both])[1], ratio]) + " |")
    return "\n".join(out) + "\n"


def markdown(rows, servers):
    low = {"rss_per_conn_kb", "kernel_tcp_per_conn_kb", "idle_cpu_percent", "server_cpu_us_per_ack",
           "p99_us", "last_p99_ms", "last_p50_ms", "server_cpu_ms_per_broadcast", "all_back_s",
           "server_cpu_us_per_handshake", "rss_per_conn_kib", "rss_peak_kib"}
    parts = []
    parts.append("### (a) Idle connections\n\n" + table(
        rows, "idle", ["transport", "clients"],
        ["connected", "rss_per_conn_kb", "kernel_tcp_per_conn_kb"],
        servers, ["rss_per_conn_kb"], low))
    parts.append("### (a) CPU while idle, over one ping interval\n\n" + table(
        rows, "idle_cpu", ["clients", "window_s"], ["connected", "idle_cpu_percent"],
        servers, ["idle_cpu_percent"], low))
    parts.append("### (b) Echo with acks (closed loop)\n\n" + table(
        rows, "echo", ["clients", "window", "payload"],
        ["acks_per_s", "p50_us", "p99_us", "p999_us", "server_cpu_us_per_ack", "server_cpu_percent"],
        servers, ["server_cpu_us_per_ack", "acks_per_s"], low))
    parts.append("### (b) Echo, open loop (100 clients, 60 B)\n\n" + table(
        rows, "echo_open", ["offered_per_s"],
        ["acks_per_s", "p50_us", "p99_us", "p999_us", "server_cpu_us_per_ack", "server_cpu_percent"],
        servers, ["p99_us"], low))
    if "sio" in servers and "sio_metrics" in servers:
        for sc, keys in [("echo", ["clients", "window", "payload"]), ("echo_open", ["offered_per_s"])]:
            if any(r["scenario"] == sc for r in rows):
                parts.append(f"### (b) {sc}: server CPU per ack, metrics on / off, paired by "
                             "repetition\n\n" + paired(rows, sc, keys, "server_cpu_us_per_ack",
                                                        "sio", "sio_metrics"))
    parts.append("### (c) Broadcast fan-out (50 B)\n\n" + table(
        rows, "fanout", ["receivers"],
        ["complete_rounds", "first_p50_ms", "last_p50_ms", "last_p99_ms", "deliveries_per_s",
         "server_cpu_ms_per_broadcast", "rss_peak_kib"],
        servers, ["last_p99_ms", "server_cpu_ms_per_broadcast"], low))
    parts.append("### (d) Connection storm\n\n" + table(
        rows, "storm", ["mode", "clients"],
        ["connected", "failed", "handshakes_per_s", "connect_p99_ms", "listen_drops",
         "server_cpu_us_per_handshake", "server_cpu_percent", "generator_cpu_percent"],
        servers, ["handshakes_per_s", "server_cpu_us_per_handshake"], low))
    parts.append("### (d) Avalanche\n\n" + table(
        rows, "avalanche", ["clients"],
        ["back", "all_back_s", "reconnect_p50_ms", "retries", "listen_drops", "server_cpu_s"],
        servers, ["all_back_s"], low))
    clients = ["sio-client", "socket.io-client"]
    parts.append("### (e) Client side\n\n" + table(
        rows, "client_idle", ["clients"], ["connected", "rss_per_conn_kib"], clients,
        ["rss_per_conn_kib"], low) + "\n" + table(
        rows, "client_recv", ["source", "clients"],
        ["events_per_s", "client_cpu_s", "events_per_cpu_s", "source_cpu_percent"],
        clients, ["events_per_s", "events_per_cpu_s"], low))
    parts.append("### (f) Slow consumer\n\n" + table(
        rows, "slow", ["stalled", "receivers"],
        ["broadcasts_per_s", "delivered_fraction", "others_p50_ms", "others_p99_ms",
         "rss_before_kib", "rss_peak_kib", "rss_after_kib"],
        servers, [], low))
    pairs = [f"{x}-{y}" for x in CLUSTER_SERVERS for y in CLUSTER_SERVERS]
    pairs = [pairs[0], pairs[3], pairs[1], pairs[2]]  # sio-sio, node-node, sio-node, node-sio
    parts.append("### (g) Two nodes on one Redis: a broadcast sent on A\n\n" + table(
        rows, "cluster", ["clients_per_node"],
        ["b_complete", "b_last_p50_ms", "b_last_p99_ms", "a_last_p50_ms", "a_last_p99_ms",
         "a_cpu_ms_per_broadcast", "b_cpu_ms_per_broadcast", "pair_cpu_ms_per_broadcast",
         "a_idle_cpu_percent", "b_idle_cpu_percent"],
        pairs, ["b_last_p99_ms", "b_cpu_ms_per_broadcast", "pair_cpu_ms_per_broadcast"],
        low | {"b_last_p50_ms", "b_last_p99_ms", "b_cpu_ms_per_broadcast",
               "pair_cpu_ms_per_broadcast"}))
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------
# Plots (hand-written SVG: no plotting library needed)

COLORS = {"sio": "#d62728", "node": "#2ca02c", "socketioxide": "#1f77b4", "sio_metrics": "#ff7f0e"}


def svg_plot(path, title, xlabel, ylabel, series, logy=False):
    """series: {name: [(x, y), ...]} → a line chart."""
    import math
    W, H, L, R, TOP, B = 640, 400, 70, 150, 40, 50
    pts = [p for s in series.values() for p in s if p[1] is not None]
    if not pts:
        return
    xmax = max(p[0] for p in pts) * 1.05
    ymin = min(p[1] for p in pts)
    ymax = max(p[1] for p in pts)
    if logy:
        ymin, ymax = math.log10(max(ymin, 1e-3)) - 0.1, math.log10(ymax) + 0.1
    else:
        ymin, ymax = 0, ymax * 1.1
    fy = (lambda y: math.log10(max(y, 1e-3))) if logy else (lambda y: y)
    sx = lambda x: L + x / xmax * (W - L - R)
    sy = lambda y: H - B - (fy(y) - ymin) / (ymax - ymin or 1) * (H - TOP - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{TOP}" x2="{L}" y2="{H - B}" stroke="black"/>',
         f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">{xlabel}</text>',
         f'<text x="16" y="{(TOP + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(TOP + H - B) / 2})">{ylabel}</text>']
    for i in range(6):
        x = xmax * i / 5
        o.append(f'<text x="{sx(x)}" y="{H - B + 16}" text-anchor="middle">{fmt(round(x))}</text>')
        yv = ymin + (ymax - ymin) * i / 5
        label = 10 ** yv if logy else yv
        ypix = H - B - (yv - ymin) / (ymax - ymin or 1) * (H - TOP - B)
        o.append(f'<text x="{L - 6}" y="{ypix + 4}" text-anchor="end">{fmt(round(label, 2) if label < 10 else round(label))}</text>')
        o.append(f'<line x1="{L}" y1="{ypix}" x2="{W - R}" y2="{ypix}" stroke="#ddd"/>')
    for j, (name, s) in enumerate(series.items()):
        s = [p for p in s if p[1] is not None]
        color = COLORS.get(name.split(" ")[0], ["#9467bd", "#8c564b", "#e377c2"][j % 3])
        dash = ' stroke-dasharray="5,3"' if "p99" in name else ""
        if s:
            o.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="' +
                     " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s) + '"/>')
            for x, y in s:
                o.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>')
        o.append(f'<line x1="{W - R + 10}" y1="{TOP + 10 + j * 18}" x2="{W - R + 30}" y2="{TOP + 10 + j * 18}" stroke="{color}" stroke-width="2"{dash}/>')
        o.append(f'<text x="{W - R + 35}" y="{TOP + 14 + j * 18}">{name}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def plots(rows, servers, out):
    med = lambda rs, k: statistics.median([r[k] for r in rs if r.get(k) is not None]) if any(r.get(k) is not None for r in rs) else None
    series = {}
    for srv in servers:
        rs = [r for r in rows if r["scenario"] == "echo_open" and r["server"] == srv]
        rates = sorted({r["offered_per_s"] for r in rs})
        for q in ["p50_us", "p99_us"]:
            series[f"{srv} {q[:3]}"] = [(x, (lambda v: v / 1e3 if v else None)(med([r for r in rs if r["offered_per_s"] == x], q))) for x in rates]
    svg_plot(os.path.join(out, "echo-latency-vs-load.svg"),
             "Echo with ack, 100 clients, 60 B: latency vs offered load", "offered acks/s",
             "latency (ms, log)", series, logy=True)
    series = {}
    for srv in servers:
        rs = [r for r in rows if r["scenario"] == "idle" and r["server"] == srv and r["transport"] == "websocket"]
        ns = sorted({r["clients"] for r in rs})
        series[srv] = [(n, (lambda v: v / 1024 if v else None)(med([r for r in rs if r["clients"] == n], "rss_after_kib"))) for n in ns]
    svg_plot(os.path.join(out, "idle-rss-vs-connections.svg"),
             "Idle WebSocket connections: server RSS", "connections", "RSS (MiB)", series)


# ------------------------------------------------------------------------------------------


def versions():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except Exception:
            return "?"
    sio_version = json.load(open(os.path.join(ROOT, "tests/node_modules/socket.io/package.json")))["version"]
    bu = os.path.isdir(os.path.join(ROOT, "tests/node_modules/bufferutil"))
    lock = open(os.path.join(ROOT, "Cargo.lock")).read()
    m = re.search(r'name = "socketioxide"\nversion = "([^"]+)"', lock)
    cpu_model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": sh("git rev-parse --short HEAD") + (" (dirty)" if sh("git status --porcelain -uno") else ""),
        "machine": f"{os.cpu_count()} vCPU {cpu_model}, "
                   f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, Linux {os.uname().release}",
        "rustc": sh("rustc --version"),
        "node": sh("node --version"),
        "socket.io": f"{sio_version} (ws engine, bufferutil {'yes' if bu else 'no'})",
        "socketioxide": m.group(1) if m else "?",
        "load_average": open("/proc/loadavg").read().split()[0:3],
        "network": "private namespace (unshare -n)" if os.environ.get("SIO_BENCH_NETNS") else "shared",
        "somaxconn": open("/proc/sys/net/core/somaxconn").read().strip(),
    }


def write_outputs(rows, servers, out, header):
    md = header + markdown(rows, servers)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(md)
    for sc in sorted({r["scenario"] for r in rows}):
        keys = []
        for r in rows:
            if r["scenario"] == sc:
                keys += [k for k in r if k not in keys]
        with open(os.path.join(out, f"{sc}.csv"), "w") as f:
            f.write(",".join(keys) + "\n")
            for r in rows:
                if r["scenario"] == sc:
                    f.write(",".join("" if r.get(k) is None else str(r.get(k)).replace(",", ";") for k in keys) + "\n")
    plots(rows, servers, out)
    return md


def header(v, reps, seconds):
    return (f"Run of {v['date']}, commit {v['commit']}, {reps} repetition(s), {seconds:.0f} s in all.\n"
            f"Machine: {v['machine']}; load average at the start {' '.join(v['load_average'])}.\n"
            f"Network: {v.get('network', '?')}, somaxconn {v.get('somaxconn', '?')}.\n"
            f"{v['rustc']}; Node {v['node']}; socket.io {v['socket.io']}; socketioxide {v['socketioxide']}.\n\n")


def render(files, servers, out):
    rows, heads = [], []
    for path in files:
        with open(path) as f:
            first = json.loads(f.readline())
            heads.append(header(first["versions"], first["reps"], 0).replace(", 0 s in all", ""))
            rows += [json.loads(l) for l in f if l.strip()]
    os.makedirs(out, exist_ok=True)
    print(write_outputs(rows, servers, out, "".join(heads)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="small and short: every scenario, 1k clients")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3, smoke 1)")
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help=f"comma-separated, among {', '.join(SERVERS + EXTRA_SERVERS)} "
                         f"(default {','.join(SERVERS)}); the first is 'ours' in the ratios")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--out", default=None, help="results directory (default bench/results, smoke: a temp dir)")
    ap.add_argument("--perf", action="store_true",
                    help="cluster scenario: `perf record -g` both nodes during the broadcasts "
                         "(perf-<A>-<B>-<clients>-<a|b>.data in --out; CPU figures then include "
                         "perf's overhead)")
    ap.add_argument("--render", nargs="+", metavar="RAW_JSONL",
                    help="no run: tables, CSVs and plots from the raw files of earlier runs")
    a = ap.parse_args()
    if a.render:
        render(a.render, a.servers.split(","), a.out or os.path.join(ROOT, "bench", "results"))
        return
    c = SMOKE if a.smoke else FULL
    reps = a.reps or (1 if a.smoke else 3)
    servers = a.servers.split(",")
    scenarios = a.scenarios.split(",")
    out = a.out or (os.path.join("/tmp", f"sio-bench-smoke-{os.getpid()}") if a.smoke else os.path.join(ROOT, "bench", "results"))
    os.makedirs(out, exist_ok=True)
    LOGDIR[0] = out
    PERF[0] = a.perf
    v = versions()
    log("versions: " + json.dumps(v))
    rows = []
    started = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    raw = open(os.path.join(out, f"raw-{stamp}.jsonl"), "w")
    raw.write(json.dumps({"versions": v, "config": c, "reps": reps}) + "\n")
    missing = []
    for rep in range(reps):
        for sc in scenarios:
            for srv in servers:
                if sc == "client" and srv != servers[0]:
                    continue
                if sc == "cluster" and srv not in CLUSTER_SERVERS:
                    continue
                log(f"== rep {rep + 1}/{reps} {sc} {srv} ({time.time() - started:.0f} s)")
                t0 = time.time()
                try:
                    got = RUNNERS[sc]("sio" if sc == "client" else srv, c, a.smoke)
                except Exception as e:  # one failing server must not lose the others' results
                    log(f"  {sc} {srv} failed: {e!r}")
                    got = []
                if not got:
                    missing.append(f"{sc}/{srv}/rep{rep + 1}")
                for r in got:
                    r["rep"] = rep + 1
                    raw.write(json.dumps(r) + "\n")
                raw.flush()
                rows += got
                log(f"  ({time.time() - t0:.0f} s)")
    raw.close()
    md = write_outputs(rows, servers, out, header(v, reps, time.time() - started))
    print(md)
    log(f"results in {out} ({time.time() - started:.0f} s)")
    if missing:
        log("NO RESULT for: " + ", ".join(missing))
        sys.exit(1)


if __name__ == "__main__":
    main()
