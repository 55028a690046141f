//! JSON kept as its compact text. State holds, per object, the spec it
//! applied and the fields it wrote and saw: as trees of maps those cost ten
//! times their text, so a state of 10,000 objects would take a hundred
//! megabytes to hold. Kept as text, each is parsed where it is read and
//! dropped after.

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::Fields;

/// A JSON value as compact text (`null` when empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored(Box<str>);

impl Stored {
    /// `value` as compact text.
    pub fn of(value: &impl Serialize) -> Self {
        // A map of strings and JSON values always serializes.
        Self(serde_json::to_string(value).unwrap_or_default().into_boxed_str())
    }

    /// The value, parsed.
    pub fn value(&self) -> Value {
        if self.0.is_empty() {
            return Value::Null;
        }
        // The text was written by `of` or checked when read.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The value as fields: empty when it is not an object.
    pub fn fields(&self) -> Fields {
        if self.0.is_empty() {
            return Fields::new();
        }
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    pub fn is_null(&self) -> bool {
        self.0.is_empty() || &*self.0 == "null"
    }

    /// Whether the text holds `needle` as a whole string (a key or a
    /// value): a cheap test before parsing for it.
    pub fn mentions(&self, needle: &str) -> bool {
        self.0.contains(&format!("\"{needle}\""))
    }

    /// The compact text.
    pub fn text(&self) -> &str {
        if self.0.is_empty() {
            "null"
        } else {
            &self.0
        }
    }
}

impl From<&Fields> for Stored {
    fn from(fields: &Fields) -> Self {
        Self::of(fields)
    }
}

impl From<&Value> for Stored {
    fn from(value: &Value) -> Self {
        Self::of(value)
    }
}

impl Serialize for Stored {
    /// Written as a value, so a pretty-printed state file stays indented.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value: Value = serde_json::from_str(self.text()).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }
}

/// The name serde_json gives a value it hands over as its text, unparsed
/// (what `RawValue` asks for).
const RAW_VALUE: &str = "$serde_json::private::RawValue";

impl<'de> Deserialize<'de> for Stored {
    /// Read from JSON text, the value is kept as its text, never parsed
    /// into a tree: a state file is read at the speed it is scanned. Read
    /// through serde's buffer (a status, where the record is flattened
    /// into the fields around it), which keeps no text, it is parsed and
    /// written out again.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(RAW_VALUE, StoredVisitor)
    }
}

struct StoredVisitor;

impl<'de> Visitor<'de> for StoredVisitor {
    type Value = Stored;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    /// serde_json's answer to [`RAW_VALUE`]: one entry, the value's text.
    /// Any other map is a value like the rest.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stored, A::Error> {
        let Some(first) = map.next_key::<String>()? else { return Ok(Stored::of(&Value::Object(Default::default()))) };
        if first == RAW_VALUE {
            return map.next_value_seed(Minified);
        }
        let mut object = serde_json::Map::new();
        object.insert(first, map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            object.insert(key, value);
        }
        Ok(Stored::of(&Value::Object(object)))
    }

    /// Any other deserializer: the value, read as one.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Stored, D::Error> {
        Ok(Stored::of(&Value::deserialize(deserializer)?))
    }
}

/// Raw JSON text, kept compact.
struct Minified;

impl<'de> DeserializeSeed<'de> for Minified {
    type Value = Stored;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Stored, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Minified {
    type Value = Stored;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("raw JSON text")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Stored, E> {
        Ok(Stored(minified(text).into_boxed_str()))
    }
}

impl Stored {
    /// Reads a value kept either as itself or as its compact JSON text (a
    /// status written before it kept the applied spec as the value).
    pub fn value_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Self::deserialize(deserializer)?;
        if !stored.0.starts_with('"') {
            return Ok(stored);
        }
        let text: String = serde_json::from_str(&stored.0).map_err(serde::de::Error::custom)?;
        match serde_json::from_str::<&RawValue>(&text) {
            Ok(raw) => Ok(Self(minified(raw.get()).into_boxed_str())),
            // Text that is no JSON is the text itself.
            Err(_) => Ok(stored),
        }
    }
}

/// Valid JSON without the whitespace between its tokens: what
/// `serde_json::to_string` writes of the same value.
fn minified(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_text_read_back_is_the_compact_text_of_the_same_value() {
        let value = serde_json::json!({"name": "a \"quoted\" name\\ with spaces", "flow": [{"delay": "0m"}], "empty": {}, "n": 1.5});
        let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
        let read: Stored = serde_json::from_str(&pretty).unwrap_or_default();
        assert_eq!(read, Stored::of(&value));
        assert_eq!(read.value(), value);
    }

    #[test]
    fn a_stored_value_is_written_indented_in_a_pretty_document() {
        let stored = Stored::of(&serde_json::json!({"a": [1, 2]}));
        let written = serde_json::to_string_pretty(&serde_json::json!({"x": stored.value()})).unwrap_or_default();
        let through =
            serde_json::to_string_pretty(&std::collections::BTreeMap::from([("x", stored)])).unwrap_or_default();
        assert_eq!(through, written);
    }

    #[test]
    fn a_value_read_through_serdes_buffer_or_from_a_tree_is_the_same_as_from_text() {
        #[derive(Deserialize)]
        struct Around {
            #[serde(flatten)]
            inner: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            kept: Stored,
        }
        let value = serde_json::json!({"kept": {"name": "a \"quoted\" name", "flow": [{"delay": "0m"}], "n": 1.5}});
        let from_text: Inner = serde_json::from_str(&value.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let from_tree: Inner = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}"));
        let flattened: Around = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_text.kept, Stored::of(&value["kept"]));
        assert_eq!(from_tree.kept, from_text.kept);
        assert_eq!(flattened.inner.kept, from_text.kept);
    }

    #[test]
    fn a_value_kept_as_its_json_text_is_read_as_the_value() {
        #[derive(Deserialize)]
        struct Kept {
            #[serde(deserialize_with = "Stored::value_or_text")]
            spec: Stored,
        }
        let spec = serde_json::json!({"contactId": "con_1", "sequence": {"lookup": "Nurture"}});
        let as_text: Kept =
            serde_json::from_value(serde_json::json!({"spec": spec.to_string()})).unwrap_or_else(|e| panic!("{e}"));
        let as_value: Kept =
            serde_json::from_value(serde_json::json!({"spec": spec.clone()})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(as_text.spec, Stored::of(&spec));
        assert_eq!(as_value.spec, Stored::of(&spec));
    }

    #[test]
    fn an_empty_stored_value_is_null_and_no_fields() {
        assert!(Stored::default().is_null());
        assert!(Stored::default().fields().is_empty());
        assert_eq!(Stored::default().text(), "null");
    }

    #[test]
    fn mentions_finds_whole_strings_only() {
        let stored = Stored::of(&serde_json::json!({"token": {"$sensitive": "x"}, "note": "not $sensitive here"}));
        assert!(stored.mentions("$sensitive"));
        assert!(!Stored::of(&serde_json::json!({"note": "not $sensitive here"})).mentions("$sensitive"));
    }
}
