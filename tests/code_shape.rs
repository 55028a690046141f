//! The shape of the code, held by tests: functions short enough to read at
//! once (clippy's `too_many_lines` at 60, run by CI), long ones allowed only
//! where a table of cases is clearer whole, and no file in the engine too
//! long to hold in mind.

use std::path::{Path, PathBuf};

const LINT: &str = "clippy::too_many_lines";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every Rust file under the given folders of the repository.
fn rust_files(folders: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut queue: Vec<PathBuf> = folders.iter().map(|f| root().join(f)).collect();
    while let Some(dir) = queue.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                queue.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// Where a long function may be allowed: an emulator's request table and
/// the test fake cluster's.
fn allowed(file: &str) -> bool {
    let emulator = file.starts_with("src/providers/") && file.ends_with("/emulator.rs");
    emulator || file == "tests/common/fake_cluster.rs"
}

/// The name of the first function declared after line `from`.
fn next_function(lines: &[&str], from: usize) -> String {
    lines[from..]
        .iter()
        .find_map(|line| {
            let at = line.find("fn ")?;
            let name: String = line[at + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            Some(name)
        })
        .unwrap_or_default()
}

#[test]
fn a_long_function_is_allowed_only_in_emulators_and_the_fake_cluster() {
    let mut refused = Vec::new();
    for path in rust_files(&["src", "tests", "benches", "examples"]) {
        let file = relative(&path);
        if file == "tests/code_shape.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate().filter(|(_, l)| l.contains(LINT) && l.contains("allow")) {
            let function = next_function(&lines, at);
            if !allowed(&file) {
                refused.push(format!("{file}:{}: `{}` before fn {function}", at + 1, line.trim()));
            }
        }
    }
    assert!(refused.is_empty(), "long functions allowed where they may not be:\n{}", refused.join("\n"));
}

#[test]
fn ci_holds_every_function_to_sixty_lines() {
    let config = std::fs::read_to_string(root().join("clippy.toml")).expect("clippy.toml");
    assert!(config.lines().any(|l| l.replace(' ', "") == "too-many-lines-threshold=60"), "clippy.toml: {config}");
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    let lint = ci.lines().find(|l| l.starts_with("cargo clippy")).expect("CI runs clippy");
    for part in ["--all-targets", "-D warnings", &format!("-W {LINT}")] {
        assert!(lint.contains(part), "CI's clippy runs with {part}: {lint}");
    }
}

#[test]
fn no_file_in_the_engine_or_the_controller_is_over_six_hundred_lines() {
    let long: Vec<String> = rust_files(&["src/engine", "src/controller"])
        .iter()
        .map(|path| (relative(path), std::fs::read_to_string(path).expect("a source file").lines().count()))
        .filter(|(_, lines)| *lines > 600)
        .map(|(file, lines)| format!("{file}: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "files in src/engine or src/controller over 600 lines:\n{}", long.join("\n"));
}

/// Where JSON may be read by a key written as a string: a provider's
/// mapping, wire and emulator (the vendor's JSON and the engine's fields),
/// the state kept in a Secret and the Lease. Everywhere else a spec, a
/// status or an answer is read as a type, and a JSON Schema by its
/// `Keyword`.
fn may_index_json(file: &str) -> bool {
    let provider_json = file.starts_with("src/providers/")
        && ["/mapping.rs", "/wire.rs", "/emulator.rs"].iter().any(|end| file.ends_with(end));
    provider_json || ["src/kube_state.rs", "src/controller/leader.rs"].contains(&file)
}

/// The code outside `#[cfg(test)]` modules, line by line with numbers,
/// comments left out.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at];
        if line.trim() == "#[cfg(test)]" && lines.get(at + 1).is_some_and(|l| l.trim_start().starts_with("mod ")) {
            at = end_of_block(&lines, at + 1);
            continue;
        }
        if !line.trim_start().starts_with("//") {
            kept.push((at + 1, line));
        }
        at += 1;
    }
    kept
}

/// The line after the block that opens on line `from`, its braces counted
/// outside string literals.
fn end_of_block(lines: &[&str], from: usize) -> usize {
    let mut depth = 0i64;
    for (at, line) in lines.iter().enumerate().skip(from) {
        let (mut in_string, mut escaped) = (false, false);
        for c in line.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '{' if !in_string => depth += 1,
                '}' if !in_string => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 && line.contains('}') {
            return at + 1;
        }
    }
    lines.len()
}

/// A JSON value read by a key written as a string: `x["name"]`,
/// `.get("name")`, `.get_mut("name")`. A path (`.get("/agents")`) is an
/// HTTP call, not a key.
fn indexes_json(line: &str) -> bool {
    let bytes = line.as_bytes();
    let indexed = line.match_indices("[\"").any(|(at, _)| {
        at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || matches!(bytes[at - 1], b'_' | b')' | b']'))
    });
    let got = [".get(\"", ".get_mut(\""]
        .iter()
        .any(|call| line.match_indices(call).any(|(at, _)| !line[at + call.len()..].starts_with('/')));
    indexed || got
}

#[test]
fn json_is_read_by_a_string_key_only_where_it_is_the_vendors_or_the_clusters() {
    let mut found = Vec::new();
    for path in rust_files(&["src"]) {
        let file = relative(&path);
        if may_index_json(&file) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        for (number, line) in code_lines(&text) {
            if indexes_json(line) {
                found.push(format!("{file}:{number}: {}", line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "JSON read by a string key outside the places allowed:\n{}", found.join("\n"));
}

#[test]
fn the_json_key_check_sees_an_index_and_a_get_but_not_a_path_nor_a_list() {
    assert!(indexes_json(r#"let name = spec["name"].as_str();"#));
    assert!(indexes_json(r#"fields.get("status")"#));
    assert!(!indexes_json(r#"self.get("/v3/agents").await"#));
    assert!(!indexes_json(r#"const NAMES: [&str; 1] = ["name"];"#));
    let text = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() { x[\"k\"]; }\n}\nfn c() { y[\"k\"]; }\n";
    let numbers: Vec<usize> = code_lines(text).iter().filter(|(_, l)| indexes_json(l)).map(|(n, _)| *n).collect();
    assert_eq!(numbers, [6]);
}

#[test]
fn no_file_in_the_providers_is_over_six_hundred_lines_but_an_emulator() {
    let long: Vec<String> = rust_files(&["src/providers"])
        .iter()
        .map(|path| (relative(path), std::fs::read_to_string(path).expect("a source file").lines().count()))
        .filter(|(file, lines)| *lines > 600 && !file.ends_with("/emulator.rs"))
        .map(|(file, lines)| format!("{file}: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "files in src/providers over 600 lines:\n{}", long.join("\n"));
}

/// The lines of `src/` outside the test kind's folder that name it: its
/// module, its types, its provider type or its feature.
fn lines_naming_the_test_kind() -> Vec<String> {
    let names = regex::Regex::new(r#"mod notes\b|notes::|NoteSpec|NOTE_KIND|\bNotes\b|"notes"|"Note"|test-kind"#)
        .expect("a valid pattern");
    let mut found = Vec::new();
    for path in rust_files(&["src"]) {
        let file = relative(&path);
        if file.starts_with("src/providers/notes/") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        let lines = text.lines().filter(|line| !line.trim_start().starts_with("//"));
        found.extend(lines.filter(|line| names.is_match(line)).map(|line| format!("{file}: {}", line.trim())));
    }
    found
}

#[test]
fn the_test_kind_is_registered_by_one_line_outside_its_folder() {
    assert_eq!(lines_naming_the_test_kind(), ["src/providers/mod.rs: pub mod notes;"]);
}

/// The process-wide state in `src/` that is not a constant table, each with
/// why it is not policy. Policy (what manifests may read, where keys may
/// go, where notes go) is a value passed down: `operator::Policy`.
const PROCESS_STATE_THAT_IS_NOT_POLICY: &[(&str, &str, &str)] = &[
    ("src/clock.rs", "VIRTUAL", "the clock's virtual time (the sandbox's fast-forward)"),
    ("src/clock.rs", "AHEAD_MS", "the clock's virtual time"),
    ("src/cli/progress.rs", "BAR", "the terminal's one progress bar"),
    ("src/providers/ratelimit.rs", "BUDGET_FILE_LOCK", "the budget file's lock between runs of one process"),
    ("src/manifest/cel.rs", "VALIDATOR", "a per-thread cache of the CEL validator"),
    ("src/manifest/conform.rs", "TABLES", "a cache of tables built from the kinds' schemas"),
];

/// Every `static` of `src/` (in `thread_local!` and `task_local!` blocks
/// too) that is not a constant table: a kind's facts, a slice, a compiled
/// pattern, or an entry of a registry (`linkme::distributed_slice`).
fn process_state() -> Vec<(String, String)> {
    let declaration =
        regex::Regex::new(r"^\s*(pub(\([a-z]+\))?\s+)?static\s+(mut\s+)?([A-Z_][A-Z0-9_]*)\s*:\s*([^=;]+)")
            .expect("a valid pattern");
    let mut found = Vec::new();
    for path in rust_files(&["src"]) {
        let file = relative(&path);
        let text = std::fs::read_to_string(&path).expect("a source file");
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            let Some(parts) = declaration.captures(line) else { continue };
            let type_ = parts[5].trim();
            let registered = at > 0 && lines[at - 1].contains("distributed_slice");
            let table = type_.contains("KindFacts")
                || type_.starts_with('&')
                || type_.starts_with('[')
                || type_.contains("OnceLock<Regex>");
            if !table && !registered {
                found.push((file.clone(), parts[4].to_string()));
            }
        }
    }
    found
}

#[test]
fn process_wide_state_is_only_what_is_not_policy() {
    let found = process_state();
    let unlisted: Vec<String> = found
        .iter()
        .filter(|(file, name)| !PROCESS_STATE_THAT_IS_NOT_POLICY.iter().any(|(f, n, _)| f == file && n == name))
        .map(|(file, name)| format!("{file}: static {name}"))
        .collect();
    assert!(
        unlisted.is_empty(),
        "process-wide state that may be policy (pass it down instead):\n{}",
        unlisted.join("\n")
    );
    let gone: Vec<&str> = PROCESS_STATE_THAT_IS_NOT_POLICY
        .iter()
        .filter(|(f, n, _)| !found.iter().any(|(file, name)| file == f && name == n))
        .map(|(_, n, _)| *n)
        .collect();
    assert!(gone.is_empty(), "listed but no longer there: {gone:?}");
    for file in ["src/files.rs", "src/external/sources.rs"] {
        assert!(!found.iter().any(|(f, _)| f == file), "{file} holds process-wide state");
    }
}
