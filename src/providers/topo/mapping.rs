//! Between Topo's runs and the fields the engine compares.
//!
//! A run's state is three fields: `phase` (`Active`, `Paused`, `Stopped`, or
//! the status of a run that ended by itself), and, as the manifest asked
//! for them, `pausedUntil` and `stop` (reason and scope). Topo shows none of
//! the last two, so they are taken to be what seqops last sent.

use serde_json::{json, Value};

use super::wire;
use crate::providers::{Birth, Change, End, Field, Fields, Gone, KindFacts, Lifecycle, Listing};

pub static RUN_FACTS: KindFacts = KindFacts::new(
    "SequenceRun",
    Lifecycle {
        birth: Birth::AdoptOnly { key: &["templateId", "contactId"], id_field: "id" },
        change: Change::InPlaceOrRefuse { hint: "a run's template and contact are fixed: name another run" },
        gone: Gone::Report { terminal },
        end: End::Transition { ends },
    },
    &[
        Field::new("templateId").fixed(),
        Field::new("contactId").fixed(),
        Field::new("variables").merged_map(),
        Field::new("phase").kept(),
        Field::new("pausedUntil").write_only().kept(),
        Field::new("stop").write_only().kept(),
        Field::new("status").observed(),
        Field::new("lastStepAt").observed(),
    ],
    Listing::Whole,
);

/// The confirmation a `COMPANY` stop needs.
pub const CONFIRM_COMPANY_STOP: &str = "topo.seqops.dev/confirm-company-stop";

fn terminal(fields: &Fields) -> Option<String> {
    let status = fields.get("status").and_then(Value::as_str)?;
    wire::TERMINAL.contains(&status).then(|| status.to_string())
}

/// A stop ends a run for good, as a delete would.
fn ends(updates: &Fields, desired: &Fields) -> Option<String> {
    (updates.get("phase").and_then(Value::as_str) == Some("Stopped")).then(|| {
        let stop = desired.get("stop").cloned().unwrap_or(Value::Null);
        let (reason, scope) = (stop["reason"].as_str().unwrap_or("?"), stop["scope"].as_str().unwrap_or("?"));
        match scope {
            "COMPANY" => format!(
                "stop ({reason}, COMPANY): every other live run of this template at the contact's company stops too, and Topo gives no way to list them beforehand"
            ),
            _ => format!("stop ({reason}, {scope})"),
        }
    })
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
