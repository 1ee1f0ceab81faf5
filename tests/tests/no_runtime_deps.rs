//! `sio-protocol` is sans-IO: no async runtime, HTTP or WebSocket crate may
//! appear among its normal dependencies, whatever its features.

use std::process::Command;

/// Crates that would tie the protocol core to a runtime or to I/O.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "hyper",
    "hyper-util",
    "reqwest",
    "http",
    "tokio-tungstenite",
    "tungstenite",
    "mio",
    "async-std",
    "smol",
    "futures-io",
];

/// The crate names listed by `cargo tree -p sio-protocol -e normal --prefix none`
/// with the extra arguments `extra`.
fn dependency_names(extra: &[&str]) -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = sio_test_support::workspace_root();
    let output = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "tree",
            "-p",
            "sio-protocol",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--target",
            "all",
        ])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?} tree: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree {extra:?} failed ({}):\n{}\n{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // Lines look like `serde v1.0.219` or `sio-protocol v0.1.0 (/path) (*)`.
    stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn check(extra: &[&str]) {
    let names = dependency_names(extra);
    assert!(
        names.iter().any(|n| n == "sio-protocol"),
        "cargo tree {extra:?} does not list sio-protocol itself, so the check would prove nothing: {names:?}"
    );
    let found: Vec<&String> = names
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "sio-protocol must not depend on a runtime or I/O crate, but cargo tree {extra:?} lists {found:?}"
    );
}

#[test]
fn no_runtime_dependencies_with_default_features() {
    check(&[]);
}

#[test]
fn no_runtime_dependencies_with_all_features() {
    check(&["--all-features"]);
}
