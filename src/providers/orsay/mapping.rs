//! Between Orsay's wire bodies and the fields the engine compares.
//!
//! Fields use the spec's names; `agent`, `profile` and `filteringAgent` hold
//! remote ids; durations are canonical strings (`2h`, not `120m`).

use serde_json::{json, Map, Value};

use super::spec::{ProfileSelector, SequenceSpec};
use super::wire;
use crate::manifest::duration::Duration;
use crate::manifest::selector::Selector;
use crate::providers::{Field, Fields, Json, KindFacts, Listing, CRUD};

pub static SEQUENCE_FACTS: KindFacts = KindFacts::new(
    CRUD,
    &[
        Field::new("keywords").set(),
        Field::new("targetAccounts").set(),
        Field::new("active").default(Json::Bool(false)),
        Field::new("shouldContinueExistingConversations").default(Json::Bool(false)),
        Field::new("requireManualApproval").default(Json::Bool(false)),
        Field::new("enableAgentOnConversation").default(Json::Bool(true)),
        Field::new("inboundResponseDelay").default(Json::Text("5m")),
        Field::new("flow").default(Json::EmptyList),
    ],
    Listing::Summary,
);

/// Orsay's documented defaults: what a field removed from a manifest is
/// reset to, and what a field the API leaves out means.
fn default_of(field: &str) -> Value {
    SEQUENCE_FACTS.default_of(field)
}

/// A spec field as the engine compares it: a value as written, or a
/// selector a lookup turns into an id (reused while it is unchanged).
pub enum SpecField<'a> {
    Value(Value),
    Agent(&'a Selector),
    Profile(&'a ProfileSelector),
}

/// What a manifest asks of a sequence, field by field in the spec's order:
/// the selection of a Provider, the policies and `agentRef` (refused
/// anyway) are not the sequence's.
pub fn spec_fields(spec: &SequenceSpec) -> Vec<(&'static str, SpecField<'_>)> {
    let value = |v: Value| SpecField::Value(v);
    let flow = spec.flow.as_ref().map(|steps| Value::Array(steps.iter().map(|s| normalize_step(&json!(s))).collect()));
    let fields = [
        ("name", Some(value(json!(spec.name)))),
        ("trigger", Some(value(json!(spec.trigger)))),
        ("active", spec.active.map(|v| value(json!(v)))),
        ("agent", spec.agent.as_ref().map(SpecField::Agent)),
        ("profile", spec.profile.as_ref().map(SpecField::Profile)),
        ("inboundResponseDelay", spec.inbound_response_delay.as_ref().map(|v| value(json!(v)))),
        ("flow", flow.map(value)),
        ("filteringAgent", spec.filtering_agent.as_ref().map(SpecField::Agent)),
        ("shouldContinueExistingConversations", spec.should_continue_existing_conversations.map(|v| value(json!(v)))),
        ("keywords", spec.keywords.as_ref().map(|v| value(json!(v)))),
        ("targetAccounts", spec.target_accounts.as_ref().map(|v| value(json!(v)))),
        ("enableAgentOnConversation", spec.enable_agent_on_conversation.map(|v| value(json!(v)))),
        ("requireManualApproval", spec.require_manual_approval.map(|v| value(json!(v)))),
    ];
    fields.into_iter().filter_map(|(name, field)| Some((name, field?))).collect()
}

/// What each lookup of a spec stands for, by field: `agent` →
/// `lookup "Sales Agent"`, for plans.
pub fn lookup_labels(spec: &SequenceSpec) -> std::collections::BTreeMap<String, String> {
    let agent = |selector: &Selector| match selector {
        Selector::Lookup(name) => Some(format!("lookup {}", json!(name))),
        Selector::Id(_) => None,
    };
    let profile = match &spec.profile {
        Some(ProfileSelector::Instagram(name)) => Some(format!("instagram {}", json!(name))),
        Some(ProfileSelector::Whatsapp(name)) => Some(format!("whatsapp {}", json!(name))),
        Some(ProfileSelector::Id(_)) | None => None,
    };
    [
        ("agent", spec.agent.as_ref().and_then(agent)),
        ("filteringAgent", spec.filtering_agent.as_ref().and_then(agent)),
        ("profile", profile),
    ]
    .into_iter()
    .filter_map(|(field, label)| Some((field.to_string(), label?)))
    .collect()
}

/// The fields of a full sequence.
pub fn observed(sequence: &wire::Sequence) -> Fields {
    let delay = sequence
        .inbound_response_delay
        .map(|amount| duration_text(amount, sequence.inbound_response_delay_unit.as_deref().unwrap_or("MINUTES")))
        .unwrap_or_else(|| default_of("inboundResponseDelay"));
    let mut fields = Map::new();
    fields.insert("name".into(), json!(sequence.name));
    fields.insert("trigger".into(), json!(sequence.trigger));
    fields.insert("active".into(), json!(sequence.active));
    fields.insert("agent".into(), json!(sequence.agent_id));
    fields.insert("profile".into(), json!(sequence.profile_id));
    fields.insert("inboundResponseDelay".into(), delay);
    fields.insert("flow".into(), Value::Array(sequence.flow.iter().map(step_fields).collect()));
    fields.insert("filteringAgent".into(), json!(sequence.filtering_agent));
    let flags = [
        ("shouldContinueExistingConversations", sequence.should_continue_existing_conversations),
        ("enableAgentOnConversation", sequence.enable_agent_on_conversation),
        ("requireManualApproval", sequence.require_manual_approval),
    ];
    for (name, value) in flags {
        fields.insert(name.into(), value.map_or_else(|| default_of(name), Value::Bool));
    }
    fields.insert("keywords".into(), json!(sequence.keywords));
    fields.insert("targetAccounts".into(), json!(sequence.target_accounts));
    fields
}

/// The fields a list summary shows.
pub fn summary(sequence: &wire::SequenceSummary) -> Fields {
    let mut fields = Map::new();
    fields.insert("name".into(), json!(sequence.name));
    fields.insert("trigger".into(), json!(sequence.trigger));
    fields.insert("active".into(), json!(sequence.active));
    fields
}

/// How the list shows a sequence just made from `body` (a create's wire
/// body): the name and trigger sent, the channel the trigger implies, and
/// `active` as sent (false by default).
pub fn listed(id: &str, body: &Value) -> wire::SequenceSummary {
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let trigger = text("trigger");
    wire::SequenceSummary {
        id: id.to_string(),
        name: text("name"),
        channel: super::spec::channel_and_type(&trigger).map(|(channel, _)| channel.to_string()),
        trigger,
        active: body.get("active").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// How the list shows a sequence once an update's wire `body` is applied.
pub fn update_listed(listed: &mut wire::SequenceSummary, body: &Value) {
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        listed.name = name.to_string();
    }
    if let Some(trigger) = body.get("trigger").and_then(Value::as_str) {
        listed.trigger = trigger.to_string();
        listed.channel = super::spec::channel_and_type(trigger).map(|(channel, _)| channel.to_string());
    }
    if let Some(active) = body.get("active").and_then(Value::as_bool) {
        listed.active = active;
    }
}

fn step_fields(step: &wire::FlowStep) -> Value {
    let mut fields = Map::new();
    fields.insert("delay".into(), duration_text(step.delay, &step.delay_unit));
    let texts = [("content", &step.content), ("templateId", &step.template_id), ("action", &step.action)];
    for (name, value) in texts {
        if let Some(value) = value {
            fields.insert(name.into(), json!(value));
        }
    }
    if let Some(delays) = step.followup_delays.as_ref().filter(|d| !d.is_empty()) {
        let delays = delays.iter().map(|d| duration_text(d.delay, &d.delay_unit)).collect();
        fields.insert("followupDelays".into(), Value::Array(delays));
    }
    Value::Object(fields)
}

fn duration_text(amount: u64, unit: &str) -> Value {
    match Duration::from_amount_and_unit(amount, unit) {
        Some(duration) => json!(duration.to_string()),
        None => json!(format!("{amount} {unit}")),
    }
}

/// A flow step as the spec's serializer wrote it: drops what the wire
/// would not keep (empty follow-up lists), so both sides compare alike.
pub fn normalize_step(step: &Value) -> Value {
    let mut step = step.as_object().cloned().unwrap_or_default();
    if step.get("followupDelays").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        step.remove("followupDelays");
    }
    step.entry("delay").or_insert(json!("0m"));
    Value::Object(step)
}

/// The request body that sets `fields`: for a create, every field given;
/// for a partial PUT, only those that change.
pub fn to_wire(fields: &Fields) -> Result<Map<String, Value>, String> {
    let mut body = Map::new();
    for (name, value) in fields {
        match name.as_str() {
            "inboundResponseDelay" => {
                let (amount, unit) = parse_duration(value)?.to_amount_and_unit();
                body.insert("inbound_response_delay".into(), json!(amount));
                body.insert("inbound_response_delay_unit".into(), json!(unit));
            }
            "flow" => {
                let steps = value.as_array().map(Vec::as_slice).unwrap_or_default();
                let steps: Result<Vec<Value>, String> = steps.iter().map(step_to_wire).collect();
                body.insert("flow".into(), Value::Array(steps?));
            }
            other => {
                body.insert(wire_name(other).to_string(), value.clone());
            }
        }
    }
    Ok(body)
}

fn step_to_wire(step: &Value) -> Result<Value, String> {
    let (delay, unit) = parse_duration(step.get("delay").unwrap_or(&json!("0m")))?.to_amount_and_unit();
    let mut wire = json!({
        "delay": delay,
        "delay_unit": unit,
        "content": step.get("content"),
        "template_id": step.get("templateId"),
        "action": step.get("action"),
    });
    if let Some(delays) = step.get("followupDelays").and_then(Value::as_array) {
        let delays: Result<Vec<Value>, String> = delays
            .iter()
            .map(|d| {
                parse_duration(d).map(|d| d.to_amount_and_unit()).map(|(a, u)| json!({"delay": a, "delay_unit": u}))
            })
            .collect();
        wire["followup_delays"] = Value::Array(delays?);
    }
    Ok(wire)
}

fn parse_duration(value: &Value) -> Result<Duration, String> {
    Duration::parse(value.as_str().unwrap_or_default())
}

fn wire_name(field: &str) -> &str {
    match field {
        "agent" => "agent_id",
        "profile" => "profile_id",
        "filteringAgent" => "filtering_agent",
        "shouldContinueExistingConversations" => "should_continue_existing_conversations",
        "targetAccounts" => "target_accounts",
        "enableAgentOnConversation" => "enable_agent_on_conversation",
        "requireManualApproval" => "require_manual_approval",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_in_any_unit_read_back_in_canonical_form() {
        let step = wire::FlowStep {
            delay: 120,
            delay_unit: "MINUTES".into(),
            content: Some("Hi".into()),
            template_id: None,
            action: None,
            followup_delays: Some(vec![wire::Delay { delay: 1800, delay_unit: "SECONDS".into() }]),
        };
        assert_eq!(step_fields(&step), json!({"delay": "2h", "content": "Hi", "followupDelays": ["30m"]}));
    }

    #[test]
    fn fields_map_to_the_vendors_names_and_units() {
        let fields =
            json!({"agent": "a1", "inboundResponseDelay": "2h", "flow": [{"delay": "0m", "followupDelays": ["90s"]}]});
        let body = to_wire(fields.as_object().unwrap_or(&Map::new())).unwrap_or_default();
        assert_eq!(body["agent_id"], json!("a1"));
        assert_eq!(body["inbound_response_delay"], json!(2));
        assert_eq!(body["inbound_response_delay_unit"], json!("HOURS"));
        assert_eq!(body["flow"][0]["followup_delays"][0], json!({"delay": 90, "delay_unit": "SECONDS"}));
    }
}
