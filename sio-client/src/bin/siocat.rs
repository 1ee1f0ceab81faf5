//! `siocat`: a Socket.IO client on the command line, JSON lines in and out.
//!
//! ```text
//! siocat URL [--namespace NS]... [--transport default|polling|websocket] [--auth JSON]
//!            [--header 'K: V']... [--query K=V]... [--no-reconnect] [--ack-timeout MS]
//! ```
//!
//! Each line of stdin is one emit:
//! `{"emit":"EVENT","args":[...],"ack":true,"namespace":"/x"}` (`args`, `ack` and `namespace`
//! are optional; the namespace defaults to the first `--namespace`, else `/`; a namespace not
//! given on the command line is joined on first use). Each thing that happens is one JSON
//! line on stdout: `connect` (`{"connect":{"namespace":"/","id":"...","recovered":false}}`,
//! `recovered` true when the server restored the socket's session), `event`, `ack`,
//! `connect_error` (`message` as socket.io-client has it, the server's `data`, and the
//! `cause` of a transport failure, `"xhr poll error"` caused by `"error sending request..."`),
//! `disconnect`, `reconnect_attempt`, `reconnect`, `upgrade`. Binary values travel as
//! `{"$binary":"<base64>"}` both ways. A line that is not a valid emit is reported on stderr
//! and skipped.
//!
//! At the end of stdin, siocat waits (at most the ack timeout) for the namespaces it emitted
//! to to connect or fail, so that buffered emits go out, then for the pending acks (answered
//! or timed out), then leaves every namespace and exits 0.

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value as Json, json};
use sio_client::{Args, Manager, ManagerEvent, Options, Socket, TransportKind, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

const USAGE: &str = "usage: siocat URL [--namespace NS]... [--transport default|polling|websocket] \
[--auth JSON] [--header 'K: V']... [--query K=V]... [--no-reconnect] [--ack-timeout MS]";

/// The default of `--ack-timeout`.
const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the last packets (the DISCONNECTs) get to leave before the process exits.
const FLUSH_GRACE: Duration = Duration::from_millis(200);

/// The command line.
#[derive(Debug)]
struct Cli {
    url: String,
    namespaces: Vec<String>,
    options: Options,
    auth: Option<Value>,
    ack_timeout: Duration,
}

fn parse_cli(args: impl IntoIterator<Item = String>) -> Result<Cli, String> {
    let mut args = args.into_iter();
    let mut url = None;
    let mut namespaces = Vec::new();
    let mut options = Options::default();
    let mut auth = None;
    let mut ack_timeout = DEFAULT_ACK_TIMEOUT;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--namespace" => namespaces.push(normalize(&value("--namespace")?)),
            "--transport" => {
                options = match value("--transport")?.as_str() {
                    "default" => options,
                    "polling" => options.transports([TransportKind::Polling]),
                    "websocket" => options.transports([TransportKind::WebSocket]),
                    other => return Err(format!("unknown transport {other:?}")),
                }
            }
            "--auth" => {
                let text = value("--auth")?;
                let json: Json = serde_json::from_str(&text).map_err(|e| format!("--auth: {e}"))?;
                auth = Some(from_json(json));
            }
            "--header" => {
                let header = value("--header")?;
                let (name, val) = header
                    .split_once(':')
                    .ok_or_else(|| format!("--header {header:?}: expected 'Name: value'"))?;
                options = options.extra_header(name.trim(), val.trim());
            }
            "--query" => {
                let pair = value("--query")?;
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--query {pair:?}: expected K=V"))?;
                options = options.query(k, v);
            }
            "--no-reconnect" => options = options.reconnection(false),
            "--ack-timeout" => {
                let ms = value("--ack-timeout")?;
                let ms: u64 = ms
                    .parse()
                    .map_err(|_| format!("--ack-timeout {ms:?}: expected milliseconds"))?;
                ack_timeout = Duration::from_millis(ms);
            }
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            _ if url.is_none() => url = Some(arg),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let url = url.ok_or_else(|| "missing URL".to_owned())?;
    Ok(Cli {
        url,
        namespaces,
        options,
        auth,
        ack_timeout,
    })
}

fn normalize(nsp: &str) -> String {
    if nsp.starts_with('/') {
        nsp.to_owned()
    } else {
        format!("/{nsp}")
    }
}

/// JSON to a [`Value`]: `{"$binary": "<base64>"}` (and nothing else in the object) is binary.
fn from_json(json: Json) -> Value {
    match json {
        Json::Array(items) => Value::Array(items.into_iter().map(from_json).collect()),
        Json::Object(map) => {
            if map.len() == 1
                && let Some(Json::String(b64)) = map.get("$binary")
                && let Ok(bytes) = BASE64.decode(b64)
            {
                return Value::Binary(bytes.into());
            }
            Value::Object(map.into_iter().map(|(k, v)| (k, from_json(v))).collect())
        }
        other => Value::from(other),
    }
}

/// A [`Value`] to JSON, binary as `{"$binary": "<base64>"}`.
fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::Binary(bytes) => json!({ "$binary": BASE64.encode(bytes) }),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

fn args_json(args: &Args) -> Json {
    match args.to_values() {
        Ok(values) => Json::Array(values.iter().map(to_json).collect()),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Writes one line on stdout (a closed stdout is ignored: nobody reads any more).
fn out(line: &Json) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// One line of stdin.
#[derive(Debug, PartialEq)]
struct EmitLine {
    event: String,
    args: Vec<Value>,
    ack: bool,
    namespace: Option<String>,
}

fn parse_line(line: &str) -> Result<EmitLine, String> {
    let json: Json = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Json::Object(mut map) = json else {
        return Err("expected an object".to_owned());
    };
    let event = match map.remove("emit") {
        Some(Json::String(event)) => event,
        _ => return Err("\"emit\" must be the event name".to_owned()),
    };
    let args = match map.remove("args") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items.into_iter().map(from_json).collect(),
        Some(_) => return Err("\"args\" must be an array".to_owned()),
    };
    let ack = match map.remove("ack") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(ack)) => ack,
        Some(_) => return Err("\"ack\" must be a boolean".to_owned()),
    };
    let namespace = match map.remove("namespace") {
        None | Some(Json::Null) => None,
        Some(Json::String(nsp)) => Some(normalize(&nsp)),
        Some(_) => return Err("\"namespace\" must be a string".to_owned()),
    };
    Ok(EmitLine {
        event,
        args,
        ack,
        namespace,
    })
}

/// A socket whose every event becomes a line on stdout, connected at once.
fn open_socket(manager: &Manager, nsp: &str, auth: Option<&Value>) -> Socket {
    let socket = manager.socket(nsp);
    if let Some(auth) = auth {
        let auth = auth.clone();
        socket.set_auth_with(move || auth.clone());
    }
    let name = nsp.to_owned();
    let handle = socket.clone();
    socket.on_connect(move || {
        out(&json!({"connect": {
            "namespace": name,
            "id": handle.id(),
            "recovered": handle.recovered(),
        }}));
    });
    let name = nsp.to_owned();
    socket.on_any(move |msg| {
        out(&json!({"event": msg.event(), "namespace": name, "args": args_json(msg.args())}));
    });
    let name = nsp.to_owned();
    socket.on_connect_error(move |err| {
        let data = err.data().map(to_json);
        let mut body = json!({"namespace": name, "message": err.to_string()});
        if let Some(data) = data {
            body["data"] = data;
        }
        // What caused it (a transport's error), each cause after the one it caused.
        let mut causes = Vec::new();
        let mut cause = std::error::Error::source(&err);
        while let Some(e) = cause {
            causes.push(e.to_string());
            cause = e.source();
        }
        if !causes.is_empty() {
            body["cause"] = json!(causes.join(": "));
        }
        out(&json!({ "connect_error": body }));
    });
    let name = nsp.to_owned();
    socket.on_disconnect(move |reason| {
        out(&json!({"disconnect": {"namespace": name, "reason": reason.as_str()}}));
    });
    socket.connect();
    socket
}

fn manager_events(manager: &Manager) {
    manager.on(|event| match event {
        ManagerEvent::ReconnectAttempt(n) => out(&json!({ "reconnect_attempt": n })),
        ManagerEvent::Reconnect(n) => out(&json!({ "reconnect": n })),
        ManagerEvent::Upgrade(transport) => out(&json!({ "upgrade": transport.as_str() })),
        _ => {}
    });
}

/// Reads stdin on a thread of its own (stdin has no portable async reader) into a channel.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        // By bytes: a line that is not UTF-8 is reported like any bad line, not the end.
        for line in std::io::stdin().lock().split(b'\n') {
            let Ok(line) = line else { return };
            if tx
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

async fn run(cli: Cli) -> Result<(), String> {
    let manager = Manager::new(&cli.url, cli.options).map_err(|e| e.to_string())?;
    manager_events(&manager);
    let default_nsp = cli
        .namespaces
        .first()
        .cloned()
        .unwrap_or_else(|| "/".to_owned());
    let mut sockets: HashMap<String, Socket> = HashMap::new();
    let wanted = if cli.namespaces.is_empty() {
        vec!["/".to_owned()]
    } else {
        cli.namespaces.clone()
    };
    for nsp in wanted {
        let socket = open_socket(&manager, &nsp, cli.auth.as_ref());
        sockets.insert(nsp, socket);
    }
    let mut acks = JoinSet::new();
    let mut lines = stdin_lines();
    while let Some(line) = lines.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        let emit = match parse_line(&line) {
            Ok(emit) => emit,
            Err(e) => {
                eprintln!("siocat: skipped line {line:?}: {e}");
                continue;
            }
        };
        let nsp = emit.namespace.unwrap_or_else(|| default_nsp.clone());
        let socket = sockets
            .entry(nsp.clone())
            .or_insert_with(|| open_socket(&manager, &nsp, cli.auth.as_ref()))
            .clone();
        let args = Args::from_values(emit.args);
        if emit.ack {
            let socket = socket.timeout(cli.ack_timeout);
            let event = emit.event;
            acks.spawn(async move {
                let line = match socket.emit_with_ack_args(&event, args).await {
                    Ok(args) => {
                        json!({"ack": {"event": event, "namespace": nsp, "args": args_json(&args)}})
                    }
                    Err(e) => {
                        json!({"ack": {"event": event, "namespace": nsp, "error": e.to_string()}})
                    }
                };
                out(&line);
            });
        } else if let Err(e) = socket.emit_args(&emit.event, args) {
            eprintln!("siocat: cannot emit {:?}: {e}", emit.event);
        }
    }
    // Buffered emits leave once their namespace connects: wait for it (or its failure).
    let deadline = tokio::time::Instant::now() + cli.ack_timeout;
    while sockets.values().any(|s| s.active() && !s.connected())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while acks.join_next().await.is_some() {}
    for socket in sockets.values() {
        socket.disconnect();
    }
    tokio::time::sleep(FLUSH_GRACE).await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = match parse_cli(std::env::args().skip(1)) {
        Ok(cli) => cli,
        // `--help`: the usage on stdout.
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("siocat: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("siocat: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("siocat: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli, String> {
        parse_cli(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn command_line() {
        let c = cli(&[
            "http://h:1",
            "--namespace",
            "admin",
            "--namespace",
            "/",
            "--transport",
            "websocket",
            "--auth",
            r#"{"token":"x"}"#,
            "--header",
            "X-A: b c",
            "--query",
            "k=v=w",
            "--no-reconnect",
            "--ack-timeout",
            "250",
        ])
        .unwrap();
        assert_eq!(c.url, "http://h:1");
        assert_eq!(c.namespaces, ["/admin", "/"]);
        assert_eq!(c.options.transports, [TransportKind::WebSocket]);
        assert_eq!(c.auth.unwrap()["token"], Value::from("x"));
        assert_eq!(
            c.options.extra_headers,
            [("X-A".to_owned(), "b c".to_owned())]
        );
        assert_eq!(c.options.query, [("k".to_owned(), "v=w".to_owned())]);
        assert!(!c.options.reconnection);
        assert_eq!(c.ack_timeout, Duration::from_millis(250));
        assert!(cli(&[]).is_err());
        assert!(cli(&["u", "--transport", "carrier-pigeon"]).is_err());
        assert!(cli(&["u", "--auth", "{"]).is_err());
        assert!(cli(&["u", "--header", "nocolon"]).is_err());
        assert!(cli(&["u", "--ack-timeout"]).is_err());
        assert!(cli(&["u", "v"]).is_err());
        assert!(cli(&["u", "--bogus"]).is_err());
    }

    #[test]
    fn lines() {
        let line = parse_line(
            r#"{"emit":"e","args":[1,{"$binary":"AAH/"},{"$binary":"x","y":1}],"ack":true,"namespace":"a"}"#,
        )
        .unwrap();
        assert_eq!(line.event, "e");
        assert!(line.ack);
        assert_eq!(line.namespace.as_deref(), Some("/a"));
        assert_eq!(
            line.args[1].as_binary().map(|b| &b[..]),
            Some(&[0, 1, 255][..])
        );
        // Not the binary form: an object like any other.
        assert!(line.args[2].as_object().is_some());
        let plain = parse_line(r#"{"emit":"e"}"#).unwrap();
        assert_eq!(
            (plain.args.len(), plain.ack, plain.namespace),
            (0, false, None)
        );
        for bad in [
            "",
            "nope",
            "[1]",
            r#"{"args":[]}"#,
            r#"{"emit":1}"#,
            r#"{"emit":"e","args":1}"#,
            r#"{"emit":"e","ack":"yes"}"#,
            r#"{"emit":"e","namespace":2}"#,
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn binary_round_trip() {
        let json = json!(["a", {"b": {"$binary": "AAH/"}}, [{"$binary": ""}], 1.5, null]);
        let value = from_json(json.clone());
        assert_eq!(
            value[1]["b"].as_binary().map(|b| &b[..]),
            Some(&[0, 1, 255][..])
        );
        assert_eq!(to_json(&value), json);
    }
}
