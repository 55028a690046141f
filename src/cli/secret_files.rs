//! Values an API shows once (a key, a webhook URL) go to the file a
//! manifest's `writeSecretTo.file` names. Inside a git work tree that does
//! not ignore that file, the next `git add .` would commit the key: seqops
//! says so before the value exists, with the exact `.gitignore` line, and
//! refuses under `--require-ignored-secrets` or in CI, where no one reads
//! a warning.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use seqops::engine::{Action, Change};

/// A file a value shown once would be written to, that git would commit.
pub struct Unignored {
    /// The object whose create writes it.
    pub key: String,
    pub file: PathBuf,
    /// The work tree's `.gitignore` and the line that ignores the file.
    pub gitignore: PathBuf,
    pub line: String,
}

impl std::fmt::Display for Unignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the value the API shows once goes to {}, which git does not ignore: add the line `{}` to {}",
            self.key,
            self.file.display(),
            self.line,
            self.gitignore.display()
        )
    }
}

/// The files the plan's creates write values shown once to, inside a git
/// work tree that does not ignore them.
pub fn unignored(changes: &[Change]) -> Vec<Unignored> {
    changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .filter_map(|c| {
            let common = seqops::manifest::common::Common::of(c.spec.json());
            let path = Path::new(&c.source_dir).join(common.output_file()?);
            not_ignored(&path).map(|(gitignore, line)| Unignored {
                key: c.key.to_string(),
                file: path,
                gitignore,
                line,
            })
        })
        .collect()
}

/// Whether the refusal applies: asked for, or in CI (`CI=true`).
pub fn required(flag: bool) -> bool {
    flag || std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The work tree's `.gitignore` and the line for `path`, when `path` is in
/// a git work tree that does not ignore it; `None` outside one (or without
/// git), or when it is ignored.
fn not_ignored(path: &Path) -> Option<(PathBuf, String)> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // The folder may not exist yet: the nearest one that does asks git.
    let existing = folder.ancestors().find(|f| f.as_os_str().is_empty() || f.is_dir())?;
    let existing = if existing.as_os_str().is_empty() { Path::new(".") } else { existing };
    let root = git(existing, &["rev-parse", "--show-toplevel"])?;
    let root = PathBuf::from(root.trim());
    let absolute = std::path::absolute(path).ok()?;
    let canonical_root = root.canonicalize().ok()?;
    let inside = absolute.strip_prefix(&canonical_root).or_else(|_| absolute.strip_prefix(&root)).ok()?.to_path_buf();
    let ignored = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["check-ignore", "-q", "--"])
        .arg(&inside)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    // 0: ignored; 1: not ignored; anything else: git could not say.
    (ignored.code() == Some(1)).then(|| (root.join(".gitignore"), format!("/{}", inside.display())))
}

fn git(folder: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").arg("-C").arg(folder).args(args).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
