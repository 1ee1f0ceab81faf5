//! The modules of `sio-client/src` import each other without a circle: no file imports a file
//! that imports it back, directly or through others (issue 11: the client's six modules that
//! imported each other in a circle are gone, the protocol rules having moved to
//! `sio_protocol::socket::ClientSession`).
//!
//! The check reads the source: every `crate::...` and `super::...` path (in `use` items, their
//! `{...}` groups expanded, and in code), and each parent's paths into its own child modules;
//! comments and the `#[cfg(test)]` module at the end of a file are left out. A path names the
//! longest module it starts with.

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

#[test]
fn no_circle_of_imports_in_sio_client() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = modules(&src);
    assert!(files.contains_key("driver") && files.contains_key("transport::ws"));
    let edges = graph(&files);
    if let Some(cycle) = find_cycle(&edges) {
        let names: Vec<&str> = cycle.iter().map(|m| name(m)).collect();
        panic!("a circle of imports: {}", names.join(" -> "));
    }
    // The check sees the imports it must see.
    assert!(edges["driver"].contains("engine"), "{:?}", edges["driver"]);
    assert!(edges["transport::ws"].contains("transport::endpoint"));
    assert!(edges["socket"].contains("manager"));
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
