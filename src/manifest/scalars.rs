//! YAML reads an unquoted `null`, `true` or `42` as a null, a boolean or a
//! number, but serde_yaml hands it to a string field as its text: a spec
//! with `name: null` would send the name "null". Such values are found by
//! walking the document as YAML beside the spec as it was read, and are
//! errors at their line. The same holds for annotation values, which a
//! cluster refuses unless they are strings.

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

/// `(field path, message)` for each string field written as another scalar.
pub fn check(yaml_spec: &Yaml, spec: &Json, yaml_metadata: &Yaml) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    walk(yaml_spec, spec, "spec".into(), &mut problems);
    if let Some(annotations) = yaml_metadata.get("annotations").and_then(Yaml::as_mapping) {
        for (name, value) in annotations {
            if let (Some(name), Some(text)) = (name.as_str(), unquoted(value)) {
                problems.push((
                    format!("metadata.annotations.{name}"),
                    format!("annotation values are strings: write \"{text}\" in quotes"),
                ));
            }
        }
    }
    problems
}

fn walk(yaml: &Yaml, json: &Json, path: String, problems: &mut Vec<(String, String)>) {
    match (yaml, json) {
        (Yaml::Mapping(map), Json::Object(fields)) => {
            for (key, value) in map {
                let Some(key) = key.as_str() else { continue };
                if let Some(field) = fields.get(key) {
                    walk(value, field, format!("{path}.{key}"), problems);
                }
            }
        }
        (Yaml::Sequence(items), Json::Array(values)) => {
            for (index, (item, value)) in items.iter().zip(values).enumerate() {
                walk(item, value, format!("{path}[{index}]"), problems);
            }
        }
        (Yaml::Tagged(tagged), json) => walk(&tagged.value, json, path, problems),
        (scalar, Json::String(_)) => {
            if let Some(text) = unquoted(scalar) {
                let message = if scalar.is_null() {
                    "a value is missing: `null` here would be sent as the text \"null\"; give the value, or leave the field out".to_string()
                } else {
                    format!("`{text}` is not a string here: write \"{text}\" in quotes")
                };
                problems.push((path, message));
            }
        }
        _ => {}
    }
}

/// The text of a scalar that YAML read as something other than a string.
fn unquoted(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Null => Some("null".into()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str, json: Json) -> Vec<(String, String)> {
        let yaml: Yaml = serde_yaml::from_str(yaml).unwrap_or(Yaml::Null);
        check(&yaml["spec"], &json, &yaml["metadata"])
    }

    #[test]
    fn a_null_or_a_number_read_as_text_is_an_error_at_its_field() {
        let found = problems(
            "metadata: {}\nspec:\n  name: null\n  flow:\n  - content: 42\n  - content: fine\n",
            serde_json::json!({"name": "null", "flow": [{"content": "42"}, {"content": "fine"}]}),
        );
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["spec.name", "spec.flow[0].content"]);
        assert!(found[0].1.contains("would be sent as the text \"null\""), "{}", found[0].1);
    }

    #[test]
    fn quoted_values_numbers_where_numbers_belong_and_annotations_that_are_strings_pass() {
        let found = problems(
            "metadata:\n  annotations:\n    seqops.dev/paused: \"true\"\nspec:\n  name: \"null\"\n  limit: 3\n",
            serde_json::json!({"name": "null", "limit": 3}),
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn an_annotation_that_is_not_a_string_is_an_error() {
        let found =
            problems("metadata:\n  annotations:\n    seqops.dev/paused: true\nspec: {}\n", serde_json::json!({}));
        assert_eq!(found[0].0, "metadata.annotations.seqops.dev/paused");
    }
}
