//! Words as a person writes them: `1 request`, `2 requests`, `an
//! INSTAGRAM profile`. Shared by every part that speaks to the user.

/// `1 request`, `2 requests`: `n` and the noun, plural when `n` is not 1.
pub fn count(n: impl Into<u64>, singular: &str, plural: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// The indefinite article for `word`: `an` before a vowel, else `a`.
pub fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// `word` with its article: `an INSTAGRAM`, `a Sequence`.
pub fn a(word: &str) -> String {
    format!("{} {word}", article(word))
}

/// `a`, `a or b`, `a, b or c`.
pub fn either(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [only] => only.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The choice closest to `given`, when it is close enough to be a likely typo.
pub fn nearest<'a>(given: &str, choices: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    choices
        .map(|choice| (strsim::normalized_damerau_levenshtein(&given_lower, &choice.to_lowercase()), choice))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, choice)| choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_joined_with_a_final_or() {
        assert_eq!(either(&["text"]), "text");
        assert_eq!(either(&["text", "a list"]), "text or a list");
        assert_eq!(either(&["a", "b", "c"]), "a, b or c");
    }

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1u64, "request", "requests"), "1 request");
        assert_eq!(count(0u64, "request", "requests"), "0 requests");
        assert_eq!(count(2u32, "remote object", "remote objects"), "2 remote objects");
    }

    #[test]
    fn a_word_starting_with_a_vowel_takes_an() {
        assert_eq!(a("INSTAGRAM"), "an INSTAGRAM");
        assert_eq!(a("Enrollment"), "an Enrollment");
        assert_eq!(a("WHATSAPP"), "a WHATSAPP");
        assert_eq!(a("Sequence"), "a Sequence");
    }
}
