//! Between orchagent's wire bodies and the fields the engine compares.
//!
//! Fields use the spec's names (`runMode`, `cronExpression`); `workspace`
//! and `agent` hold remote ids. Secret values stay markers in fields and
//! are revealed only into the body of the call that sends them.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::spec::{AgentSpec, ScheduleSpec, ServiceSpec, WorkspaceSecretSpec, WorkspaceSpec};
use super::wire;
use crate::providers::sources::{self, SourceValues, SENSITIVE};
use crate::providers::{
    Birth, Change, DesiredContext, End, Field, Fields, Json, KindFacts, Lifecycle, Listing, ProviderError,
    ReplaceOrder, CRUD,
};

// ---- What each kind allows -------------------------------------------------

pub static WORKSPACE_FACTS: KindFacts = KindFacts::new(Lifecycle { end: End::Never, ..CRUD }, &[], Listing::Summary);

pub static SECRET_FACTS: KindFacts = KindFacts::new(
    Lifecycle {
        // The create is `PUT /workspaces/{id}/secrets`, by name.
        birth: Birth::Upsert { key: &["workspace", "name"] },
        change: Change::InPlaceOrReplace(ReplaceOrder::DeleteFirst),
        ..CRUD
    },
    &[Field::new("workspace").fixed(), Field::new("name").fixed()],
    Listing::Summary,
);

pub static AGENT_FACTS: KindFacts = KindFacts::new(
    Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::CreateFirst), ..CRUD },
    // The agent the API returns has none of runtime, loop, tags,
    // supportedProviders, defaultEndpoint and timeoutSeconds.
    &[
        Field::new("name").fixed(),
        Field::new("version").fixed(),
        Field::new("type").fixed(),
        Field::new("runMode").fixed().default(Json::Text("on_demand")),
        Field::new("runtime").fixed().write_only(),
        Field::new("loop").fixed().write_only(),
        Field::new("callable").fixed().default(Json::Bool(true)),
        Field::new("tags").set().write_only(),
        Field::new("supportedProviders").set().write_only(),
        Field::new("defaultEndpoint").write_only(),
        Field::new("timeoutSeconds").write_only(),
        Field::new("isPublic").default(Json::Bool(false)),
    ],
    Listing::Summary,
);

pub static SCHEDULE_FACTS: KindFacts = KindFacts::new(
    Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::CreateFirst), ..CRUD },
    // The create call takes neither `enabled` nor the alert settings.
    &[
        Field::new("workspace").fixed(),
        Field::new("agent").fixed(),
        Field::new("type").fixed(),
        Field::new("timezone").default(Json::Text("UTC")),
        Field::new("enabled").default(Json::Bool(true)).after_create(),
        Field::new("pinVersion").default(Json::Bool(false)),
        Field::new("inputData").default(Json::EmptyMap),
        Field::new("alertWebhookUrl").write_only().after_create(),
        Field::new("alertOnFailureCount").write_only().after_create(),
    ],
    Listing::Summary,
);

pub static SERVICE_FACTS: KindFacts = KindFacts::new(
    Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::CreateFirst), ..CRUD },
    &[
        Field::new("workspace").fixed(),
        Field::new("agent").fixed(),
        Field::new("name").fixed(),
        Field::new("minInstances").fixed().default(Json::Int(1)),
        Field::new("maxInstances").fixed().default(Json::Int(1)),
        Field::new("command").fixed().write_only(),
        Field::new("args").fixed().write_only(),
        Field::new("secretNames").set().default(Json::EmptyList),
        Field::new("env").default(Json::EmptyMap),
        Field::new("maxRestartFailures").default(Json::Int(3)).after_create(),
        Field::new("alertWebhookUrl").write_only().after_create(),
    ],
    Listing::Summary,
);

// ---- Field names: (spec, wire) ---------------------------------------------

const AGENT_FIELDS: [(&str, &str); 13] = [
    ("name", "name"),
    ("version", "version"),
    ("type", "type"),
    ("runMode", "run_mode"),
    ("runtime", "runtime"),
    ("loop", "loop"),
    ("callable", "callable"),
    ("description", "description"),
    ("isPublic", "is_public"),
    ("tags", "tags"),
    ("supportedProviders", "supported_providers"),
    ("defaultEndpoint", "default_endpoint"),
    ("timeoutSeconds", "timeout_seconds"),
];

/// The first six are what a schedule shows; the create takes those but
/// `enabled`, the update all but `type`.
const SCHEDULE_FIELDS: [(&str, &str); 8] = [
    ("type", "type"),
    ("cronExpression", "cron_expression"),
    ("timezone", "timezone"),
    ("inputData", "input_data"),
    ("enabled", "enabled"),
    ("pinVersion", "pin_version"),
    ("alertWebhookUrl", "alert_webhook_url"),
    ("alertOnFailureCount", "alert_on_failure_count"),
];

/// The first seven are what the deploy takes.
const SERVICE_FIELDS: [(&str, &str); 9] = [
    ("name", "name"),
    ("minInstances", "min_instances"),
    ("maxInstances", "max_instances"),
    ("env", "env"),
    ("secretNames", "secret_names"),
    ("command", "command"),
    ("args", "args"),
    ("alertWebhookUrl", "alert_webhook_url"),
    ("maxRestartFailures", "max_restart_failures"),
];

/// What a service's update can change.
const SERVICE_PATCHABLE: [(&str, &str); 4] =
    [SERVICE_FIELDS[3], SERVICE_FIELDS[4], SERVICE_FIELDS[7], SERVICE_FIELDS[8]];

// ---- Spec to fields --------------------------------------------------------

/// What orchagent derives a slug from a name with.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

/// A workspace's slug: as written, or derived from its name. Workspaces
/// are adopted by it.
pub fn workspace_slug(spec: &WorkspaceSpec) -> String {
    spec.slug.clone().unwrap_or_else(|| slugify(&spec.name))
}

pub fn workspace_desired(spec: &WorkspaceSpec) -> Fields {
    Map::from_iter([("name".to_string(), json!(spec.name)), ("slug".to_string(), json!(workspace_slug(spec)))])
}

pub fn secret_desired(spec: &WorkspaceSecretSpec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
    Ok(Map::from_iter([
        ("workspace".to_string(), context.reference("spec.workspaceRef.name")),
        ("name".to_string(), json!(spec.name)),
        ("value".to_string(), context.secret("value")?),
    ]))
}

/// An agent's fields as written, in [`AGENT_FIELDS`]' order.
pub fn agent_desired(spec: &AgentSpec) -> Fields {
    written(
        &AGENT_FIELDS,
        [
            json!(spec.name),
            json!(spec.version),
            json!(spec.agent_type),
            json!(spec.run_mode),
            json!(spec.runtime),
            json!(spec.agent_loop),
            json!(spec.callable),
            json!(spec.description),
            json!(spec.is_public),
            json!(spec.tags),
            json!(spec.supported_providers),
            json!(spec.default_endpoint),
            json!(spec.timeout_seconds),
        ],
    )
}

/// A schedule's fields as written, its alert URL a marker, its workspace and agent ids.
pub fn schedule_desired(spec: &ScheduleSpec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
    let fields = written(
        &SCHEDULE_FIELDS,
        [
            json!(spec.schedule_type),
            json!(spec.cron_expression),
            json!(spec.timezone),
            json!(spec.input_data),
            json!(spec.enabled),
            json!(spec.pin_version),
            json!(spec.alert_webhook_url),
            json!(spec.alert_on_failure_count),
        ],
    );
    in_workspace(fields, context)
}

/// A service's fields as written, its secrets markers, its workspace and agent ids.
pub fn service_desired(spec: &ServiceSpec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
    let fields = written(
        &SERVICE_FIELDS,
        [
            json!(spec.name),
            json!(spec.min_instances),
            json!(spec.max_instances),
            json!(spec.env),
            json!(spec.secret_names),
            json!(spec.command),
            json!(spec.args),
            json!(spec.alert_webhook_url),
            json!(spec.max_restart_failures),
        ],
    );
    in_workspace(fields, context)
}

/// Schedules have no name: they are told apart by what they run and when.
/// What a schedule is called: `cron 0 9 * * 1-5`, or `webhook`.
pub fn schedule_name(fields: &Value) -> String {
    let kind = fields.get("type").and_then(Value::as_str).unwrap_or_default();
    named_schedule(kind, fields.get("cronExpression").and_then(Value::as_str))
}

/// What the schedule a manifest asks for is called.
pub fn schedule_spec_name(spec: &ScheduleSpec) -> String {
    named_schedule(json!(spec.schedule_type).as_str().unwrap_or_default(), spec.cron_expression.as_deref())
}

fn named_schedule(kind: &str, cron: Option<&str>) -> String {
    match cron {
        Some(when) => format!("{kind} {when}"),
        None => kind.to_string(),
    }
}

/// The values a spec writes, in the order of its kind's field table and
/// named by it (the type holds them to its length), where present.
fn written<const N: usize>(names: &[(&str, &str); N], values: [Value; N]) -> Fields {
    present(names.iter().map(|(name, _)| *name).zip(values))
}

/// A Schedule's or Service's fields with their secrets as markers and
/// their workspace and agent as ids.
fn in_workspace(mut fields: Fields, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
    with_secrets(&mut fields, context)?;
    fields.insert("workspace".into(), context.reference("spec.workspaceRef.name"));
    fields.insert("agent".into(), context.reference("spec.agentRef.name"));
    Ok(fields)
}

/// The secrets a Schedule's or Service's spec reads (`alertWebhookUrl`,
/// `env` values from sources) as markers in its fields.
fn with_secrets(fields: &mut Fields, context: &DesiredContext<'_>) -> Result<(), ProviderError> {
    if fields.contains_key("alertWebhookUrl") {
        fields.insert("alertWebhookUrl".into(), context.secret("alertWebhookUrl")?);
    }
    if let Some(Value::Object(env)) = fields.get_mut("env") {
        for (name, value) in env.iter_mut() {
            if value.is_object() {
                *value = context.secret(&format!("env.{name}"))?;
            }
        }
    }
    Ok(())
}

// ---- Wire to fields --------------------------------------------------------

pub fn workspace_fields(workspace: &wire::Workspace) -> Fields {
    Map::from_iter([("name".to_string(), json!(workspace.name)), ("slug".to_string(), json!(workspace.slug))])
}

/// A secret as listed: its name only.
pub fn secret_fields(workspace: &str, name: &str) -> Fields {
    Map::from_iter([("workspace".to_string(), json!(workspace)), ("name".to_string(), json!(name))])
}

/// A secret found by name: its value is never shown.
pub fn secret_observed(workspace: &str, name: &str) -> Fields {
    let mut fields = secret_fields(workspace, name);
    fields.insert("value".to_string(), sources::unknown(SENSITIVE));
    fields
}

/// What the agents' list shows of an agent.
pub fn agent_fields(agent: &wire::Agent) -> Fields {
    let shown = [
        ("name", json!(agent.name)),
        ("version", json!(agent.version)),
        ("type", json!(agent.kind)),
        ("runMode", json!(agent.run_mode)),
        ("callable", json!(agent.callable)),
        ("description", json!(agent.description)),
        ("isPublic", json!(agent.is_public)),
    ];
    present(shown)
}

pub fn schedule_fields(workspace: &str, schedule: &wire::Schedule) -> Fields {
    let shown = [
        ("type", json!(schedule.kind)),
        ("cronExpression", json!(schedule.cron_expression)),
        ("timezone", json!(schedule.timezone)),
        ("inputData", json!(schedule.input_data)),
        ("enabled", json!(schedule.enabled)),
        ("pinVersion", json!(schedule.pin_version)),
    ];
    let mut fields = present(shown);
    fields.insert("workspace".into(), json!(workspace));
    fields.insert("agent".into(), json!(schedule.agent_id));
    fields
}

/// A service's fields; what it was deployed with (`command`, `args`) and
/// its alert URL are never shown.
pub fn service_fields(workspace: &str, service: &wire::Service) -> Fields {
    let shown = [
        ("name", json!(service.name)),
        ("minInstances", json!(service.min_instances)),
        ("maxInstances", json!(service.max_instances)),
        ("env", json!(service.env)),
        ("secretNames", json!(service.secret_names)),
        ("maxRestartFailures", json!(service.max_restart_failures)),
    ];
    let mut fields = present(shown);
    fields.insert("workspace".into(), json!(workspace));
    fields.insert("agent".into(), json!(service.agent_id));
    fields
}

/// The fields the API gave a value: a null, or a field it left out, is
/// the field's default, like one a manifest leaves out.
fn present<'a>(fields: impl IntoIterator<Item = (&'a str, Value)>) -> Fields {
    fields.into_iter().filter(|(_, value)| !value.is_null()).map(|(name, value)| (name.to_string(), value)).collect()
}

// ---- Fields to wire --------------------------------------------------------

/// The workspace id a desired object lives in.
pub fn workspace_of(desired: &Fields) -> String {
    desired.get("workspace").and_then(Value::as_str).unwrap_or_default().to_string()
}

pub fn create_workspace(desired: &Fields) -> Result<wire::CreateWorkspace, ProviderError> {
    typed("POST /workspaces", pick(desired, &[("name", "name"), ("slug", "slug")]))
}

/// The secret's workspace, and the body that sets its value; none when
/// no value was read for `spec.value`.
pub fn set_secret(desired: &Fields, sources: &SourceValues) -> Option<(String, wire::SetSecret)> {
    let value = sources.get("value")?.expose().to_string();
    let name = desired.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    Some((workspace_of(desired), wire::SetSecret { name, value }))
}

pub fn create_agent(desired: &Fields) -> Result<wire::CreateAgent, ProviderError> {
    typed("POST /agents", pick(desired, &AGENT_FIELDS))
}

pub fn agent_patch(changes: &Fields) -> Result<wire::AgentPatch, ProviderError> {
    typed("PATCH /agents/{id}", pick(changes, &AGENT_FIELDS))
}

/// The body of a schedule's create: what it shows but `enabled`, which is
/// set by a second call, and the agent it runs.
pub fn create_schedule(desired: &Fields) -> Result<wire::CreateSchedule, ProviderError> {
    let mut body = pick(desired, &SCHEDULE_FIELDS[..6]);
    body.shift_remove("enabled");
    body.insert("agent_id".into(), desired.get("agent").cloned().unwrap_or_default());
    typed("POST /workspaces/{id}/schedules", body)
}

pub fn schedule_patch(changes: &Fields, sources: &SourceValues) -> Result<wire::SchedulePatch, ProviderError> {
    let mut body = pick(changes, &SCHEDULE_FIELDS[1..]);
    reveal(&mut body, sources)?;
    typed("PATCH /workspaces/{id}/schedules/{schedule_id}", body)
}

pub fn deploy_service(desired: &Fields, sources: &SourceValues) -> Result<wire::DeployService, ProviderError> {
    let mut body = pick(desired, &SERVICE_FIELDS[..7]);
    reveal(&mut body, sources)?;
    body.insert("agent_id".into(), desired.get("agent").cloned().unwrap_or_default());
    typed("POST /workspaces/{id}/services", body)
}

pub fn service_patch(changes: &Fields, sources: &SourceValues) -> Result<wire::ServicePatch, ProviderError> {
    let mut body = pick(changes, &SERVICE_PATCHABLE);
    reveal(&mut body, sources)?;
    typed("PATCH /workspaces/{id}/services/{service_id}", body)
}

/// The listed fields of `fields` under their wire names, in the order
/// listed. A null is a value the object does not have: left out, like an
/// absent field.
fn pick(fields: &Fields, names: &[(&str, &str)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (spec, wire) in names {
        if let Some(value) = fields.get(*spec).filter(|v| !v.is_null()) {
            out.insert(wire.to_string(), value.clone());
        }
    }
    out
}

/// A body as the vendor's document types it. Fields were checked against
/// the spec's schema when the manifest was read, so a mismatch here is a
/// fault in seqops, said as such.
fn typed<T: DeserializeOwned>(call: &str, body: Map<String, Value>) -> Result<T, ProviderError> {
    serde_json::from_value(Value::Object(body))
        .map_err(|e| ProviderError::Invalid(format!("the body of {call} does not match orchagent's document: {e}")))
}

/// A request body with each secret marker replaced by the value behind it.
fn reveal(body: &mut Map<String, Value>, sources: &SourceValues) -> Result<(), ProviderError> {
    let value_of = |path: &str| {
        sources
            .get(path)
            .map(|secret| Value::String(secret.expose().to_string()))
            .ok_or_else(|| ProviderError::Invalid(format!("spec.{path}: no value was read for this secret")))
    };
    if body.get("alert_webhook_url").and_then(sources::marker).is_some() {
        body.insert("alert_webhook_url".into(), value_of("alertWebhookUrl")?);
    }
    if let Some(Value::Object(env)) = body.get_mut("env") {
        for (name, value) in env.iter_mut() {
            if sources::marker(value).is_some() {
                *value = value_of(&format!("env.{name}"))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::account::Secret;

    fn fields(value: Value) -> Fields {
        value.as_object().cloned().unwrap_or_default()
    }

    fn sent<T: serde::Serialize>(body: &T) -> String {
        serde_json::to_string(body).unwrap_or_default()
    }

    fn secrets(values: &[(&str, &str)]) -> SourceValues {
        let mut sources = SourceValues::default();
        for (path, value) in values {
            sources.insert(*path, Secret::new(*value));
        }
        sources
    }

    #[test]
    fn an_agent_is_registered_with_the_vendors_names_in_the_order_of_its_fields() {
        let desired = fields(json!({
            "name": "writer", "version": "v1", "type": "agent", "runMode": "always_on",
            "runtime": {"command": "python main.py"}, "loop": {"maxTurns": 4}, "callable": false,
            "description": "Writes", "isPublic": true, "tags": ["a"], "supportedProviders": ["anthropic"],
            "defaultEndpoint": "run", "timeoutSeconds": 30,
        }));
        let body = create_agent(&desired).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sent(&body),
            r#"{"name":"writer","version":"v1","type":"agent","run_mode":"always_on","runtime":{"command":"python main.py"},"loop":{"max_turns":4},"callable":false,"description":"Writes","is_public":true,"tags":["a"],"supported_providers":["anthropic"],"default_endpoint":"run","timeout_seconds":30}"#
        );
    }

    #[test]
    fn a_field_reset_to_nothing_is_left_out_of_an_agents_update() {
        let changes = fields(json!({"description": null, "isPublic": true, "timeoutSeconds": 60}));
        let body = agent_patch(&changes).unwrap_or_default();
        assert_eq!(sent(&body), r#"{"is_public":true,"timeout_seconds":60}"#);
    }

    #[test]
    fn a_schedule_is_created_without_enabled_and_with_its_agent_last() {
        let desired = fields(json!({
            "type": "cron", "cronExpression": "0 9 * * *", "timezone": "Europe/Paris", "inputData": {"b": 1, "a": 2},
            "enabled": false, "pinVersion": true, "alertOnFailureCount": 2, "workspace": "ws_1", "agent": "agt_1",
        }));
        let body = create_schedule(&desired).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sent(&body),
            r#"{"type":"cron","cron_expression":"0 9 * * *","timezone":"Europe/Paris","input_data":{"b":1,"a":2},"pin_version":true,"agent_id":"agt_1"}"#
        );
        assert_eq!(workspace_of(&desired), "ws_1");
    }

    #[test]
    fn a_schedules_update_sends_its_alert_url_revealed_and_nothing_it_does_not_change() {
        let changes = fields(json!({"enabled": false, "alertWebhookUrl": sources::unknown(SENSITIVE)}));
        let sources = secrets(&[("alertWebhookUrl", "https://hooks.example.com/t0k3n")]);
        let body = schedule_patch(&changes, &sources).unwrap_or_default();
        assert_eq!(sent(&body), r#"{"enabled":false,"alert_webhook_url":"https://hooks.example.com/t0k3n"}"#);
    }

    #[test]
    fn a_secret_with_no_value_read_is_refused_rather_than_sent_as_a_marker() {
        let changes = fields(json!({"alertWebhookUrl": sources::unknown(SENSITIVE)}));
        let refused = schedule_patch(&changes, &SourceValues::default()).err().map(|e| e.to_string());
        assert!(refused.unwrap_or_default().contains("spec.alertWebhookUrl: no value was read for this secret"));
    }

    #[test]
    fn a_service_is_deployed_with_its_env_secrets_revealed_and_its_agent_last() {
        let desired = fields(json!({
            "name": "bot", "minInstances": 1, "maxInstances": 2,
            "env": {"MODE": "live", "TOKEN": sources::unknown(SENSITIVE)}, "secretNames": ["KEY"],
            "command": "run", "args": ["--fast"], "maxRestartFailures": 5, "workspace": "ws_1", "agent": "agt_1",
        }));
        let body = deploy_service(&desired, &secrets(&[("env.TOKEN", "s3cr3t")])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sent(&body),
            r#"{"name":"bot","min_instances":1,"max_instances":2,"env":{"MODE":"live","TOKEN":"s3cr3t"},"secret_names":["KEY"],"command":"run","args":["--fast"],"agent_id":"agt_1"}"#
        );
    }

    #[test]
    fn a_services_update_sends_only_what_it_can_change() {
        let changes = fields(json!({"secretNames": ["A", "B"], "maxRestartFailures": 4}));
        let body = service_patch(&changes, &SourceValues::default()).unwrap_or_default();
        assert_eq!(sent(&body), r#"{"secret_names":["A","B"],"max_restart_failures":4}"#);
    }

    #[test]
    fn a_listed_agent_shows_only_what_the_api_gives_a_value() {
        let agent: wire::Agent = serde_json::from_value(json!({
            "id": "agt_1", "name": "writer", "version": "v1", "type": "agent", "run_mode": null,
            "execution_engine": "managed_loop", "callable": true, "is_public": false, "created_at": "2025-01-01T00:00:00Z",
        }))
        .unwrap_or_default();
        assert_eq!(
            Value::Object(agent_fields(&agent)),
            json!({"name": "writer", "version": "v1", "type": "agent", "callable": true, "isPublic": false})
        );
    }

    #[test]
    fn a_schedule_read_names_its_workspace_and_agent() {
        let schedule: wire::Schedule = serde_json::from_value(json!({
            "id": "sch_1", "agent_id": "agt_1", "type": "webhook", "cron_expression": null, "timezone": "UTC",
            "input_data": {}, "enabled": true, "pin_version": false, "total_runs": 3,
        }))
        .unwrap_or_default();
        let fields = schedule_fields("ws_1", &schedule);
        assert_eq!(
            Value::Object(fields.clone()),
            json!({"type": "webhook", "timezone": "UTC", "inputData": {}, "enabled": true, "pinVersion": false,
                   "workspace": "ws_1", "agent": "agt_1"})
        );
        assert_eq!(schedule_name(&Value::Object(fields)), "webhook");
    }

    #[test]
    fn a_service_read_shows_neither_its_command_nor_its_alert_url() {
        let service: wire::Service = serde_json::from_value(json!({
            "id": "svc_1", "agent_id": "agt_1", "name": "bot", "state": "running", "min_instances": 1,
            "max_instances": 1, "env": {}, "secret_names": [], "max_restart_failures": 3, "command": "run",
            "alert_webhook_url": "https://hooks.example.com/t0k3n",
        }))
        .unwrap_or_default();
        assert_eq!(
            Value::Object(service_fields("ws_1", &service)),
            json!({"name": "bot", "minInstances": 1, "maxInstances": 1, "env": {}, "secretNames": [],
                   "maxRestartFailures": 3, "workspace": "ws_1", "agent": "agt_1"})
        );
    }

    #[test]
    fn a_workspace_without_a_slug_takes_one_from_its_name() {
        let workspace = |spec: Value| serde_json::from_value::<WorkspaceSpec>(spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(workspace_slug(&workspace(json!({"name": "Growth & Ops  Team!"}))), "growth-ops-team");
        assert_eq!(workspace_slug(&workspace(json!({"name": "Ops", "slug": "ops-eu"}))), "ops-eu");
        let body =
            create_workspace(&workspace_desired(&workspace(json!({"name": "Ops"})))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sent(&body), r#"{"name":"Ops","slug":"ops"}"#);
    }

    #[test]
    fn a_secret_is_set_by_name_in_its_workspace() {
        let desired = fields(json!({"workspace": "ws_1", "name": "API_KEY", "value": sources::unknown(SENSITIVE)}));
        let (workspace, body) = set_secret(&desired, &secrets(&[("value", "v4lue")])).expect("a value was read");
        assert_eq!((workspace.as_str(), sent(&body).as_str()), ("ws_1", r#"{"name":"API_KEY","value":"v4lue"}"#));
        assert!(set_secret(&desired, &SourceValues::default()).is_none(), "no value read, nothing to send");
    }
}
