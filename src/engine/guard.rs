//! Guard rails against a plan that deletes far more than anyone meant: an
//! empty or mistyped `-f` path, a wrong `--state`, a bad merge. Checked
//! when the plan is made and again when a saved plan is applied.

use std::collections::BTreeMap;

use super::plan::{Action, Change, Summary, Verb};
use super::state::State;

/// The most changes that cannot be undone (deletes, replaces and stops) a
/// plan may hold unless the operator allows more.
pub const DEFAULT_MAX_DELETES: usize = 10;

/// How much a plan may delete.
#[derive(Clone, Copy, Debug)]
pub struct DeleteLimits {
    pub max_deletes: usize,
    /// Whether a plan may delete every object seqops manages in an account.
    pub allow_delete_all: bool,
}

impl Default for DeleteLimits {
    fn default() -> Self {
        Self { max_deletes: DEFAULT_MAX_DELETES, allow_delete_all: false }
    }
}

/// Refuses a plan that deletes more than `limits` allow, saying why and
/// which flag allows it.
pub fn check_deletes(changes: &[Change], state: &State, limits: DeleteLimits) -> Result<(), String> {
    let summary = Summary::of(changes);
    if summary.cannot_be_undone > limits.max_deletes {
        let counted = summary.counted(&Verb::CANNOT_BE_UNDONE);
        return Err(format!(
            "this plan has {} change{} that cannot be undone ({}), more than --max-deletes {}; nothing was changed. If it is meant, pass --max-deletes {}",
            summary.cannot_be_undone,
            if summary.cannot_be_undone == 1 { "" } else { "s" },
            counted.join(", "),
            limits.max_deletes,
            summary.cannot_be_undone
        ));
    }
    if limits.allow_delete_all {
        return Ok(());
    }
    for (account, managed) in managed_per_account(state) {
        let gone = changes.iter().filter(|c| c.provider == account && c.action == Action::Delete).count();
        if gone == managed {
            return Err(format!(
                "this plan deletes every object seqops manages through Provider `{account}` ({managed}): an empty or mistyped -f path, or the wrong --state, does that; nothing was changed. If it is meant, pass --allow-delete-all"
            ));
        }
    }
    Ok(())
}

/// How many objects with a remote id state holds per Provider.
fn managed_per_account(state: &State) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for entry in state.resources.values().filter(|e| e.id.is_some() && !e.orphan_on_delete) {
        *counts.entry(entry.provider.as_str()).or_default() += 1;
    }
    counts
}
