//! JSON kept as its compact text. State holds, per object, the spec it
//! applied and the fields it wrote and saw: as trees of maps those cost ten
//! times their text, so a state of 10,000 objects would take a hundred
//! megabytes to hold. Kept as text, each is parsed where it is read and
//! dropped after.

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

impl<'de> Deserialize<'de> for Stored {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Self(minified(raw.get()).into_boxed_str()))
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
