//! Between Orqis's wire bodies and the fields the engine compares.
//!
//! Fields use the spec's names; an ApiKey's `agent` holds the agent's
//! remote id. What Orqis keeps but never returns (an agent's OpenAPI
//! document, header values, LLM keys) is observed as a marker and compared
//! by digest. Secret values reach a request body through `read`, the
//! client's lookup of the values read for the object's sources.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::spec::{AgentSpec, ApiKeySpec, LlmKeySpec};
use super::wire;
use crate::providers::sources::{self, DIGEST, SENSITIVE};
use crate::providers::{Birth, Change, Field, Fields, Json, KindFacts, Lifecycle, Listing, ReplaceOrder, Write, CRUD};

/// The source path of an agent's OpenAPI document: what it is read under.
pub const DOCUMENT: &str = "openapiSpec";

/// The LLM provider Orqis uses when none is named.
const DEFAULT_PROVIDER: &str = "google";

pub static AGENT_FACTS: KindFacts = KindFacts::new(
    Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::CreateFirst), ..CRUD },
    &[
        Field::new("openapiSpec").fixed(),
        Field::new("apiProvider").fixed().default(Json::Text(DEFAULT_PROVIDER)),
        Field::new("model").fixed().write_only(),
        Field::new("baseUrl").fixed().write_only(),
        // Default tools are added one call each once the agent exists.
        Field::new("defaultTools").set().default(Json::EmptyList).after_create(),
        Field::new("headers").default(Json::EmptyMap),
    ],
    Listing::Summary,
);

pub static LLM_KEY_FACTS: KindFacts = KindFacts::new(
    Lifecycle {
        // The create is `PUT /users/me/llm-key`, one key per LLM provider.
        birth: Birth::Upsert { key: &["provider"] },
        change: Change::InPlaceOrReplace(ReplaceOrder::DeleteFirst),
        ..CRUD
    },
    &[Field::new("provider").fixed()],
    Listing::Summary,
);

pub static API_KEY_FACTS: KindFacts = KindFacts::new(
    // Orqis allows one active key per agent: the old one goes first.
    Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::DeleteFirst), ..CRUD },
    &[Field::new("name").fixed(), Field::new("agent").fixed()],
    Listing::Summary,
);

/// What a manifest asks of an agent: its fields as written, `openapiSpec`
/// (the digest of its OpenAPI document) and, for each header, the marker
/// `secret` gives for its value.
pub fn agent_desired<E>(
    spec: &AgentSpec,
    document: Value,
    secret: impl Fn(&str) -> Result<Value, E>,
) -> Result<Fields, E> {
    let written = [
        ("name", Some(json!(spec.name))),
        ("description", spec.description.as_ref().map(|d| json!(d))),
        ("apiProvider", spec.api_provider.map(|p| json!(p.name()))),
        ("model", spec.model.as_ref().map(|m| json!(m))),
        ("baseUrl", spec.base_url.as_ref().map(|u| json!(u))),
        ("defaultTools", spec.default_tools.as_ref().map(|t| json!(t))),
    ];
    let mut fields: Fields = written.into_iter().filter_map(|(name, v)| Some((name.to_string(), v?))).collect();
    fields.insert("openapiSpec".into(), document);
    if let Some(headers) = &spec.headers {
        let mut markers = Map::new();
        for name in headers.keys() {
            markers.insert(name.clone(), secret(&format!("headers.{name}"))?);
        }
        fields.insert("headers".into(), Value::Object(markers));
    }
    Ok(fields)
}

/// The fields an agent in the list shows.
pub fn agent_summary(agent: &wire::Agent) -> Fields {
    let config = &agent.configuration;
    let mut fields = Map::new();
    fields.insert("name".into(), json!(agent.name));
    fields.insert("description".into(), agent.description.as_ref().map_or(Value::Null, |d| json!(d)));
    fields.insert("apiProvider".into(), json!(config.api_provider.as_deref().unwrap_or(DEFAULT_PROVIDER)));
    // Orqis documents neither in an agent's configuration: when they are
    // not returned they are taken to be what seqops wrote.
    if let Some(model) = &config.model {
        fields.insert("model".into(), json!(model));
    }
    if let Some(base_url) = &config.base_url {
        fields.insert("baseUrl".into(), json!(base_url));
    }
    fields.insert("defaultTools".into(), json!(config.default_tools));
    fields
}

/// The fields of an agent and its headers: the document and the header
/// values are kept by Orqis and never returned.
pub fn agent_observed(agent: &wire::Agent, headers: &wire::Headers) -> Fields {
    let mut fields = agent_summary(agent);
    fields.insert("openapiSpec".into(), sources::unknown(DIGEST));
    let names = headers.header_names.iter().map(|n| (n.clone(), sources::unknown(SENSITIVE))).collect();
    fields.insert("headers".into(), Value::Object(names));
    fields
}

/// How many calls a write of an agent makes: default tools are added and
/// removed one call each; name and description, and the headers, are one
/// call each.
pub fn agent_requests(write: Write<'_>) -> u64 {
    let tools = |fields: &Fields| names(fields.get("defaultTools"));
    match write {
        Write::Create { desired } => 1 + tools(desired).len() as u64,
        Write::Update { changes, observed } => {
            let renamed = ["name", "description"].iter().any(|f| changes.contains_key(*f));
            let tools_changed = changes.contains_key("defaultTools");
            let moved = if tools_changed { tools(changes).symmetric_difference(&tools(observed)).count() } else { 0 };
            u64::from(renamed) + u64::from(changes.contains_key("headers")) + moved as u64
        }
        Write::Delete => 1,
    }
}

fn text(fields: &Fields, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_string)
}

/// The `POST /v3/agents` body: the document and header values are read
/// with `read`, the document first.
pub fn create_agent<E>(desired: &Fields, read: impl Fn(&str) -> Result<String, E>) -> Result<wire::CreateAgent, E> {
    let openapi_spec_content = read("openapiSpec")?;
    let headers = match desired.get("headers").and_then(Value::as_object).filter(|h| !h.is_empty()) {
        Some(headers) => Some(header_values(headers, &read)?),
        None => None,
    };
    Ok(wire::CreateAgent {
        agent_name: text(desired, "name").unwrap_or_default(),
        openapi_spec_content,
        agent_description: text(desired, "description"),
        api_provider: text(desired, "apiProvider"),
        api_key: None,
        model: text(desired, "model"),
        base_url: text(desired, "baseUrl"),
        headers,
    })
}

/// What a create leaves to updates: default tools are added one call each
/// once the agent exists.
pub fn set_after_create(desired: &Fields) -> Fields {
    let mut unapplied = Fields::new();
    if let Some(tools) = desired.get("defaultTools").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())) {
        unapplied.insert("defaultTools".into(), tools.clone());
    }
    unapplied
}

/// The `PUT /agents/{id}` body for a change of name or description, if
/// either changes. A description removed from the manifest is sent as
/// `null`.
pub fn update_agent(changes: &Fields) -> Option<wire::UpdateAgent> {
    let renamed = wire::UpdateAgent {
        name: text(changes, "name"),
        description: changes.get("description").map(|d| d.as_str().map(str::to_string)),
    };
    (renamed != wire::UpdateAgent::default()).then_some(renamed)
}

/// A change of an agent's headers: Orqis replaces all of them at once.
#[derive(Debug, PartialEq)]
pub enum HeadersChange {
    /// `DELETE /agents/{id}/headers`: the manifest has none.
    Remove,
    /// `PUT /agents/{id}/headers` with every header the manifest has.
    Save(wire::SaveHeaders),
}

/// The change of headers `changes` asks for, if any, with the values read
/// with `read`.
pub fn headers_change<E>(
    changes: &Fields,
    read: impl Fn(&str) -> Result<String, E>,
) -> Result<Option<HeadersChange>, E> {
    let Some(headers) = changes.get("headers").and_then(Value::as_object) else { return Ok(None) };
    if headers.is_empty() {
        return Ok(Some(HeadersChange::Remove));
    }
    Ok(Some(HeadersChange::Save(wire::SaveHeaders { headers: header_values(headers, &read)? })))
}

fn header_values<E>(
    headers: &Map<String, Value>,
    read: &impl Fn(&str) -> Result<String, E>,
) -> Result<BTreeMap<String, String>, E> {
    headers.keys().map(|name| Ok((name.clone(), read(&format!("headers.{name}"))?))).collect()
}

/// The default tools to add and to remove, one call each.
#[derive(Debug, Default, PartialEq)]
pub struct ToolChanges {
    pub add: Vec<wire::AddTool>,
    pub remove: Vec<String>,
}

/// How the agent's default tools move from `observed` to what `changes`
/// asks for; a tool is added with the agent's LLM provider.
pub fn tool_changes(changes: &Fields, observed: &Fields, desired: &Fields) -> ToolChanges {
    let Some(tools) = changes.get("defaultTools") else { return ToolChanges::default() };
    let (wanted, present) = (names(Some(tools)), names(observed.get("defaultTools")));
    let provider = text(desired, "apiProvider").unwrap_or_else(|| DEFAULT_PROVIDER.into());
    let add = wanted
        .difference(&present)
        .map(|tool| wire::AddTool { tool_name: tool.clone(), api_provider: Some(provider.clone()), api_key: None })
        .collect();
    ToolChanges { add, remove: present.difference(&wanted).cloned().collect() }
}

fn names(value: Option<&Value>) -> BTreeSet<String> {
    let list = value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    list.iter().filter_map(Value::as_str).map(str::to_string).collect()
}

/// The LLM provider an LlmKey manifest names.
pub fn llm_key_provider(spec: &LlmKeySpec) -> &'static str {
    spec.provider.name()
}

/// The LLM provider a key's spec names, read on its own: a spec kept in
/// state by an older seqops need not read whole as today's type to say it.
pub fn scoped_llm_provider(spec: &Value) -> Option<&'static str> {
    #[derive(serde::Deserialize)]
    struct Named {
        provider: super::spec::LlmProvider,
    }
    <Named as serde::Deserialize>::deserialize(spec).ok().map(|n| n.provider.name())
}

/// What an LlmKey manifest asks for: its provider, and `value`, the
/// marker of the key.
pub fn llm_key_desired(spec: &LlmKeySpec, value: Value) -> Fields {
    let provider = json!(spec.provider.name());
    Map::from_iter([("provider".to_string(), provider), ("value".to_string(), value)])
}

/// The fields a provider's saved key shows in a listing.
pub fn llm_key_summary(provider: &str) -> Fields {
    Map::from_iter([("provider".to_string(), json!(provider))])
}

/// The fields of `provider`'s key, if one is saved: Orqis never returns
/// its value.
pub fn llm_key_observed(provider: &str, status: &wire::LlmKeyStatus) -> Option<Fields> {
    status.has_key.then(|| {
        let mut fields = llm_key_summary(provider);
        fields.insert("value".into(), sources::unknown(SENSITIVE));
        fields
    })
}

/// The `PUT /users/me/llm-key` body that saves `api_key`.
pub fn save_llm_key(desired: &Fields, api_key: String) -> wire::SaveLlmKey {
    wire::SaveLlmKey { provider: text(desired, "provider").unwrap_or_default(), api_key }
}

/// What an ApiKey manifest asks for: its name, and `agent`, the agent's
/// remote id.
pub fn api_key_desired(spec: &ApiKeySpec, agent: Value) -> Fields {
    let name = json!(spec.name);
    Map::from_iter([("name".to_string(), name), ("agent".to_string(), agent)])
}

/// The fields of a platform key in the list.
pub fn api_key_summary(key: &wire::ApiKey) -> Fields {
    Map::from_iter([("name".to_string(), json!(key.name)), ("agent".to_string(), json!(key.agent_id))])
}

/// The `POST /users/me/api-keys` body.
pub fn create_api_key(desired: &Fields) -> wire::CreateApiKey {
    wire::CreateApiKey {
        name: text(desired, "name").unwrap_or_default(),
        agent_id: text(desired, "agent").unwrap_or_default(),
    }
}

/// The id of a key just created: its answer has none, so the key is the
/// one the list shows with the same prefix for the same agent.
pub fn created_key_id(keys: &[wire::ApiKey], created: &wire::CreatedApiKey) -> Option<String> {
    keys.iter().find(|k| k.prefix == created.prefix && k.agent_id == created.agent_id).map(|k| k.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Value) -> Fields {
        value.as_object().cloned().unwrap_or_default()
    }

    fn read(path: &str) -> Result<String, String> {
        Ok(format!("value of {path}"))
    }

    fn body(value: impl serde::Serialize) -> Option<String> {
        serde_json::to_string(&value).ok()
    }

    #[test]
    fn a_create_sends_the_vendors_names_in_its_order_and_leaves_out_what_the_manifest_does_not_say() {
        let desired = fields(json!({
            "name": "Store", "apiProvider": "openai", "defaultTools": ["slack"],
            "headers": {"X-Tenant": {"$sensitive": "d1"}, "Authorization": {"$sensitive": "d2"}},
        }));
        let expected = json!({
            "agent_name": "Store", "openapi_spec_content": "value of openapiSpec", "api_provider": "openai",
            "headers": {"Authorization": "value of headers.Authorization", "X-Tenant": "value of headers.X-Tenant"},
        });
        assert_eq!(body(create_agent(&desired, read).ok()), body(expected));
        assert_eq!(set_after_create(&desired), fields(json!({"defaultTools": ["slack"]})));
    }

    #[test]
    fn a_value_that_was_not_read_stops_the_create_at_the_document_first() {
        let desired = fields(json!({"name": "Store", "headers": {"A": {"$sensitive": "d"}}}));
        let missing = |path: &str| Err::<String, String>(path.to_string());
        assert_eq!(create_agent(&desired, missing), Err("openapiSpec".to_string()));
    }

    #[test]
    fn a_removed_description_is_sent_as_null_and_other_changes_send_no_rename() {
        assert_eq!(body(update_agent(&fields(json!({"description": null})))), Some(r#"{"description":null}"#.into()));
        assert_eq!(body(update_agent(&fields(json!({"name": "New"})))), Some(r#"{"name":"New"}"#.into()));
        assert_eq!(update_agent(&fields(json!({"headers": {}}))), None);
    }

    #[test]
    fn headers_are_removed_all_at_once_or_saved_all_at_once() {
        assert_eq!(headers_change(&fields(json!({"headers": {}})), read), Ok(Some(HeadersChange::Remove)));
        let saved = headers_change(&fields(json!({"headers": {"A": {}, "B": {}}})), read);
        let headers =
            BTreeMap::from([("A".into(), "value of headers.A".into()), ("B".into(), "value of headers.B".into())]);
        assert_eq!(saved, Ok(Some(HeadersChange::Save(wire::SaveHeaders { headers }))));
        assert_eq!(headers_change(&fields(json!({"name": "x"})), read), Ok(None));
    }

    #[test]
    fn default_tools_move_as_a_set_and_are_added_with_the_agents_provider() {
        let changes = fields(json!({"defaultTools": ["github", "google_search"]}));
        let observed = fields(json!({"defaultTools": ["google_search", "slack"]}));
        let moves = tool_changes(&changes, &observed, &fields(json!({"apiProvider": "groq"})));
        assert_eq!(body(&moves.add), Some(r#"[{"tool_name":"github","api_provider":"groq"}]"#.into()));
        assert_eq!(moves.remove, vec!["slack".to_string()]);
        let write = Write::Update { changes: &changes, observed: &observed };
        assert_eq!(agent_requests(write), 2);
        let moves = tool_changes(&changes, &fields(json!({})), &fields(json!({})));
        assert!(moves.add.iter().all(|t| t.api_provider.as_deref() == Some("google")));
    }

    #[test]
    fn an_observed_agent_shows_its_header_names_with_their_values_unknown() {
        let agent = wire::Agent { id: "a1".into(), name: "Store".into(), ..Default::default() };
        let headers = wire::Headers { has_headers: true, header_names: vec!["Authorization".into()] };
        let observed = agent_observed(&agent, &headers);
        assert_eq!(observed["apiProvider"], json!("google"));
        assert_eq!(observed["description"], Value::Null);
        assert_eq!(observed["openapiSpec"], sources::unknown(DIGEST));
        assert_eq!(observed["headers"], json!({"Authorization": sources::unknown(SENSITIVE)}));
        assert!(!observed.contains_key("model"), "a model Orqis does not return is taken to be what was written");
    }

    #[test]
    fn an_llm_key_is_observed_only_when_one_is_saved_and_never_with_its_value() {
        let saved = wire::LlmKeyStatus { has_key: true, provider: "groq".into() };
        let observed = llm_key_observed("groq", &saved);
        assert_eq!(observed, Some(fields(json!({"provider": "groq", "value": sources::unknown(SENSITIVE)}))));
        assert_eq!(llm_key_observed("groq", &wire::LlmKeyStatus { has_key: false, ..saved }), None);
    }

    #[test]
    fn a_new_platform_key_is_found_in_the_list_by_its_prefix_and_agent() {
        let key = |id: &str, agent: &str| wire::ApiKey {
            id: id.into(),
            name: "production".into(),
            prefix: "oq_abc".into(),
            agent_id: agent.into(),
            created_at: None,
            last_used_at: None,
        };
        let created = wire::CreatedApiKey {
            key: "oq_abcdef".into(),
            prefix: "oq_abc".into(),
            agent_id: "a2".into(),
            created_at: None,
        };
        assert_eq!(created_key_id(&[key("k1", "a1"), key("k2", "a2")], &created), Some("k2".into()));
        assert_eq!(created_key_id(&[key("k1", "a1")], &created), None);
        let body = create_api_key(&fields(json!({"name": "production", "agent": "a2"})));
        assert_eq!(serde_json::to_value(body).ok(), Some(json!({"name": "production", "agent_id": "a2"})));
    }
}
