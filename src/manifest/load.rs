//! Reading manifests: files and directories, multi-document YAML, typed
//! parsing by kind, and the checks that span documents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::limits::{Limit, Limits};
use super::locate::{Place, Segment};
use super::{annotations, Diagnostic, Document, KindSpec, Location, ManifestError, Manifests, Resource, ResourceKey};
use crate::words::nearest;

/// The `-f` path that stands for standard input.
pub const STDIN: &str = "-";

/// Loads every manifest under `paths` (files, or directories searched
/// recursively for `*.yaml` and `*.yml`) and checks them against `kinds`.
/// Either every manifest is valid, or every problem found is returned.
pub fn load(paths: &[PathBuf], kinds: &[KindSpec]) -> Result<Manifests, ManifestError> {
    load_with_stdin(paths, Path::new("."), kinds)
}

/// Like [`load`], where a path `-` is a stream of documents on standard
/// input (`kustomize build … | seqops plan -f -`), named `<stdin>` in
/// messages, whose relative paths are read from `stdin_dir`.
pub fn load_with_stdin(paths: &[PathBuf], stdin_dir: &Path, kinds: &[KindSpec]) -> Result<Manifests, ManifestError> {
    load_within(paths, stdin_dir, kinds, &Limits::default())
}

/// Like [`load_with_stdin`], within `limits`: a file, the run, a file's
/// documents and a document's nesting are each refused past their limit
/// before they are parsed, having read no more than the limit allows.
pub fn load_within(
    paths: &[PathBuf],
    stdin_dir: &Path,
    kinds: &[KindSpec],
    limits: &Limits,
) -> Result<Manifests, ManifestError> {
    let mut files = Vec::new();
    let mut texts = Vec::new();
    let mut kustomize_folders = Vec::new();
    let mut read = 0u64;
    for path in paths {
        if path.as_os_str() == STDIN {
            let stdin = PathBuf::from("<stdin>");
            let bytes = read_bounded(&stdin, std::io::stdin(), limits, &mut read)?;
            let text = utf8(&stdin, bytes)?;
            texts.push(Text { file: stdin, dir: stdin_dir.to_path_buf(), text });
        } else {
            collect_files(path, &mut files, &mut kustomize_folders)?;
        }
    }
    for file in files {
        let opened = std::fs::File::open(&file).map_err(|source| ManifestError::Read { path: file.clone(), source })?;
        let bytes = read_bounded(&file, opened, limits, &mut read)?;
        let text = utf8(&file, bytes)?;
        texts.push(Text::of_file(file, text));
    }
    let mut manifests = check_texts(texts, kinds, limits)?;
    manifests.kustomize_folders = kustomize_folders;
    Ok(manifests)
}

/// Reads at most one byte more than a file may hold; a file or a run over
/// its limit is refused at the file's first line.
fn read_bounded(
    file: &Path,
    source: impl std::io::Read,
    limits: &Limits,
    read: &mut u64,
) -> Result<Vec<u8>, ManifestError> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut source.take(limits.file_bytes.saturating_add(1)), &mut bytes)
        .map_err(|source| ManifestError::Read { path: file.to_path_buf(), source })?;
    count_bytes(file, bytes.len(), limits, read)?;
    Ok(bytes)
}

/// Adds a file's `len` bytes to the run's `read`; a file or a run over its
/// limit is refused at the file's first line.
fn count_bytes(file: &Path, len: usize, limits: &Limits, read: &mut u64) -> Result<(), ManifestError> {
    *read = read.saturating_add(len as u64);
    let over = limits.check(Limit::FileBytes, len as u64).and_then(|()| limits.check(Limit::RunBytes, *read));
    over.map_err(|over| ManifestError::Invalid(vec![at_start(file, 1, over.to_string())]))
}

/// A diagnostic at the start of a line of a file.
fn at_start(file: &Path, line: usize, message: String) -> Diagnostic {
    Diagnostic { location: Location { file: file.to_path_buf(), line, column: 1 }, field: String::new(), message }
}

/// A manifest file's text; one that is not UTF-8 is an error naming the
/// line, column and byte offset of the first byte that is not.
fn utf8(file: &Path, bytes: Vec<u8>) -> Result<String, ManifestError> {
    String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        let before = &error.as_bytes()[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        ManifestError::Invalid(vec![Diagnostic {
            location: Location { file: file.to_path_buf(), line, column },
            field: String::new(),
            message: format!(
                "not UTF-8: byte {offset} (0x{:02x}) is not valid UTF-8; save the file as UTF-8",
                error.as_bytes()[offset]
            ),
        }])
    })
}

/// The names kustomize takes for the file that makes a folder its root.
const KUSTOMIZATIONS: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A text to read manifests from, and where its relative paths start.
struct Text {
    file: PathBuf,
    dir: PathBuf,
    text: String,
}

impl Text {
    fn of_file(file: PathBuf, text: String) -> Self {
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        Text { file, dir, text }
    }
}

/// Checks manifests given as texts, each named as a file would be (the
/// controller names an object `namespace/Kind/name`).
pub fn load_texts(texts: &[(PathBuf, String)], kinds: &[KindSpec]) -> Result<Manifests, ManifestError> {
    load_texts_within(texts, kinds, &Limits::default())
}

/// Like [`load_texts`], within `limits`.
pub fn load_texts_within(
    texts: &[(PathBuf, String)],
    kinds: &[KindSpec],
    limits: &Limits,
) -> Result<Manifests, ManifestError> {
    let mut read = 0u64;
    for (file, text) in texts {
        count_bytes(file, text.len(), limits, &mut read)?;
    }
    check_texts(texts.iter().map(|(file, text)| Text::of_file(file.clone(), text.clone())).collect(), kinds, limits)
}

fn check_texts(texts: Vec<Text>, kinds: &[KindSpec], limits: &Limits) -> Result<Manifests, ManifestError> {
    let mut diagnostics = Vec::new();
    let mut resources = Vec::new();
    let mut skipped = Vec::new();
    for text in &texts {
        let documents = match split_documents(text, limits) {
            Ok(documents) => documents,
            Err(over) => {
                diagnostics.push(over);
                continue;
            }
        };
        for document in documents {
            let start = Location { file: document.file.clone(), line: document.first_line, column: 1 };
            match parse_document(document, kinds) {
                Ok(Some(resource)) => resources.push(resource),
                Ok(None) => skipped.push(start),
                Err(mut found) => diagnostics.append(&mut found),
            }
        }
    }
    check_across_documents(&mut resources, kinds, &mut diagnostics);
    diagnostics.sort_by(|a, b| {
        let place = |d: &Diagnostic| (d.location.file.clone(), d.location.line, d.location.column);
        place(a).cmp(&place(b))
    });
    if diagnostics.is_empty() {
        let mut manifests = Manifests::new(resources);
        manifests.skipped = skipped;
        Ok(manifests)
    } else {
        Err(ManifestError::Invalid(diagnostics))
    }
}

/// The file that names paths a folder's manifests leave out, in
/// gitignore's syntax (`fuzz/seeds/`), read in the folder `-f` names and
/// every folder above and below it.
pub const IGNORE_FILE: &str = ".seqopsignore";

/// The manifest files under `path`: a file as it is, a folder searched for
/// `*.yaml` and `*.yml` (hidden ones and what `.seqopsignore` files leave
/// out passed over). A folder met on the way that is a kustomize root is
/// passed over (and noted): its files are a base or an overlay to render,
/// and read as they are they would clash.
fn collect_files(path: &Path, files: &mut Vec<PathBuf>, kustomize: &mut Vec<PathBuf>) -> Result<(), ManifestError> {
    let metadata =
        std::fs::metadata(path).map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
    if metadata.is_file() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let roots = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let found = roots.clone();
    let top = path.to_path_buf();
    let walk = ignore::WalkBuilder::new(path)
        .standard_filters(false)
        .hidden(true)
        .parents(true)
        .add_custom_ignore_filename(IGNORE_FILE)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            let folder = entry.file_type().is_some_and(|t| t.is_dir()) && entry.path() != top;
            let kustomize_root = folder && KUSTOMIZATIONS.iter().any(|name| entry.path().join(name).is_file());
            if kustomize_root {
                found.lock().unwrap_or_else(|e| e.into_inner()).push(entry.path().to_path_buf());
            }
            !kustomize_root
        })
        .build();
    for entry in walk {
        let entry = entry.map_err(|error| ManifestError::Read {
            path: path.to_path_buf(),
            source: error.into_io_error().unwrap_or_else(|| std::io::Error::other("cannot be walked")),
        })?;
        let yaml = entry.path().extension().and_then(|e| e.to_str()).is_some_and(|e| e == "yaml" || e == "yml");
        if yaml && entry.file_type().is_some_and(|t| !t.is_dir()) {
            files.push(entry.into_path());
        }
    }
    kustomize.append(&mut roots.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(())
}

/// Splits a file at `---` lines, keeping each document's first line number.
/// Documents holding only comments or blank lines are dropped. A file with
/// more documents than allowed, or a document nested deeper, is refused
/// at that document's line before any of it is parsed.
fn split_documents(source: &Text, limits: &Limits) -> Result<Vec<Document>, Diagnostic> {
    let mut documents = Vec::new();
    let mut current = String::new();
    let mut first_line = 1;
    for (index, line) in source.text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            push_document(&mut documents, source, std::mem::take(&mut current), first_line, limits)?;
            first_line = index + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    push_document(&mut documents, source, current, first_line, limits)?;
    Ok(documents)
}

fn push_document(
    documents: &mut Vec<Document>,
    source: &Text,
    text: String,
    first_line: usize,
    limits: &Limits,
) -> Result<(), Diagnostic> {
    let has_content = text.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if !has_content {
        return Ok(());
    }
    let over = |at: usize, over: super::limits::OverLimit| at_start(&source.file, at, over.to_string());
    if let Some(line) = super::limits::too_deep(&text, limits.depth) {
        // The scan stops one level past the limit.
        limits.check(Limit::Depth, limits.depth as u64 + 1).map_err(|o| over(first_line + line - 1, o))?;
    }
    let document = Document { file: source.file.clone(), dir: source.dir.clone(), text, first_line, indent: 0 };
    match super::list::items(&document) {
        Some(items) => documents.extend(items),
        None => documents.push(document),
    }
    limits.check(Limit::Documents, documents.len() as u64).map_err(|o| over(first_line, o))
}

/// Parses one document; `None` for YAML that is not a manifest at all (no
/// apiVersion, kind, metadata or spec: a CI workflow kept beside them).
fn parse_document(document: Document, kinds: &[KindSpec]) -> Result<Option<Resource>, Vec<Diagnostic>> {
    let document = Arc::new(document);
    let value = super::yaml::read(&document.text).map_err(|error| {
        let location = document.location_of(error.line, error.column);
        vec![Diagnostic { location, field: String::new(), message: error.message }]
    })?;
    let Some(header) = header_of(&document, &value, kinds)? else { return Ok(None) };
    let (parsed, findings) = check_document(header.kind, &value);
    let mut value = value;
    match parsed {
        Some(parsed) if findings.is_empty() => Ok(Some(Resource {
            api_version: header.api_version,
            kind: header.kind_name,
            key: ResourceKey::new(header.kind.key_kind, parsed.metadata.name.clone()),
            metadata: parsed.metadata,
            spec: parsed.spec,
            provider: None,
            document,
            depends_on: Vec::new(),
            references: Vec::new(),
        })),
        _ => {
            let places: Vec<(String, Place)> =
                findings.iter().map(|(field, place, _)| (field.clone(), place_in(&mut value, field, *place))).collect();
            let locations = document.locate_all(&places);
            Err(findings
                .into_iter()
                .zip(locations)
                .map(|((field, _, message), location)| Diagnostic { location, field, message })
                .collect())
        }
    }
}

/// What a document says it is.
struct Header<'k> {
    api_version: String,
    kind_name: String,
    kind: &'k KindSpec,
}

/// The kind a document names; `None` for a document that is no manifest
/// (empty, or YAML with none of a manifest's fields). A scalar or a list
/// of something else is an error, never passed over: a document skipped
/// before a prune would delete its objects.
fn header_of<'k>(
    document: &Document,
    value: &serde_json::Value,
    kinds: &'k [KindSpec],
) -> Result<Option<Header<'k>>, Vec<Diagnostic>> {
    use serde_json::Value;
    let at = |field: &str, message: String| {
        vec![Diagnostic { location: document.locate(field), field: field.into(), message }]
    };
    let fields = match value {
        Value::Null => return Ok(None),
        Value::Object(fields) => fields,
        other => {
            let shape = match other {
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                _ => "a list of something else",
            };
            let message = format!("a document must be a manifest (a mapping with apiVersion, kind, metadata and spec) or a list of them, not {shape}");
            return Err(vec![Diagnostic { location: document.location_of(1, 1), field: String::new(), message }]);
        }
    };
    if !["apiVersion", "kind", "metadata", "spec"].iter().any(|field| fields.contains_key(*field)) {
        return Ok(None);
    }
    let text_of = |field: &str| fields.get(field).and_then(Value::as_str).map(str::to_string);
    // A kustomization beside the manifests it renders is no manifest.
    if text_of("apiVersion").is_some_and(|v| v.starts_with("kustomize.config.k8s.io/")) {
        return Ok(None);
    }
    let (Some(api_version), Some(kind_name)) = (text_of("apiVersion"), text_of("kind")) else {
        let missing = if text_of("apiVersion").is_none() { "apiVersion" } else { "kind" };
        return Err(at(missing, format!("every manifest needs `{missing}`")));
    };
    match kinds.iter().find(|k| k.matches(&api_version, &kind_name)) {
        Some(kind) => Ok(Some(Header { api_version, kind_name, kind })),
        None => Err(vec![unknown_kind(document, &api_version, &kind_name, kinds)]),
    }
}

/// A mistake found in a document: its field, where it shows, and what it is.
type Finding = (String, Place, String);

/// Reads a document as its kind, with every mistake in it. One that reads
/// is checked field by field and across fields; one that does not is
/// checked against the kind's schema for every mistake at once, and, with
/// the fields at fault taken out, read again for the checks across fields.
fn check_document(kind: &KindSpec, value: &serde_json::Value) -> (Option<super::kind::ParsedDoc>, Vec<Finding>) {
    let tables = super::conform::tables_of(kind);
    let error = match (kind.parse)(value) {
        Ok(parsed) => {
            let findings = checks(kind, tables, &parsed);
            return (Some(parsed), findings);
        }
        Err(error) => error,
    };
    let mut findings: Vec<Finding> = tables.problems(value).into_iter().map(|p| (p.path, p.place, p.message)).collect();
    if findings.is_empty() {
        return (None, vec![serde_finding(&error)]);
    }
    with_serde_words(kind, value, error, &mut findings);
    let removed: Vec<String> = findings.iter().map(|(field, ..)| field.clone()).collect();
    let mut repaired = value.clone();
    for field in &removed {
        remove(&mut repaired, field);
    }
    let after = match (kind.parse)(&repaired) {
        Ok(parsed) => checks(kind, tables, &parsed),
        Err(error) => vec![serde_finding(&error)],
    };
    let outside = |field: &str| !removed.iter().any(|r| within(field, r));
    findings.extend(
        after.into_iter().filter(|(field, _, message)| outside(field) && !message.starts_with("missing field")),
    );
    (None, findings)
}

/// Serde stops at a document's first mistake: read again with the field
/// at fault taken out, field by field, it says each in the words of its
/// type where it has its own (a duration's `is negative`).
fn with_serde_words(
    kind: &KindSpec,
    value: &serde_json::Value,
    mut error: super::kind::ParseError,
    findings: &mut Vec<Finding>,
) {
    // Each reading costs a parse: a document with very many mistakes
    // keeps the schema's words past the first few.
    const READINGS: usize = 16;
    let mut probe = value.clone();
    for _ in 0..READINGS {
        let finding = serde_finding(&error);
        let field = finding.0.clone();
        if finding.2.starts_with("missing field") {
            return;
        }
        merge_serde_words(findings, finding);
        if !remove(&mut probe, &field) {
            return;
        }
        match (kind.parse)(&probe) {
            Ok(_) => return,
            Err(next) => error = next,
        }
    }
}

/// Serde's words for a field, where they are the type's own (a
/// duration's `is negative`), replace the schema's for that field.
fn merge_serde_words(findings: &mut Vec<Finding>, (field, place, message): Finding) {
    const GENERIC: [&str; 8] = [
        "invalid type:",
        "invalid value:",
        "invalid length",
        "unknown field",
        "unknown variant",
        "missing field",
        "duplicate field",
        "data did not match",
    ];
    if GENERIC.iter().any(|generic| message.starts_with(generic)) {
        return;
    }
    match findings.iter_mut().find(|(f, ..)| *f == field) {
        Some(found) => found.2 = message,
        None => findings.push((field, place, message)),
    }
}

/// Whether `field` is `outer` or inside it.
fn within(field: &str, outer: &str) -> bool {
    field == outer || field.strip_prefix(outer).is_some_and(|rest| rest.starts_with(['.', '[']))
}

/// The value of the field at `segments` in `value`.
fn value_at<'v>(value: &'v mut serde_json::Value, segments: &[Segment]) -> Option<&'v mut serde_json::Value> {
    segments.iter().try_fold(value, |at, segment| match segment {
        Segment::Key(key) => at.get_mut(key.as_str()),
        Segment::Index(index) => at.get_mut(*index),
    })
}

/// Takes the field at `path` out of `value` (an item of a list is left
/// as null, so that the paths of the items after it hold); whether there
/// was one.
fn remove(value: &mut serde_json::Value, path: &str) -> bool {
    let mut segments = super::locate::parse_path(path);
    let Some(last) = segments.pop() else { return false };
    match (last, value_at(value, &segments)) {
        // Order does not matter to a reading, and a shift is linear in the fields.
        (Segment::Key(key), Some(serde_json::Value::Object(fields))) => fields.swap_remove(&key).is_some(),
        (Segment::Index(index), Some(serde_json::Value::Array(items))) if index < items.len() => {
            let was_null = items[index].is_null();
            items[index] = serde_json::Value::Null;
            !was_null
        }
        _ => false,
    }
}

/// Where a finding shows: a scalar's mistake at the scalar, a list's or
/// a mapping's at its key, where the eye finds it.
fn place_in(value: &mut serde_json::Value, field: &str, place: Place) -> Place {
    let nested = value_at(value, &super::locate::parse_path(field)).is_some_and(|v| v.is_object() || v.is_array());
    if nested {
        Place::Key
    } else {
        place
    }
}

/// The checks of a document that reads as its kind: its kind's own, the
/// policies, URLs, bounds, name and annotations.
fn checks(kind: &KindSpec, tables: &super::conform::KindTables, parsed: &super::kind::ParsedDoc) -> Vec<Finding> {
    let spec = &parsed.spec;
    let mut found: Vec<(String, String)> = (kind.check)(spec)
        .into_iter()
        .chain(tables.rules.broken(spec.json()))
        .chain(tables.bounds.over(spec.json(), "spec"))
        .collect();
    if let Some(message) = name_problem(&parsed.metadata.name) {
        found.push(("metadata.name".into(), message));
    }
    for (name, value) in &parsed.metadata.annotations {
        let field = format!("metadata.annotations.{name}");
        if name.starts_with("seqops.dev/") && !annotations::KNOWN.contains(&name.as_str()) {
            let hint = nearest(name, annotations::KNOWN.iter().copied())
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            found.push((field, format!("unknown annotation `{name}`{hint}")));
        } else if let Some(message) = annotations::check(name, value) {
            found.push((field, message));
        }
    }
    found.into_iter().map(|(field, message)| (field, Place::Key, message)).collect()
}

/// Checks that need every document: duplicates, each resource's Provider,
/// and references between manifests.
fn check_across_documents(resources: &mut [Resource], kinds: &[KindSpec], diagnostics: &mut Vec<Diagnostic>) {
    // Locations are found only for the duplicates: finding one re-reads
    // the document.
    let mut seen: BTreeMap<&ResourceKey, &Resource> = BTreeMap::new();
    for resource in resources.iter() {
        if let Some(first) = seen.get(&resource.key) {
            diagnostics.push(Diagnostic {
                location: resource.location(),
                field: "metadata.name".into(),
                message: format!("{} is defined twice; it was first defined at {}", resource.key, first.location()),
            });
        } else {
            seen.insert(&resource.key, resource);
        }
    }
    let providers: Vec<(String, String)> = resources
        .iter()
        .filter(|r| r.key.kind == super::PROVIDER_KIND.key_kind)
        .map(|r| {
            (
                r.metadata.name.clone(),
                r.spec.typed::<super::ProviderSpec>().map(|p| p.provider_type.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    let keys: std::collections::BTreeSet<ResourceKey> = resources.iter().map(|r| r.key.clone()).collect();
    let mut by_remote_name = Vec::new();
    for (index, resource) in resources.iter_mut().enumerate() {
        let Some(kind) = kinds.iter().find(|k| k.matches(&resource.api_version, &resource.kind)) else {
            continue;
        };
        if let Some(provider_type) = kind.provider_type {
            match choose_provider(resource, provider_type.as_str(), &providers) {
                Ok(name) => resource.provider = Some(name),
                Err(diagnostic) => diagnostics.push(diagnostic),
            }
        }
        for reference in (kind.references)(&resource.spec) {
            if reference.by != super::Naming::Manifest {
                by_remote_name.push((index, reference));
                continue;
            }
            let target = ResourceKey::new(reference.kind, reference.name.clone());
            if keys.contains(&target) {
                resource.references.push((reference.field.clone(), target.clone()));
                if !resource.depends_on.contains(&target) {
                    resource.depends_on.push(target);
                }
            } else {
                diagnostics.push(Diagnostic {
                    location: resource.document.locate(&reference.field),
                    field: reference.field.clone(),
                    message: format!("no manifest defines {target}"),
                });
            }
        }
    }
    add_edges_by_remote_name(resources, by_remote_name);
}

/// The edges of references by remote name (a Service's `secretNames`):
/// to each manifest of the kind whose spec gives the object that name
/// (and holds what the reference asks it to share), none when there is
/// none, which is no error.
fn add_edges_by_remote_name(resources: &mut [Resource], references: Vec<(usize, super::Reference)>) {
    let mut edges = Vec::new();
    for (index, reference) in references {
        let super::Naming::Remote { field, same } = &reference.by else { continue };
        let holds = |r: &Resource, pointer: &str, value: &str| {
            r.spec.json().pointer(pointer).and_then(serde_json::Value::as_str) == Some(value)
        };
        let named = |r: &Resource| {
            r.key.kind == reference.kind
                && holds(r, field, &reference.name)
                && same.as_ref().is_none_or(|(pointer, value)| holds(r, pointer, value))
        };
        edges.extend(resources.iter().filter(|r| named(r)).map(|r| (index, r.key.clone())));
    }
    for (index, target) in edges {
        let depends_on = &mut resources[index].depends_on;
        if !depends_on.contains(&target) {
            depends_on.push(target);
        }
    }
}

fn choose_provider(
    resource: &Resource,
    provider_type: &str,
    providers: &[(String, String)],
) -> Result<String, Diagnostic> {
    let of_type: Vec<&str> = providers.iter().filter(|(_, t)| t == provider_type).map(|(n, _)| n.as_str()).collect();
    let common = super::common::Common::of(resource.spec.json());
    let named = common.provider_name();
    let field = if named.is_some() { "spec.providerRef.name" } else { "spec" };
    let fail = |message: String| Diagnostic { location: resource.document.locate(field), field: field.into(), message };
    match named {
        Some(name) => match providers.iter().find(|(n, _)| n == name) {
            Some((_, t)) if t == provider_type => Ok(name.to_string()),
            Some((_, t)) => Err(fail(format!(
                "Provider `{name}` is of type `{t}`, but a {} needs a `{provider_type}` Provider",
                resource.kind
            ))),
            None => {
                let hint = nearest(name, of_type.iter().copied())
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                Err(fail(format!("no Provider named `{name}` in the manifests{hint}")))
            }
        },
        None => match of_type.as_slice() {
            [only] => Ok(only.to_string()),
            [] => Err(fail(format!(
                "no Provider of type `{provider_type}` in the manifests: add one, or name one with `providerRef.name`"
            ))),
            several => Err(fail(format!(
                "several `{provider_type}` Providers ({}): name one with `spec.providerRef.name`",
                several.join(", ")
            ))),
        },
    }
}

/// Kubernetes object names: lower-case DNS subdomains.
pub(super) fn name_problem(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (!valid).then(|| {
        format!("`{name}` is not a valid name: use lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit")
    })
}

fn unknown_kind(document: &Document, api_version: &str, kind: &str, kinds: &[KindSpec]) -> Diagnostic {
    let same_version: Vec<&str> = kinds.iter().filter(|k| k.api_version == api_version).map(|k| k.kind).collect();
    let (field, message) = if same_version.is_empty() {
        let versions: Vec<&str> = kinds.iter().map(|k| k.api_version).collect();
        let hint = nearest(api_version, versions.iter().copied())
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        ("apiVersion", format!("unknown apiVersion `{api_version}`{hint}"))
    } else {
        let hint = nearest(kind, same_version.iter().copied())
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_else(|| format!("; {api_version} has {}", same_version.join(", ")));
        ("kind", format!("unknown kind `{kind}` in {api_version}{hint}"))
    };
    Diagnostic { location: document.locate(field), field: field.into(), message }
}

/// Serde's error as a finding: its path as the field, at the key for a
/// field unknown or missing, at the value otherwise, with a suggestion for
/// an unknown field or value.
fn serde_finding(error: &super::kind::ParseError) -> Finding {
    let path = error.path().to_string();
    let message = add_suggestion(&error.inner().to_string());
    let at_key = message.starts_with("unknown field") || message.starts_with("missing field");
    let field = if path == "." { String::new() } else { path };
    (field, if at_key { Place::Key } else { Place::Value }, message)
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" and "unknown
/// variant" messages, names the nearest valid choice first.
fn add_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return message.to_string();
    };
    let Some((given, choices)) = rest.split_once('`') else {
        return message.to_string();
    };
    let options: Vec<&str> = choices.split('`').skip(1).step_by(2).collect();
    let what = if message.starts_with("unknown field") { "field" } else { "value" };
    let valid = format!("valid {what}s: {}", options.join(", "));
    match nearest(given, options.iter().copied()) {
        Some(best) => format!("unknown {what} `{given}`; did you mean `{best}`? ({valid})"),
        None => format!("unknown {what} `{given}` ({valid})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_split_with_their_starting_lines() {
        let text = "# header\n---\nkind: A\n---\n# only a comment\n---\nkind: B\n".to_string();
        let docs =
            split_documents(&Text::of_file("a.yaml".into(), text), &Limits::default()).expect("within the limits");
        let starts: Vec<usize> = docs.iter().map(|d| d.first_line).collect();
        assert_eq!(starts, vec![3, 7]);
    }

    #[test]
    fn an_unknown_field_suggests_the_nearest_known_one() {
        let message = add_suggestion("unknown field `triger`, expected one of `name`, `trigger`, `active`");
        assert_eq!(message, "unknown field `triger`; did you mean `trigger`? (valid fields: name, trigger, active)");
    }

    #[test]
    fn names_must_be_dns_subdomains() {
        assert!(name_problem("welcome-dm").is_none());
        assert!(name_problem("Welcome DM").is_some());
        assert!(name_problem("-x").is_some());
    }
}
