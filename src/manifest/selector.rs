//! How a manifest names a remote object it does not manage: by its display
//! name (`{lookup: "Sales Agent"}`) or by id (`{id: "..."}`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A remote object named by display name or by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SelectorFields", into = "SelectorFields")]
pub enum Selector {
    Lookup(String),
    Id(String),
}

/// The written form of a [`Selector`]: exactly one of `lookup` and `id`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectorFields {
    /// The display name of the one remote object to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<String>,
    /// The remote id to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl TryFrom<SelectorFields> for Selector {
    type Error = String;
    fn try_from(fields: SelectorFields) -> Result<Self, String> {
        match (fields.lookup, fields.id) {
            (Some(name), None) if !name.trim().is_empty() => Ok(Selector::Lookup(name)),
            (None, Some(id)) if !id.trim().is_empty() => Ok(Selector::Id(id)),
            (Some(_), Some(_)) => Err("set one of `lookup` and `id`, not both".into()),
            _ => Err("set `lookup: <display name>` or `id: <remote id>`".into()),
        }
    }
}

impl From<Selector> for SelectorFields {
    fn from(selector: Selector) -> Self {
        match selector {
            Selector::Lookup(name) => SelectorFields { lookup: Some(name), id: None },
            Selector::Id(id) => SelectorFields { lookup: None, id: Some(id) },
        }
    }
}

impl JsonSchema for Selector {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Selector".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        SelectorFields::json_schema(generator)
    }
}

/// A reference to another manifest by its `metadata.name`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameRef {
    pub name: String,
}
