//! The README's walkthrough is what seqops prints. Each fenced block the
//! README marks with [`MARKER`] holds `$ seqops …` lines, each followed by
//! that command's standard output. The commands run, in order, through the
//! built binary with `--sandbox` in a temporary copy of `examples/`, with
//! the edit the README describes made between the first block and the
//! second, and every output line must be the README's line exactly.
//!
//! One thing is loosened, and only one: a `…` in the README stands for one
//! or more letters, digits, `-` or `_`, because the sandbox makes new ids
//! (`4452949b-4389-…`) on every run.

mod common;

use std::path::Path;

/// The comment that marks a checked block; the fence follows on the next line.
const MARKER: &str = "<!-- walkthrough: checked by tests/readme_walkthrough.rs -->";

/// The edit the README asks for between its first checked block and its
/// second: the file, what it holds, and what it is to hold.
const EDIT_FILE: &str = "examples/orsay/whatsapp.yaml";
const EDIT_FROM: &str = "active: true";
const EDIT_TO: &str = "active: false";
/// How the README's prose words that edit.
const EDIT_IN_PROSE: &str = "`active: false` in `examples/orsay/whatsapp.yaml`";

/// One `$ seqops …` line and the output the README shows under it.
#[derive(Clone, Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
    /// The README's line the command is on.
    line: usize,
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md")
}

/// The checked blocks of the README, each as its steps, and the prose
/// between one block and the next.
fn checked_blocks(readme: &str) -> (Vec<Vec<Step>>, Vec<String>) {
    let lines: Vec<&str> = readme.lines().collect();
    let (mut blocks, mut prose) = (Vec::new(), Vec::new());
    let mut since_last_block = String::new();
    let mut index = 0;
    while index < lines.len() {
        if lines[index].trim() != MARKER {
            since_last_block.push_str(lines[index]);
            since_last_block.push('\n');
            index += 1;
            continue;
        }
        prose.push(std::mem::take(&mut since_last_block));
        let fence = lines.get(index + 1).copied().unwrap_or_default();
        assert!(fence.starts_with("```"), "README.md:{}: the marker is followed by a fence, not {fence:?}", index + 2);
        // A block closes with the fence it opened with: four backticks hold
        // output that has fences of three (a Markdown plan).
        let closing: String = fence.chars().take_while(|c| *c == '`').collect();
        let mut steps: Vec<Step> = Vec::new();
        index += 2;
        while index < lines.len() && lines[index] != closing {
            let line = lines[index];
            if let Some(command) = line.strip_prefix("$ ") {
                steps.push(Step { command: command.to_string(), expected: Vec::new(), line: index + 1 });
            } else {
                let step = steps.last_mut().unwrap_or_else(|| {
                    panic!("README.md:{}: a checked block starts with a `$ ` command, not {line:?}", index + 1)
                });
                step.expected.push(line.to_string());
            }
            index += 1;
        }
        assert!(index < lines.len(), "README.md: a checked block is never closed");
        assert!(!steps.is_empty(), "README.md:{}: a checked block with no command", index + 1);
        blocks.push(steps);
        index += 1;
    }
    prose.push(since_last_block);
    (blocks, prose)
}

/// Runs one `seqops …` line in `dir`; its standard output.
fn run(dir: &Path, step: &Step) -> String {
    let words: Vec<&str> = step.command.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"seqops"), "README.md:{}: a checked command runs seqops", step.line);
    assert!(
        !step.command.contains(['\'', '"', '|', '>', '<', '$', '*']),
        "README.md:{}: checked commands are plain words, run without a shell: {}",
        step.line,
        step.command
    );
    let output = common::newcomer(dir, &words[1..]).output().expect("seqops runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "README.md:{}: `{}` failed ({}):\n{stdout}\n{}",
        step.line,
        step.command,
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs the walkthrough as the README tells it: its blocks' commands in
/// order in a fresh copy of the examples, the edit between the first block
/// and the second. Each step with the output it gave.
fn run_walkthrough(blocks: &[Vec<Step>]) -> Vec<(Step, String)> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    common::copy_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), &dir.path().join("examples"));
    // In a repository, as a reader's clone is: the comment names its commit.
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["-c", "user.name=R", "-c", "user.email=r@example.com", "commit", "-qm", "examples"],
    ] {
        let status = std::process::Command::new("git").args(args).current_dir(dir.path()).status().expect("git runs");
        assert!(status.success(), "git {args:?}");
    }
    let mut results = Vec::new();
    for (number, block) in blocks.iter().enumerate() {
        if number == 1 {
            edit(&dir.path().join(EDIT_FILE));
        }
        for step in block {
            results.push((step.clone(), run(dir.path(), step)));
        }
    }
    results
}

fn edit(file: &Path) {
    let text = std::fs::read_to_string(file).expect("the file to edit");
    assert_eq!(text.matches(EDIT_FROM).count(), 1, "{} holds {EDIT_FROM:?} once", file.display());
    std::fs::write(file, text.replace(EDIT_FROM, EDIT_TO)).expect("the edit is written");
}

fn is_id_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `actual` is the README's `expected` line, each `…` in it
/// standing for one or more letters, digits, `-` or `_`.
fn line_matches(expected: &str, actual: &str) -> bool {
    let Some((literal, rest)) = expected.split_once('…') else { return expected == actual };
    let Some(after) = actual.strip_prefix(literal) else { return false };
    let id_length = after.find(|c: char| !is_id_character(c)).unwrap_or(after.len());
    (1..=id_length).any(|length| line_matches(rest, &after[length..]))
}

/// `Ok` when `actual` is what the README shows line for line, otherwise
/// what differs, with the output seqops gave to paste into the README.
fn compare(step: &Step, expected: &[String], actual: &str) -> Result<(), String> {
    let actual: Vec<&str> = actual.lines().collect();
    let first_difference =
        (0..expected.len().max(actual.len())).find(|&index| match (expected.get(index), actual.get(index)) {
            (Some(expected), Some(actual)) => !line_matches(expected, actual),
            _ => true,
        });
    let Some(index) = first_difference else { return Ok(()) };
    Err(format!(
        "README.md:{}: the output of `{}` differs from the README at its line {}:\n  README: {:?}\n  seqops: {:?}\n\
         seqops printed (paste it under the command, writing … for the ids the sandbox makes):\n{}",
        step.line,
        step.command,
        index + 1,
        expected.get(index).map(String::as_str).unwrap_or("(nothing)"),
        actual.get(index).copied().unwrap_or("(nothing)"),
        actual.join("\n")
    ))
}

/// The README's blocks, checked to be the walkthrough this file knows how
/// to run: two blocks, the README's prose naming the edit between them.
fn walkthrough() -> Vec<Vec<Step>> {
    let (blocks, prose) = checked_blocks(&readme());
    assert_eq!(blocks.len(), 2, "the README checks two blocks: before the edit and after it");
    let between = prose[1].split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        between.contains(EDIT_IN_PROSE),
        "the README asks for the edit the test makes, {EDIT_IN_PROSE}:\n{between}"
    );
    blocks
}

#[test]
fn the_readme_walkthrough_shows_exactly_what_seqops_prints() {
    let results = run_walkthrough(&walkthrough());
    let commands: Vec<&str> = results.iter().map(|(step, _)| step.command.as_str()).collect();
    assert!(commands.iter().any(|c| c.starts_with("seqops validate")), "{commands:?}");
    assert!(commands.iter().any(|c| c.starts_with("seqops apply")), "{commands:?}");
    let differences: Vec<String> =
        results.iter().filter_map(|(step, actual)| compare(step, &step.expected, actual).err()).collect();
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

/// Every way of changing one output line of the README this test tries:
/// appending, dropping the last character, emptying or filling the line.
fn changed_lines(line: &str) -> Vec<String> {
    let mut changed = vec![format!("{line}x"), format!("{line} ")];
    if line.is_empty() {
        changed.push("x".to_string());
    } else {
        let mut shorter = line.to_string();
        shorter.pop();
        changed.push(shorter);
        changed.push(String::new());
    }
    changed
}

#[test]
fn changing_any_one_output_line_of_the_readme_walkthrough_fails_the_check() {
    let results = run_walkthrough(&walkthrough());
    let mut tried = 0;
    for (step, actual) in &results {
        assert!(compare(step, &step.expected, actual).is_ok(), "the README as it is passes");
        for index in 0..step.expected.len() {
            for line in changed_lines(&step.expected[index]) {
                let mut expected = step.expected.clone();
                expected[index] = line.clone();
                assert!(
                    compare(step, &expected, actual).is_err(),
                    "`{}`: line {} changed to {line:?} still passed",
                    step.command,
                    index + 1
                );
                tried += 1;
            }
            let mut without = step.expected.clone();
            without.remove(index);
            assert!(
                compare(step, &without, actual).is_err(),
                "`{}`: line {} removed still passed",
                step.command,
                index + 1
            );
            let mut with_more = step.expected.clone();
            with_more.insert(index, String::new());
            assert!(compare(step, &with_more, actual).is_err(), "`{}`: a line added still passed", step.command);
        }
    }
    assert!(tried > 100, "every output line was changed in turn ({tried} changes)");
}

#[test]
fn an_ellipsis_stands_for_an_id_and_nothing_more() {
    let line = "Sequence/whatsapp-new-contact: created (id …)";
    assert!(line_matches(line, "Sequence/whatsapp-new-contact: created (id 4452949b-4389-4237-ae86-ea5efe4ec015)"));
    assert!(line_matches(line, "Sequence/whatsapp-new-contact: created (id seq_run_0001)"));
    assert!(!line_matches(line, "Sequence/whatsapp-new-contact: created (id )"));
    assert!(!line_matches(line, "Sequence/whatsapp-new-contact: created (id 4452 949b)"));
    assert!(!line_matches(line, "Sequence/whatsapp-new-contact: created (id 4452949b))"));
    assert!(!line_matches(line, "Sequence/whatsapp-new-contact: updated (id 4452949b)"));
    assert!(line_matches("a … and …", "a 1 and 2-3"));
    assert!(!line_matches("a … and …", "a 1 and 2 3"));
    assert!(line_matches("no ids here", "no ids here"));
    assert!(!line_matches("no ids here", "no ids here "));
}
