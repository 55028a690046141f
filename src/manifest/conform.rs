//! A document checked against its kind's JSON Schema (the one `seqops
//! schema` prints), so that one run finds every mistake in it, said in
//! the words of the mistake: where a field one level off belongs, what a
//! value of the wrong type should have been.

use std::collections::BTreeMap;

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

use super::kind::KindSpec;
use super::limits::Bounds;
use super::locate::Place;
use crate::manifest::keyword::{Keyword, Keywords};
use crate::words;

/// One mistake in a document: the field it is at, whether it shows at the
/// field's key or its value, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub place: Place,
    pub message: String,
    pub mistake: Mistake,
}

/// What kind of mistake a [`Problem`] is, where later steps need to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mistake {
    /// A field the schema does not have there, and the one it likely meant.
    Unknown { name: String, meant: Option<String> },
    /// A required field that is not given.
    Missing { name: String },
    /// A value that is not what the field takes.
    Value,
}

/// What the loader reads from a kind's schema once per process: the bounds
/// of its spec, the validator of its whole manifest, and which fields each
/// object holds.
pub struct KindTables {
    pub bounds: Bounds,
    /// The rules its spec type declares as CEL.
    pub rules: super::cel::Rules,
    validator: Option<jsonschema::Validator>,
    /// The fields of each object, by its path with `[]` for any item of a
    /// list (`spec.flow[]`), in the schema's order.
    fields: BTreeMap<String, Vec<String>>,
}

/// The tables of `kind`, built on first use. The controller loads an object
/// per reconcile: a schema is compiled once, not each time.
pub fn tables_of(kind: &KindSpec) -> &'static KindTables {
    static TABLES: std::sync::Mutex<BTreeMap<&'static str, &'static KindTables>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut tables = TABLES.lock().unwrap_or_else(|e| e.into_inner());
    tables.entry(kind.key_kind.as_str()).or_insert_with(|| Box::leak(Box::new(KindTables::of(kind))))
}

impl KindTables {
    fn of(kind: &KindSpec) -> KindTables {
        let spec = super::kind::bounded_schema(kind);
        let manifest = super::kind::manifest_schema(kind);
        let mut fields = BTreeMap::new();
        collect_fields(&manifest, &manifest, String::new(), 0, &mut fields);
        KindTables {
            bounds: Bounds::of(&spec, &spec),
            rules: super::cel::Rules::of(kind),
            validator: jsonschema::validator_for(&manifest).ok(),
            fields,
        }
    }

    /// Every way `document` departs from the kind's schema. Bounds (the
    /// most items, characters, keys) are left to [`Bounds`], which says them
    /// with the flag or schema that raises them.
    pub fn problems(&self, document: &Value) -> Vec<Problem> {
        let Some(validator) = &self.validator else { return Vec::new() };
        let mut found = Vec::new();
        for error in validator.iter_errors(document) {
            self.word(&error, document, &mut found);
        }
        // A required field reported as unknown elsewhere (misplaced, or
        // misspelt) is said once, where it stands.
        let explained: Vec<String> = found
            .iter()
            .filter_map(|p| match &p.mistake {
                Mistake::Unknown { name, meant } => Some(meant.clone().unwrap_or_else(|| name.clone())),
                _ => None,
            })
            .collect();
        found.retain(|p| !matches!(&p.mistake, Mistake::Missing { name } if explained.contains(name)));
        found
    }

    fn word(&self, error: &ValidationError<'_>, document: &Value, found: &mut Vec<Problem>) {
        let segments: Vec<LocationSegment<'_>> = error.instance_path().segments().collect();
        let (path, pattern) = paths_of(segments.iter().cloned());
        let names = Names::of(&segments);
        let instance = error.instance();
        let value =
            |message: String| Problem { path: path.clone(), place: Place::Value, message, mistake: Mistake::Value };
        let field =
            |message: String| Problem { path: path.clone(), place: Place::Key, message, mistake: Mistake::Value };
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                found.extend(unexpected.iter().map(|name| self.unknown(document, &path, &pattern, name)));
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default().to_string();
                let message = format!("missing field `{name}`");
                found.push(Problem { path, place: Place::Key, message, mistake: Mistake::Missing { name } });
            }
            ValidationErrorKind::Type { kind } => {
                let expected: Vec<JsonType> = match kind {
                    jsonschema::error::TypeKind::Single(one) => vec![*one],
                    jsonschema::error::TypeKind::Multiple(set) => set.iter().collect(),
                };
                found.push(field(type_message(&names, instance, &expected)));
            }
            ValidationErrorKind::Enum { options } => found.push(value(enum_message(instance, options))),
            ValidationErrorKind::Constant { expected_value } => {
                found.push(value(format!("must be `{}`", shown(expected_value))));
            }
            ValidationErrorKind::Pattern { pattern } => found.push(value(pattern_message(&path, instance, pattern))),
            ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
                self.word_choice(&path, &names, instance, context, document, found);
            }
            ValidationErrorKind::MaxItems { .. }
            | ValidationErrorKind::MaxLength { .. }
            | ValidationErrorKind::MaxProperties { .. } => {}
            _ => found.push(value(error.to_string())),
        }
    }

    /// A value that fits none of a field's shapes (`anyOf`, `oneOf`): the
    /// mistakes inside the shape it is closest to, or the shapes it may take.
    fn word_choice(
        &self,
        path: &str,
        names: &Names,
        instance: &Value,
        branches: &[Vec<ValidationError<'static>>],
        document: &Value,
        found: &mut Vec<Problem>,
    ) {
        let wrong_shape = |errors: &Vec<ValidationError<'_>>| {
            errors.len() == 1 && matches!(errors[0].kind(), ValidationErrorKind::Type { .. })
        };
        let fitting: Vec<&Vec<ValidationError<'static>>> = branches.iter().filter(|b| !wrong_shape(b)).collect();
        if let Some(closest) = fitting.iter().min_by_key(|errors| errors.len()) {
            for error in closest.iter() {
                self.word(error, document, found);
            }
            return;
        }
        let expected: Vec<JsonType> = branches
            .iter()
            .flatten()
            .filter_map(|error| match error.kind() {
                ValidationErrorKind::Type { kind: jsonschema::error::TypeKind::Single(one) } => Some(vec![*one]),
                ValidationErrorKind::Type { kind: jsonschema::error::TypeKind::Multiple(set) } => {
                    Some(set.iter().collect())
                }
                _ => None,
            })
            .flatten()
            .collect();
        let message = type_message(names, instance, &expected);
        found.push(Problem { path: path.to_string(), place: Place::Key, message, mistake: Mistake::Value });
    }

    /// A field `name` the object at `path` does not have: where it belongs
    /// if it is a field elsewhere, else the nearest it may have meant.
    fn unknown(&self, document: &Value, path: &str, pattern: &str, name: &str) -> Problem {
        let field = join(path, name);
        let here: &[String] = self.fields.get(pattern).map_or(&[], Vec::as_slice);
        let homes = self.homes(document, pattern, name);
        let (message, meant) = if let Some(home) = homes.first() {
            let shown = home.strip_prefix(pattern).and_then(|rest| rest.strip_prefix('.')).unwrap_or(home);
            let not_here = match pattern.rsplit('.').next() {
                Some("") | None => "not at the top of the document".to_string(),
                Some(parent) => format!("not directly under `{parent}`"),
            };
            (format!("`{name}` belongs under `{shown}`, {not_here}"), None)
        } else {
            let valid = format!("valid fields: {}", here.join(", "));
            match words::nearest(name, here.iter().map(String::as_str)) {
                Some(best) => {
                    (format!("unknown field `{name}`; did you mean `{best}`? ({valid})"), Some(best.to_string()))
                }
                None => (format!("unknown field `{name}` ({valid})"), None),
            }
        };
        Problem { path: field, place: Place::Key, message, mistake: Mistake::Unknown { name: name.into(), meant } }
    }

    /// The objects that have a field `name` and do not hold one yet in
    /// `document`, those inside the object at `pattern` first, then the
    /// shallowest.
    fn homes(&self, document: &Value, pattern: &str, name: &str) -> Vec<String> {
        let inside = |home: &str| {
            pattern.is_empty() || home.starts_with(&format!("{pattern}.")) || home.starts_with(&format!("{pattern}["))
        };
        let mut homes: Vec<&String> = self
            .fields
            .iter()
            .filter(|(home, names)| *home != pattern && names.iter().any(|n| n == name))
            .filter(|(home, _)| !holds(document, home, name))
            .map(|(home, _)| home)
            .collect();
        homes.sort_by_key(|home| (!inside(home), home.matches(['.', '[']).count()));
        homes.into_iter().cloned().collect()
    }
}

/// Whether some object at `pattern` in `document` has a field `name`.
fn holds(document: &Value, pattern: &str, name: &str) -> bool {
    let mut at = vec![document];
    for part in pattern.split('.').filter(|p| !p.is_empty()) {
        let (key, items) = match part.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (part, false),
        };
        let next = at.iter().filter_map(|value| value.get(key));
        at = if items { next.filter_map(Value::as_array).flatten().collect() } else { next.collect() };
    }
    at.iter().any(|object| object.get(name).is_some())
}

/// Records the fields of every object `schema` describes, by path.
fn collect_fields(
    schema: &Value,
    root: &Value,
    path: String,
    depth: usize,
    fields: &mut BTreeMap<String, Vec<String>>,
) {
    // A schema that refers to itself is read to this depth.
    if depth > 16 {
        return;
    }
    let schema = super::limits::resolve(schema, root);
    for keyword in ["anyOf", "oneOf", "allOf"] {
        for branch in schema.get(keyword).and_then(Value::as_array).into_iter().flatten() {
            collect_fields(branch, root, path.clone(), depth + 1, fields);
        }
    }
    if let Some(properties) = schema.keyword(Keyword::Properties).and_then(Value::as_object) {
        let known = fields.entry(path.clone()).or_default();
        for name in properties.keys() {
            if !known.contains(name) {
                known.push(name.clone());
            }
        }
        for (name, inner) in properties {
            collect_fields(inner, root, join(&path, name), depth + 1, fields);
        }
    }
    if let Some(items) = schema.keyword(Keyword::Items) {
        collect_fields(items, root, format!("{path}[]"), depth + 1, fields);
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A JSON pointer as the loader's field path (`spec.flow[0].delay`) and as
/// the path of its schema (`spec.flow[].delay`).
fn paths_of<'a>(segments: impl Iterator<Item = LocationSegment<'a>>) -> (String, String) {
    let (mut path, mut pattern) = (String::new(), String::new());
    for segment in segments {
        match segment {
            LocationSegment::Property(name) => {
                path = join(&path, &name);
                pattern = join(&pattern, &name);
            }
            LocationSegment::Index(index) => {
                path.push_str(&format!("[{index}]"));
                pattern.push_str("[]");
            }
        }
    }
    (path, pattern)
}

/// A value as a person wrote it: a scalar's text, a list or mapping
/// abbreviated.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(_) => "[…]".into(),
        Value::Object(_) => "{…}".into(),
        other => other.to_string(),
    }
}

/// What a JSON type is called in a sentence.
fn type_words(kind: JsonType) -> &'static str {
    match kind {
        JsonType::Array => "a list",
        JsonType::Boolean => "true or false",
        JsonType::Integer => "a whole number",
        JsonType::Null => "nothing",
        JsonType::Number => "a number",
        JsonType::Object => "a mapping of fields",
        JsonType::String => "text",
    }
}

fn type_of(value: &Value) -> JsonType {
    match value {
        Value::Null => JsonType::Null,
        Value::Bool(_) => JsonType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
        Value::Number(_) => JsonType::Number,
        Value::String(_) => JsonType::String,
        Value::Array(_) => JsonType::Array,
        Value::Object(_) => JsonType::Object,
    }
}

/// The names a message gives a field: its own key and its parent's.
struct Names {
    field: String,
    parent: Option<String>,
}

impl Names {
    fn of(segments: &[LocationSegment<'_>]) -> Names {
        let mut keys = segments.iter().rev().filter_map(|segment| match segment {
            LocationSegment::Property(name) => Some(name.to_string()),
            LocationSegment::Index(_) => None,
        });
        let field = keys.next().unwrap_or_default();
        Names { field, parent: keys.next() }
    }
}

/// A value of a type the field does not take.
fn type_message(names: &Names, instance: &Value, expected: &[JsonType]) -> String {
    let field = &names.field;
    let takes = |kind: JsonType| expected.contains(&kind);
    let wanted: Vec<&str> = expected.iter().filter(|k| **k != JsonType::Null).map(|k| type_words(*k)).collect();
    match instance {
        Value::Null if takes(JsonType::Object) || takes(JsonType::Array) => {
            format!("`{field}` has no value: what belongs to it goes on the lines below it, indented under it")
        }
        Value::Null if takes(JsonType::String) => {
            "a value is missing: `null` here would be sent as the text \"null\"; give the value, or leave the field out"
                .into()
        }
        Value::Bool(_) | Value::Number(_) if takes(JsonType::String) => {
            let text = instance.to_string();
            match names.parent.as_deref() {
                Some(map @ ("annotations" | "labels")) => {
                    format!("{} values are strings: write \"{text}\" in quotes", map.trim_end_matches('s'))
                }
                _ => format!("`{text}` is not a string here: write \"{text}\" in quotes"),
            }
        }
        _ => format!(
            "`{}` is {}, but `{field}` takes {}",
            shown(instance),
            type_words(type_of(instance)),
            words::either(&wanted)
        ),
    }
}

fn enum_message(instance: &Value, options: &Value) -> String {
    let given = shown(instance);
    let choices: Vec<String> = options.as_array().map(|o| o.iter().map(shown).collect()).unwrap_or_default();
    let valid = format!("valid values: {}", choices.join(", "));
    match words::nearest(&given, choices.iter().map(String::as_str)) {
        Some(best) => format!("unknown value `{given}`; did you mean `{best}`? ({valid})"),
        None => format!("unknown value `{given}` ({valid})"),
    }
}

fn pattern_message(path: &str, instance: &Value, pattern: &str) -> String {
    let given = shown(instance);
    match path {
        "metadata.name" => super::load::name_problem(&given).unwrap_or_default(),
        _ => format!("`{given}` does not have the form this field takes (the pattern `{pattern}`)"),
    }
}
