//! Manifests: loading YAML files into typed, validated resources.
//!
//! This module knows the shape every manifest shares (apiVersion, kind,
//! metadata, spec) and the `Provider` kind; each provider contributes its own
//! kinds as [`KindSpec`]s, so nothing here names a vendor.

pub mod annotations;
pub mod cel;
pub mod common;
pub mod conform;
pub mod crd;
pub mod duration;
pub mod keyword;
pub mod kind;
pub mod limits;
mod list;
mod load;
pub mod locate;
pub mod policy;
pub mod provider;
pub mod record;
pub mod secret;
pub mod selector;
pub mod urls;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use kind::{KindSpec, Naming, Reference, ReferenceField};
pub use load::{load, load_texts, load_texts_within, load_with_stdin, load_within, STDIN};
pub use provider::{ProviderSpec, PROVIDER_KIND};

/// Where something stands in the manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem found in the manifests, with where and which field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.location, self.message)
        } else {
            write!(f, "{}: {}: {}", self.location, self.field, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
}

/// The most errors said one by one; a run with more says how many it
/// leaves out (they are most often one mistake repeated).
pub const ERRORS_SHOWN: usize = 50;

fn render_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let mut text: Vec<String> = diagnostics.iter().take(ERRORS_SHOWN).map(|d| format!("error: {d}")).collect();
    let count = diagnostics.len();
    if count > ERRORS_SHOWN {
        text.push(format!("… and {} more", count - ERRORS_SHOWN));
    }
    text.push(format!(
        "{count} error{} in the manifests; nothing was sent to any API",
        if count == 1 { "" } else { "s" }
    ));
    text.join("\n")
}

/// The metadata every manifest carries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The identity of a managed object: its kind (qualified where two providers
/// share a kind name) and its `metadata.name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ResourceKey {
    pub kind: String,
    pub name: String,
}

impl ResourceKey {
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self { kind: kind.into(), name: name.into() }
    }

    /// Parses `Kind/name`.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, name) = text.split_once('/')?;
        (!kind.is_empty() && !name.is_empty() && !name.contains('/')).then(|| Self::new(kind, name))
    }
}

impl JsonSchema for ResourceKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ResourceKey".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^[^/]+/[^/]+$", "description": "Kind/name"})
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

impl From<ResourceKey> for String {
    fn from(key: ResourceKey) -> String {
        key.to_string()
    }
}

impl TryFrom<String> for ResourceKey {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("`{text}` is not a key of the form Kind/name"))
    }
}

/// A manifest as written to a file: apiVersion, kind, metadata.name, spec.
pub fn manifest_document(api_version: &str, kind: &str, name: &str, spec: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "apiVersion": api_version, "kind": kind, "metadata": { "name": name }, "spec": spec })
}

/// The text of one YAML document and where it starts, kept so that later
/// checks can point at a field.
#[derive(Debug)]
pub struct Document {
    /// The file it came from, as messages name it (`<stdin>` for `-f -`).
    pub file: PathBuf,
    /// The folder its relative paths (`fromFile`) are read from: the
    /// file's, or `--base-dir` for standard input.
    pub dir: PathBuf,
    pub text: String,
    /// The 1-based line of the file on which the document's text starts.
    pub first_line: usize,
    /// Columns the text was shifted left by (an item cut out of a List).
    pub indent: usize,
}

impl Document {
    /// Where `path` (e.g. `spec.flow[0].delay`) stands, or the nearest parent
    /// that exists, or the document's start.
    pub fn locate(&self, path: &str) -> Location {
        self.locate_at(path, locate::Place::Key)
    }

    /// Where `path`'s key or value stands (see [`Document::locate`]).
    pub fn locate_at(&self, path: &str, place: locate::Place) -> Location {
        let (line, column) = locate::locate_at(&self.text, &locate::parse_path(path), place).unwrap_or((1, 1));
        self.location_of(line, column)
    }

    /// Where each of `fields` stands, the text read once for them all.
    pub fn locate_all(&self, fields: &[(String, locate::Place)]) -> Vec<Location> {
        let wanted: Vec<_> = fields.iter().map(|(path, place)| (locate::parse_path(path), *place)).collect();
        let found = locate::locate_all(&self.text, &wanted);
        found.into_iter().map(|at| at.unwrap_or((1, 1))).map(|(line, column)| self.location_of(line, column)).collect()
    }

    /// A line and column of the document's text as a place in its file.
    pub fn location_of(&self, line: usize, column: usize) -> Location {
        Location { file: self.file.clone(), line: line + self.first_line - 1, column: column + self.indent }
    }
}

/// A loaded, validated manifest.
#[derive(Clone, Debug)]
pub struct Resource {
    pub api_version: String,
    pub kind: String,
    pub key: ResourceKey,
    pub metadata: Metadata,
    /// The spec as its kind's type, with its JSON as that type serialized
    /// it: unknown fields are already rejected and values normalized
    /// (durations in canonical form).
    pub spec: crate::external::Spec,
    /// The Provider manifest this resource is managed through (none for a
    /// Provider itself).
    pub provider: Option<String>,
    pub document: Arc<Document>,
    /// The manifests this one refers to: they are applied first.
    pub depends_on: Vec<ResourceKey>,
    /// Each reference: the field holding it and the manifest it names.
    pub references: Vec<(String, ResourceKey)>,
}

impl Resource {
    pub fn location(&self) -> Location {
        self.document.locate("metadata.name")
    }

    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.metadata.annotations.get(name).map(String::as_str)
    }

    pub fn annotation_is_true(&self, name: &str) -> bool {
        self.annotation(name) == Some("true")
    }
}

/// Everything loaded from the manifests.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    pub resources: Vec<Resource>,
    /// Where each key is in `resources`.
    index: BTreeMap<ResourceKey, usize>,
    /// YAML documents that are not manifests (no apiVersion, kind, metadata
    /// or spec), passed over.
    pub skipped: Vec<Location>,
    /// Folders found inside a `-f` folder that are kustomize roots (they
    /// hold a kustomization): meant to be rendered, not read, so passed
    /// over.
    pub kustomize_folders: Vec<PathBuf>,
}

impl Manifests {
    pub fn new(resources: Vec<Resource>) -> Self {
        let index = resources.iter().enumerate().map(|(i, r)| (r.key.clone(), i)).collect();
        Self { resources, index, skipped: Vec::new(), kustomize_folders: Vec::new() }
    }

    pub fn providers(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(|r| r.provider.is_none())
    }

    pub fn managed(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(|r| r.provider.is_some())
    }

    pub fn get(&self, key: &ResourceKey) -> Option<&Resource> {
        self.index.get(key).map(|&i| &self.resources[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_fifty_errors_the_rest_are_counted_not_said() {
        let diagnostic = |line| Diagnostic {
            location: Location { file: "a.yaml".into(), line, column: 1 },
            field: String::new(),
            message: "wrong".into(),
        };
        let shown = render_diagnostics(&(1..=60).map(diagnostic).collect::<Vec<_>>());
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), ERRORS_SHOWN + 2);
        assert_eq!(lines[ERRORS_SHOWN - 1], "error: a.yaml:50:1: wrong");
        assert_eq!(lines[ERRORS_SHOWN], "… and 10 more");
        assert_eq!(lines[ERRORS_SHOWN + 1], "60 errors in the manifests; nothing was sent to any API");
    }
}
