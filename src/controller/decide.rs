//! Decide: from what was observed alone, with no request, what the
//! reconcile does: apply the plan, or only report what differs (under
//! `ObserveOnly`, or when the change needs what the policies leave out).

use serde_json::Value;

use super::observe::Observation;
use crate::engine::diff::FieldChange;
use crate::engine::plan::refused_by_policy;
use crate::engine::{Action, Change, Plan};
use crate::manifest::crd::DriftEntry;
use crate::manifest::{policy, ResourceKey};

#[derive(Debug)]
pub enum Decision {
    /// Change nothing; report what differs.
    Observe(Observed),
    /// Apply the plan; the object's own change, if it has one, is what is
    /// reported.
    Apply(Option<Box<Change>>),
}

/// What an object seqops only observes shows in its status.
#[derive(Debug, PartialEq)]
pub struct Observed {
    pub drift: Vec<DriftEntry>,
    pub external_id: Option<String>,
    /// The policy the change needs and the object does not allow; `None`
    /// under `ObserveOnly`.
    pub refused: Option<String>,
}

impl Decision {
    /// Whether applying makes the object anew, and with it a value shown
    /// once, which must have a Secret of the object's to go to.
    pub fn makes(&self) -> bool {
        matches!(self, Decision::Apply(Some(change)) if matches!(change.action, Action::Create | Action::Replace))
    }
}

/// The decision for the observed object.
pub fn decide_for(observation: &Observation) -> Decision {
    let key = &observation.world.key;
    let recorded = observation.world.state.resources.get(key).and_then(|e| e.id.clone());
    decide(&observation.plan, key, recorded, &observation.spec)
}

/// The decision for object `key` of spec `spec`, given the plan made for
/// it and the id its record holds.
pub fn decide(plan: &Plan, key: &ResourceKey, recorded_id: Option<String>, spec: &Value) -> Decision {
    let change = plan.changes.iter().find(|c| &c.key == key);
    let refused = change.and_then(|c| refused_by_policy(spec, c));
    let observe_only = policy::observe_only(spec);
    if !observe_only && refused.is_none() {
        return Decision::Apply(change.cloned().map(Box::new));
    }
    Decision::Observe(Observed {
        drift: change.map(|c| c.fields.iter().map(drift_entry).collect()).unwrap_or_default(),
        external_id: change.and_then(|c| c.id.clone()).or(recorded_id),
        refused: refused.filter(|_| !observe_only).map(|policy| format!("{policy:?}")),
    })
}

fn drift_entry(field: &FieldChange) -> DriftEntry {
    let text = |v: &Option<Value>| v.as_ref().map(|v| crate::render::text::value_text(Some(v)));
    DriftEntry { path: field.path.clone(), applied: text(&field.before), observed: text(&field.after) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::external::{Fields, Spec};

    fn key() -> ResourceKey {
        ResourceKey::new("Sequence", "welcome")
    }

    /// A plan that changes the sequence's name from `Old` to `New`.
    fn renaming(action: Action) -> Plan {
        let field: FieldChange =
            serde_json::from_value(json!({"path": "name", "before": "Old", "after": "New"})).expect("a field change");
        let change = Change {
            key: key(),
            api_version: "orsay.seqops.dev/v1alpha1".into(),
            provider: "orsay".into(),
            action,
            id: (action != Action::Create).then(|| "seq_1".to_string()),
            display_name: "New".into(),
            fields: vec![field],
            drift: Vec::new(),
            reasons: Vec::new(),
            desired: Fields::new(),
            updates: Fields::new(),
            manifest_digest: String::new(),
            spec: Spec::from_json(json!({"name": "New"})),
            source_dir: ".".into(),
            observed: Fields::new(),
            depends_on: Vec::new(),
            references: Vec::new(),
            preexisting: Vec::new(),
            orphan_on_delete: false,
            prevent_destroy: false,
            renew_token: None,
            renews: false,
            annotations: Default::default(),
            steps: crate::engine::plan::Steps::default(),
            requests: 1,
        };
        Plan { changes: vec![change], ..Plan::default() }
    }

    #[test]
    fn a_managed_object_applies_its_change() {
        let decision = decide(&renaming(Action::Update), &key(), None, &json!({"name": "New"}));
        assert!(matches!(&decision, Decision::Apply(Some(change)) if change.action == Action::Update));
        assert!(!decision.makes(), "an update makes nothing anew");
        assert!(decide(&renaming(Action::Create), &key(), None, &json!({})).makes());
    }

    #[test]
    fn an_object_without_a_change_applies_nothing_and_is_reported_in_sync() {
        assert!(matches!(decide(&Plan::default(), &key(), Some("seq_1".into()), &json!({})), Decision::Apply(None)));
    }

    #[test]
    fn under_observe_only_the_change_is_reported_as_drift_and_not_applied() {
        let spec = json!({"name": "New", "managementPolicy": "ObserveOnly"});
        let Decision::Observe(observed) = decide(&renaming(Action::Update), &key(), None, &spec) else {
            panic!("nothing is applied under ObserveOnly");
        };
        // As a plan shows values: JSON, so a string is quoted.
        let (applied, observed_name) = (Some(r#""Old""#.to_string()), Some(r#""New""#.to_string()));
        let drift = vec![DriftEntry { path: "name".into(), applied, observed: observed_name }];
        assert_eq!(observed, Observed { drift, external_id: Some("seq_1".into()), refused: None });
    }

    #[test]
    fn a_change_the_policies_leave_out_is_observed_and_names_the_policy() {
        let spec = json!({"name": "New", "managementPolicies": ["Observe", "Create", "Delete"]});
        let Decision::Observe(observed) = decide(&renaming(Action::Update), &key(), None, &spec) else {
            panic!("an update without the Update policy is not applied");
        };
        assert_eq!(observed.refused.as_deref(), Some("Update"));
    }

    #[test]
    fn an_observed_object_without_a_change_keeps_the_id_its_record_holds() {
        let spec = json!({"managementPolicy": "ObserveOnly"});
        let Decision::Observe(observed) = decide(&Plan::default(), &key(), Some("seq_9".into()), &spec) else {
            panic!("observed");
        };
        assert_eq!((observed.drift, observed.external_id), (Vec::new(), Some("seq_9".into())));
    }
}
