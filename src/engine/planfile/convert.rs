//! The working plan to the public JSON plan and back: one exhaustive
//! conversion each way per type, so a field added on either side fails to
//! compile until it is placed in the format, or left out, on purpose.
//! Writing copies (the working plan is still used); reading moves.

use super::json::{JsonPlan, PlannedChange, PlannedReason, PlannedReference, PlannedSync};
use super::PlanDocument;
use crate::engine::plan::{Action, Change, ReferenceTo, StateSync, Steps, Verb};
use crate::engine::reason::Reason;
use crate::manifest::ResourceKey;

impl From<&Change> for PlannedChange {
    /// Writing: the working change as the format has it. Every field is
    /// named, so a field added to `Change` is placed in the format, or left
    /// out, on purpose.
    fn from(change: &Change) -> Self {
        let Change {
            key,
            api_version,
            provider,
            action,
            id,
            display_name,
            fields,
            drift,
            reasons,
            desired,
            updates,
            manifest_digest,
            spec,
            source_dir,
            observed,
            depends_on,
            references,
            preexisting,
            orphan_on_delete,
            prevent_destroy,
            renew_token,
            renews,
            annotations,
            steps,
            requests,
        } = change;
        Self {
            key: key.clone(),
            api_version: api_version.clone(),
            provider: provider.clone(),
            action: *action,
            actions: change.json_actions(),
            cannot_be_undone: change.cannot_be_undone(),
            lasting: steps.lasting,
            previous_key: steps.moved_from.clone(),
            id: id.clone(),
            display_name: display_name.clone(),
            fields: fields.clone(),
            drift: drift.clone(),
            reasons: reasons
                .iter()
                .map(|r| PlannedReason { code: r.code().to_string(), text: r.to_string() })
                .collect(),
            desired: desired.clone(),
            updates: updates.clone(),
            manifest_digest: manifest_digest.clone(),
            spec: spec.json().clone(),
            source_dir: source_dir.clone(),
            observed: observed.clone(),
            depends_on: depends_on.clone(),
            references: references.iter().map(PlannedReference::from).collect(),
            preexisting: preexisting.clone(),
            orphan_on_delete: *orphan_on_delete,
            prevent_destroy: *prevent_destroy,
            renew_token: renew_token.clone(),
            renews: *renews,
            annotations: annotations.clone(),
            requests: *requests,
        }
    }
}

impl From<PlannedChange> for Change {
    /// Reading a saved plan back for apply: the format's change as the
    /// working one, moved, not copied.
    fn from(planned: PlannedChange) -> Self {
        let PlannedChange {
            key,
            api_version,
            provider,
            action,
            actions,
            cannot_be_undone: _,
            lasting,
            previous_key,
            id,
            display_name,
            fields,
            drift,
            reasons,
            desired,
            updates,
            manifest_digest,
            spec,
            source_dir,
            observed,
            depends_on,
            references,
            preexisting,
            orphan_on_delete,
            prevent_destroy,
            renew_token,
            renews,
            annotations,
            requests,
        } = planned;
        let steps = steps_of(action, &actions, lasting, previous_key);
        Self {
            key,
            api_version,
            provider,
            action,
            id,
            display_name,
            fields,
            drift,
            reasons: reasons.into_iter().map(|r| Reason::Saved { code: r.code, words: r.text }).collect(),
            desired,
            updates,
            manifest_digest,
            spec: crate::external::Spec::from_json(spec),
            source_dir,
            observed,
            depends_on,
            references: references.into_iter().map(ReferenceTo::from).collect(),
            preexisting,
            orphan_on_delete,
            prevent_destroy,
            renew_token,
            renews,
            annotations,
            steps,
            requests,
        }
    }
}

/// What a saved change does beyond its action, from its listed actions.
fn steps_of(action: Action, actions: &[Verb], lasting: bool, moved_from: Option<ResourceKey>) -> Steps {
    let transition = actions.iter().find_map(|verb| verb.transition());
    Steps {
        transition,
        moves_only: action == Action::Update && !actions.contains(&Verb::Update),
        moved_from,
        create_first: action == Action::Replace
            && actions.iter().find(|v| matches!(v, Verb::Create | Verb::Delete)) == Some(&Verb::Create),
        lasting: action == Action::Create && lasting,
    }
}

impl From<&PlanDocument> for JsonPlan {
    /// Writing (and signing, which covers these bytes): the document as
    /// the format has it.
    fn from(document: &PlanDocument) -> Self {
        let PlanDocument {
            seqops_version,
            plan_id,
            created_at,
            state_lineage,
            state_serial,
            sandbox,
            manifests_digest,
            refresh,
            targets,
            summary,
            changes,
            syncs,
            warnings,
            requests,
            provenance,
            applies_to,
            files,
            signature,
        } = document;
        Self {
            // The working document has no version of its own: it is written
            // in the one format this seqops writes.
            format_version: super::FORMAT_VERSION.into(),
            seqops_version: seqops_version.clone(),
            plan_id: plan_id.clone(),
            created_at: created_at.clone(),
            state_lineage: state_lineage.clone(),
            state_serial: *state_serial,
            sandbox: *sandbox,
            manifests_digest: manifests_digest.clone(),
            refresh: *refresh,
            targets: targets.clone(),
            summary: summary.clone(),
            changes: changes.iter().map(PlannedChange::from).collect(),
            syncs: syncs.iter().map(PlannedSync::from).collect(),
            warnings: warnings.clone(),
            requests: requests.clone(),
            provenance: provenance.clone(),
            applies_to: applies_to.clone(),
            files: files.clone(),
            signature: signature.clone(),
        }
    }
}

impl From<JsonPlan> for PlanDocument {
    /// Reading a saved plan: the format's document as the working one.
    fn from(json: JsonPlan) -> Self {
        let JsonPlan {
            // Checked by `PlanDocument::parse` before it gets here.
            format_version: _,
            seqops_version,
            plan_id,
            created_at,
            state_lineage,
            state_serial,
            sandbox,
            manifests_digest,
            refresh,
            targets,
            summary,
            changes,
            syncs,
            warnings,
            requests,
            provenance,
            applies_to,
            files,
            signature,
        } = json;
        Self {
            seqops_version,
            plan_id,
            created_at,
            state_lineage,
            state_serial,
            sandbox,
            manifests_digest,
            refresh,
            targets,
            summary,
            changes: changes.into_iter().map(Change::from).collect(),
            syncs: syncs.into_iter().map(StateSync::from).collect(),
            warnings,
            requests,
            provenance,
            applies_to,
            files,
            signature,
        }
    }
}

impl From<&ReferenceTo> for PlannedReference {
    fn from(reference: &ReferenceTo) -> Self {
        let ReferenceTo { field, key } = reference;
        Self { field: field.clone(), key: key.clone() }
    }
}

impl From<PlannedReference> for ReferenceTo {
    fn from(reference: PlannedReference) -> Self {
        let PlannedReference { field, key } = reference;
        Self { field, key }
    }
}

impl From<&StateSync> for PlannedSync {
    fn from(sync: &StateSync) -> Self {
        let StateSync { key, manifest_digest, applied_spec, last_applied, observed } = sync;
        Self {
            key: key.clone(),
            manifest_digest: manifest_digest.clone(),
            applied_spec: applied_spec.clone(),
            last_applied: last_applied.clone(),
            observed: observed.clone(),
        }
    }
}

impl From<PlannedSync> for StateSync {
    fn from(sync: PlannedSync) -> Self {
        let PlannedSync { key, manifest_digest, applied_spec, last_applied, observed } = sync;
        Self { key, manifest_digest, applied_spec, last_applied, observed }
    }
}
