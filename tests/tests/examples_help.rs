//! Every example of the workspace answers `--help` with its usage and exits 0 at once, without
//! starting a server or opening a connection, and refuses an unknown flag with exit code 2
//! and the usage on stderr.
//!
//! The examples are built the way the other tests that start examples build them
//! (`cargo build --workspace --all-features --examples`, a no-op when `cargo test` built them
//! already), and found by name in cargo's JSON messages.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// Each example and what its usage must mention: its flags, positional arguments and
/// environment variables.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "conformance",
        &[
            "--eio3",
            "--engine-io",
            "--recovery",
            "--redis URL",
            "--sharded",
            "--cluster",
            "--name NAME",
            "--requests-timeout MS",
            "PORT",
        ],
    ),
    (
        "chat",
        &[
            "--redis URL",
            "--name NAME",
            "PORT",
            "SIO_CLIENT_BUNDLE",
            "SIO_ADMIN_PASSWORD",
            "SIO_ADMIN_MODE",
            "production",
        ],
    ),
    ("engine_axum", &["PORT"]),
    ("engine_echo", &["PORT"]),
    ("hyper_server", &["PORT"]),
    ("prometheus", &["PORT", "/metrics"]),
    ("client", &["URL"]),
    ("idle_clients", &["URL", "N", "SETTLE_SECONDS"]),
    (
        "admin",
        &[
            "PORT",
            "SIO_ADMIN_USER",
            "SIO_ADMIN_PASSWORD",
            "SIO_ADMIN_MODE",
            "SIO_ADMIN_READONLY",
        ],
    ),
    ("demo", &[]),
];

/// Examples that are not user-facing programs and keep their own argument handling:
/// `profile_codec` (sio-protocol) takes a mode, a case and a count for callgrind runs.
const NOT_CHECKED: &[&str] = &["profile_codec"];

/// How long one run may take: `--help` must print and exit without starting anything.
const QUICK: Duration = Duration::from_secs(10);

/// Builds every example of the workspace and returns each one's executable by name.
async fn build_examples() -> BTreeMap<String, PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = tokio::process::Command::new(cargo)
        .args([
            "build",
            "--workspace",
            "--all-features",
            "--examples",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(sio_test_support::workspace_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(900), build)
        .await
        .expect("`cargo build --examples` finished in 15 minutes")
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cargo build --examples failed:\n{stderr}"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k == "example"))
        })
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_owned();
            let exe = PathBuf::from(m["executable"].as_str()?);
            Some((name, exe))
        })
        .collect()
}

/// Runs `exe args...` with no input and returns (exit code, stdout, stderr), failing when it
/// takes longer than [`QUICK`] (it is killed then).
async fn run(exe: &PathBuf, args: &[&str]) -> (Option<i32>, String, String) {
    let child = tokio::process::Command::new(exe)
        .args(args)
        // Port 0: were an example to start a server anyway, it would take a free port
        // rather than collide with another test's (and the timeout below would catch it).
        .env("PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(QUICK, child)
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} did not exit within {QUICK:?}", exe.display()))
        .expect("the example runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_prints_its_usage_on_help_and_refuses_unknown_flags() {
    let built = build_examples().await;
    let mut names: Vec<&str> = built
        .keys()
        .map(String::as_str)
        .filter(|n| !NOT_CHECKED.contains(n))
        .collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    expected.sort_unstable();
    assert_eq!(
        names, expected,
        "the examples built are not the ones this test knows: give a new example a --help \
         and list it in EXPECTED"
    );

    for (name, mentions) in EXPECTED {
        let exe = &built[*name];
        for help in ["--help", "-h"] {
            let (code, stdout, stderr) = run(exe, &[help]).await;
            assert_eq!(
                code,
                Some(0),
                "{name} {help} exits 0\nstdout:\n{stdout}\nstderr:\n{stderr}"
            );
            assert!(
                stdout.contains(&format!("usage: {name}")),
                "{name} {help} prints `usage: {name}`:\n{stdout}"
            );
            assert!(
                stdout.contains("--help"),
                "{name} {help} lists --help:\n{stdout}"
            );
            for mention in *mentions {
                assert!(
                    stdout.contains(mention),
                    "{name} {help} mentions `{mention}`:\n{stdout}"
                );
            }
        }

        let (code, stdout, stderr) = run(exe, &["--no-such-flag"]).await;
        assert_eq!(
            code,
            Some(2),
            "{name} --no-such-flag exits 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stderr.contains("--no-such-flag") && stderr.contains(&format!("usage: {name}")),
            "{name} --no-such-flag names the flag and prints the usage on stderr:\n{stderr}"
        );
    }
}
