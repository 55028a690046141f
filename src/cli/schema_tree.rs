//! A kind's JSON Schema, as `seqops schema` prints it, read as a tree of
//! fields: what `seqops explain` prints, and the comments `seqops init`
//! writes in its samples. schemars writes a field as a `$ref` to a
//! definition, an optional one as `anyOf: [X, null]` (or a type list with
//! `null`), and an enum with documented values as `oneOf` of `const`s;
//! each is seen through here, so callers see fields, types and values.

use seqops::manifest::keyword::{Keyword, Keywords};
use serde_json::Value;

/// How many `$ref`s and one-branch unions are followed to reach a
/// field's schema: more is a loop, not a schema.
const MAX_HOPS: usize = 32;

/// A schema with what lies between a field and its type seen through.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    /// The whole document, whose `$defs` the `$ref`s name.
    root: &'a Value,
    /// The schema reached: neither a `$ref` nor a union with one branch.
    schema: &'a Value,
    /// The first description on the way: the field's own before its type's.
    pub description: Option<&'a str>,
    /// The first `default` on the way.
    pub default: Option<&'a Value>,
    /// The first `examples` on the way.
    pub examples: Option<&'a Value>,
}

/// A named field of an object.
#[derive(Clone, Copy)]
pub struct Field<'a> {
    pub name: &'a str,
    /// Whether the object lists it in `required`.
    pub required: bool,
    pub node: Node<'a>,
}

impl<'a> Node<'a> {
    /// The top of a document: a kind's manifest schema.
    pub fn root(root: &'a Value) -> Node<'a> {
        Node::resolve(root, root)
    }

    /// Follows `$ref`s and unions with one branch besides `null` from
    /// `schema`, picking up the description, default and examples first met.
    fn resolve(root: &'a Value, mut schema: &'a Value) -> Node<'a> {
        let mut node = Node { root, schema, description: None, default: None, examples: None };
        for _ in 0..MAX_HOPS {
            node.description =
                node.description.or_else(|| schema.keyword(Keyword::Description).and_then(Value::as_str));
            node.default = node.default.or_else(|| schema.keyword(Keyword::Default));
            node.examples = node.examples.or_else(|| schema.keyword(Keyword::Examples));
            let next = match schema.keyword(Keyword::Ref).and_then(Value::as_str) {
                Some(reference) => definition(root, reference),
                None => single_branch(schema),
            };
            match next {
                Some(next) => schema = next,
                None => break,
            }
        }
        node.schema = schema;
        node
    }

    /// The JSON types the schema allows, `null` left out.
    fn types(&self) -> Vec<&'a str> {
        match self.schema.keyword(Keyword::Type) {
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).filter(|n| *n != "null").collect(),
            _ => Vec::new(),
        }
    }

    /// The branches of a union with more than one, resolved; empty for
    /// other schemas.
    fn branches(&self) -> Vec<Node<'a>> {
        ["oneOf", "anyOf", "allOf"].iter().flat_map(|word| self.branches_of(word)).collect()
    }

    /// The branches under one word of union (`oneOf`), resolved.
    fn branches_of(&self, word: &str) -> Vec<Node<'a>> {
        self.schema
            .get(word)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|branch| !is_null(branch))
            .map(|branch| Node::resolve(self.root, branch))
            .collect()
    }

    /// The items of a list.
    pub fn items(&self) -> Option<Node<'a>> {
        if !self.types().contains(&"array") {
            return None;
        }
        Some(Node::resolve(self.root, self.schema.keyword(Keyword::Items).unwrap_or(&Value::Bool(true))))
    }

    /// The values of a map: an object with no named fields whose other
    /// keys all take one schema.
    fn map_values(&self) -> Option<Node<'a>> {
        if !self.types().contains(&"object") || self.schema.keyword(Keyword::Properties).is_some() {
            return None;
        }
        match self.schema.keyword(Keyword::AdditionalProperties)? {
            values @ Value::Object(_) => Some(Node::resolve(self.root, values)),
            _ => None,
        }
    }

    /// The type as `kubectl explain` writes it: `string`, `[]Object`,
    /// `map[string]string`; `any` where the schema leaves it open.
    pub fn type_name(&self) -> String {
        if let Some(items) = self.items() {
            return format!("[]{}", items.type_name());
        }
        if let Some(values) = self.map_values() {
            return format!("map[string]{}", values.type_name());
        }
        let types = self.types();
        if types.contains(&"object") {
            return "Object".into();
        }
        if let Some(name) = types.first() {
            return (*name).into();
        }
        if let Some(value) = self.schema.keyword(Keyword::Const) {
            return json_type(value).into();
        }
        let mut names: Vec<String> = Vec::new();
        for branch in self.branches() {
            let name = branch.type_name();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        if names.is_empty() {
            "any".into()
        } else {
            names.join("|")
        }
    }

    /// The values it allows, each with its description, when the schema
    /// lists them (`enum`, `const`, or a union of those); a list's are its
    /// items'. Empty when any value of its type will do.
    pub fn allowed_values(&self) -> Vec<(String, Option<&'a str>)> {
        if let Some(items) = self.items() {
            return items.allowed_values();
        }
        if let Some(values) = self.schema.keyword(Keyword::Enum).and_then(Value::as_array) {
            return values.iter().map(|v| (value_text(v), None)).collect();
        }
        if let Some(value) = self.schema.keyword(Keyword::Const) {
            return vec![(value_text(value), self.schema.keyword(Keyword::Description).and_then(Value::as_str))];
        }
        let branches = self.branches();
        let mut values = Vec::new();
        for branch in &branches {
            let listed = branch.allowed_values();
            if listed.is_empty() {
                return Vec::new();
            }
            values.extend(listed);
        }
        values
    }

    /// Its fields, in the schema's order; a list's are its items'. The
    /// branches of a union are merged: a field is required when each
    /// branch of a `oneOf` or `anyOf` requires it, or any of an `allOf`.
    pub fn fields(&self) -> Vec<Field<'a>> {
        if let Some(items) = self.items() {
            return items.fields();
        }
        let mut fields: Vec<Field<'a>> = self.own_fields();
        for (word, all_apply) in [("allOf", true), ("oneOf", false), ("anyOf", false)] {
            let branches: Vec<Vec<Field<'a>>> = self.branches_of(word).iter().map(Node::fields).collect();
            for field in branches.iter().flatten() {
                if fields.iter().any(|f| f.name == field.name) {
                    continue;
                }
                let required_in = |branch: &Vec<Field<'a>>| branch.iter().any(|f| f.name == field.name && f.required);
                let required =
                    if all_apply { branches.iter().any(required_in) } else { branches.iter().all(required_in) };
                fields.push(Field { required, ..*field });
            }
        }
        fields
    }

    fn own_fields(&self) -> Vec<Field<'a>> {
        let Some(properties) = self.schema.keyword(Keyword::Properties).and_then(Value::as_object) else {
            return Vec::new();
        };
        let required: Vec<&str> = self
            .schema
            .keyword(Keyword::Required)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        properties
            .iter()
            .map(|(name, schema)| Field {
                name: name.as_str(),
                required: required.contains(&name.as_str()),
                node: Node::resolve(self.root, schema),
            })
            .collect()
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<Field<'a>> {
        self.fields().into_iter().find(|f| f.name == name)
    }
}

/// The definition a `$ref` of this document names (`#/$defs/Duration`).
fn definition<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

/// The one branch of a union besides `null`, if that is all it has.
fn single_branch(schema: &Value) -> Option<&Value> {
    ["anyOf", "oneOf", "allOf"].iter().find_map(|word| {
        let branches = schema.get(*word)?.as_array()?;
        let mut others = branches.iter().filter(|b| !is_null(b));
        let only = others.next()?;
        others.next().is_none().then_some(only)
    })
}

fn is_null(schema: &Value) -> bool {
    schema.keyword(Keyword::Type).and_then(Value::as_str) == Some("null")
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "Object",
    }
}

/// A value as a manifest writes it: strings bare, others as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A description as one paragraph per blank-line-separated block: the
/// schema keeps the source's line breaks, which are no paragraph breaks.
pub fn paragraphs(description: &str) -> Vec<String> {
    description
        .split("\n\n")
        .map(|block| block.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sequence_schema() -> Value {
        let kind = seqops::providers::kinds().into_iter().find(|k| k.kind == "Sequence").expect("the Sequence kind");
        super::super::schema::manifest_schema(&kind)
    }

    #[test]
    fn a_field_behind_a_ref_and_a_nullable_union_is_its_definition_with_its_own_description_first() {
        let schema = sequence_schema();
        let root = Node::root(&schema);
        let spec = root.field("spec").expect("spec");
        assert!(spec.required);
        assert_eq!(spec.node.description, Some("An Orsay DM sequence."));
        let agent = spec.node.field("agent").expect("agent");
        assert!(!agent.required);
        assert_eq!(agent.node.type_name(), "Object");
        assert!(agent.node.description.unwrap_or_default().starts_with("The AI agent that answers"));
        let names: Vec<&str> = agent.node.fields().iter().map(|f| f.name).collect();
        assert_eq!(names, ["lookup", "id"]);
    }

    #[test]
    fn lists_maps_and_open_values_are_named_as_kubectl_names_them() {
        let schema = json!({
            "type": "object",
            "properties": {
                "steps": {"type": ["array", "null"], "items": {"$ref": "#/$defs/Step"}},
                "tags": {"type": "array", "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "env": {"type": ["object", "null"], "additionalProperties": {"$ref": "#/$defs/Open"}},
                "count": {"type": ["integer", "null"], "format": "uint32"},
                "anything": true,
                "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
            },
            "$defs": {
                "Step": {"type": "object", "properties": {"delay": {"type": "string"}}},
                "Open": {"description": "A string or a source.", "x-kubernetes-preserve-unknown-fields": true}
            }
        });
        let root = Node::root(&schema);
        let types: Vec<(String, String)> =
            root.fields().iter().map(|f| (f.name.to_string(), f.node.type_name())).collect();
        let expected = [
            ("steps", "[]Object"),
            ("tags", "[]string"),
            ("labels", "map[string]string"),
            ("env", "map[string]any"),
            ("count", "integer"),
            ("anything", "any"),
            ("either", "string|integer"),
        ];
        let expected: Vec<(String, String)> = expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(types, expected);
        let steps = root.field("steps").expect("steps");
        assert_eq!(steps.node.fields().first().map(|f| f.name), Some("delay"), "a list's fields are its items'");
    }

    #[test]
    fn allowed_values_come_from_enums_consts_and_unions_of_them_with_their_descriptions() {
        let schema = sequence_schema();
        let spec = Node::root(&schema).field("spec").expect("spec").node;
        let trigger = spec.field("trigger").expect("trigger").node;
        assert_eq!(trigger.type_name(), "string");
        assert_eq!(trigger.allowed_values().len(), 10);
        let policy = spec.field("managementPolicy").expect("managementPolicy").node;
        assert_eq!(policy.type_name(), "string");
        let values = policy.allowed_values();
        assert_eq!(values[0], ("Default".to_string(), Some("Create, update and delete it to match the spec.")));
        assert_eq!(values[1].0, "ObserveOnly");
        let policies = spec.field("managementPolicies").expect("managementPolicies").node;
        let names: Vec<String> = policies.allowed_values().into_iter().map(|(v, _)| v).collect();
        assert_eq!(names, ["Observe", "Create", "Update", "Delete", "LateInitialize", "*"]);
        assert!(spec.field("name").expect("name").node.allowed_values().is_empty());
        let kind = Node::root(&schema).field("kind").expect("kind").node;
        assert_eq!((kind.type_name(), kind.allowed_values()[0].0.clone()), ("string".into(), "Sequence".into()));
    }

    #[test]
    fn a_default_is_found_beside_the_ref_it_stands_with() {
        let schema = sequence_schema();
        let spec = Node::root(&schema).field("spec").expect("spec").node;
        let delay = spec.field("flow").expect("flow").node.field("delay").expect("delay").node;
        assert_eq!(delay.default, Some(&json!("0m")));
        assert_eq!(delay.description, Some("How long after the previous step this one runs."));
        assert_eq!(delay.type_name(), "string");
    }

    #[test]
    fn the_branches_of_a_union_of_objects_are_merged_and_required_only_where_all_require() {
        let schema = json!({
            "oneOf": [
                {"type": "object", "required": ["id", "a"], "properties": {"id": {"type": "string"}, "a": {"type": "string"}}},
                {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "b": {"type": "integer"}}}
            ]
        });
        let fields = Node::root(&schema).fields();
        let summary: Vec<(&str, bool)> = fields.iter().map(|f| (f.name, f.required)).collect();
        assert_eq!(summary, [("id", true), ("a", false), ("b", false)]);
        let all_of = json!({
            "allOf": [
                {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
                {"type": "object", "properties": {"b": {"type": "string"}}}
            ]
        });
        let fields = Node::root(&all_of).fields();
        let summary: Vec<(&str, bool)> = fields.iter().map(|f| (f.name, f.required)).collect();
        assert_eq!(summary, [("a", true), ("b", false)], "every branch of an allOf applies");
    }

    #[test]
    fn a_ref_that_loops_ends_instead_of_hanging() {
        let schema = json!({"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/A"}}});
        assert_eq!(Node::root(&schema).type_name(), "any");
    }

    #[test]
    fn descriptions_are_joined_into_paragraphs() {
        assert_eq!(paragraphs("One line\nwrapped.\n\nAnother."), ["One line wrapped.", "Another."]);
    }
}
