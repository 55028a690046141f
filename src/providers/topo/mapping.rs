//! Between Topo's runs and the fields the engine compares.
//!
//! A run's state is three fields: `phase` (`Active`, `Paused`, `Stopped`, or
//! the status of a run that ended by itself), and, as the manifest asked
//! for them, `pausedUntil` and `stop` (reason and scope). Topo shows none of
//! the last two, so they are taken to be what seqops last sent.

use serde_json::{json, Value};

use super::spec::{Phase, SequenceRunSpec};
use super::wire;
use crate::external::{self, Transition};
use crate::providers::{Birth, Change, End, Field, Fields, Gone, KindFacts, Lifecycle, Listing};

pub static RUN_FACTS: KindFacts = KindFacts::new(
    Lifecycle {
        birth: Birth::AdoptOnly { key: &["templateId", "contactId"], id_field: "id" },
        change: Change::InPlaceOrRefuse { hint: "a run's template and contact are fixed: name another run" },
        gone: Gone::Report { terminal },
        end: End::Transition { moves },
    },
    &[
        Field::new("templateId").fixed(),
        Field::new("contactId").fixed(),
        Field::new("variables").merged_map(),
        Field::new("phase").kept().shown_at("state.phase"),
        Field::new("pausedUntil").write_only().kept().shown_at("state.pausedUntil").said_by("phase"),
        Field::new("stop").write_only().kept().shown_at("state").said_by("phase"),
        Field::new("status").observed(),
        Field::new("lastStepAt").observed(),
    ],
    Listing::Whole,
);

/// The export filters: templates, and the statuses to keep.
pub const TEMPLATE_FILTER: &str = "template";
pub const STATUS_FILTER: &str = "status";

/// The fields a manifest asks for: the selector's template and contact,
/// the variables, and the state, unless it is a pause whose time passed.
pub fn desired(spec: &SequenceRunSpec) -> Fields {
    let mut fields = Fields::new();
    if let Some(selector) = &spec.selector {
        fields.insert("templateId".into(), json!(selector.template_id));
        fields.insert("contactId".into(), json!(selector.contact_id));
    }
    if let Some(variables) = &spec.variables {
        fields.insert("variables".into(), json!(variables));
    }
    let Some(state) = &spec.state else { return fields };
    match state.phase {
        Phase::Paused if elapsed_pause(spec).is_none() => {
            fields.insert("phase".into(), json!("Paused"));
            fields.insert("pausedUntil".into(), json!(state.paused_until));
        }
        Phase::Paused => {}
        Phase::Active => {
            fields.insert("phase".into(), json!("Active"));
        }
        Phase::Stopped => {
            fields.insert("phase".into(), json!("Stopped"));
            fields.insert("stop".into(), json!({"reason": state.reason, "scope": state.scope}));
        }
    }
    fields
}

/// The end of a pause the spec asks for that has already passed.
pub fn elapsed_pause(spec: &SequenceRunSpec) -> Option<&str> {
    let state = spec.state.as_ref().filter(|s| s.phase == Phase::Paused)?;
    let until = state.paused_until.as_deref()?;
    super::spec::parse_time(until).filter(|at| *at <= crate::clock::now_ms()).map(|_| until)
}

/// How plans name the run a manifest asks for: its id, or its contact in
/// its template.
pub fn spec_display_name(spec: &SequenceRunSpec) -> String {
    match (&spec.id, &spec.selector) {
        (Some(id), _) => id.clone(),
        (None, Some(selector)) => format!("{} in {}", selector.contact_id, selector.template_id),
        (None, None) => String::new(),
    }
}

/// What the state a spec asks for means, for plans: `phase` → `pause
/// until …`, `resume`, `stop: WIN, CONTACT`.
pub fn state_labels(spec: &SequenceRunSpec) -> std::collections::BTreeMap<String, String> {
    let Some(state) = &spec.state else { return Default::default() };
    let text = |value: Value| value.as_str().map(String::from).unwrap_or_default();
    let note = match state.phase {
        Phase::Paused => format!("pause until {}", state.paused_until.as_deref().unwrap_or_default()),
        Phase::Active => "resume".to_string(),
        Phase::Stopped => format!("stop: {}, {}", text(json!(state.reason)), text(json!(state.scope))),
    };
    [("phase".to_string(), note)].into()
}

/// The run by id, with its overrides.
pub fn export(observed: &Fields) -> Option<Value> {
    let id = observed.get("id").and_then(Value::as_str)?;
    let mut spec = serde_json::Map::new();
    spec.insert("id".into(), json!(id));
    if let Some(variables) = observed.get("variables").filter(|v| v.as_object().is_some_and(|m| !m.is_empty())) {
        spec.insert("variables".into(), variables.clone());
    }
    Some(Value::Object(spec))
}

/// The fields of a run's state: a change to one is a pause, resume or stop.
const STATE_FIELDS: [&str; 3] = ["phase", "pausedUntil", "stop"];

/// The requests an update costs: variables one, a move of state another.
pub fn update_requests(changes: &Fields) -> u64 {
    let moves = STATE_FIELDS.iter().any(|f| changes.contains_key(*f));
    u64::from(changes.contains_key("variables")) + u64::from(moves)
}

/// The call that moves a run's state, with its body.
pub enum Call {
    Pause(Value),
    Resume,
    Stop(Value),
}

/// The calls an update makes: the `PATCH` body for variables, and the
/// call of the move the plan showed (`moves`), each when the changes need
/// it.
pub fn update_calls(changes: &Fields, desired: &Fields) -> (Option<Value>, Option<Call>) {
    let variables = changes.get("variables").map(|variables| json!({ "variables": variables }));
    let call = moves(changes, desired).map(|moved| match moved.transition {
        Transition::Pause => Call::Pause(json!({ "paused_until": desired.get("pausedUntil") })),
        Transition::Resume => Call::Resume,
        Transition::Stop => {
            let stop = desired.get("stop").cloned().unwrap_or(Value::Null);
            Call::Stop(json!({"reason": stop["reason"], "scope": stop["scope"]}))
        }
    });
    (variables, call)
}

/// The confirmation a `COMPANY` stop needs.
pub const CONFIRM_COMPANY_STOP: &str = "topo.seqops.dev/confirm-company-stop";

fn terminal(fields: &Fields) -> Option<String> {
    let status = fields.get("status").and_then(Value::as_str)?;
    wire::TERMINAL.contains(&status).then(|| status.to_string())
}

/// The move an update makes: a pause (or a pause moved), a resume, or a
/// stop, which ends a run for good, as a delete would.
fn moves(updates: &Fields, desired: &Fields) -> Option<external::Move> {
    let phase = desired.get("phase").and_then(Value::as_str);
    let moved = STATE_FIELDS.iter().any(|f| updates.contains_key(*f));
    let (transition, how) = match phase {
        _ if !moved => return None,
        Some("Paused") => {
            let until = desired.get("pausedUntil").and_then(Value::as_str).unwrap_or("?");
            (Transition::Pause, format!("pause until {until}"))
        }
        Some("Active") if updates.contains_key("phase") => (Transition::Resume, "resume".to_string()),
        Some("Stopped") if updates.contains_key("phase") => (Transition::Stop, stop_words(desired)),
        _ => return None,
    };
    Some(external::Move { transition, how, fields: &STATE_FIELDS })
}

/// `stop (WIN, CONTACT)`, and what a `COMPANY` stop reaches.
fn stop_words(desired: &Fields) -> String {
    let stop = desired.get("stop").cloned().unwrap_or(Value::Null);
    let (reason, scope) = (stop["reason"].as_str().unwrap_or("?"), stop["scope"].as_str().unwrap_or("?"));
    match scope {
        "COMPANY" => format!(
            "stop ({reason}, COMPANY): every other live run of this template at the contact's company stops too, and Topo gives no way to list them beforehand"
        ),
        _ => format!("stop ({reason}, {scope})"),
    }
}

/// The phase a status is in, as a manifest says it.
pub fn phase_of(status: &str) -> &str {
    match status {
        "ACTIVE" | "WAITING_FOR_USER" | "FOUND" => "Active",
        "WAITING_FOR_LEAD" => "Paused",
        "STOPPED_EARLY" => "Stopped",
        other => other,
    }
}

pub fn observed(run: &wire::SequenceRun) -> Fields {
    let mut fields = Fields::new();
    fields.insert("id".into(), json!(run.id));
    fields.insert("templateId".into(), json!(run.sequence_template_id));
    fields.insert("contactId".into(), json!(run.contact_id));
    fields.insert("variables".into(), json!(run.variables));
    fields.insert("phase".into(), json!(phase_of(&run.status)));
    fields.insert("status".into(), json!(run.status));
    fields.insert("lastStepAt".into(), json!(run.last_step_at));
    fields
}

/// `ct_acme_anna in tpl_onboarding (seq_run_0001)`: how plans name a run.
pub fn display_name(run: &wire::SequenceRun) -> String {
    format!("{} in {}", run.contact_id.as_deref().unwrap_or("(deleted contact)"), run.sequence_template_id)
}
