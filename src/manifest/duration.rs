//! Durations as manifests write them (`30s`, `5m`, `2h`, `1h30m`), compared by
//! length so that `120m` equals `2h`.

use std::fmt;

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative length of time with one-second resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    seconds: u64,
}

/// The units the vendors' APIs speak, largest first.
pub const UNITS: [(char, u64, &str); 3] = [('h', 3600, "HOURS"), ('m', 60, "MINUTES"), ('s', 1, "SECONDS")];

impl Duration {
    pub const fn from_secs(seconds: u64) -> Self {
        Self { seconds }
    }

    pub const fn as_secs(self) -> u64 {
        self.seconds
    }

    /// Parses `30s`, `5m`, `2h` or a concatenation such as `1h30m`.
    ///
    /// ```
    /// use seqops::manifest::duration::Duration;
    /// assert_eq!(Duration::parse("1h30m"), Ok(Duration::from_secs(5400)));
    /// assert_eq!(Duration::parse("120m"), Duration::parse("2h"));
    /// assert!(Duration::parse("-5m").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a duration cannot be empty: write e.g. `30s`, `5m` or `2h`".into());
        }
        if text.starts_with('-') {
            return Err(format!("`{text}` is negative: durations must be zero or more"));
        }
        let mut seconds: u64 = 0;
        let mut digits = String::new();
        for ch in text.chars() {
            if ch.is_ascii_digit() {
                digits.push(ch);
                continue;
            }
            let Some((_, factor, _)) = UNITS.iter().find(|(unit, _, _)| *unit == ch) else {
                return Err(format!("`{text}` is not a duration: units are `s`, `m` and `h`, as in `30s`, `5m`, `2h`"));
            };
            if digits.is_empty() {
                return Err(format!("`{text}` is not a duration: each unit needs a number before it, as in `5m`"));
            }
            let value: u64 = digits.parse().map_err(|_| format!("`{text}` is too long a duration"))?;
            seconds = value
                .checked_mul(*factor)
                .and_then(|part| seconds.checked_add(part))
                .ok_or_else(|| format!("`{text}` is too long a duration"))?;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(format!("`{text}` has no unit: write `{text}s`, `{text}m` or `{text}h`"));
        }
        Ok(Self { seconds })
    }

    /// The duration in the largest unit that expresses it exactly, as the
    /// vendors' `(amount, UNIT)` pairs want it.
    pub fn to_amount_and_unit(self) -> (u64, &'static str) {
        for (_, factor, name) in UNITS {
            if self.seconds.is_multiple_of(factor) && (self.seconds != 0 || factor == 60) {
                return (self.seconds / factor, name);
            }
        }
        (self.seconds, "SECONDS")
    }

    /// Builds a duration from a vendor's `(amount, UNIT)` pair.
    pub fn from_amount_and_unit(amount: u64, unit: &str) -> Option<Self> {
        let factor = UNITS.iter().find(|(_, _, name)| name.eq_ignore_ascii_case(unit))?.1;
        amount.checked_mul(factor).map(Self::from_secs)
    }
}

impl fmt::Display for Duration {
    /// Canonical form: the largest exact unit, and minutes for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (amount, unit) = self.to_amount_and_unit();
        let suffix = UNITS.iter().find(|(_, _, name)| *name == unit).map_or('s', |(c, _, _)| *c);
        write!(f, "{amount}{suffix}")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s`, `5m` or `2h`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(E::custom(format!("`{v}` has no unit: write `{v}s`, `{v}m` or `{v}h`")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(E::custom(format!("`{v}` is not a duration: write whole seconds, minutes or hours, as in `90s`")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+[smh])+$",
            "description": "A length of time: `30s`, `5m`, `2h` or a sum such as `1h30m`."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lengths_in_different_units_are_equal() {
        assert_eq!(Duration::parse("120m"), Duration::parse("2h"));
        assert_eq!(Duration::parse("1h30m").map(|d| d.as_secs()), Ok(5400));
    }

    #[test]
    fn canonical_form_uses_the_largest_exact_unit() {
        assert_eq!(Duration::from_secs(7200).to_string(), "2h");
        assert_eq!(Duration::from_secs(5400).to_string(), "90m");
        assert_eq!(Duration::from_secs(45).to_string(), "45s");
        assert_eq!(Duration::from_secs(0).to_string(), "0m");
        assert_eq!(Duration::from_secs(0).to_amount_and_unit(), (0, "MINUTES"));
    }

    #[test]
    fn negative_malformed_and_unitless_durations_are_rejected_with_a_reason() {
        assert!(Duration::parse("-5m").unwrap_err().contains("negative"));
        assert!(Duration::parse("5x").unwrap_err().contains("units are"));
        assert!(Duration::parse("5").unwrap_err().contains("no unit"));
        assert!(Duration::parse("m").unwrap_err().contains("number before"));
    }

    #[test]
    fn vendor_pairs_convert_both_ways() {
        assert_eq!(Duration::from_amount_and_unit(2, "HOURS"), Some(Duration::from_secs(7200)));
        assert_eq!(Duration::from_amount_and_unit(2, "DAYS"), None);
    }
}
