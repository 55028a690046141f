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

/// Where a long function may be allowed: an emulator's request table, the
/// test fake cluster's, and the controller's `sync` (split by a later
/// change into observe, decide, apply and report).
fn allowed(file: &str, next_fn: &str) -> bool {
    let emulator = file.starts_with("src/providers/") && file.ends_with("/emulator.rs");
    emulator || file == "tests/common/fake_cluster.rs" || (file == "src/controller/reconcile.rs" && next_fn == "sync")
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
fn a_long_function_is_allowed_only_in_emulators_the_fake_cluster_and_the_controllers_sync() {
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
            if !allowed(&file, &function) {
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
fn no_file_in_the_engine_is_over_six_hundred_lines() {
    let long: Vec<String> = rust_files(&["src/engine"])
        .iter()
        .map(|path| (relative(path), std::fs::read_to_string(path).expect("a source file").lines().count()))
        .filter(|(_, lines)| *lines > 600)
        .map(|(file, lines)| format!("{file}: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "files in src/engine over 600 lines:\n{}", long.join("\n"));
}
