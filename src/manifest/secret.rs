//! Where a secret value (or a file's content) comes from. Values never
//! appear in manifests: a literal string where a source is expected is an
//! error.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `{fromEnv: NAME}`, `{fromFile: PATH}` (relative to the manifest's folder),
/// or, in a cluster, `{secretKeyRef: {name, key}}` (a Kubernetes Secret) or
/// `{configMapKeyRef: {name, key}}` (a ConfigMap, for documents that are no
/// secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "SourceFields")]
pub enum ValueSource {
    FromEnv(String),
    FromFile(String),
    SecretKeyRef { name: String, key: String },
    ConfigMapKeyRef { name: String, key: String },
}

/// The written form of a [`ValueSource`]: exactly one field.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceFields {
    /// An environment variable holding the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_env: Option<String>,
    /// A file holding the value, relative to the manifest's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_file: Option<String>,
    /// A key of a Kubernetes Secret in the object's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<super::provider::SecretKeyRef>,
    /// A key of a ConfigMap in the object's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<super::provider::SecretKeyRef>,
}

/// Whether `name` can be an environment variable's name as seqops reads
/// them: `^[A-Z_][A-Z0-9_]*$`.
pub fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// What a field that must name a variable, and does not, is told: never
/// what it holds, which may be the key itself pasted in.
pub const NOT_A_VARIABLE: &str = "must name an environment variable (capital letters, digits and `_`, not starting with a digit, as in `ORSAY_API_KEY`); what it holds is not repeated here, in case it is a key pasted in: move the value into that variable";

impl TryFrom<SourceFields> for ValueSource {
    type Error = String;
    fn try_from(fields: SourceFields) -> Result<Self, String> {
        match (fields.from_env, fields.from_file, fields.secret_key_ref, fields.config_map_key_ref) {
            (Some(name), None, None, None) if !is_variable_name(&name) => Err(format!("fromEnv {NOT_A_VARIABLE}")),
            (Some(name), None, None, None) => Ok(ValueSource::FromEnv(name)),
            (None, Some(path), None, None) if !path.is_empty() => Ok(ValueSource::FromFile(path)),
            (None, None, Some(r), None) => Ok(ValueSource::SecretKeyRef { name: r.name, key: r.key }),
            (None, None, None, Some(r)) => Ok(ValueSource::ConfigMapKeyRef { name: r.name, key: r.key }),
            _ => Err("set exactly one of `fromEnv: VARIABLE`, `fromFile: PATH`, `secretKeyRef: {name, key}` and `configMapKeyRef: {name, key}`; values are never written in manifests".into()),
        }
    }
}

/// What a literal value in place of a source is told.
pub const LITERAL_REFUSED: &str = "a value is never written in a manifest: read it from a source, `{fromEnv: VARIABLE}`, `{fromFile: PATH}`, `{secretKeyRef: {name, key}}` or `{configMapKeyRef: {name, key}}`";

impl<'de> Deserialize<'de> for ValueSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let written = serde_json::Value::deserialize(deserializer)?;
        if !written.is_object() {
            return Err(D::Error::custom(LITERAL_REFUSED));
        }
        let fields: SourceFields = serde_json::from_value(written).map_err(D::Error::custom)?;
        ValueSource::try_from(fields).map_err(D::Error::custom)
    }
}

impl From<ValueSource> for SourceFields {
    fn from(source: ValueSource) -> Self {
        match source {
            ValueSource::FromEnv(name) => SourceFields { from_env: Some(name), ..Default::default() },
            ValueSource::FromFile(path) => SourceFields { from_file: Some(path), ..Default::default() },
            ValueSource::SecretKeyRef { name, key } => {
                SourceFields { secret_key_ref: Some(super::provider::SecretKeyRef { name, key }), ..Default::default() }
            }
            ValueSource::ConfigMapKeyRef { name, key } => SourceFields {
                config_map_key_ref: Some(super::provider::SecretKeyRef { name, key }),
                ..Default::default()
            },
        }
    }
}

impl JsonSchema for ValueSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ValueSource".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        SourceFields::json_schema(generator)
    }
}

/// Where a value the API returns only once (an API key, a webhook URL) is
/// written: a file for the CLI, a Kubernetes Secret for the controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteSecretTo {
    /// A file, relative to the manifest's folder, written with mode 0600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A Kubernetes Secret (name, key) the controller writes, owned by the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<super::provider::SecretKeyRef>,
}
