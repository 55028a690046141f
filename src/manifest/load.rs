//! Reading manifests: files and directories, multi-document YAML, typed
//! parsing by kind, and the checks that span documents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::limits::{Limit, Limits};
use super::{annotations, Diagnostic, Document, KindSpec, Location, ManifestError, Manifests, Resource, ResourceKey};

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

/// A kind's bounds, read from its bounded schema once per process (a
/// table derived from the types: the controller loads an object per
/// reconcile, and must not build a schema each time).
fn bounds_of(kind: &KindSpec) -> &'static super::limits::Bounds {
    static BOUNDS: std::sync::Mutex<BTreeMap<&'static str, &'static super::limits::Bounds>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut bounds = BOUNDS.lock().unwrap_or_else(|e| e.into_inner());
    bounds.entry(kind.key_kind).or_insert_with(|| {
        let schema = super::kind::bounded_schema(kind);
        Box::leak(Box::new(super::limits::Bounds::of(&schema, &schema)))
    })
}

/// A document read once as YAML: what it says it is, and the whole of it
/// to be read as its kind.
#[derive(Default)]
struct Header(serde_yaml::Value);

impl Header {
    fn get(&self, field: &str) -> Option<&serde_yaml::Value> {
        self.0.as_mapping()?.get(field)
    }

    fn is_manifest(&self) -> bool {
        ["apiVersion", "kind", "metadata", "spec"].iter().any(|field| self.get(field).is_some())
    }
}

/// Reads a document as a YAML mapping. An empty document is no manifest; a
/// scalar is an error, never passed over (a document skipped before a
/// prune would delete its objects). A list of manifests was split into its
/// items before.
fn read_header(text: &str) -> Result<Header, ((usize, usize), String)> {
    match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(serde_yaml::Value::Null) => Ok(Header::default()),
        Ok(value) if value.is_mapping() => Ok(Header(value)),
        Ok(value) => Err((
            (1, 1),
            format!(
                "a document must be a manifest (a mapping with apiVersion, kind, metadata and spec) or a list of them, not {}",
                shape_of(&value)
            ),
        )),
        Err(error) => {
            let at = error.location().map_or((1, 1), |l| (l.line(), l.column()));
            Err((at, format!("not valid YAML: {}", strip_location(&error.to_string()))))
        }
    }
}

fn shape_of(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list of something else",
        _ => "a tagged value",
    }
}

/// Parses one document; `None` for YAML that is not a manifest at all (no
/// apiVersion, kind, metadata or spec: a CI workflow kept beside them).
fn parse_document(document: Document, kinds: &[KindSpec]) -> Result<Option<Resource>, Vec<Diagnostic>> {
    let document = Arc::new(document);
    let at =
        |field: &str, message: String| Diagnostic { location: document.locate(field), field: field.into(), message };
    let header = read_header(&document.text).map_err(|((line, column), message)| {
        vec![Diagnostic {
            location: Location {
                file: document.file.clone(),
                line: line + document.first_line - 1,
                column: column + document.indent,
            },
            field: String::new(),
            message,
        }]
    })?;
    let text_of = |field: &str| header.get(field).and_then(|v| v.as_str()).map(str::to_string);
    if !header.is_manifest() {
        return Ok(None);
    }
    // A kustomization beside the manifests it renders is no manifest.
    if text_of("apiVersion").is_some_and(|v| v.starts_with("kustomize.config.k8s.io/")) {
        return Ok(None);
    }
    let (Some(api_version), Some(kind)) = (text_of("apiVersion"), text_of("kind")) else {
        let missing = if text_of("apiVersion").is_none() { "apiVersion" } else { "kind" };
        return Err(vec![at(missing, format!("every manifest needs `{missing}`"))]);
    };
    let Some(spec_kind) = kinds.iter().find(|k| k.matches(&api_version, &kind)) else {
        return Err(vec![unknown_kind(&document, &api_version, &kind, kinds)]);
    };
    let yaml = super::kind::Yaml { text: &document.text, value: &header.0 };
    let parsed = (spec_kind.parse)(yaml).map_err(|error| vec![serde_diagnostic(&document, &error)])?;
    let null = serde_yaml::Value::Null;
    let yaml_spec = header.get("spec").unwrap_or(&null);
    let checks = (spec_kind.check)(&parsed.spec)
        .into_iter()
        .chain(super::scalars::check(yaml_spec, &parsed.spec, header.get("metadata").unwrap_or(&null)))
        .chain(super::policy::check(&parsed.spec))
        .chain(super::urls::check(&parsed.spec));
    let bounds = bounds_of(spec_kind).over(&parsed.spec, "spec");
    let mut problems: Vec<Diagnostic> = checks.chain(bounds).map(|(field, message)| at(&field, message)).collect();
    if let Some(message) = check_name(&parsed.metadata.name) {
        problems.push(at("metadata.name", message));
    }
    for (name, value) in &parsed.metadata.annotations {
        let field = format!("metadata.annotations.{name}");
        if name.starts_with("seqops.dev/") && !annotations::KNOWN.contains(&name.as_str()) {
            let hint = nearest(name, annotations::KNOWN.iter().copied())
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            problems.push(at(&field, format!("unknown annotation `{name}`{hint}")));
        } else if let Some(message) = annotations::check(name, value) {
            problems.push(at(&field, message));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(Resource {
        api_version,
        kind,
        key: ResourceKey::new(spec_kind.key_kind, parsed.metadata.name.clone()),
        metadata: parsed.metadata,
        spec: parsed.spec,
        provider: None,
        document,
        depends_on: Vec::new(),
        references: Vec::new(),
    }))
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
        .map(|r| (r.metadata.name.clone(), r.spec["type"].as_str().unwrap_or_default().to_string()))
        .collect();
    let keys: std::collections::BTreeSet<ResourceKey> = resources.iter().map(|r| r.key.clone()).collect();
    for resource in resources.iter_mut() {
        let Some(kind) = kinds.iter().find(|k| k.matches(&resource.api_version, &resource.kind)) else {
            continue;
        };
        if let Some(provider_type) = kind.provider_type {
            match choose_provider(resource, provider_type, &providers) {
                Ok(name) => resource.provider = Some(name),
                Err(diagnostic) => diagnostics.push(diagnostic),
            }
        }
        for reference in (kind.references)(&resource.spec) {
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
}

fn choose_provider(
    resource: &Resource,
    provider_type: &str,
    providers: &[(String, String)],
) -> Result<String, Diagnostic> {
    let of_type: Vec<&str> = providers.iter().filter(|(_, t)| t == provider_type).map(|(n, _)| n.as_str()).collect();
    let named = resource.spec.get("providerRef").and_then(|r| r.get("name")).and_then(|n| n.as_str());
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
fn check_name(name: &str) -> Option<String> {
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

/// Turns serde's error into a diagnostic: its path as the field, its
/// position, and a suggestion for an unknown field or value.
fn serde_diagnostic(document: &Document, error: &super::kind::ParseError) -> Diagnostic {
    let path = error.path().to_string();
    let inner = error.inner();
    let mut message = strip_location(&inner.to_string());
    // serde_yaml starts its message with the path of the enclosing value.
    if let Some((prefix, rest)) = message.split_once(": ") {
        if path == prefix || path.starts_with(&format!("{prefix}.")) || path.starts_with(&format!("{prefix}[")) {
            message = rest.to_string();
        }
    }
    message = add_suggestion(&message);
    // serde_yaml's position is where its reader stood: past the value for
    // a check made after reading it whole (a source written as a literal),
    // so the field's own position wins when it comes later.
    let by_path = document.locate(&path);
    let location = match inner.location() {
        Some(l) => {
            let read = Location {
                file: document.file.clone(),
                line: l.line() + document.first_line - 1,
                column: l.column() + document.indent,
            };
            if (by_path.line, by_path.column) > (read.line, read.column) {
                by_path
            } else {
                read
            }
        }
        None => by_path,
    };
    let field = if path == "." { String::new() } else { path };
    Diagnostic { location, field, message }
}

fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(" column ") => message[..index].to_string(),
        _ => message.to_string(),
    }
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

/// The choice closest to `given`, when it is close enough to be a likely typo.
pub(crate) fn nearest<'a>(given: &str, choices: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    choices
        .map(|choice| (strsim::normalized_damerau_levenshtein(&given_lower, &choice.to_lowercase()), choice))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, choice)| choice)
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
        assert!(check_name("welcome-dm").is_none());
        assert!(check_name("Welcome DM").is_some());
        assert!(check_name("-x").is_some());
    }
}
