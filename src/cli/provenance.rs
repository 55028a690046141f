//! Who runs seqops and why, as the machine can tell: the commit and
//! author of the manifests when they are in a git repository, the CI run
//! from GitHub Actions' or GitLab's variables, and `--message`.

use std::path::Path;
use std::process::Command;

use seqops::engine::history::Provenance;

/// What is known of this run, for the manifests in `folder`.
pub fn gather(folder: &Path, message: Option<&str>) -> Provenance {
    let (commit, author) = last_commit(folder).unzip();
    let dirty = commit.is_some() && has_changes(folder);
    Provenance { commit, author, dirty, ci_run: ci_run(), message: message.map(String::from) }
}

/// Whether the folder holds changes not committed (edited, added or new
/// files, what git ignores left out).
fn has_changes(folder: &Path) -> bool {
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    let output = Command::new("git")
        .arg("-C")
        .arg(folder)
        .args(["status", "--porcelain", "--", "."])
        .stderr(std::process::Stdio::null())
        .output();
    output.ok().filter(|o| o.status.success()).is_some_and(|o| !o.stdout.is_empty())
}

/// The commit `HEAD` is at and its author, if `folder` is in a repository
/// and git is there.
fn last_commit(folder: &Path) -> Option<(String, String)> {
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    let output = Command::new("git")
        .arg("-C")
        .arg(folder)
        .args(["log", "-1", "--format=%H%n%an <%ae>"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?;
    let mut lines = text.lines();
    Some((lines.next()?.to_string(), lines.next()?.to_string()))
}

/// The CI run's address: GitHub Actions, then GitLab.
fn ci_run() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(server), Some(repository), Some(run)) =
        (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID"))
    {
        return Some(format!("{server}/{repository}/actions/runs/{run}"));
    }
    var("CI_JOB_URL").or_else(|| var("CI_PIPELINE_URL"))
}
