//! orchagent kinds as manifests write them: `Workspace`, `WorkspaceSecret`,
//! `Agent`, `Schedule` and `Service`.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::kind::{Naming, Reference, ReferenceField};
use crate::manifest::secret::{ValueSource, WriteSecretTo};
use crate::manifest::selector::NameRef;

/// A team workspace. The API cannot rename or delete one: removing the
/// manifest forgets it.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orchagent.seqops.dev",
    version = "v1alpha1",
    kind = "Workspace",
    namespaced,
    category = "seqops",
    shortname = "oaworkspace"
)]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<NameRef>,
    /// `ObserveOnly`: read the remote object and report drift; change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<crate::manifest::policy::ManagementPolicy>,
    /// What seqops may do (Crossplane's set): `Observe`, `Create`,
    /// `Update`, `Delete`, `LateInitialize`, or `*` (the default); `[]`
    /// pauses. `[Observe]` is `managementPolicy: ObserveOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<crate::manifest::policy::Policy>>,
    pub name: String,
    /// The URL-safe identifier; an existing workspace is adopted by it
    /// (`seqops.dev/adopt: "true"`). Derived from the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

/// A secret of a workspace: written, never read back.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orchagent.seqops.dev",
    version = "v1alpha1",
    kind = "WorkspaceSecret",
    namespaced,
    category = "seqops",
    shortname = "oasecret"
)]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceSecretSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<NameRef>,
    /// `ObserveOnly`: read the remote object and report drift; change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<crate::manifest::policy::ManagementPolicy>,
    /// What seqops may do (Crossplane's set): `Observe`, `Create`,
    /// `Update`, `Delete`, `LateInitialize`, or `*` (the default); `[]`
    /// pauses. `[Observe]` is `managementPolicy: ObserveOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<crate::manifest::policy::Policy>>,
    pub workspace_ref: NameRef,
    /// The secret's name, e.g. `ANTHROPIC_API_KEY`.
    pub name: String,
    pub value: ValueSource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentType {
    Prompt,
    Tool,
    Agent,
    Skill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    OnDemand,
    AlwaysOn,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Loop {
    pub max_turns: u32,
}

/// An agent registered on orchagent. `runMode`, `runtime`, `loop` and
/// `callable` cannot change in place: a change replaces the agent.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orchagent.seqops.dev",
    version = "v1alpha1",
    kind = "Agent",
    namespaced,
    category = "seqops",
    shortname = "oaagent"
)]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<NameRef>,
    /// `ObserveOnly`: read the remote object and report drift; change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<crate::manifest::policy::ManagementPolicy>,
    /// What seqops may do (Crossplane's set): `Observe`, `Create`,
    /// `Update`, `Delete`, `LateInitialize`, or `*` (the default); `[]`
    /// pauses. `[Observe]` is `managementPolicy: ObserveOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<crate::manifest::policy::Policy>>,
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub agent_type: AgentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "loop")]
    pub agent_loop: Option<Loop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_providers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Where the service key, returned once on registration, is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_secret_to: Option<WriteSecretTo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleType {
    Cron,
    Webhook,
}

/// A schedule that runs an agent in a workspace, on a cron expression or
/// when its webhook is called. A `type` change replaces it.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orchagent.seqops.dev",
    version = "v1alpha1",
    kind = "Schedule",
    namespaced,
    category = "seqops",
    shortname = "oaschedule"
)]
#[x_kube(
    validation = crate::manifest::policy::one_spelling(),
    validation = crate::manifest::policy::reads_first(),
    validation = Rule::new("self.type != 'cron' || has(self.cronExpression)")
        .message("a cron schedule needs a cron expression")
        .field_path(".cronExpression"),
    validation = Rule::new("self.type != 'webhook' || !has(self.cronExpression)")
        .message("a webhook schedule runs when called: drop the cron expression")
        .field_path(".cronExpression"),
    validation = Rule::new("self.type != 'webhook' || has(self.writeSecretTo)")
        .message(
            "a webhook schedule's URL holds its secret and is shown once: name where it goes with `writeSecretTo: {file: PATH}`"
        )
        .field_path(".writeSecretTo")
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<NameRef>,
    /// `ObserveOnly`: read the remote object and report drift; change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<crate::manifest::policy::ManagementPolicy>,
    /// What seqops may do (Crossplane's set): `Observe`, `Create`,
    /// `Update`, `Delete`, `LateInitialize`, or `*` (the default); `[]`
    /// pauses. `[Observe]` is `managementPolicy: ObserveOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<crate::manifest::policy::Policy>>,
    pub workspace_ref: NameRef,
    /// The orchagent `Agent` manifest to run.
    pub agent_ref: NameRef,
    #[serde(rename = "type")]
    pub schedule_type: ScheduleType,
    /// Five fields: minute, hour, day of month, month, day of week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_expression: Option<String>,
    /// An IANA time zone, e.g. `Europe/Paris` (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub input_data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_version: Option<bool>,
    /// Where failures are posted: a URL that often carries a token, so it
    /// is read from a source, never written in the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook_url: Option<ValueSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_on_failure_count: Option<u32>,
    /// Where a webhook schedule's URL (it holds the webhook's secret),
    /// returned once on creation, is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_secret_to: Option<WriteSecretTo>,
}

/// An always-on deployment of an agent in a workspace.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orchagent.seqops.dev",
    version = "v1alpha1",
    kind = "Service",
    namespaced,
    category = "seqops",
    shortname = "oaservice"
)]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<NameRef>,
    /// `ObserveOnly`: read the remote object and report drift; change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<crate::manifest::policy::ManagementPolicy>,
    /// What seqops may do (Crossplane's set): `Observe`, `Create`,
    /// `Update`, `Delete`, `LateInitialize`, or `*` (the default); `[]`
    /// pauses. `[Observe]` is `managementPolicy: ObserveOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<crate::manifest::policy::Policy>>,
    pub workspace_ref: NameRef,
    pub agent_ref: NameRef,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_instances: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    /// Environment variables (in place): each a plain string, or a value
    /// read from a source (`{fromEnv: …}`), kept out of plans and state.
    /// Workspace secrets the service reads go in `secretNames`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, EnvValue>>,
    /// Names of workspace secrets the service reads (in place; a set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Where failures are posted, read from a source like a Schedule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook_url: Option<ValueSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restart_failures: Option<u32>,
}

/// An environment variable's value: plain, or read from a source.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EnvValue {
    Plain(String),
    Source(ValueSource),
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(plain) => Ok(EnvValue::Plain(plain)),
            source @ serde_json::Value::Object(_) => {
                serde_json::from_value(source).map(EnvValue::Source).map_err(D::Error::custom)
            }
            _ => Err(D::Error::custom("an environment value is a string, or a source such as `{fromEnv: VARIABLE}`")),
        }
    }
}

/// A string or a source object: written without `anyOf` of two types,
/// which a CRD's structural schema does not allow; seqops checks the value
/// itself when it loads the manifest.
impl JsonSchema for EnvValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EnvValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A plain string, or a source: `{fromEnv: VARIABLE}`, `{fromFile: PATH}`, `{secretKeyRef: {name, key}}`.",
            "x-kubernetes-preserve-unknown-fields": true
        })
    }
}

fn reference(field: &ReferenceField, named: &NameRef) -> Reference {
    Reference::to(field.field, field.kind, named.name.clone())
}

/// A Service's Workspace and Agent, and each secret its `secretNames`
/// names: by remote name (`spec.name`), within the same workspace.
pub fn service_references(spec: &ServiceSpec) -> Vec<Reference> {
    let mut references = workspace_and_agent_references(&spec.workspace_ref, &spec.agent_ref);
    let secrets = &super::SERVICE_SECRETS;
    for (index, name) in spec.secret_names.iter().flatten().enumerate() {
        references.push(Reference {
            field: secrets.field.replace("[]", &format!("[{index}]")),
            kind: secrets.kind,
            name: name.clone(),
            by: Naming::Remote { field: "/name", same: Some(("/workspaceRef/name", spec.workspace_ref.name.clone())) },
        });
    }
    references
}

/// The Workspace a spec names in `workspaceRef`.
pub fn workspace_references(workspace: &NameRef) -> Vec<Reference> {
    vec![reference(&super::WORKSPACE_REF, workspace)]
}

/// The Workspace and the Agent a spec names.
pub fn workspace_and_agent_references(workspace: &NameRef, agent: &NameRef) -> Vec<Reference> {
    vec![reference(&super::WORKSPACE_REF, workspace), reference(&super::AGENT_REF, agent)]
}

/// What CEL cannot say: a cron expression's fields and a time zone's name.
pub fn check_schedule(spec: &ScheduleSpec) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if let (false, Some(expression)) = (spec.schedule_type == ScheduleType::Webhook, spec.cron_expression.as_deref()) {
        if let Err(message) = check_cron(expression) {
            problems.push(("spec.cronExpression".into(), message));
        }
    }
    if let Some(zone) = spec.timezone.as_deref() {
        if zone.parse::<chrono_tz::Tz>().is_err() {
            problems.push((
                "spec.timezone".into(),
                format!("`{zone}` is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)"),
            ));
        }
    }
    problems
}

const FIELDS: [(&str, u32, u32); 5] =
    [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7)];
const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Checks a five-field cron expression: `*`, numbers, ranges `a-b`, steps
/// `*/n` or `a-b/n`, lists `a,b`, and month and weekday names.
pub fn check_cron(expression: &str) -> Result<(), String> {
    let parts: Vec<&str> = expression.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "`{expression}` has {} fields; a cron expression has five: minute hour day-of-month month day-of-week",
            parts.len()
        ));
    }
    for (part, (name, low, high)) in parts.iter().zip(FIELDS) {
        for item in part.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            if let Some(step) = step {
                if step.parse::<u32>().map_or(true, |s| s == 0) {
                    return Err(format!("`{item}`: the {name} step must be a positive number"));
                }
            }
            if range == "*" {
                continue;
            }
            let value = |text: &str| -> Result<u32, String> {
                let lower = text.to_lowercase();
                let named = match name {
                    "month" => MONTHS.iter().position(|m| *m == lower).map(|i| i as u32 + 1),
                    "day of week" => DAYS.iter().position(|d| *d == lower).map(|i| i as u32),
                    _ => None,
                };
                let number =
                    named.or_else(|| text.parse().ok()).ok_or_else(|| format!("`{text}` is not a valid {name}"))?;
                if number < low || number > high {
                    return Err(format!("{name} {number} is out of range {low}-{high}"));
                }
                Ok(number)
            };
            match range.split_once('-') {
                Some((from, to)) => {
                    if value(from)? > value(to)? {
                        return Err(format!("`{range}`: a {name} range must go upwards"));
                    }
                }
                None => {
                    value(range)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_cron_expressions_pass() {
        for expression in ["0 9 * * 1-5", "*/15 * * * *", "30 8 1,15 jan-jun mon", "0 0 * * 7"] {
            assert_eq!(check_cron(expression), Ok(()), "{expression}");
        }
    }

    #[test]
    fn invalid_cron_expressions_say_why() {
        assert!(check_cron("0 9 * *").unwrap_err().contains("has 4 fields"));
        assert!(check_cron("61 * * * *").unwrap_err().contains("minute 61 is out of range 0-59"));
        assert!(check_cron("*/0 * * * *").unwrap_err().contains("step must be a positive number"));
        assert!(check_cron("0 0 * foo *").unwrap_err().contains("`foo` is not a valid month"));
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        let schedule = |timezone: &str| {
            let spec = serde_json::json!({"workspaceRef": {"name": "w"}, "agentRef": {"name": "a"}, "type": "cron",
                                          "cronExpression": "0 9 * * *", "timezone": timezone});
            serde_json::from_value::<ScheduleSpec>(spec).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(check_schedule(&schedule("Paris/France")).len(), 1);
        assert!(check_schedule(&schedule("Europe/Paris")).is_empty());
    }
}
