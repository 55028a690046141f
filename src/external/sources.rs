//! Values read from their sources (`fromEnv`, `fromFile`, `secretKeyRef`,
//! `configMapKeyRef`)
//! for one object, kept in memory only, and the markers that stand in for
//! them in fields, plans and state.
//!
//! A marker is an object with one `$`-key: `{"$sensitive": DIGEST}` for a
//! secret (an HMAC of the value, see [`super::digest`]), `{"$digest": DIGEST}`
//! for a write-only value that is no secret (a file's content). A marker
//! whose digest is `null` is what an observation shows where the API says a
//! value exists but never returns it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::Secret;

pub const SENSITIVE: &str = "$sensitive";
pub const DIGEST: &str = "$digest";

/// Values read for one object, by the spec path of their source
/// (`headers.Authorization`, `value`, `openapiSpec`).
#[derive(Clone, Debug, Default)]
pub struct SourceValues {
    values: BTreeMap<String, Secret>,
}

impl SourceValues {
    pub fn get(&self, path: &str) -> Option<&Secret> {
        self.values.get(path)
    }

    pub fn insert(&mut self, path: impl Into<String>, value: Secret) {
        self.values.insert(path.into(), value);
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.values.values()
    }
}

/// The kinds of cluster object a source may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterKind {
    Secret,
    ConfigMap,
}

impl ClusterKind {
    const ALL: [ClusterKind; 2] = [ClusterKind::Secret, ClusterKind::ConfigMap];

    /// The Kubernetes kind: `Secret`, `ConfigMap`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterKind::Secret => "Secret",
            ClusterKind::ConfigMap => "ConfigMap",
        }
    }

    /// The source field that names one: `secretKeyRef`, `configMapKeyRef`.
    fn field(self) -> &'static str {
        match self {
            ClusterKind::Secret => "secretKeyRef",
            ClusterKind::ConfigMap => "configMapKeyRef",
        }
    }
}

/// Where in a cluster a source's value is: a key of a Secret or of a
/// ConfigMap in the object's namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterRef {
    pub kind: ClusterKind,
    pub name: String,
    pub key: String,
}

impl ClusterRef {
    /// `Secret/name`: what a watch of that kind reports.
    pub fn object(&self) -> String {
        format!("{}/{}", self.kind.as_str(), self.name)
    }
}

/// Values of Secrets and ConfigMaps, read ahead by whoever holds the
/// cluster (the controller, `plan --cluster`) for the `secretKeyRef`s and
/// `configMapKeyRef`s of the objects at hand.
#[derive(Clone, Debug, Default)]
pub struct ClusterValues {
    values: BTreeMap<ClusterRef, Secret>,
    /// Whether sources are read in a cluster: there only cluster references
    /// are read (the controller's own environment and files are not the
    /// user's to read); elsewhere one is an error that says who reads it.
    in_cluster: bool,
}

impl ClusterValues {
    /// An empty set read from a cluster.
    pub fn from_cluster() -> Self {
        Self { values: BTreeMap::new(), in_cluster: true }
    }

    pub fn insert(&mut self, reference: ClusterRef, value: Secret) {
        self.values.insert(reference, value);
    }
}

/// Where one value a spec reads comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Env(String),
    File(String),
    Cluster(ClusterRef),
    /// A source object whose one field does not say where (`fromEnv: 5`,
    /// a `secretKeyRef` without its key): reading it is an error.
    Incomplete,
}

/// One value a spec reads, by the path of its field (`headers.Authorization`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub origin: Origin,
}

/// Every source a spec names, found once: a spec is scanned when it is
/// loaded, not for each question asked of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources(Vec<Source>);

impl Sources {
    /// The sources in a spec's JSON: every object whose one key is
    /// `fromEnv`, `fromFile`, `secretKeyRef` or `configMapKeyRef`.
    pub fn of(spec: &Value) -> Self {
        let mut found = Vec::new();
        collect(spec, "", &mut found);
        Sources(found.into_iter().map(|(path, source)| Source { path, origin: origin_of(source) }).collect())
    }

    /// Whether the spec reads any value from a source.
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Source> {
        self.0.iter()
    }

    /// Every `secretKeyRef` and `configMapKeyRef`.
    pub fn cluster_refs(&self) -> Vec<ClusterRef> {
        self.0
            .iter()
            .filter_map(|s| match &s.origin {
                Origin::Cluster(reference) => Some(reference.clone()),
                _ => None,
            })
            .collect()
    }

    /// Each source described for a reviewer (`$GOOGLE_API_KEY`, `file
    /// secrets/token`, `Secret llm/google`): what the manifest reads, never
    /// the value.
    pub fn described(&self) -> Vec<(String, String)> {
        self.0.iter().map(|s| (s.path.clone(), describe(&s.origin))).collect()
    }

    /// The environment variables read, by field path.
    pub fn env_reads(&self) -> Vec<(String, String)> {
        self.named(|origin| if let Origin::Env(variable) = origin { Some(variable) } else { None })
    }

    /// The files read (`fromFile`), by field path.
    pub fn file_reads(&self) -> Vec<(String, String)> {
        self.named(|origin| if let Origin::File(file) = origin { Some(file) } else { None })
    }

    /// What `name` says of each source it names, by field path.
    fn named(&self, name: fn(&Origin) -> Option<&String>) -> Vec<(String, String)> {
        self.0.iter().filter_map(|s| Some((s.path.clone(), name(&s.origin)?.clone()))).collect()
    }
}

fn origin_of(source: &serde_json::Map<String, Value>) -> Origin {
    let text = |key: &str| source.get(key).and_then(Value::as_str).map(str::to_string);
    if let Some(variable) = text("fromEnv") {
        return Origin::Env(variable);
    }
    if let Some(file) = text("fromFile") {
        return Origin::File(file);
    }
    cluster_ref(source).map_or(Origin::Incomplete, Origin::Cluster)
}

fn cluster_ref(source: &serde_json::Map<String, Value>) -> Option<ClusterRef> {
    let (kind, reference) =
        ClusterKind::ALL.into_iter().find_map(|kind| source.get(kind.field()).map(|r| (kind, r)))?;
    let text = |field: &str| reference.get(field).and_then(Value::as_str).map(String::from);
    Some(ClusterRef { kind, name: text("name")?, key: text("key")? })
}

/// Reads sources: environment and files for the CLI, Kubernetes Secrets
/// read ahead for the controller; under the sandbox an unset variable gets
/// a fake value.
#[derive(Clone, Debug)]
pub struct SourceReader<'a> {
    /// The folder `fromFile` paths are relative to.
    pub base_dir: PathBuf,
    pub sandbox: bool,
    pub cluster: &'a ClusterValues,
    /// What the operator allows manifests to read.
    pub policy: &'a crate::operator::Policy,
}

impl SourceReader<'_> {
    /// Every source of a spec, read; errors name the field.
    pub fn read_all(&self, sources: &Sources) -> Result<SourceValues, (String, String)> {
        let mut values = SourceValues::default();
        for source in sources.iter() {
            let field = format!("spec.{}", source.path);
            let value = self.read(&source.origin).map_err(|message| (field, message))?;
            values.insert(source.path.clone(), value);
        }
        Ok(values)
    }

    fn read(&self, origin: &Origin) -> Result<Secret, String> {
        if self.cluster.in_cluster && !matches!(origin, Origin::Cluster(_)) {
            return Err("in a cluster values come from `secretKeyRef` or `configMapKeyRef` only: the controller does not read its own environment or files".into());
        }
        match origin {
            Origin::Env(name) => self.read_env(name),
            Origin::File(path) => self.policy.read_source(&self.base_dir, path)
                .map(|text| Secret::new(text.strip_suffix('\n').unwrap_or(&text).to_string())),
            Origin::Incomplete => Err("set one of fromEnv, fromFile, secretKeyRef and configMapKeyRef".into()),
            Origin::Cluster(reference) if !self.cluster.in_cluster => Err(format!(
                "{} names a Kubernetes {}, which only the controller and `plan --cluster` read; the CLI reads fromEnv or fromFile",
                reference.kind.field(),
                reference.kind.as_str()
            )),
            Origin::Cluster(reference) => self.cluster.values.get(reference).cloned().ok_or_else(|| {
                format!("{} `{}` does not exist or has no key `{}`", reference.kind.as_str(), reference.name, reference.key)
            }),
        }
    }

    fn read_env(&self, name: &str) -> Result<Secret, String> {
        self.policy.env_allowed(name)?;
        match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
            _ if self.sandbox => {
                self.policy.note_once(format!("${name} is not set; the sandbox uses a fake value for it"));
                Ok(Secret::new(format!("sandbox-fake-{}", name.to_lowercase())))
            }
            _ => Err(format!("${name} is not set")),
        }
    }
}

fn describe(origin: &Origin) -> String {
    match origin {
        Origin::Env(variable) => format!("${variable}"),
        Origin::File(file) => format!("file {file}"),
        Origin::Cluster(reference) => format!("{} {}/{}", reference.kind.as_str(), reference.name, reference.key),
        Origin::Incomplete => "a source".to_string(),
    }
}

/// Finds every `{fromEnv}`/`{fromFile}`/`{secretKeyRef}`/`{configMapKeyRef}`
/// object in a spec.
fn collect<'a>(value: &'a Value, path: &str, found: &mut Vec<(String, &'a serde_json::Map<String, Value>)>) {
    let Value::Object(map) = value else { return };
    let is_source = map.len() == 1
        && ["fromEnv", "fromFile", "secretKeyRef", "configMapKeyRef"].iter().any(|k| map.contains_key(*k));
    if is_source && !path.is_empty() {
        found.push((path.to_string(), map));
        return;
    }
    for (key, inner) in map {
        let inner_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        collect(inner, &inner_path, found);
    }
}

/// `text` with every one of `values` (and the key `also`) replaced by
/// `(sensitive)`: a vendor's error may echo what it was sent.
pub fn scrub(text: &str, values: &SourceValues, also: Option<&Secret>) -> String {
    let mut scrubbed = text.to_string();
    let secrets = values.values.values().chain(also);
    // Longest first, so a value that contains another is hidden whole.
    let mut secrets: Vec<&str> = secrets.map(Secret::expose).filter(|s| s.len() >= 4).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        scrubbed = scrubbed.replace(secret, "(sensitive)");
    }
    scrubbed
}

/// The digest that stands for a write-only value that is no secret.
pub fn content_digest(value: &str) -> Value {
    json!({ DIGEST: format!("sha256:{}", hash(value)) })
}

/// What an observation shows for a value the API keeps but never returns.
pub fn unknown(kind: &str) -> Value {
    json!({ kind: null })
}

/// The marker's kind (`$sensitive` or `$digest`) and digest, if `value` is a
/// marker.
pub fn marker(value: &Value) -> Option<(&str, Option<&str>)> {
    let map = value.as_object().filter(|m| m.len() == 1)?;
    let (key, digest) = map.iter().next()?;
    (key == SENSITIVE || key == DIGEST).then(|| (key.as_str(), digest.as_str()))
}

fn hash(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Replaces the unknown markers of an observation with what was last
/// applied at the same place: a value the API never returns is taken to be
/// what seqops wrote, since it cannot be seen.
pub fn fill_unknown(observed: &mut Value, last_applied: Option<&Value>) {
    match observed {
        Value::Object(map) if marker(&Value::Object(map.clone())).is_some_and(|(_, digest)| digest.is_none()) => {
            if let Some(applied) = last_applied.filter(|a| marker(a).is_some()) {
                *observed = applied.clone();
            }
        }
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                fill_unknown(inner, last_applied.and_then(|a| a.get(key)));
            }
        }
        _ => {}
    }
}

/// Turns every secret marker in `value` into "unknown", so that `--rotate`
/// writes secrets whatever their digests say.
pub fn forget_digests(value: &mut Value) {
    if let Some((SENSITIVE, _)) = marker(value) {
        *value = unknown(SENSITIVE);
        return;
    }
    if let Value::Object(map) = value {
        for inner in map.values_mut() {
            forget_digests(inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_anywhere_in_a_spec_are_found_and_read() {
        let dir =
            tempfile::tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/target")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("token"), "s3cret\n").unwrap_or_else(|e| panic!("{e}"));
        let policy = crate::operator::Policy::default();
        let (base_dir, cluster) = (dir.path().to_path_buf(), &Default::default());
        let reader = SourceReader { base_dir, sandbox: false, cluster, policy: &policy };
        let spec = json!({"name": "x", "headers": {"Authorization": {"fromFile": "token"}}});
        let values = reader.read_all(&Sources::of(&spec)).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(values.get("headers.Authorization").map(Secret::expose), Some("s3cret"));
    }

    #[test]
    fn an_unset_variable_is_an_error_naming_the_field_except_in_the_sandbox() {
        let spec = json!({"value": {"fromEnv": "SEQOPS_TEST_SURELY_UNSET"}});
        let none = ClusterValues::default();
        let policy = crate::operator::Policy::default();
        let reader = SourceReader { base_dir: PathBuf::from("."), sandbox: false, cluster: &none, policy: &policy };
        let error = reader.read_all(&Sources::of(&spec)).err();
        assert_eq!(error, Some(("spec.value".into(), "$SEQOPS_TEST_SURELY_UNSET is not set".into())));
        let sandbox = SourceReader { sandbox: true, ..reader };
        assert!(sandbox.read_all(&Sources::of(&spec)).is_ok());
    }

    #[test]
    fn secret_key_refs_read_the_cluster_secrets_read_ahead_and_are_an_error_without_a_cluster() {
        let spec = json!({"headers": {"Authorization": {"secretKeyRef": {"name": "crm", "key": "token"}}}});
        let crm = ClusterRef { kind: ClusterKind::Secret, name: "crm".into(), key: "token".into() };
        assert_eq!(Sources::of(&spec).cluster_refs(), vec![crm.clone()]);
        let none = ClusterValues::default();
        let policy = crate::operator::Policy::default();
        let cli = SourceReader { base_dir: PathBuf::from("."), sandbox: true, cluster: &none, policy: &policy };
        let error = cli.read_all(&Sources::of(&spec)).err().map(|(_, message)| message).unwrap_or_default();
        assert!(error.contains("only the controller and `plan --cluster` read"), "{error}");
        let mut read = ClusterValues::from_cluster();
        let cluster = SourceReader { cluster: &read, ..cli.clone() };
        assert_eq!(
            cluster.read_all(&Sources::of(&spec)).err().map(|(_, m)| m),
            Some("Secret `crm` does not exist or has no key `token`".into())
        );
        read.insert(crm, Secret::new("Bearer abc"));
        let cluster = SourceReader { cluster: &read, ..cli };
        let values = cluster.read_all(&Sources::of(&spec)).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(values.get("headers.Authorization").map(Secret::expose), Some("Bearer abc"));
        let own_environment = json!({"value": {"fromEnv": "HOME"}});
        let error =
            cluster.read_all(&Sources::of(&own_environment)).err().map(|(_, message)| message).unwrap_or_default();
        assert!(error.contains("`secretKeyRef` or `configMapKeyRef` only"), "{error}");
    }

    #[test]
    fn unknown_values_take_what_was_applied() {
        let key = super::super::digest::DigestKey::new(b"a key of sixteen bytes");
        let digests = super::super::digest::Digests::keyed(Some(std::sync::Arc::new(key)));
        let applied = json!({"Authorization": digests.marker(&Secret::new("v"))});
        let mut observed = json!({"Authorization": unknown(SENSITIVE)});
        fill_unknown(&mut observed, Some(&applied));
        assert_eq!(observed, applied);
    }
}
