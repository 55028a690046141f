//! `seqops check`: one read of each endpoint a provider's client reads,
//! decoded as the client decodes it, so a path or a shape that differs
//! from the vendor's documents shows before an apply does. Writes are never
//! probed; an endpoint under an object (`GET /sequences/{id}`) is read with
//! the first id its parent listed, and skipped when it listed none.

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::error::ProviderError;
use super::http::HttpClient;

/// Reads an answer as the client does; the ids it lists.
pub type Expect = fn(&[u8]) -> Result<Vec<String>, String>;

/// One read endpoint.
pub struct Probe {
    /// As the vendor's reference writes it: `GET /sequences/{id}`.
    pub endpoint: &'static str,
    pub path: ProbePath,
    pub expect: Expect,
}

pub enum ProbePath {
    Fixed(&'static str),
    /// Under an object the probe `parent` (by endpoint) listed.
    Under {
        parent: &'static str,
        path: fn(&str) -> String,
    },
}

/// What one probe found.
#[derive(Debug, serde::Serialize)]
pub struct Finding {
    pub endpoint: &'static str,
    /// The path sent, when one was.
    pub path: Option<String>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "detail")]
pub enum Verdict {
    /// Answered as the client expects, listing this many objects.
    Expected(usize),
    /// Answered, but not as the client reads it.
    Unexpected(String),
    /// Not read: its parent listed nothing to read it under.
    Skipped(String),
}

/// The most requests `probes` make: one each.
pub fn budget(probes: &[Probe]) -> usize {
    probes.len()
}

/// Runs every probe in order, one request each.
pub async fn run(http: &HttpClient, probes: &[Probe]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut listed: Vec<(&'static str, Vec<String>)> = Vec::new();
    for probe in probes {
        let path = match &probe.path {
            ProbePath::Fixed(path) => path.to_string(),
            ProbePath::Under { parent, path } => {
                match listed.iter().find(|(e, _)| e == parent).and_then(|(_, ids)| ids.first()) {
                    Some(id) => path(id),
                    None => {
                        let why = format!("{parent} listed no object to read it under");
                        findings.push(Finding { endpoint: probe.endpoint, path: None, verdict: Verdict::Skipped(why) });
                        continue;
                    }
                }
            }
        };
        let (ids, verdict) = match http.send(Method::GET, &path, None).await {
            Ok(response) => match (probe.expect)(&response.body) {
                Ok(ids) => (ids.clone(), Verdict::Expected(ids.len())),
                Err(why) => (Vec::new(), Verdict::Unexpected(format!("the answer does not read as documented: {why}"))),
            },
            Err(error) => (Vec::new(), Verdict::Unexpected(explain(&error))),
        };
        listed.push((probe.endpoint, ids));
        findings.push(Finding { endpoint: probe.endpoint, path: Some(path), verdict });
    }
    findings
}

fn explain(error: &ProviderError) -> String {
    match error {
        ProviderError::NotFound { .. } => {
            format!("{error}: the path differs from the vendor's documents, or the base URL is wrong")
        }
        other => other.to_string(),
    }
}

/// Decodes `body` as `T` and takes the ids `ids` finds in it.
pub fn ids<T: DeserializeOwned>(body: &[u8], ids: fn(&T) -> Vec<String>) -> Result<Vec<String>, String> {
    serde_json::from_slice::<T>(body).map(|value| ids(&value)).map_err(|e| e.to_string())
}

/// Decodes `body` as `T`, which lists no ids.
pub fn shape<T: DeserializeOwned>(body: &[u8]) -> Result<Vec<String>, String> {
    serde_json::from_slice::<T>(body).map(|_| Vec::new()).map_err(|e| e.to_string())
}

/// `{"data": [{"id": …}, …]}`: an enveloped list whose items each have
/// the string fields `named`, the first their id (orchagent's lists).
pub fn enveloped(body: &[u8], named: &[&str]) -> Result<Vec<String>, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    #[derive(serde::Deserialize)]
    struct Envelope {
        data: Vec<serde_json::Value>,
    }
    let envelope = Some(&value)
        .filter(|v| v.is_object())
        .and_then(|v| <Envelope as serde::Deserialize>::deserialize(v).ok())
        .ok_or("no `data` array")?;
    let items = &envelope.data;
    let mut ids = Vec::new();
    for (at, item) in items.iter().enumerate() {
        for field in named {
            if !item[*field].is_string() {
                return Err(format!("data[{at}] has no string `{field}`"));
            }
        }
        if let Some(id) = named.first().and_then(|f| item[*f].as_str()) {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}
