//! What is left alone: objects that are `ObserveOnly`, paused or whose
//! `managementPolicies` do not allow the change, each named in a warning
//! with what it would have been, and the changes that wait for an id one of
//! those would have made.

use std::collections::BTreeSet;

use super::{Action, Change};
use crate::manifest::policy::Policy;
use crate::manifest::{annotations, Manifests, ResourceKey};

/// Takes out the changes to objects that are `ObserveOnly` or paused, each
/// named in a warning with what it would have been, and the changes that
/// need an id one of those would have made.
pub(super) fn leave_alone_what_may_not_change(
    manifests: &Manifests,
    changes: Vec<Change>,
) -> (Vec<Change>, Vec<String>) {
    let mut warnings = Vec::new();
    // Objects whose remote id this plan will not make known.
    let mut no_id: BTreeSet<ResourceKey> = BTreeSet::new();
    let mut kept = Vec::new();
    for change in changes {
        match held_back(manifests, &change) {
            Some(why) => {
                if makes_an_id(&change) {
                    no_id.insert(change.key.clone());
                }
                warnings.push(format!("{} {why} and {}; left alone", change.key, what_it_would_be(&change)));
            }
            None => kept.push(change),
        }
    }
    let kept = wait_for_what_is_left_alone(kept, &mut no_id, &mut warnings);
    (kept, warnings)
}

/// Why the manifest holds `change` back (`is ObserveOnly`, `is paused`, a
/// policy it lacks), if it does.
fn held_back(manifests: &Manifests, change: &Change) -> Option<String> {
    let resource = manifests.get(&change.key)?;
    if crate::manifest::policy::observe_only(resource.spec.json()) {
        Some("is ObserveOnly".to_string())
    } else if resource.annotation_is_true(annotations::PAUSED) {
        Some("is paused".to_string())
    } else {
        refused_by_policy(resource.spec.json(), change)
            .map(|policy| format!("has managementPolicies without {policy:?}"))
    }
}

/// What a change left alone would have done, for its warning.
fn what_it_would_be(change: &Change) -> String {
    let fields: Vec<&str> = change.fields.iter().map(|f| f.path.as_str()).collect();
    match change.action {
        Action::Create => "does not exist remotely".to_string(),
        Action::Adopt if fields.is_empty() => "would be adopted".to_string(),
        _ => format!("differs remotely in {}", fields.join(", ")),
    }
}

/// Whether the change gives the object a remote id others may refer to.
fn makes_an_id(change: &Change) -> bool {
    matches!(change.action, Action::Create | Action::Adopt | Action::Replace)
}

/// Takes out what refers to an object in `no_id`, and what refers to
/// that, as far as it reaches: each waits, named in a warning.
fn wait_for_what_is_left_alone(
    mut kept: Vec<Change>,
    no_id: &mut BTreeSet<ResourceKey>,
    warnings: &mut Vec<String>,
) -> Vec<Change> {
    loop {
        let (waiting, ready): (Vec<Change>, Vec<Change>) =
            kept.into_iter().partition(|change| needs(change).any(|k| no_id.contains(k)));
        kept = ready;
        if waiting.is_empty() {
            return kept;
        }
        for change in waiting {
            let on: BTreeSet<String> = needs(&change).filter(|k| no_id.contains(*k)).map(ToString::to_string).collect();
            let on: Vec<String> = on.into_iter().collect();
            warnings.push(format!("{} waits for {}, which is left alone", change.key, on.join(", ")));
            if makes_an_id(&change) {
                no_id.insert(change.key.clone());
            }
        }
    }
}

/// The objects a change needs to exist first: what it depends on and what
/// it refers to.
fn needs(change: &Change) -> impl Iterator<Item = &ResourceKey> {
    change.depends_on.iter().chain(change.references.iter().map(|r| &r.key))
}

/// The policy a change needs that the manifest's `managementPolicies` does
/// not allow, if any: creating (and adopting) needs `Create`, an update
/// `Update`, a replace `Create` and `Delete`.
pub fn refused_by_policy(spec: &serde_json::Value, change: &Change) -> Option<Policy> {
    let needs: &[Policy] = match change.action {
        // Ending an object is a delete, whatever call makes it.
        Action::Adopt | Action::Update if change.ends() => &[Policy::Update, Policy::Delete],
        Action::Create => &[Policy::Create],
        Action::Adopt if change.updates.is_empty() => &[],
        Action::Adopt | Action::Update => &[Policy::Update],
        Action::Replace => &[Policy::Create, Policy::Delete],
        Action::Delete => &[Policy::Delete],
        Action::Forget | Action::Moved => &[],
    };
    let allowed = crate::manifest::policy::allowed(spec);
    needs.iter().copied().find(|p| !allowed.contains(p))
}
