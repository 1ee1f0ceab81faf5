//! The modules of every crate of the workspace import each other without a circle: no file
//! imports a file that imports it back, directly or through others (issue 12). The crates are
//! sio-protocol, sio-server, sio-client, sio-redis and sio-admin; each one's `src` is read
//! (binaries under `src/bin` left out). A circle not broken yet is listed in
//! [`NOT_YET_BROKEN`] (none is).
//!
//! The check reads the source: every `crate::...` and `super::...` path (in `use` items, their
//! `{...}` groups expanded, and in code), and each parent's paths into its own child modules;
//! comments and the `#[cfg(test)]` module at the end of a file are left out. A path names the
//! longest module it starts with, so an import of an item that the crate root re-exports
//! (`use crate::Message`) is an import of the root, which imports the module back: import
//! from the defining module instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path: `""` for the crate root, `"transport::ws"`...
type Module = String;

/// The source files of `dir` (recursively, `bin/` left out), by module path.
fn modules(dir: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a source directory") {
            let path = entry.expect("an entry").path();
            let rel = path.strip_prefix(dir).expect("under src");
            if path.is_dir() {
                if rel != Path::new("bin") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let mut parts: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            let source = std::fs::read_to_string(&path).expect("a readable source file");
            out.insert(parts.join("::"), source);
        }
    }
    out
}

/// The code of a file without comments and without its trailing test module.
fn code(source: &str) -> String {
    let mut lines = Vec::new();
    let all: Vec<&str> = source.lines().collect();
    for (i, line) in all.iter().enumerate() {
        let next = all[i + 1..].iter().find(|l| !l.trim().is_empty());
        if *line == "#[cfg(test)]" && next.is_some_and(|n| n.starts_with("mod ")) {
            break;
        }
        let line = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        lines.push(line);
    }
    lines.join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses a path tree at the start of `s` (`a::b::{c, d::{self, E}}`): the full paths it names,
/// as segments.
fn tree(s: &str) -> Vec<Vec<String>> {
    fn parse(s: &[char], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = prefix.to_vec();
        loop {
            while *i < s.len() && s[*i].is_whitespace() {
                *i += 1;
            }
            if *i < s.len() && s[*i] == '{' {
                *i += 1;
                loop {
                    parse(s, i, &path, out);
                    while *i < s.len() && (s[*i].is_whitespace() || s[*i] == ',') {
                        *i += 1;
                    }
                    if *i >= s.len() || s[*i] == '}' {
                        *i += 1;
                        return;
                    }
                }
            }
            let start = *i;
            while *i < s.len() && is_ident(s[*i]) {
                *i += 1;
            }
            if start == *i {
                out.push(path);
                return;
            }
            let segment: String = s[start..*i].iter().collect();
            if segment != "self" {
                path.push(segment);
            }
            if s[*i..].starts_with(&[':', ':']) {
                *i += 2;
            } else {
                out.push(path);
                return;
            }
        }
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    parse(&chars, &mut 0, &[], &mut out);
    out
}

/// The module `path` (relative to `base`) names: the longest known one it starts with.
fn resolve(known: &BTreeSet<Module>, base: &[String], path: &[String]) -> Option<Module> {
    let mut full: Vec<String> = base.to_vec();
    full.extend(path.iter().cloned());
    (0..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|m| known.contains(m))
}

/// Who imports whom.
fn graph(files: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, source) in files {
        let code = code(source);
        let own: Vec<String> = module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let parent = &own[..own.len().saturating_sub(1)];
        // The modules declared in this one.
        let children: Vec<&Module> = known
            .iter()
            .filter(|k| {
                !k.is_empty()
                    && *k != module
                    && k.rsplit_once("::").map_or("", |(p, _)| p) == module
            })
            .collect();
        let mut targets = BTreeSet::new();
        for (at, _) in code.char_indices() {
            // The start of a path (not `std::io::` for a child named `io`).
            if code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| is_ident(c) || c == ':')
            {
                continue;
            }
            let rest = &code[at..];
            let (base, after) = if let Some(after) = rest.strip_prefix("crate::") {
                (&[][..], after)
            } else if let Some(after) = rest.strip_prefix("super::") {
                (parent, after)
            } else if let Some(after) = rest.strip_prefix("self::") {
                (&own[..], after)
            } else if let Some(child) = children.iter().find(|c| {
                let name = c.rsplit("::").next().unwrap_or(c);
                rest.starts_with(&format!("{name}::"))
            }) {
                targets.insert((*child).clone());
                continue;
            } else {
                continue;
            };
            for path in tree(after) {
                if let Some(target) = resolve(&known, base, &path) {
                    targets.insert(target);
                }
            }
        }
        targets.remove(module);
        edges.insert(module.clone(), targets);
    }
    edges
}

/// A circle of imports, if there is one (as the list of its modules, the first one again at
/// the end).
fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        marks.insert(m.clone(), Mark::Open);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, edges, marks, stack) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(m.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for m in edges.keys() {
        if marks.get(m).copied().unwrap_or(Mark::New) == Mark::New {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(m, edges, &mut marks, &mut stack) {
                return Some(cycle);
            }
        }
    }
    None
}

fn name(m: &str) -> &str {
    if m.is_empty() { "lib" } else { m }
}

/// The circles of `edges`: one per group of modules that reach each other (a strongly
/// connected component of more than one module), each as a path through that group, with
/// the whole group.
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<(Vec<Module>, BTreeSet<Module>)> {
    // Modules reachable from `m` (itself included).
    let reach = |m: &Module| -> BTreeSet<Module> {
        let mut seen = BTreeSet::from([m.clone()]);
        let mut stack = vec![m.clone()];
        while let Some(n) = stack.pop() {
            for next in edges.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&Module, BTreeSet<Module>> =
        edges.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in edges.keys() {
        if done.contains(m) {
            continue;
        }
        let group: BTreeSet<Module> = reaches[m]
            .iter()
            .filter(|n| reaches.get(n).is_some_and(|r| r.contains(m)))
            .cloned()
            .collect();
        done.extend(group.iter().cloned());
        if group.len() < 2 {
            continue;
        }
        let inside: BTreeMap<Module, BTreeSet<Module>> = group
            .iter()
            .map(|g| {
                let targets = edges[g].intersection(&group).cloned().collect();
                (g.clone(), targets)
            })
            .collect();
        out.extend(find_cycle(&inside).map(|cycle| (cycle, group)));
    }
    out
}

/// The crates checked, by the directory of their manifest.
const CRATES: &[&str] = &[
    "sio-protocol",
    "sio-server",
    "sio-client",
    "sio-redis",
    "sio-admin",
];

/// The circles not broken yet, each the whole group of modules that reach each other, exactly
/// (the test fails when a group grows, shrinks or goes: then this list must be updated). None
/// is left; a circle found later is listed here only while it is being broken.
///
/// sio-server's Socket.IO core was the last one (a `Namespace` holding its `Socket`s and its
/// `Adapter`, a `Socket` its `Namespace` and client, the `Adapter` working on a
/// `LocalNamespace`, a `BroadcastOperator` on a `Namespace` and giving `RemoteSocket`s): broken
/// into layers, with traits that the lower modules define and the upper ones implement (see
/// `docs/api-review.md`, section 4). sio-redis's adapter had the same kind of circle, broken
/// with a trait object, `adapter::node::Receive`.
const NOT_YET_BROKEN: &[(&str, &[&str])] = &[];

#[test]
fn no_circle_of_imports_in_any_crate() {
    let root = sio_test_support::workspace_root();
    let mut found = Vec::new();
    let mut known_seen = Vec::new();
    for krate in CRATES {
        let files = modules(&root.join(krate).join("src"));
        assert!(
            files.contains_key("") && files.len() > 1,
            "{krate}: no source read, the check would prove nothing"
        );
        for (cycle, group) in circles(&graph(&files)) {
            let known = NOT_YET_BROKEN.iter().position(|(k, members)| {
                k == krate && members.iter().copied().eq(group.iter().map(String::as_str))
            });
            if let Some(i) = known {
                known_seen.push(i);
                continue;
            }
            let names: Vec<&str> = cycle.iter().map(|m| name(m)).collect();
            let group: Vec<&str> = group.iter().map(|m| name(m)).collect();
            found.push(format!(
                "{krate}: {} (modules that reach each other: {})",
                names.join(" -> "),
                group.join(", ")
            ));
        }
    }
    for (i, (krate, members)) in NOT_YET_BROKEN.iter().enumerate() {
        if !known_seen.contains(&i) {
            found.push(format!(
                "{krate}: the group {members:?} of NOT_YET_BROKEN is no longer a circle as listed: update the list"
            ));
        }
    }
    assert!(
        found.is_empty(),
        "circles of imports (each file imports the next one):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_the_imports() {
    let root = sio_test_support::workspace_root();
    let edges = |krate: &str| graph(&modules(&root.join(krate).join("src")));
    let client = edges("sio-client");
    assert!(
        client["driver"].contains("engine"),
        "{:?}",
        client["driver"]
    );
    assert!(client["transport::ws"].contains("transport::endpoint"));
    assert!(client["socket"].contains("manager"));
    let server = edges("sio-server");
    assert!(
        server["engine::session_task"].contains("engine::transport::ws"),
        "{:?}",
        server["engine::session_task"]
    );
    assert!(server["socketio::socket"].contains("socketio::namespace"));
}

#[test]
fn the_check_finds_circles() {
    let files = |list: &[(&str, &str)]| -> BTreeMap<Module, String> {
        list.iter()
            .map(|(m, s)| ((*m).to_owned(), (*s).to_owned()))
            .collect()
    };
    // Through a `use` group, three files long.
    let circle = files(&[
        ("", "mod a;\nmod b;\nmod c;\n"),
        ("a", "use crate::{b::{self, B}, x};\n"),
        ("b", "use crate::c::C;\n"),
        ("c", "fn f() { crate::a::g(); }\n"),
    ]);
    let cycle = find_cycle(&graph(&circle)).expect("a circle");
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    let found = circles(&graph(&circle));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, cycle);
    assert_eq!(found[0].1.len(), 3, "{found:?}");
    // Through an item the crate root re-exports.
    let reexport = files(&[
        ("", "mod a;\nmod b;\npub use a::A;\n"),
        ("a", "pub struct A;\n"),
        ("b", "use crate::A;\n"),
        ("c", "use crate::b;\n"),
    ]);
    assert!(circles(&graph(&reexport)).is_empty());
    let back = files(&[
        ("", "mod a;\npub use a::A;\npub struct R;\n"),
        ("a", "use crate::R;\npub struct A;\n"),
    ]);
    assert_eq!(circles(&graph(&back)).len(), 1);
    // A child that imports its parent, which uses the child in code.
    let nested = files(&[
        ("t", "pub(crate) mod p;\nfn f(x: p::X) {}\n"),
        ("t::p", "use super::Y;\n"),
    ]);
    assert!(find_cycle(&graph(&nested)).is_some());
    // Comments, test modules and one-way imports are no circle.
    let fine = files(&[
        ("a", "use crate::b::B;\n// crate::a::x\n"),
        (
            "b",
            "/// [`A`](crate::a::A)\nfn f() {}\n\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n",
        ),
    ]);
    assert_eq!(find_cycle(&graph(&fine)), None);
}
