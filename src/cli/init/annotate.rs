//! Comments on a sample manifest, from its kind's schema: what the kind is
//! at the top, and above each field what it means and the values it takes.
//! They are the descriptions `seqops explain` prints, so the samples say
//! what the code does, not what it did when they were written.

use std::collections::HashSet;

use seqops::manifest::KindSpec;

use crate::cli::schema_tree::{paragraphs, Node};

/// Where comments wrap.
const WIDTH: usize = 80;

/// `text`, a manifest of `kind`, with its comments: the kind's header
/// first, then each field's description above its first occurrence (the
/// manifest's own comments stay, after the field's).
pub fn annotate(text: &str, kind: &KindSpec) -> String {
    let schema = crate::cli::schema::manifest_schema(kind);
    let root = Node::root(&schema);
    let mut out = header(kind, &root);
    let mut walk = Walk::default();
    let mut pending: Vec<&str> = Vec::new();
    for line in text.lines() {
        match walk.step(line) {
            Line::Comment => {
                pending.push(line);
                continue;
            }
            Line::Key { path, indent } if walk.seen.insert(path.clone()) && path.len() > 1 => {
                if let Some(node) = node_at(&root, &path) {
                    out.extend(comment(&node, indent));
                }
            }
            _ => {}
        }
        out.extend(pending.drain(..).map(String::from));
        out.push(line.to_string());
    }
    out.extend(pending.drain(..).map(String::from));
    out.join("\n") + "\n"
}

/// What the kind is, and where to read more.
fn header(kind: &KindSpec, root: &Node<'_>) -> Vec<String> {
    let what = root.field("spec").and_then(|spec| spec.node.description).map(paragraphs).unwrap_or_default();
    let mut text = format!("{} ({})", kind.kind, kind.api_version);
    if let Some(first) = what.first() {
        text.push_str(&format!(": {first}"));
    }
    let mut lines = wrapped(&text, 0);
    for paragraph in what.iter().skip(1) {
        lines.extend(wrapped(paragraph, 0));
    }
    lines.extend(wrapped(&format!("Each field, with what it takes: `seqops explain {}.spec`.", kind.key_kind), 0));
    lines
}

/// The schema of the field at `path` (`spec`, `flow`, `delay`), if the
/// schema names one there (a map's keys have none).
fn node_at<'a>(root: &Node<'a>, path: &[String]) -> Option<Node<'a>> {
    path.iter().try_fold(*root, |node, name| node.field(name).map(|f| f.node))
}

/// A field's comment: its description, then the values it allows unless
/// the description names them all.
fn comment(node: &Node<'_>, indent: usize) -> Vec<String> {
    let description = node.description.map(paragraphs).unwrap_or_default();
    let mut lines: Vec<String> = description.iter().flat_map(|p| wrapped(p, indent)).collect();
    let values: Vec<String> = node.allowed_values().into_iter().map(|(value, _)| value).collect();
    let described = description.join(" ");
    if !values.is_empty() && !values.iter().all(|v| described.contains(v.as_str())) {
        lines.extend(wrapped(&format!("One of: {}.", values.join(", ")), indent));
    }
    lines
}

/// `text` as comment lines indented by `indent`, wrapped.
fn wrapped(text: &str, indent: usize) -> Vec<String> {
    let prefix = format!("{}# ", " ".repeat(indent));
    let width = WIDTH.saturating_sub(prefix.len()).max(20);
    textwrap::wrap(text, width).iter().map(|line| format!("{prefix}{line}")).collect()
}

/// What a line of the manifest is.
#[derive(Debug, PartialEq)]
enum Line {
    /// A comment line (its own, not a value's).
    Comment,
    /// A mapping key: the path of keys to it and where its line starts.
    Key { path: Vec<String>, indent: usize },
    /// Anything else: a list's scalar item, a block scalar's text, a blank.
    Other,
}

/// The keys above the line being read, by their columns, in block-style
/// YAML as the samples write it (`- ` items, `|` and `>` block scalars,
/// flow collections on one line).
#[derive(Default)]
struct Walk {
    keys: Vec<(usize, String)>,
    /// The column of the key whose block scalar is being read.
    block: Option<usize>,
    /// The paths commented already: a list's later items are not.
    seen: HashSet<Vec<String>>,
}

impl Walk {
    fn step(&mut self, line: &str) -> Line {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        if let Some(owner) = self.block {
            if body.is_empty() || indent > owner {
                return Line::Other;
            }
            self.block = None;
        }
        if body.is_empty() || body == "---" {
            return Line::Other;
        }
        if body.starts_with('#') {
            return Line::Comment;
        }
        let (column, rest) = list_items(indent, body);
        if column > indent {
            // A new item: the keys of the previous one end here; the list's
            // own key stands at the marker's column or left of it.
            self.keys.retain(|(c, _)| *c <= indent);
        }
        let Some((key, value)) = mapping_key(rest) else {
            return Line::Other;
        };
        self.keys.retain(|(c, _)| *c < column);
        self.keys.push((column, key.to_string()));
        if value.starts_with('|') || value.starts_with('>') {
            self.block = Some(column);
        }
        Line::Key { path: self.keys.iter().map(|(_, k)| k.clone()).collect(), indent }
    }
}

/// The column the content of a line starts at once its `- ` list markers
/// are passed, and that content.
fn list_items(mut column: usize, mut body: &str) -> (usize, &str) {
    while let Some(rest) = body.strip_prefix("- ").or_else(|| (body == "-").then_some("")) {
        let spaces = rest.len() - rest.trim_start().len();
        column += 2 + spaces;
        body = rest.trim_start();
    }
    (column, body)
}

/// `key: value` (or `key:`): the key and the value's text.
fn mapping_key(body: &str) -> Option<(&str, &str)> {
    let (key, value) = match body.split_once(": ") {
        Some((key, value)) => (key, value.trim()),
        None => (body.strip_suffix(':')?, ""),
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./".contains(c);
    let key = match key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
        Some(quoted) => quoted,
        None if !key.is_empty() && key.chars().all(plain) => key,
        None => return None,
    };
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence() -> KindSpec {
        seqops::providers::kinds().into_iter().find(|k| k.kind == "Sequence").expect("the Sequence kind")
    }

    fn keys(text: &str) -> Vec<Vec<String>> {
        let mut walk = Walk::default();
        text.lines()
            .filter_map(|line| match walk.step(line) {
                Line::Key { path, .. } => Some(path),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keys_are_found_under_their_parents_through_list_items_of_either_style() {
        let text = "spec:\n  flow:\n    - delay: 0m\n      content: hi\n    - delay: 1h\n  steps:\n  - a: 1\n    b: 2\n  - a: 3\n  name: x\n";
        let paths: Vec<String> = keys(text).iter().map(|p| p.join(".")).collect();
        assert_eq!(
            paths,
            [
                "spec",
                "spec.flow",
                "spec.flow.delay",
                "spec.flow.content",
                "spec.flow.delay",
                "spec.steps",
                "spec.steps.a",
                "spec.steps.b",
                "spec.steps.a",
                "spec.name"
            ]
        );
    }

    #[test]
    fn the_text_of_a_block_scalar_is_not_read_as_keys() {
        let text = "spec:\n  content: |\n    Hello: there\n    more: text\n  name: x\n";
        let paths: Vec<String> = keys(text).iter().map(|p| p.join(".")).collect();
        assert_eq!(paths, ["spec", "spec.content", "spec.name"]);
    }

    #[test]
    fn scalars_flow_collections_and_quoted_keys_are_told_apart() {
        assert_eq!(mapping_key("name: Welcome: DM"), Some(("name", "Welcome: DM")));
        assert_eq!(mapping_key("\"X-Id\": 1"), Some(("X-Id", "1")));
        assert_eq!(mapping_key("tags: [a, b]"), Some(("tags", "[a, b]")));
        assert_eq!(mapping_key("spec:"), Some(("spec", "")));
        assert_eq!(mapping_key("just a sentence"), None);
        assert_eq!(mapping_key("{name: x}"), None);
        assert_eq!(list_items(4, "- delay: 0m"), (6, "delay: 0m"));
        assert_eq!(list_items(0, "- - a"), (4, "a"));
    }

    #[test]
    fn each_field_gets_its_schema_description_once_above_it_and_the_manifests_comments_stay() {
        let text = "apiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: s\nspec:\n  name: S\n  # Mine.\n  trigger: INSTAGRAM_MESSAGE\n  flow:\n    - delay: 0m\n    - delay: 1h\n";
        let out = annotate(text, &sequence());
        assert!(out.starts_with("# Sequence (orsay.seqops.dev/v1alpha1): An Orsay DM sequence.\n"), "{out}");
        assert!(out.contains("`seqops explain Sequence.spec`"), "{out}");
        assert!(out.contains("  # The sequence's display name in Orsay.\n  name: S\n"), "{out}");
        assert!(
            out.contains("  # What starts the sequence; it also fixes the channel and direction.\n  # One of: INSTAGRAM_MESSAGE,"),
            "{out}"
        );
        assert!(out.contains("  # Mine.\n  trigger: INSTAGRAM_MESSAGE\n"), "{out}");
        assert_eq!(out.matches("How long after the previous step").count(), 1, "{out}");
        assert!(out.contains("    # How long after the previous step this one runs.\n    - delay: 0m\n"), "{out}");
        let reparsed: serde_yaml::Value = serde_yaml::from_str(&out).expect("still YAML");
        let original: serde_yaml::Value = serde_yaml::from_str(text).expect("YAML");
        assert_eq!(reparsed, original, "comments change no value");
    }

    #[test]
    fn values_the_description_names_are_not_listed_again() {
        let provider = seqops::manifest::PROVIDER_KIND;
        let text = "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: p\nspec:\n  type: orsay\n  credentials:\n    env: K\n";
        let out = annotate(text, &provider);
        assert!(
            out.contains("  # Which API: `orsay`, `orqis`, `gary`, `orchagent` or `topo`.\n  type: orsay\n"),
            "{out}"
        );
        assert!(!out.contains("One of: orsay"), "{out}");
    }

    #[test]
    fn comments_wrap_within_the_width_at_the_fields_indent() {
        let lines = wrapped(&"word ".repeat(40), 4);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.starts_with("    # ") && l.len() <= WIDTH), "{lines:?}");
    }
}
