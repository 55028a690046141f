//! Who changed what, and why: every change an apply makes is recorded in
//! state with the commit and author of the manifests, the CI run, and the
//! operator's `--message`, so `seqops state history KEY` answers what a
//! dashboard's audit log would.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::plan::Action;
use crate::manifest::ResourceKey;

/// The most records state keeps; older ones go first.
pub const KEPT: usize = 2000;

/// Who made a plan or an apply, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The commit the manifests were at, when they are in a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// That commit's author, `Name <email>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The manifests' folder had changes not in that commit: what was
    /// planned is not exactly what the commit holds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
    /// The CI run, when the CI's variables say which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run: Option<String>,
    /// What the operator said with `--message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Provenance {
    pub fn is_empty(&self) -> bool {
        self == &Provenance::default()
    }

    /// `by Name <email> at 1a2b3c4 (CI run URL): message`, as far as known.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(author) = &self.author {
            parts.push(format!("by {author}"));
        }
        if let Some(commit) = &self.commit {
            let dirty = if self.dirty { " with uncommitted changes" } else { "" };
            parts.push(format!("at {}{dirty}", &commit[..commit.len().min(12)]));
        }
        if let Some(run) = &self.ci_run {
            parts.push(format!("({run})"));
        }
        let mut text = parts.join(" ");
        if let Some(message) = &self.message {
            text.push_str(&format!("{}{message}", if text.is_empty() { "" } else { ": " }));
        }
        text
    }
}

/// One change made to one object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRecord {
    pub at: String,
    pub key: ResourceKey,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The fields the change set (never their values: some are secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// The saved plan applied, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub by: Provenance,
}

/// Appends `records`, keeping the newest [`KEPT`].
pub fn append(history: &mut Vec<HistoryRecord>, records: impl IntoIterator<Item = HistoryRecord>) {
    history.extend(records);
    if history.len() > KEPT {
        history.drain(..history.len() - KEPT);
    }
}
