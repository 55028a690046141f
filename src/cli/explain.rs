//! `seqops explain KIND[.FIELD…]`: a kind's or a field's type, whether it
//! is required, the values it takes, its description, a default and an
//! example, read from the schema `seqops schema` prints, laid out as
//! `kubectl explain` lays them out.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use seqops::manifest::KindSpec;
use seqops::words::nearest;
use serde_json::Value;

use super::schema_tree::{paragraphs, value_text, Field, Node};

#[derive(Args)]
pub struct ExplainArgs {
    /// A kind, then the path of a field in it: `sequence`,
    /// `Sequence.spec.flow`, `orqis.Agent.spec.headers` (a kind two
    /// providers share goes after its provider). Kinds are matched in any
    /// case, by plural and short name too, as kubectl matches them.
    #[arg(value_name = "KIND[.FIELD...]")]
    path: String,
    /// Print every field below as a tree of names and types.
    #[arg(long)]
    recursive: bool,
}

/// Where text wraps.
const WIDTH: usize = 80;

/// How deep `--recursive` goes: deeper is a schema that refers to itself.
const MAX_DEPTH: usize = 16;

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let (kind, path) = find_kind(&args.path)?;
    let schema = super::schema::manifest_schema(&kind);
    let root = Node::root(&schema);
    let field = find_field(&kind, &root, &path)?;
    let example = field.and_then(|_| example(&kind, &path));
    print!("{}", render(&kind, &root, field, example.as_deref(), args.recursive));
    super::flush_stdout()?;
    Ok(ExitCode::SUCCESS)
}

/// The names a kind answers to, lower-cased: its kind, the provider and
/// the kind (`orqis.agent`, its key where two providers share the kind),
/// and the CRD's plural, singular, short names and full name.
fn names_of(kind: &KindSpec) -> Vec<String> {
    let crd = (kind.crd)();
    let names = &crd.spec.names;
    let mut all = vec![kind.kind.to_string(), kind.key_kind.to_string(), names.plural.clone()];
    all.extend(names.singular.clone());
    all.extend(names.short_names.clone().unwrap_or_default());
    all.extend(crd.metadata.name.clone());
    if let Some(provider) = kind.provider_type {
        all.push(format!("{provider}.{}", kind.kind));
        all.push(format!("{provider}.{}", names.plural));
    }
    all.iter().map(|n| n.to_lowercase()).collect()
}

/// The kind `path` starts with, and the field names after it. The longest
/// run of dotted words that names a kind is the kind, so both
/// `orqis.Agent.spec` and `sequences.orsay.seqops.dev.spec` are read.
fn find_kind(path: &str) -> anyhow::Result<(KindSpec, Vec<String>)> {
    let words: Vec<&str> = path.split('.').collect();
    if words.iter().any(|w| w.is_empty()) {
        bail!("`{path}` has an empty name between dots: write KIND.FIELD.FIELD, as in `Sequence.spec.flow`");
    }
    let kinds: Vec<(KindSpec, Vec<String>)> = seqops::providers::kinds().iter().map(|k| (*k, names_of(k))).collect();
    for length in (1..=words.len()).rev() {
        let given = words[..length].join(".");
        let lower = given.to_lowercase();
        let found: Vec<KindSpec> = kinds.iter().filter(|(_, names)| names.contains(&lower)).map(|(k, _)| *k).collect();
        let rest = words[length..].iter().map(|w| w.to_string()).collect();
        match found.as_slice() {
            [] => continue,
            [one] => return Ok((*one, rest)),
            many => {
                let choices: Vec<String> =
                    many.iter().map(|k| format!("`{}` ({})", k.key_kind, k.api_version)).collect();
                bail!(
                    "`{given}` names {} kinds: {}; name one, as in `seqops explain {}`",
                    many.len(),
                    choices.join(" and "),
                    many[0].key_kind
                );
            }
        }
    }
    let listed: Vec<&str> = kinds.iter().map(|(k, _)| k.key_kind.as_str()).collect();
    let spelled: Vec<String> = kinds
        .iter()
        .flat_map(|(k, _)| [k.kind.to_string(), k.key_kind.to_string()])
        .chain(kinds.iter().filter_map(|(k, _)| Some(format!("{}.{}", k.provider_type?, k.kind))))
        .collect();
    let two = words.iter().take(2).copied().collect::<Vec<_>>().join(".");
    let guess = nearest(&two, spelled.iter().map(String::as_str))
        .or_else(|| nearest(words[0], spelled.iter().map(String::as_str)));
    let hint = guess.map(|g| format!("; did you mean `{g}`?")).unwrap_or_else(|| ".".into());
    bail!("no kind is called `{}`{hint} The kinds: {}", words[0], listed.join(", "))
}

/// The field at `path` below the kind's top (`None` for the kind itself),
/// or an error naming the first name that is not there and the nearest one.
fn find_field<'a>(kind: &KindSpec, root: &Node<'a>, path: &[String]) -> anyhow::Result<Option<Field<'a>>> {
    let mut node = *root;
    let mut found = None;
    let mut walked = kind.key_kind.to_string();
    for name in path {
        let fields = node.fields();
        let field = fields.iter().find(|f| f.name == name).or_else(|| {
            let mut alike = fields.iter().filter(|f| f.name.eq_ignore_ascii_case(name));
            alike.next().filter(|_| alike.next().is_none())
        });
        let Some(field) = field else {
            bail!("{}", unknown_field(name, &walked, &node, root, found.is_none()));
        };
        walked = format!("{walked}.{}", field.name);
        node = field.node;
        found = Some(*field);
    }
    Ok(found)
}

/// Why `name` is not a field of `walked`, with the nearest field (or, at a
/// kind's top, `at_top`, the spec's field of that name).
fn unknown_field(name: &str, walked: &str, node: &Node<'_>, root: &Node<'_>, at_top: bool) -> String {
    let fields = node.fields();
    let head = format!("field `{name}` does not exist in {walked}");
    if fields.is_empty() {
        return format!("{head}: a <{}> has no fields", node.type_name());
    }
    if let Some(near) = nearest(name, fields.iter().map(|f| f.name)) {
        return format!("{head}; did you mean `{near}`?");
    }
    if at_top {
        let spec = root.field("spec").map(|s| s.node.fields()).unwrap_or_default();
        if let Some(near) = nearest(name, spec.iter().map(|f| f.name)) {
            return format!("{head}; did you mean `{walked}.spec.{near}`?");
        }
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    format!("{head}; its fields: {}", names.join(", "))
}

/// The field's value in `seqops init`'s sample of the kind, as YAML under
/// its name; a list's first item stands for the list on the way down.
fn example(kind: &KindSpec, path: &[String]) -> Option<String> {
    let sample = super::init::samples::of_kind(kind)?.yaml()?;
    let mut value = &sample;
    for name in path {
        while let serde_yaml::Value::Sequence(items) = value {
            value = items.first()?;
        }
        value = value.get(name.as_str())?;
    }
    let mut shown = serde_yaml::Mapping::new();
    shown.insert(path.last()?.as_str().into(), value.clone());
    serde_yaml::to_string(&shown).ok()
}

/// The whole page: the kind, the field and the values it takes, its
/// description, default and example, then its fields.
fn render(
    kind: &KindSpec,
    root: &Node<'_>,
    field: Option<Field<'_>>,
    example: Option<&str>,
    recursive: bool,
) -> String {
    let mut out = format!("KIND:     {}\nVERSION:  {}\n\n", kind.kind, kind.api_version);
    if let Some(field) = field {
        out.push_str(&format!("FIELD: {} <{}>\n", field.name, field.node.type_name()));
        out.push_str(&allowed_values(&field.node));
        out.push('\n');
    }
    // A kind's top has no description of its own: its spec's says what it is.
    let description = match field {
        Some(field) => field.node.description,
        None => root.field("spec").and_then(|spec| spec.node.description),
    };
    out.push_str("DESCRIPTION:\n");
    out.push_str(&indented(description.unwrap_or("<empty>"), 4));
    if let Some(field) = field {
        out.push_str(&default_and_example(&field.node, example));
    }
    let fields = field.map_or(*root, |f| f.node).fields();
    if !fields.is_empty() {
        out.push_str("\nFIELDS:\n");
        if recursive {
            tree(&mut out, &fields, 1);
        } else {
            fields.iter().for_each(|field| out.push_str(&field_entry(field)));
        }
    }
    out
}

/// `ENUM:` and a line per value, with its description where it has one.
fn allowed_values(node: &Node<'_>) -> String {
    let values = node.allowed_values();
    if values.is_empty() {
        return String::new();
    }
    let width = values.iter().map(|(v, _)| v.len()).max().unwrap_or(0);
    let lines = values.iter().map(|(value, description)| match description {
        Some(text) => format!("    {value:<width$}  {text}\n"),
        None => format!("    {value}\n"),
    });
    std::iter::once("ENUM:\n".to_string()).chain(lines).collect()
}

/// `DEFAULT:` when the schema has one; `EXAMPLES:` when it has those, else
/// `EXAMPLE:` with the value in the kind's sample.
fn default_and_example(node: &Node<'_>, example: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(default) = node.default {
        out.push_str(&format!("\nDEFAULT:\n    {}\n", value_text(default)));
    }
    match (node.examples.and_then(Value::as_array).filter(|e| !e.is_empty()), example) {
        (Some(examples), _) => {
            out.push_str("\nEXAMPLES:\n");
            out.extend(examples.iter().map(|e| format!("    {}\n", value_text(e))));
        }
        (None, Some(example)) => {
            out.push_str("\nEXAMPLE:\n");
            out.extend(example.lines().map(|line| format!("    {line}\n")));
        }
        (None, None) => {}
    }
    out
}

/// A field in a page's `FIELDS:`: its name and type, the values it takes,
/// its description.
fn field_entry(field: &Field<'_>) -> String {
    let mut out = field_line(field, 2);
    let values: Vec<String> = field.node.allowed_values().into_iter().map(|(v, _)| v).collect();
    if !values.is_empty() {
        out.push_str(&wrap(&format!("enum: {}", values.join(", ")), 2, 4));
    }
    if let Some(description) = field.node.description {
        out.push_str(&indented(description, 4));
    }
    out.push('\n');
    out
}

/// `name<TAB><type>`, and ` -required-` when it is.
fn field_line(field: &Field<'_>, indent: usize) -> String {
    let required = if field.required { " -required-" } else { "" };
    format!("{}{}\t<{}>{required}\n", " ".repeat(indent), field.name, field.node.type_name())
}

/// The fields and theirs below them, two columns further in per level.
fn tree(out: &mut String, fields: &[Field<'_>], depth: usize) {
    for field in fields {
        out.push_str(&field_line(field, 2 * depth));
        if depth < MAX_DEPTH {
            tree(out, &field.node.fields(), depth + 1);
        }
    }
}

/// A description's paragraphs, wrapped and indented.
fn indented(description: &str, indent: usize) -> String {
    let parts: Vec<String> = paragraphs(description).iter().map(|p| wrap(p, indent, indent)).collect();
    parts.join("\n")
}

/// `text` wrapped at [`WIDTH`]: its first line indented by `first`, the
/// others by `rest`.
fn wrap(text: &str, first: usize, rest: usize) -> String {
    let (first, rest) = (" ".repeat(first), " ".repeat(rest));
    let options = textwrap::Options::new(WIDTH).initial_indent(&first).subsequent_indent(&rest);
    textwrap::wrap(text, options).iter().map(|line| format!("{line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(path: &str, recursive: bool) -> anyhow::Result<String> {
        let (kind, fields) = find_kind(path)?;
        let schema = crate::cli::schema::manifest_schema(&kind);
        let root = Node::root(&schema);
        let field = find_field(&kind, &root, &fields)?;
        let example = field.and_then(|_| example(&kind, &fields));
        Ok(render(&kind, &root, field, example.as_deref(), recursive))
    }

    fn kind_error(path: &str) -> String {
        match find_kind(path) {
            Ok((kind, _)) => panic!("{path} named {}", kind.key_kind),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_kind_is_found_by_any_of_its_names_and_the_rest_is_the_field_path() {
        for given in ["sequence", "Sequence", "SEQUENCES", "orsay.Sequence", "sequences.orsay.seqops.dev"] {
            let (kind, rest) = find_kind(&format!("{given}.spec.flow")).expect("found");
            assert_eq!((kind.kind, rest), ("Sequence", vec!["spec".to_string(), "flow".to_string()]), "{given}");
        }
        let (kind, rest) = find_kind("orqis.Agent").expect("found");
        assert_eq!((kind.api_version, rest.len()), ("orqis.seqops.dev/v1alpha1", 0));
        let (kind, _) = find_kind("provider").expect("found");
        assert_eq!(kind.kind, "Provider");
    }

    #[test]
    fn a_kind_two_providers_share_is_named_with_both_choices() {
        let error = kind_error("agent.spec");
        assert!(error.contains("`orqis.Agent` (orqis.seqops.dev/v1alpha1)"), "{error}");
        assert!(error.contains("`orchagent.Agent` (orchagent.seqops.dev/v1alpha1)"), "{error}");
    }

    #[test]
    fn an_unknown_kind_gets_the_nearest_and_the_list() {
        let error = kind_error("sequense.spec");
        assert!(error.starts_with("no kind is called `sequense`; did you mean `Sequence`?"), "{error}");
        assert!(error.contains("orqis.Agent") && error.contains("SequenceRun"), "{error}");
        assert!(find_kind("Sequence..flow").is_err());
    }

    #[test]
    fn an_unknown_field_names_the_nearest_or_where_it_is() {
        let error = page("Sequence.spec.flw", false).expect_err("unknown").to_string();
        assert_eq!(error, "field `flw` does not exist in Sequence.spec; did you mean `flow`?");
        let error = page("Sequence.flow", false).expect_err("unknown").to_string();
        assert_eq!(error, "field `flow` does not exist in Sequence; did you mean `Sequence.spec.flow`?");
        let error = page("Sequence.spec.name.first", false).expect_err("a string").to_string();
        assert_eq!(error, "field `first` does not exist in Sequence.spec.name: a <string> has no fields");
        let error = page("Sequence.spec.zzzzzz", false).expect_err("unknown").to_string();
        assert!(error.contains("; its fields: providerRef, managementPolicy,"), "{error}");
    }

    #[test]
    fn a_field_page_has_its_type_description_default_example_and_fields() {
        let text = page("sequence.spec.flow", false).expect("a page");
        assert!(
            text.starts_with(
                "KIND:     Sequence\nVERSION:  orsay.seqops.dev/v1alpha1\n\nFIELD: flow <[]Object>\n\nDESCRIPTION:\n    The steps, in order.\n"
            ),
            "{text}"
        );
        assert!(text.contains("\nEXAMPLE:\n    flow:\n    - delay: 0m\n"), "{text}");
        assert!(
            text.contains("\nFIELDS:\n  delay\t<string>\n    How long after the previous step this one runs.\n"),
            "{text}"
        );
        let delay = page("sequence.spec.flow.delay", false).expect("a page");
        assert!(delay.contains("\nDEFAULT:\n    0m\n"), "{delay}");
    }

    #[test]
    fn required_fields_are_marked_and_allowed_values_listed() {
        let text = page("Sequence.spec", false).expect("a page");
        assert!(text.contains("  name\t<string> -required-\n"), "{text}");
        assert!(
            text.contains("  trigger\t<string> -required-\n  enum: INSTAGRAM_MESSAGE, INSTAGRAM_COMMENT,"),
            "{text}"
        );
        let policy = page("Sequence.spec.managementPolicy", false).expect("a page");
        assert!(
            policy.contains(
                "ENUM:\n    Default      Create, update and delete it to match the spec.\n    ObserveOnly  Read"
            ),
            "{policy}"
        );
    }

    #[test]
    fn recursive_prints_the_tree_of_names_and_types() {
        let text = page("Sequence", true).expect("a page");
        assert!(text.contains("\nDESCRIPTION:\n    An Orsay DM sequence.\n"), "{text}");
        assert!(
            text.contains("  spec\t<Object> -required-\n    providerRef\t<Object>\n      name\t<string> -required-\n"),
            "{text}"
        );
        assert!(text.contains("    flow\t<[]Object>\n      delay\t<string>\n"), "{text}");
    }
}
