//! What the operator allows manifests to reach, as a value: built from the
//! CLI's flags or the controller's options, and passed down with a run's
//! connections, never kept in the process. Two policies can live in one
//! process (a test; a controller serving namespaces that differ).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// The folders a manifest's `fromFile` and `writeSecretTo.file` may
    /// reach (the current folder, the folders given with `-f`,
    /// `--allow-path`); the current folder when none is given.
    roots: Vec<PathBuf>,
    /// Files no manifest may read or write, wherever they are: the
    /// digest key.
    protected: Vec<PathBuf>,
    /// The environment variables manifests may read (`--allow-env`), `*`
    /// standing for any run of characters; any when none is given.
    env: Vec<String>,
    /// Hosts beside the vendors' that keys may go to (`--allow-base-url`).
    pub hosts: Vec<String>,
    /// What this policy's runs have noted once already.
    noted: Arc<Mutex<BTreeSet<String>>>,
}

impl Policy {
    /// Confines manifests' files to `roots`, as far as they exist.
    pub fn confined_to(mut self, roots: impl IntoIterator<Item = PathBuf>) -> Self {
        self.roots = roots.into_iter().filter_map(|r| r.canonicalize().ok()).collect();
        self
    }

    /// Keeps manifests away from `paths`.
    pub fn protecting(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.protected = paths.into_iter().filter_map(|p| crate::files::resolved(&p).ok()).collect();
        self
    }

    /// Restricts the variables manifests may read to those matching one of
    /// `patterns`. No pattern allows all.
    pub fn allowing_env(mut self, patterns: Vec<String>) -> Self {
        self.env = patterns;
        self
    }

    /// Lets keys go to `hosts` beside the vendors'.
    pub fn allowing_hosts(mut self, hosts: Vec<String>) -> Self {
        self.hosts = hosts;
        self
    }

    /// The folders manifests' files are confined to.
    pub fn roots(&self) -> Vec<PathBuf> {
        if self.roots.is_empty() {
            return std::env::current_dir().into_iter().filter_map(|d| d.canonicalize().ok()).collect();
        }
        self.roots.clone()
    }

    /// Whether `path` (resolved) is one no manifest may reach.
    pub fn protects(&self, path: &Path) -> bool {
        self.protected.iter().any(|p| p == path)
    }

    /// Whether a manifest may read `$variable`; the refusal says how to
    /// allow it.
    pub fn env_allowed(&self, variable: &str) -> Result<(), String> {
        if self.env.is_empty() || self.env.iter().any(|pattern| wildcard_match(pattern, variable)) {
            return Ok(());
        }
        Err(format!(
            "${variable} is not among the variables the operator allows manifests to read ({}); allow it with --allow-env {variable}",
            self.env.join(", ")
        ))
    }

    /// Where a manifest's relative `path` (from the folder `base`) lands, if
    /// it stays inside the project: absolute paths, a way out through `..` or
    /// a link, and anything under `.git` or `.seqops` are refused. The file
    /// itself may not exist yet (a file to write).
    pub fn confined(&self, base: &Path, path: &str) -> Result<PathBuf, String> {
        let written = Path::new(path);
        if written.file_name().is_none() {
            return Err(format!("{path:?} names no file"));
        }
        let full = crate::files::resolved(&base.join(written)).map_err(|e| format!("cannot reach {path}: {e}"))?;
        if full.is_dir() {
            return Err(format!("{path} is a folder, not a file"));
        }
        if !self.roots().iter().any(|root| full.starts_with(root)) {
            return Err(format!(
                "{path} resolves to {}, outside the project: files a manifest names stay inside it, unless the operator allows the folder with --allow-path",
                full.display()
            ));
        }
        if self.protects(&full) {
            return Err(format!("{path} is seqops's digest key, which manifests may not read or write"));
        }
        if full.components().any(|c| matches!(c.as_os_str().to_str(), Some(".git" | ".seqops"))) {
            return Err(format!("{path} is inside .git or .seqops, which manifests may not read or write"));
        }
        Ok(full)
    }

    /// Reads a manifest's `fromFile` source: a regular file this policy
    /// lets it reach, at most [`crate::files::MAX_SOURCE_BYTES`].
    pub fn read_source(&self, base: &Path, path: &str) -> Result<String, String> {
        crate::files::read_regular(&self.confined(base, path)?)
    }

    /// Says `note` once for this policy's runs (with `-v`).
    pub fn note_once(&self, note: String) {
        if self.noted.lock().unwrap_or_else(|e| e.into_inner()).insert(note.clone()) {
            tracing::info!("{note}");
        }
    }
}

/// `pattern` with `*` for any run of characters, matched against all of
/// `text`.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_matches_any_run_of_characters() {
        assert!(wildcard_match("SEQOPS_*", "SEQOPS_GOOGLE"));
        assert!(wildcard_match("*_TOKEN", "CRM_TOKEN"));
        assert!(wildcard_match("A*B*C", "AxxBxxC"));
        assert!(wildcard_match("EXACT", "EXACT"));
        assert!(!wildcard_match("EXACT", "EXACTLY"));
        assert!(!wildcard_match("SEQOPS_*", "HOME"));
        assert!(wildcard_match("A*BA", "ABA"));
        assert!(!wildcard_match("AB*BA", "ABA"), "the two ends may not overlap");
    }

    #[test]
    fn two_policies_in_one_process_each_allow_their_own_variables() {
        let strict = Policy::default().allowing_env(vec!["SEQOPS_*".into()]);
        let open = Policy::default();
        assert!(strict.env_allowed("HOME").is_err_and(|e| e.contains("--allow-env HOME")));
        assert!(strict.env_allowed("SEQOPS_KEY").is_ok());
        assert!(open.env_allowed("HOME").is_ok(), "no pattern allows every variable");
    }
}
