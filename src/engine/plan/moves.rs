//! Renames without loss: `seqops.dev/moved-from: OLDNAME` on a manifest
//! moves the record state keeps of `KIND/OLDNAME` to the manifest's name
//! (Terraform's `moved {}`). The plan compares the object under its new
//! name, shows `moved`, and sends nothing for the move itself; apply moves
//! the record before anything else.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::removal::from_entry;
use super::{Action, Change, EngineError};
use crate::engine::reason::Reason;
use crate::engine::state::State;
use crate::manifest::{annotations, Manifests, ResourceKey};

/// The objects moved to a new name: each new key with the old one.
pub(super) type Moved = BTreeMap<ResourceKey, ResourceKey>;

/// State as the plan compares it, with every move made, and the moves. A
/// move whose old name still has a manifest, or whose both names have a
/// record, is an error before any request; one already made (the record
/// is under the new name) is nothing to do.
pub(super) fn moved_state<'s>(
    manifests: &Manifests,
    state: &'s State,
    selected: Option<&BTreeSet<ResourceKey>>,
) -> Result<(Cow<'s, State>, Moved), EngineError> {
    let mut errors = Vec::new();
    let mut moved = Moved::new();
    let mut claimed: BTreeMap<ResourceKey, ResourceKey> = BTreeMap::new();
    // A plan limited by --target moves only what it covers.
    let covered = manifests.managed().filter(|r| selected.is_none_or(|s| s.contains(&r.key)));
    for resource in covered {
        let Some(old_name) = resource.annotation(annotations::MOVED_FROM) else { continue };
        let old = ResourceKey { kind: resource.key.kind.clone(), name: old_name.to_string() };
        let here = format!("{}: {}: {}", resource.location(), resource.key, annotations::MOVED_FROM);
        if let Some(first) = claimed.insert(old.clone(), resource.key.clone()) {
            errors.push(format!("{here} names {old}, as {first} does: one object can move to one new name only"));
        } else if manifests.get(&old).is_some() {
            errors.push(format!(
                "{here} names {old}, which still has a manifest: remove that manifest, or the annotation"
            ));
        } else if state.resources.contains_key(&old) && state.resources.contains_key(&resource.key) {
            errors.push(format!(
                "{here} names {old}, but state has records of both {old} and {}: remove one with `seqops state rm`",
                resource.key
            ));
        } else if state.resources.contains_key(&old) {
            moved.insert(resource.key.clone(), old);
        }
    }
    if !errors.is_empty() {
        return Err(EngineError::Plan(errors));
    }
    if moved.is_empty() {
        return Ok((Cow::Borrowed(state), moved));
    }
    let mut renamed = state.clone();
    for (new, old) in &moved {
        renamed.move_entry(old, new);
    }
    Ok((Cow::Owned(renamed), moved))
}

/// Marks each moved object's change as moved, and plans a `moved` change
/// for one with nothing else to do.
pub(super) fn show_moves(changes: &mut Vec<Change>, moved: &Moved, state: &State) {
    for (new, old) in moved {
        if let Some(change) = changes.iter_mut().find(|c| &c.key == new) {
            change.steps.moved_from = Some(old.clone());
            change.reasons.insert(0, Reason::MovedFrom { from: old.to_string() });
        } else if let Some(entry) = state.resources.get(new) {
            let reasons = vec![Reason::MovedFrom { from: old.to_string() }];
            let mut change = from_entry(&entry.provider, new, entry, Action::Moved, entry.id.clone(), reasons);
            change.steps.moved_from = Some(old.clone());
            changes.push(change);
        }
    }
}

/// A warning for each delete whose object a create of the same kind and
/// Provider, display name and spec makes again: most likely a rename,
/// which the annotation would make without losing the remote object.
pub(super) fn looks_renamed(changes: &[Change]) -> Vec<String> {
    let deletes = changes.iter().filter(|c| c.action == Action::Delete);
    deletes
        .filter_map(|gone| {
            let made = changes.iter().find(|c| {
                c.action == Action::Create
                    && c.key.kind == gone.key.kind
                    && c.provider == gone.provider
                    && c.display_name == gone.display_name
                    && c.spec.json() == gone.spec.json()
            })?;
            Some(format!(
                "{} is deleted and {} created with the same name and spec: if it was renamed, add the annotation `{}: {}` to {}'s metadata.annotations, and the remote object is kept under the new name",
                gone.key, made.key, annotations::MOVED_FROM, gone.key.name, made.key
            ))
        })
        .collect()
}
