//! The `Provider` kind: one configured account of one vendor API.

use kube::core::Rule;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::kind::{Kind, KindSpec};
use crate::external::KindFacts;

/// A configured account of one provider.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "seqops.dev",
    version = "v1alpha1",
    kind = "Provider",
    namespaced,
    category = "seqops",
    shortname = "sqprov"
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderSpec {
    /// Which API: `orsay`, `orqis`, `gary`, `orchagent` or `topo`.
    #[serde(rename = "type")]
    pub provider_type: ProviderType,
    /// Overrides the vendor's base URL (for a regional endpoint or a proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = super::urls::http(), validation = super::urls::no_userinfo(), validation = super::urls::no_query())]
    pub base_url: Option<String>,
    #[x_kube(
        validation = Rule::new("has(self.env) || has(self.secretRef)").message(
            "name where the API key comes from: `env: VARIABLE` (CLI) or `secretRef: {name, key}` (Kubernetes)"
        ),
        validation = Rule::new("!has(self.env) || self.env.matches('^[A-Z_][A-Z0-9_]*$')")
            .message(super::secret::NOT_A_VARIABLE)
            .field_path(".env")
    )]
    pub credentials: Credentials,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("has(self.requests) != has(self.requestsPerHour)")
            .message("give `requests` (with `per`, default `1h`) or the older `requestsPerHour`, not both"),
        validation = Rule::new("!has(self.per) || has(self.requests)").message("`per` goes with `requests`").field_path(".per"),
        validation = Rule::new("!has(self.per) || !self.per.matches('^[0smh]+$')")
            .message("a window must be longer than 0s")
            .field_path(".per")
    )]
    pub rate_limit: Option<RateLimit>,
    /// Headers sent with every request to this account that are not
    /// credentials, such as Gary Club's `X-Gary-Client-Id` (an agency key
    /// acting for one client). `Authorization`, `Host`, `Cookie` and
    /// hop-by-hop headers may not be set this way.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[x_kube(validation = header_names(), validation = headers_seqops_sets())]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// Headers a Provider may not set: the credential, the target, cookies and
/// what only a connection's hops may say.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "host",
    "cookie",
    "set-cookie",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-type",
    "x-api-key",
];

// The two rules on `headers` say what is wrong, not which header: a
// message that named it would iterate the map again, and the API server
// refuses a CRD whose messages may cost that much.

/// Header names are letters, digits, `-` and `_`.
fn header_names() -> Rule {
    Rule::new("self.all(name, name.matches('^[A-Za-z0-9_-]+$'))")
        .message("a header name here is not a header name (letters, digits, `-`, `_`)")
}

/// The headers seqops sets itself may not be set by a Provider.
fn headers_seqops_sets() -> Rule {
    let reserved = RESERVED_HEADERS.iter().map(|h| format!("'{h}'")).collect::<Vec<_>>().join(", ");
    Rule::new(format!("self.all(name, !(name.lowerAscii() in [{reserved}]))")).message(
        "a header here is one seqops sets itself (`Authorization`, `Host`, `Cookie`, `Content-Type`, hop-by-hop); \
         credentials come from `credentials`, never from `headers`",
    )
}

/// Which vendor API a Provider speaks (`orsay`). Each provider's folder
/// declares its own and registers it in [`PROVIDER_TYPES`] (see
/// `providers::register!`), so the types a manifest may name are the
/// folders built in, and adding one changes no list here.
/// Types order as they are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderType {
    /// Where it is listed (in the CRD's enum, `seqops version`, `init`):
    /// the order of a linker's section is not the order of the source.
    rank: u8,
    name: &'static str,
}

/// Every provider type built in, in no order: [`provider_types`] sorts it.
#[linkme::distributed_slice]
pub static PROVIDER_TYPES: [ProviderType];

/// Every provider type built in, in the order they are listed.
pub fn provider_types() -> Vec<ProviderType> {
    let mut types = PROVIDER_TYPES.to_vec();
    types.sort();
    types
}

impl ProviderType {
    pub const fn new(name: &'static str, rank: u8) -> Self {
        ProviderType { rank, name }
    }

    pub const fn as_str(self) -> &'static str {
        self.name
    }

    /// The built-in type of that name.
    pub fn named(name: &str) -> Option<ProviderType> {
        PROVIDER_TYPES.iter().copied().find(|t| t.name == name)
    }
}

impl std::fmt::Display for ProviderType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Serialize for ProviderType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for ProviderType {
    /// A name not built in is refused in serde's words for an unknown
    /// variant, which the loader turns into a suggestion.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        ProviderType::named(&name).ok_or_else(|| {
            let known: Vec<String> = provider_types().iter().map(|t| format!("`{t}`")).collect();
            serde::de::Error::custom(format_args!("unknown variant `{name}`, expected one of {}", known.join(", ")))
        })
    }
}

impl JsonSchema for ProviderType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProviderType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = provider_types().iter().map(|t| t.name).collect();
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// Where the API key comes from: an environment variable for the CLI, a
/// Kubernetes Secret for the controller.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}

/// Client-side pacing. Without it, the vendor's documented limit applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Requests seqops allows itself on this account in any window of
    /// `per`; `0` turns pacing off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u32>,
    /// The length of the sliding window `requests` counts in: `1m`, `1h`
    /// (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Duration>,
    /// `requests` per rolling hour: the older spelling of
    /// `{requests: N, per: 1h}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_hour: Option<u32>,
}

impl RateLimit {
    pub fn per_hour(requests: u32) -> Self {
        Self { requests: Some(requests), per: None, requests_per_hour: None }
    }

    /// The pacing this asks for; `None` when it turns pacing off.
    pub fn rate(&self) -> Option<Rate> {
        let requests = self.requests.or(self.requests_per_hour).filter(|r| *r > 0)?;
        let window = self.per.map_or(3600, Duration::as_secs).max(1);
        Some(Rate { requests, window: std::time::Duration::from_secs(window) })
    }
}

/// At most `requests` in any sliding window of `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    pub requests: u32,
    pub window: std::time::Duration,
}

impl Rate {
    pub const fn per_hour(requests: u32) -> Self {
        Self { requests, window: std::time::Duration::from_secs(3600) }
    }

    pub const fn per_minute(requests: u32) -> Self {
        Self { requests, window: std::time::Duration::from_secs(60) }
    }

    /// The same pace counted over an hour, for budgets spread over time.
    pub fn hourly(self) -> u64 {
        u64::from(self.requests) * 3600 / self.window.as_secs().max(1)
    }

    /// `per hour`, `per minute`, `per 30s`: what a budget line says.
    pub fn window_text(self) -> String {
        match self.window.as_secs() {
            3600 => "per hour".into(),
            60 => "per minute".into(),
            1 => "per second".into(),
            other => format!("per {}", Duration::from_secs(other)),
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} requests {}", self.requests, self.window_text())
    }
}

impl Kind for ProviderSpec {
    type Resource = Provider;
    const API_VERSION: &'static str = "seqops.dev/v1alpha1";
    const KIND: &'static str = "Provider";
    const PROVIDER: Option<ProviderType> = None;
    const FACTS: Option<&'static KindFacts> = None;
}

pub const PROVIDER_KIND: KindSpec = KindSpec::of::<ProviderSpec>();
