//! Finds where a field stands in a YAML document, so that errors found after
//! parsing (duplicates, dangling references) still name file:line:column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

/// One step of a field path: a mapping key or a list index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `spec.flow[0].delay` into its segments.
pub fn parse_path(path: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                segments.push(Segment::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else {
                    break;
                };
                match stripped[..close].parse() {
                    Ok(index) => segments.push(Segment::Index(index)),
                    Err(_) => segments.push(Segment::Key(stripped[..close].to_string())),
                }
                rest = &stripped[close + 1..];
            }
        } else {
            segments.push(Segment::Key(rest.to_string()));
        }
    }
    segments
}

enum Frame {
    Map { key: Option<String>, expecting_key: bool },
    Seq { index: usize },
}

/// Which end of a field a position is wanted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// The key (`trigger:`): where an unknown or misplaced field is.
    Key,
    /// The value (`INSTAGRAM_DM`): where a value of the wrong type or
    /// out of range is.
    Value,
}

/// Returns the 1-based line and column of the deepest part of `path` found in
/// `text`: the key itself when it exists, otherwise the nearest parent.
pub fn locate(text: &str, path: &[Segment]) -> Option<(usize, usize)> {
    locate_at(text, path, Place::Key)
}

/// Like [`locate`], at the field's value when `place` says so and the
/// value is there.
pub fn locate_at(text: &str, path: &[Segment], place: Place) -> Option<(usize, usize)> {
    let mut best: Option<(usize, (usize, usize))> = None;
    let mut exact = None;
    walk(text, |current, role, position| {
        if place == Place::Value && role == Place::Value && current == path {
            exact = Some(position);
            return true;
        }
        record(&mut best, path, current, position);
        false
    });
    exact.or(best.map(|(_, position)| position))
}

/// Each of `wanted` as [`locate_at`] finds it, the text read once for
/// them all (a document with many mistakes is not read once per mistake).
pub fn locate_all(text: &str, wanted: &[(Vec<Segment>, Place)]) -> Vec<Option<(usize, usize)>> {
    let mut index: HashMap<(Vec<Segment>, Place), Vec<usize>> = HashMap::new();
    for (at, key) in wanted.iter().enumerate() {
        index.entry(key.clone()).or_default().push(at);
    }
    let mut found = vec![None; wanted.len()];
    let mut left = wanted.len();
    walk(text, |current, role, position| {
        for &at in index.get(&(current.to_vec(), role)).into_iter().flatten() {
            if found[at].is_none() {
                found[at] = Some(position);
                left -= 1;
            }
        }
        left == 0
    });
    // What is not there is placed at its nearest parent, one by one.
    for (at, (path, place)) in wanted.iter().enumerate() {
        if found[at].is_none() {
            found[at] = locate_at(text, path, *place);
        }
    }
    found
}

/// Reads `text`'s nodes in order, telling `visit` each one's path, whether
/// it is a field's key or a value, and where it starts, until `visit`
/// says it has what it wanted.
fn walk(text: &str, mut visit: impl FnMut(&[Segment], Place, (usize, usize)) -> bool) {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // A block mapping starts where its first key is, not where the parser
    // tells it began (at the key's colon).
    let mut mapping: Option<Vec<Segment>> = None;
    while let Ok((event, marker)) = parser.next_token() {
        let position = (marker.line(), marker.col() + 1);
        if let Some(path) = mapping.take() {
            if visit(&path, Place::Value, position) {
                return;
            }
        }
        let is_key = matches!(stack.last(), Some(Frame::Map { expecting_key: true, .. }));
        match event {
            Event::StreamEnd => return,
            Event::Scalar(value, ..) if is_key => {
                let mut current = current_path(&stack);
                current.push(Segment::Key(value.clone()));
                if visit(&current, Place::Key, position) {
                    return;
                }
                if let Some(Frame::Map { key, expecting_key }) = stack.last_mut() {
                    *key = Some(value);
                    *expecting_key = false;
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                if visit(&current_path(&stack), Place::Value, position) {
                    return;
                }
                finish_value(&mut stack);
            }
            Event::MappingStart(..) => {
                mapping = Some(current_path(&stack));
                stack.push(Frame::Map { key: None, expecting_key: true });
            }
            Event::SequenceStart(..) => {
                if visit(&current_path(&stack), Place::Value, position) {
                    return;
                }
                stack.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                finish_value(&mut stack);
            }
            _ => {}
        }
    }
}

fn current_path(stack: &[Frame]) -> Vec<Segment> {
    stack
        .iter()
        .filter_map(|frame| match frame {
            Frame::Map { key: Some(key), expecting_key: false } => Some(Segment::Key(key.clone())),
            Frame::Map { .. } => None,
            Frame::Seq { index } => Some(Segment::Index(*index)),
        })
        .collect()
}

fn finish_value(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { expecting_key, .. }) => *expecting_key = true,
        Some(Frame::Seq { index }) => *index += 1,
        None => {}
    }
}

/// Keeps the position of the longest prefix of `wanted` seen so far; the
/// first sighting (the key, before its value) wins among equals.
fn record(
    best: &mut Option<(usize, (usize, usize))>,
    wanted: &[Segment],
    current: &[Segment],
    position: (usize, usize),
) {
    if current.len() > wanted.len() || wanted[..current.len()] != *current {
        return;
    }
    if best.is_none_or(|(depth, _)| current.len() > depth) {
        *best = Some((current.len(), position));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "kind: Sequence\nmetadata:\n  name: welcome\nspec:\n  flow:\n    - delay: 0m\n    - delay: 5m\n      content: hi\n";

    #[test]
    fn a_nested_key_is_found_at_its_line_and_column() {
        assert_eq!(locate(DOC, &parse_path("metadata.name")), Some((3, 3)));
        assert_eq!(locate(DOC, &parse_path("spec.flow[1].content")), Some((8, 7)));
    }

    #[test]
    fn a_value_is_found_after_its_key() {
        assert_eq!(locate_at(DOC, &parse_path("spec.flow[1].delay"), Place::Value), Some((7, 14)));
        assert_eq!(locate_at(DOC, &parse_path("spec.flow[1]"), Place::Value), Some((7, 7)));
        assert_eq!(
            locate_at(DOC, &parse_path("spec.flow[1].action"), Place::Value),
            Some((7, 7)),
            "the nearest parent, the item"
        );
    }

    #[test]
    fn many_fields_are_found_in_one_reading_as_each_would_be_alone() {
        let wanted: Vec<(Vec<Segment>, Place)> = [
            ("metadata.name", Place::Key),
            ("spec.flow[1].delay", Place::Value),
            ("spec.flow[1]", Place::Key),
            ("spec.providerRef.name", Place::Key),
        ]
        .iter()
        .map(|(path, place)| (parse_path(path), *place))
        .collect();
        let alone: Vec<_> = wanted.iter().map(|(path, place)| locate_at(DOC, path, *place)).collect();
        assert_eq!(locate_all(DOC, &wanted), alone);
        assert_eq!(alone, [Some((3, 3)), Some((7, 14)), Some((7, 7)), Some((4, 1))]);
    }

    #[test]
    fn a_missing_key_points_at_its_nearest_parent() {
        assert_eq!(locate(DOC, &parse_path("spec.providerRef.name")), Some((4, 1)));
    }

    #[test]
    fn paths_with_indexes_are_split_into_segments() {
        assert_eq!(
            parse_path("spec.flow[2].followupDelays[0]"),
            vec![
                Segment::Key("spec".into()),
                Segment::Key("flow".into()),
                Segment::Index(2),
                Segment::Key("followupDelays".into()),
                Segment::Index(0)
            ]
        );
    }
}
