//! The `Provider` kind: one configured account of one vendor API.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::kind::{self, KindSpec};

/// A configured account of one provider.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    pub base_url: Option<String>,
    pub credentials: Credentials,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Headers sent with every request to this account that are not
    /// credentials, such as Gary Club's `X-Gary-Client-Id` (an agency key
    /// acting for one client). `Authorization`, `Host`, `Cookie` and
    /// hop-by-hop headers may not be set this way.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderType {
    Orsay,
    Orqis,
    Gary,
    Orchagent,
    Topo,
}

impl ProviderType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::Orsay => "orsay",
            ProviderType::Orqis => "orqis",
            ProviderType::Gary => "gary",
            ProviderType::Orchagent => "orchagent",
            ProviderType::Topo => "topo",
        }
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

pub const PROVIDER_KIND: KindSpec = KindSpec {
    api_version: "seqops.dev/v1alpha1",
    kind: "Provider",
    key_kind: "Provider",
    provider_type: None,
    parse: kind::parse_typed::<ProviderSpec>,
    references: kind::no_references,
    check: check_provider,
    crd: <Provider as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(ProviderSpec),
    annotations: &[],
};

fn check_provider(spec: &serde_json::Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let credentials = &spec["credentials"];
    if credentials.get("env").is_none() && credentials.get("secretRef").is_none() {
        problems.push((
            "spec.credentials".into(),
            "name where the API key comes from: `env: VARIABLE` (CLI) or `secretRef: {name, key}` (Kubernetes)".into(),
        ));
    }
    if credentials.get("env").and_then(|v| v.as_str()).is_some_and(|name| !super::secret::is_variable_name(name)) {
        problems.push(("spec.credentials.env".into(), super::secret::NOT_A_VARIABLE.into()));
    }
    if let Some(url) = spec.get("baseUrl").and_then(|u| u.as_str()) {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            problems.push(("spec.baseUrl".into(), format!("`{url}` is not an http(s) URL")));
        }
    }
    for name in spec.get("headers").and_then(|h| h.as_object()).map(|h| h.keys()).into_iter().flatten() {
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            problems.push((format!("spec.headers.{name}"), "not a header name (letters, digits, `-`, `_`)".into()));
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            problems.push((
                format!("spec.headers.{name}"),
                "seqops sets this header itself; credentials come from `credentials`, never from `headers`".into(),
            ));
        }
    }
    if let Some(limit) = spec.get("rateLimit") {
        let has = |field: &str| limit.get(field).is_some();
        if has("requests") == has("requestsPerHour") {
            problems.push((
                "spec.rateLimit".into(),
                "give `requests` (with `per`, default `1h`) or the older `requestsPerHour`, not both".into(),
            ));
        }
        if has("per") && !has("requests") {
            problems.push(("spec.rateLimit.per".into(), "`per` goes with `requests`".into()));
        }
        if limit.get("per").and_then(|p| p.as_str()).and_then(|p| Duration::parse(p).ok())
            == Some(Duration::from_secs(0))
        {
            problems.push(("spec.rateLimit.per".into(), "a window must be longer than 0s".into()));
        }
    }
    problems
}
