//! What one run may read, declared once: manifests come from pull requests
//! and from anyone who may create objects in a namespace, so every input
//! is bounded before it is parsed, and refusing one costs no more than
//! reading it once. The defaults are generous for real manifests (an
//! object the Kubernetes API would store, a few thousand objects) and
//! small enough that a hostile file cannot stall a CI job or fill its
//! memory. Each is raised with its flag (the controller takes the same).

use crate::manifest::keyword::{Keyword, Keywords};
use std::fmt;

/// The bounds of one load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one file (or in standard input): Kubernetes refuses
    /// requests over 3 MiB.
    pub file_bytes: u64,
    /// Bytes in all the files of one run.
    pub run_bytes: u64,
    /// YAML documents in one file.
    pub documents: usize,
    /// How deeply lists and mappings may nest in one document.
    pub depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { file_bytes: 3 * MIB, run_bytes: 256 * MIB, documents: 10_000, depth: 64 }
    }
}

const MIB: u64 = 1024 * 1024;

/// The bound a field's schema gives when its vendor documents none: lists
/// of at most [`MAX_ITEMS`] items, strings of at most [`MAX_LENGTH`]
/// characters, maps of at most [`MAX_PROPERTIES`] keys. The CRDs carry the
/// same bounds (see [`bound_schema`]).
pub const MAX_ITEMS: u64 = 1_000;
pub const MAX_LENGTH: u64 = 65_536;
pub const MAX_PROPERTIES: u64 = 1_000;

/// Which limit an input passed, and by how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    FileBytes,
    RunBytes,
    Documents,
    Depth,
}

impl Limit {
    /// The flag (and the controller's option) that raises it.
    pub fn flag(self) -> &'static str {
        match self {
            Limit::FileBytes => "--max-file-bytes",
            Limit::RunBytes => "--max-run-bytes",
            Limit::Documents => "--max-documents",
            Limit::Depth => "--max-depth",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::FileBytes => "bytes in one file",
            Limit::RunBytes => "bytes in all the files of a run",
            Limit::Documents => "documents in one file",
            Limit::Depth => "levels of nesting in one document",
        }
    }
}

/// An input over a limit: the message an error at its file and line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverLimit {
    pub limit: Limit,
    /// What was found (at least this much: a read stops at the limit).
    pub found: u64,
    pub allowed: u64,
}

impl fmt::Display for OverLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "over the limit of {} {} (found {}{}); nothing was read further. Raise it with {} N if this is meant",
            self.allowed,
            self.limit.what(),
            if self.limit == Limit::Depth || self.limit == Limit::Documents { "more than " } else { "" },
            if self.limit == Limit::Depth || self.limit == Limit::Documents { self.allowed } else { self.found },
            self.limit.flag()
        )
    }
}

impl Limits {
    pub fn check(&self, limit: Limit, found: u64) -> Result<(), OverLimit> {
        let allowed = match limit {
            Limit::FileBytes => self.file_bytes,
            Limit::RunBytes => self.run_bytes,
            Limit::Documents => self.documents as u64,
            Limit::Depth => self.depth as u64,
        };
        if found > allowed {
            return Err(OverLimit { limit, found, allowed });
        }
        Ok(())
    }
}

/// How deeply a YAML text nests, in one pass over its characters, giving
/// up past `most`: block nesting by indentation and `- ` entries, flow
/// nesting by brackets, outside quoted scalars and comments. It may count
/// a level more than a parser would (a block scalar's lines), never fewer:
/// what it lets through, a parser reads without deep recursion.
///
/// Returns the line (1-based, in `text`) where the depth passed `most`.
pub fn too_deep(text: &str, most: usize) -> Option<usize> {
    // Each level is a line, a `- ` or a bracket: a text with no more of
    // those than the limit cannot pass it (most manifests), and is not
    // scanned.
    let structure = text.bytes().filter(|b| matches!(b, b'\n' | b'-' | b'[' | b'{')).count();
    if structure < most {
        return None;
    }
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    // Inside a block scalar (`content: |`): its lines are text, deeper
    // than the line that opened it.
    let mut scalar_above: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        if scalar_above.is_some_and(|above| trimmed.is_empty() || indent > above) {
            continue;
        }
        scalar_above = None;
        if flow == 0 && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if flow == 0 && opens_block_scalar(trimmed) {
            scalar_above = Some(indent);
        }
        if flow == 0 {
            let mut column = line.len() - trimmed.len();
            let mut rest = trimmed;
            loop {
                while indents.last().is_some_and(|top| *top >= column) {
                    indents.pop();
                }
                indents.push(column);
                // `- - x`: each entry marker opens a level on the same line.
                match rest.strip_prefix("- ").or_else(|| (rest == "-").then_some("")) {
                    Some(after) => {
                        let spaces = after.len() - after.trim_start_matches(' ').len();
                        column += 2 + spaces;
                        rest = after.trim_start_matches(' ');
                    }
                    None => break,
                }
            }
        }
        match flow_depth(line, flow, indents.len(), most) {
            Some(depth) if indents.len() + depth <= most => flow = depth,
            _ => return Some(index + 1),
        }
    }
    None
}

/// Whether a line ends by opening a block scalar: `key: |`, `- >-`.
fn opens_block_scalar(line: &str) -> bool {
    let end = line.split(" #").next().unwrap_or(line).trim_end();
    let Some(at) = end.rfind(['|', '>']) else { return false };
    let (before, indicator) = end.split_at(at);
    let header_only = indicator[1..].chars().all(|c| c == '-' || c == '+' || c.is_ascii_digit());
    header_only && (before.is_empty() || before.ends_with(' ') || before.ends_with(':'))
}

/// The flow nesting after `line`, from `flow` before it; `None` once the
/// whole depth (block levels `block` plus flow) passes `most`.
fn flow_depth(line: &str, mut flow: usize, block: usize, most: usize) -> Option<usize> {
    // Bytes, not chars: every character that matters here is ASCII, and
    // no byte of a multi-byte character is.
    let bytes = line.as_bytes();
    let mut quote: Option<u8> = None;
    let mut previous = b' ';
    let mut at = 0;
    while let Some(&c) = bytes.get(at) {
        at += 1;
        match (quote, c) {
            (Some(b'"'), b'\\') => at += 1,
            // `''` inside single quotes is a quote, not the end.
            (Some(b'\''), b'\'') if bytes.get(at) == Some(&b'\'') => at += 1,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') if matches!(previous, b' ' | b'[' | b'{' | b',' | b':') => quote = Some(c),
            (None, b'#') if previous == b' ' => break,
            (None, b'[' | b'{') => {
                flow += 1;
                if block + flow > most {
                    return None;
                }
            }
            (None, b']' | b'}') => flow = flow.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    Some(flow)
}

/// Adds the default bounds to every list, string and map of a kind's
/// schema that has none: the loader checks a spec against them, and the
/// CRDs carry them, so the API server refuses the same objects.
pub fn bound_schema(schema: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(map) = schema.as_object_mut() else {
        if let Some(items) = schema.as_array_mut() {
            items.iter_mut().for_each(bound_schema);
        }
        return;
    };
    let types: Vec<String> = match map.keyword(Keyword::Type) {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    };
    let is = |t: &str| types.iter().any(|found| found == t);
    let bounds = [("array", "maxItems", MAX_ITEMS), ("string", "maxLength", MAX_LENGTH)];
    for (kind, keyword, bound) in bounds {
        if is(kind) && !map.contains_key(keyword) && !map.contains_key("format") && !map.contains_key("enum") {
            map.insert(keyword.into(), Value::from(bound));
        }
    }
    let free_map = map.contains_key("additionalProperties") && !map.contains_key("properties");
    if is("object") && free_map && !map.contains_key("maxProperties") {
        map.insert("maxProperties".into(), Value::from(MAX_PROPERTIES));
    }
    for inner in map.values_mut() {
        bound_schema(inner);
    }
}

/// A kind's bounds, read once from its schema: per node the most items,
/// characters or keys, and the bounds of what it holds. Checking a spec
/// against it costs a walk of the spec, not a schema lookup per field.
#[derive(Debug, Default)]
pub struct Bounds {
    max_items: Option<u64>,
    max_length: Option<u64>,
    max_properties: Option<u64>,
    items: Option<Box<Bounds>>,
    properties: BTreeMap<String, Bounds>,
    additional: Option<Box<Bounds>>,
    /// The branches of a choice of shapes (`anyOf`, `oneOf`, `allOf`), by
    /// the JSON type each takes.
    branches: Vec<(String, Bounds)>,
}

use std::collections::BTreeMap;

impl Bounds {
    /// The bounds `schema` declares, following `$ref`s into `root`.
    pub fn of(schema: &serde_json::Value, root: &serde_json::Value) -> Bounds {
        Self::read(schema, root, 0)
    }

    fn read(schema: &serde_json::Value, root: &serde_json::Value, depth: usize) -> Bounds {
        use serde_json::Value;
        let schema = resolve(schema, root);
        // A schema that refers to itself is bounded at this depth.
        if depth > 32 {
            return Bounds::default();
        }
        let inner = |s: &Value| Box::new(Self::read(s, root, depth + 1));
        let bound = |keyword: &str| schema.get(keyword).and_then(Value::as_u64);
        let properties = schema.keyword(Keyword::Properties).and_then(Value::as_object);
        let branches = ["anyOf", "oneOf", "allOf"]
            .iter()
            .filter_map(|k| schema.get(*k)?.as_array())
            .flatten()
            .filter_map(|branch| {
                let shape = resolve(branch, root).keyword(Keyword::Type)?.as_str()?.to_string();
                Some((shape, Self::read(branch, root, depth + 1)))
            })
            .collect();
        Bounds {
            max_items: bound("maxItems"),
            max_length: bound("maxLength"),
            max_properties: bound("maxProperties"),
            items: schema.keyword(Keyword::Items).map(inner),
            properties: properties
                .map(|p| p.iter().map(|(name, s)| (name.clone(), Self::read(s, root, depth + 1))).collect())
                .unwrap_or_default(),
            additional: schema.keyword(Keyword::AdditionalProperties).filter(|s| s.is_object()).map(inner),
            branches,
        }
    }

    /// The first place `value` passes a bound, as (field path below
    /// `path`, message).
    pub fn over(&self, value: &serde_json::Value, path: &str) -> Option<(String, String)> {
        self.over_at(value, &|| path.to_string())
    }

    /// [`Bounds::over`], the path made only for what is over a bound.
    fn over_at(&self, value: &serde_json::Value, path: &dyn Fn() -> String) -> Option<(String, String)> {
        use serde_json::Value;
        let raise = "raise the bound in the kind's schema if the vendor allows more";
        let (shape, found) = match value {
            Value::Array(items) => {
                if let Some(most) = self.max_items.filter(|most| items.len() as u64 > *most) {
                    return Some((path(), format!("{} items, more than the {most} allowed; {raise}", items.len())));
                }
                let found = self.items.as_ref().and_then(|bounds| {
                    items.iter().enumerate().find_map(|(i, item)| bounds.over_at(item, &|| format!("{}[{i}]", path())))
                });
                ("array", found)
            }
            Value::String(text) => {
                let over = self.max_length.filter(|most| text.len() as u64 > *most);
                let length = over.map(|_| text.chars().count() as u64);
                let found = match (over, length) {
                    (Some(most), Some(length)) if length > most => {
                        Some((path(), format!("{length} characters, more than the {most} allowed; {raise}")))
                    }
                    _ => None,
                };
                ("string", found)
            }
            Value::Object(fields) => {
                if let Some(most) = self.max_properties.filter(|most| fields.len() as u64 > *most) {
                    return Some((path(), format!("{} keys, more than the {most} allowed; {raise}", fields.len())));
                }
                let found = fields.iter().find_map(|(name, inner)| {
                    let bounds = self.properties.get(name).or(self.additional.as_deref())?;
                    bounds.over_at(inner, &|| format!("{}.{name}", path()))
                });
                ("object", found)
            }
            _ => return None,
        };
        found.or_else(|| {
            self.branches.iter().filter(|(taken, _)| taken == shape).find_map(|(_, branch)| branch.over_at(value, path))
        })
    }
}

/// A schema with its `$ref` (`#/$defs/Name`) followed into `root`.
pub(super) fn resolve<'a>(schema: &'a serde_json::Value, root: &'a serde_json::Value) -> &'a serde_json::Value {
    let mut schema = schema;
    for _ in 0..32 {
        let Some(reference) = schema.keyword(Keyword::Ref).and_then(|r| r.as_str()) else { return schema };
        let found = reference.strip_prefix("#/").map(|path| path.split('/').try_fold(root, |at, part| at.get(part)));
        match found.flatten() {
            Some(target) => schema = target,
            None => return schema,
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nesting_is_counted_in_blocks_entries_and_brackets_and_quotes_do_not_count() {
        assert_eq!(too_deep("a:\n  b:\n    c: 1\n", 3), None);
        assert_eq!(too_deep("a:\n  b:\n    c: 1\n", 2), Some(3));
        assert_eq!(too_deep("a: [[[1]]]\n", 4), None);
        assert_eq!(too_deep("a: [[[1]]]\n", 3), Some(1));
        assert_eq!(too_deep("a: \"[[[[[[\"\nb: '{{{{{{'\n", 2), None);
        assert_eq!(too_deep("- - - - x\n", 3), Some(1));
        assert_eq!(too_deep("a: 1 # [[[[[[\n", 1), None);
        assert_eq!(too_deep("a: |\n  [[[[ text, not lists\n  {{{{\nb: 1\n", 1), None);
    }

    #[test]
    fn a_deep_document_is_refused_after_reading_only_up_to_the_limit() {
        let deep = format!("flow: {}{}\n", "[".repeat(200_000), "]".repeat(200_000));
        assert_eq!(too_deep(&deep, 64), Some(1));
        let wide = "a:\n".to_string() + &"  - x\n".repeat(10_000);
        assert_eq!(too_deep(&wide, 64), None);
    }

    #[test]
    fn bounds_are_added_where_a_schema_has_none_and_checked_through_refs() {
        let mut schema = json!({
            "type": "object",
            "properties": {"flow": {"type": "array", "items": {"$ref": "#/$defs/Step"}}, "id": {"type": "string", "maxLength": 4}},
            "$defs": {"Step": {"type": "object", "properties": {"content": {"type": "string"}}}},
        });
        bound_schema(&mut schema);
        assert_eq!(schema["properties"]["flow"]["maxItems"], MAX_ITEMS);
        assert_eq!(schema["properties"]["id"]["maxLength"], 4, "a bound given is kept");
        let long = "x".repeat(MAX_LENGTH as usize + 1);
        let spec = json!({"flow": [{"content": "hi"}, {"content": long}], "id": "abc"});
        let bounds = Bounds::of(&schema, &schema);
        let (path, message) = bounds.over(&spec, "spec").expect("over");
        assert_eq!(path, "spec.flow[1].content");
        assert!(message.starts_with("65537 characters, more than the 65536 allowed"), "{message}");
        assert_eq!(bounds.over(&json!({"id": "abcde"}), "spec").map(|f| f.0), Some("spec.id".into()));
    }

    #[test]
    fn an_input_over_a_limit_says_the_limit_what_was_found_and_the_flag() {
        let over = Limits::default().check(Limit::FileBytes, 4 * MIB).expect_err("over");
        let text = over.to_string();
        assert!(text.contains("over the limit of 3145728 bytes in one file (found 4194304)"), "{text}");
        assert!(text.contains("--max-file-bytes"), "{text}");
    }
}
