//! Reading one YAML document into the JSON value it stands for, and
//! wording what keeps a text from being YAML in terms a person uses: a
//! tab, a line indented into no block, a key given twice.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a text is not YAML, at a 1-based line and column of the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads a document as the JSON value it holds. Keys are text, a key given
/// twice in one mapping is an error (YAML forbids it; a manifest read
/// either way would lose one), and so is a tag or a number JSON cannot hold.
pub fn read(text: &str) -> Result<Value, SyntaxError> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    JsonValue.deserialize(deserializer).map_err(|error| {
        let (line, column) = error.location().map_or((1, 1), |l| (l.line(), l.column()));
        worded(text, line, column, &strip_location(&error.to_string()))
    })
}

/// serde_yaml's message without the path it starts with (`spec: `) and
/// its trailing " at line L column C".
fn strip_location(message: &str) -> String {
    let message = message.split(", while ").next().unwrap_or(message);
    let message = match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => rest,
        _ => message,
    };
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(" column ") => message[..index].to_string(),
        _ => message.to_string(),
    }
}

/// The parser's complaint at `line`, said in the words of the mistake
/// that usually causes it.
fn worded(text: &str, line: usize, column: usize, parser: &str) -> SyntaxError {
    let lines: Vec<&str> = text.lines().collect();
    if let Some((at, tab)) = first_indenting_tab(&lines, line) {
        return SyntaxError {
            line: at,
            column: tab,
            message: "a tab indents this line: YAML indents with spaces only; replace the tab with spaces".into(),
        };
    }
    if let Some(key) = parser.strip_prefix(DUPLICATE).and_then(|rest| rest.strip_suffix(DUPLICATE_END)) {
        let at = second_definition(&lines, key).unwrap_or(line);
        return SyntaxError { line: at, column: 1, message: format!("`{key}` is given twice in the same mapping") };
    }
    let message = indentation(&lines, line, parser).unwrap_or_else(|| format!("not valid YAML: {parser}"));
    SyntaxError { line, column, message }
}

const DUPLICATE: &str = "duplicate key `";
const DUPLICATE_END: &str = "`";

/// The first line up to `line` that a tab indents, and the tab's column.
fn first_indenting_tab(lines: &[&str], line: usize) -> Option<(usize, usize)> {
    lines.iter().take(line).enumerate().find_map(|(index, text)| {
        let indent = text.len() - text.trim_start_matches([' ', '\t']).len();
        text[..indent].find('\t').map(|tab| (index + 1, tab + 1))
    })
}

/// The line of the second `key:` at the indentation of the first.
fn second_definition(lines: &[&str], key: &str) -> Option<usize> {
    let mut first_indent = None;
    for (index, text) in lines.iter().enumerate() {
        let body = text.trim_start().trim_start_matches("- ");
        let is_key = body.strip_prefix(key).is_some_and(|rest| rest.starts_with(':'));
        if !is_key {
            continue;
        }
        let indent = text.len() - body.len();
        match first_indent {
            None => first_indent = Some(indent),
            Some(first) if first == indent => return Some(index + 1),
            Some(_) => {}
        }
    }
    None
}

/// A line of content: neither blank nor only a comment.
fn is_content(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// For the parser's indentation complaints, which line's block `line`
/// broke and how.
fn indentation(lines: &[&str], line: usize, parser: &str) -> Option<String> {
    let here = lines.get(line.checked_sub(1)?)?;
    let indent = indent_of(here);
    let (above, previous) = lines[..line - 1].iter().enumerate().rev().find(|(_, l)| is_content(l))?;
    let above = above + 1;
    let previous_indent = indent_of(previous);
    if parser.starts_with("mapping values are not allowed") {
        if indent > previous_indent {
            return Some(format!(
                "this line is indented deeper than line {above} (`{}`), which already has its value, so no block \
                 opens there: indent it as line {above} is, or move line {above}'s value onto a line of its own",
                previous.trim()
            ));
        }
        return Some(
            "a second `: ` on one line: a key and its value take one line each; quote a value that holds `: `".into(),
        );
    }
    if parser.starts_with("did not find expected key") && indent < previous_indent {
        let (opener, block_indent) = block_of(lines, above)?;
        return Some(format!(
            "this line is indented {indent} spaces, which matches no block above it: the block that line {opener} \
             opens has its lines at {block_indent} spaces; indent it to match that block or one that encloses it"
        ));
    }
    if parser.starts_with("did not find expected '-' indicator") {
        return Some(format!(
            "this line is indented like the list items above it (line {above}) but is not one: start it with `- `, \
             or indent it less to end the list"
        ));
    }
    None
}

/// The line that opens the block `line` is in, and the block's indent.
fn block_of(lines: &[&str], line: usize) -> Option<(usize, usize)> {
    let indent = indent_of(lines.get(line - 1)?);
    let (opener, _) =
        lines[..line - 1].iter().enumerate().rev().find(|(_, l)| is_content(l) && indent_of(l) < indent)?;
    Some((opener + 1, indent))
}

/// Builds a [`Value`] from any self-describing deserializer, refusing a
/// key given twice.
struct JsonValue;

impl<'de> DeserializeSeed<'de> for JsonValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("`{v}` is not a number a manifest can hold")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(JsonValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(JsonValue)?;
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{key}{DUPLICATE_END}")));
            }
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(de::Error::custom("a tag such as `!name` before a value is not supported in manifests"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> SyntaxError {
        read(text).expect_err("not YAML")
    }

    #[test]
    fn a_document_reads_as_its_json_value() {
        let value = read("name: A\ncount: 3\nratio: 0.5\non: true\nnothing: null\nlist: [a, 'b']\n").expect("YAML");
        assert_eq!(
            value,
            serde_json::json!({"name": "A", "count": 3, "ratio": 0.5, "on": true, "nothing": null, "list": ["a", "b"]})
        );
    }

    #[test]
    fn a_tab_is_called_a_tab_at_its_column() {
        let found = error("spec:\n  name: A\n \tflow: []\n");
        assert_eq!((found.line, found.column), (3, 2));
        assert!(found.message.starts_with("a tab indents this line"), "{}", found.message);
    }

    #[test]
    fn a_line_indented_under_a_complete_one_names_that_line() {
        let found = error("spec:\n  name: A\n   trigger: X\n");
        assert_eq!(found.line, 3);
        assert!(found.message.contains("deeper than line 2 (`name: A`)"), "{}", found.message);
    }

    #[test]
    fn a_line_indented_into_no_block_names_the_block_it_broke() {
        let found = error("spec:\n    name: A\n  trigger: X\n");
        assert_eq!(found.line, 3);
        assert!(found.message.contains("the block that line 1 opens has its lines at 4 spaces"), "{}", found.message);
    }

    #[test]
    fn a_key_given_twice_is_refused_at_the_second() {
        let found = error("spec:\n  name: A\n  name: B\n");
        assert_eq!((found.line, found.message.as_str()), (3, "`name` is given twice in the same mapping"));
    }

    #[test]
    fn other_mistakes_keep_the_parser_s_words_without_its_position() {
        let found = error("a: [1, 2\nb: 3\n");
        assert_eq!(found.message, "not valid YAML: did not find expected ',' or ']'");
    }
}
