//! The sleeps of the test code, counted with one definition (docs/api-review.md, decision 5).
//!
//! Test code: every `.rs` file under a `tests/` directory of a workspace crate (`sio-server/tests`,
//! `sio-client/tests`, `tests/tests`, ...) and the support crate's `test-support/src`. A sleep:
//! a call of `sleep(` or `sleep_until(` (`tokio::time::sleep`, `std::thread::sleep`, ...) on a
//! line that is not a comment. Every sleep carries one of these markers, in a comment on its
//! line or in the comment lines right above it:
//!
//! - `wall-clock: <why>`: a real wait for something that has no event to wait on. At most
//!   [`MAX_WALL_CLOCK`] in all test code (the decision's target: [`TARGET_WALL_CLOCK`]).
//! - `virtual time`: a sleep on tokio's paused clock (`start_paused = true`,
//!   `time::pause()`), which advances at once when every task is idle: exact, not a wait. Only
//!   in files that pause the clock.
//! - `scenario: <what>`: pacing that is part of the scenario under test, not a wait for a
//!   condition: a handler that emits every few milliseconds, a slow client that dribbles bytes,
//!   a proxy's configured latency or outage.
//! - `poll: <why>`: the check interval of `sio_test_support::wait::until`, the one polling
//!   loop (a bounded wait that ends as soon as its condition holds). Only in `test-support`.
//!
//! `cargo test -p sio-tests --test sleeps -- --nocapture` prints the count per marker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The most wall-clock sleeps all test code may hold: a ratchet at today's count, none (each of
/// the 11 there were became an event: docs/api-review.md, decision 5). The decision's target,
/// [`TARGET_WALL_CLOCK`], is met.
const MAX_WALL_CLOCK: usize = 0;

/// The most wall-clock sleeps the decision allows.
const TARGET_WALL_CLOCK: usize = 5;

// The ratchet never goes back above the target (always true at 0: it guards a change).
#[allow(clippy::absurd_extreme_comparisons)]
const _: () = assert!(MAX_WALL_CLOCK <= TARGET_WALL_CLOCK);

/// The calls counted, spelled so that this file does not count itself.
const CALLS: [&str; 2] = [concat!("sle", "ep("), concat!("sle", "ep_until(")];

const WALL_CLOCK: &str = "wall-clock:";
const VIRTUAL: &str = "virtual time";
const SCENARIO: &str = "scenario:";
const POLL: &str = "poll:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    WallClock,
    Virtual,
    Scenario,
    Poll,
}

#[derive(Debug)]
struct Sleep {
    file: String,
    line: usize,
    kind: Option<Kind>,
}

/// The code part of a line: `None` for a comment line, else the text before a `//` comment.
fn split(line: &str) -> (Option<&str>, &str) {
    let trimmed = line.trim_start();
    if trimmed.starts_with("//") {
        return (None, trimmed);
    }
    match line.find("//") {
        Some(i) => (Some(&line[..i]), &line[i..]),
        None => (Some(line), ""),
    }
}

fn has_call(code: &str) -> bool {
    CALLS.iter().any(|call| {
        code.match_indices(call).any(|(i, _)| {
            // `sleep(` itself, not `my_sleep(`.
            let before = code[..i].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

fn kind_of(comment: &str) -> Option<Kind> {
    let reason = |marker: &str| {
        comment
            .find(marker)
            .is_some_and(|i| !comment[i + marker.len()..].trim().is_empty())
    };
    if reason(WALL_CLOCK) {
        Some(Kind::WallClock)
    } else if comment.contains(VIRTUAL) {
        Some(Kind::Virtual)
    } else if reason(SCENARIO) {
        Some(Kind::Scenario)
    } else if reason(POLL) {
        Some(Kind::Poll)
    } else {
        None
    }
}

/// The sleeps of one file's source.
fn sleeps(file: &str, source: &str) -> Vec<Sleep> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let (Some(code), comment) = split(line) else {
            continue;
        };
        if !has_call(code) {
            continue;
        }
        // The comment on the line, then the comment lines right above it.
        let mut kind = kind_of(comment);
        let mut j = i;
        while kind.is_none() && j > 0 {
            j -= 1;
            match split(lines[j]) {
                (None, above) => kind = kind_of(above),
                _ => break,
            }
        }
        found.push(Sleep {
            file: file.to_owned(),
            line: i + 1,
            kind,
        });
    }
    found
}

/// Whether the file puts tokio's clock on pause somewhere.
fn pauses_time(source: &str) -> bool {
    source.contains("start_paused = true") || source.contains("time::pause()")
}

/// What is wrong with the sleeps of the files (`(path, source)`), with at most `max_wall_clock`
/// wall-clock sleeps allowed, and the count per kind.
fn check(
    files: &[(String, String)],
    max_wall_clock: usize,
) -> (Vec<String>, BTreeMap<Kind, Vec<String>>) {
    let mut errors = Vec::new();
    let mut kinds: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
    for (path, source) in files {
        for sleep in sleeps(path, source) {
            let at = format!("{}:{}", sleep.file, sleep.line);
            match sleep.kind {
                None => errors.push(format!(
                    "{at}: a sleep without a marker (`{WALL_CLOCK} <why>`, `{VIRTUAL}`, \
                     `{SCENARIO} <what>`): wait for an event instead"
                )),
                Some(Kind::Virtual) if !pauses_time(source) => errors.push(format!(
                    "{at}: marked `{VIRTUAL}` in a file that never pauses tokio's clock"
                )),
                Some(Kind::Poll) if !path.starts_with("test-support/") => errors.push(format!(
                    "{at}: `{POLL}` outside the support crate: use sio_test_support::wait::until"
                )),
                Some(kind) => kinds.entry(kind).or_default().push(at),
            }
        }
    }
    let wall = kinds.get(&Kind::WallClock).map_or(0, Vec::len);
    if wall > max_wall_clock {
        errors.push(format!(
            "{wall} wall-clock sleeps, more than {max_wall_clock}: {:?}",
            kinds[&Kind::WallClock]
        ));
    }
    (errors, kinds)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every file of test code, as (path relative to the workspace root, source).
fn test_code() -> Vec<(String, String)> {
    let root = sio_test_support::workspace_root();
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&root).expect("the workspace root") {
        let krate = entry.expect("a directory entry").path();
        if krate.join("Cargo.toml").is_file() {
            rust_files(&krate.join("tests"), &mut paths);
        }
    }
    rust_files(&root.join("test-support").join("src"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let source = std::fs::read_to_string(&path).expect("a readable source file");
            let relative = path.strip_prefix(&root).expect("inside the workspace");
            (relative.to_string_lossy().replace('\\', "/"), source)
        })
        .collect()
}

#[test]
fn few_wall_clock_sleeps_and_every_sleep_marked() {
    let files = test_code();
    assert!(
        files
            .iter()
            .any(|(p, _)| p == "sio-server/tests/io_socket.rs")
            && files.iter().any(|(p, _)| p == "test-support/src/wait.rs"),
        "the scan must see the test code"
    );
    let (errors, kinds) = check(&files, MAX_WALL_CLOCK);
    let wall = kinds.get(&Kind::WallClock).map_or(0, Vec::len);
    println!(
        "wall-clock sleeps: {wall} (at most {MAX_WALL_CLOCK}; the target of at most \
         {TARGET_WALL_CLOCK} is met)"
    );
    for (kind, at) in &kinds {
        println!("{kind:?}: {}", at.len());
        for at in at {
            println!("    {at}");
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_check_sees_sleeps_and_markers() {
    let call = CALLS[0];
    let until = CALLS[1];
    let file = |source: String| vec![("x/tests/a.rs".to_owned(), source)];
    // The markers are checked with one wall-clock sleep allowed, the count with the ratchet.

    // An unmarked sleep, a commented-out one, and one whose name only ends in `sleep`.
    let (errors, _) = check(
        &file(format!(
            "async fn f() {{\n    tokio::time::{call}d).await;\n    // tokio::time::{call}d).await;\n    my_{call}d);\n}}\n"
        )),
        1,
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("x/tests/a.rs:2:"), "{errors:?}");

    // Markers on the line and in the comment block above.
    let (errors, kinds) = check(
        &file(format!(
            "fn f() {{\n    {call}d); // wall-clock: the kernel has no event\n    // scenario: a slow client,\n    // one byte at a time\n    {until}at);\n}}\n"
        )),
        1,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(kinds[&Kind::WallClock].len(), 1);
    assert_eq!(kinds[&Kind::Scenario].len(), 1);

    // A marker needs its reason; a code line in between hides the marker above it.
    let (errors, _) = check(
        &file(format!(
            "fn f() {{\n    {call}d); // wall-clock:\n    // scenario: pacing\n    let x = 1;\n    {call}d);\n}}\n"
        )),
        1,
    );
    assert_eq!(errors.len(), 2, "{errors:?}");

    // `virtual time` only where the clock is paused; `poll:` only in the support crate.
    let (errors, _) = check(
        &file(format!(
            "fn f() {{\n    {call}d); // virtual time\n    {call}d); // poll: no event\n}}\n"
        )),
        1,
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    let (errors, kinds) = check(
        &file(format!(
            "#[tokio::test(start_paused = true)]\nasync fn f() {{\n    {call}d).await; // virtual time\n}}\n"
        )),
        1,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(kinds[&Kind::Virtual].len(), 1);

    // More wall-clock sleeps than the ratchet allows.
    let many = (0..=MAX_WALL_CLOCK)
        .map(|_| format!("    {call}d); // wall-clock: no event\n"))
        .collect::<String>();
    let (errors, _) = check(&file(format!("fn f() {{\n{many}}}\n")), MAX_WALL_CLOCK);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("more than"), "{errors:?}");
}
