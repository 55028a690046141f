//! Finds where a field stands in a YAML document, so that errors found after
//! parsing (duplicates, dangling references) still name file:line:column.

use yaml_rust2::parser::{Event, Parser};

/// One step of a field path: a mapping key or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut best: Option<(usize, (usize, usize))> = None;
    // A block mapping starts where its first key is, not where the parser
    // tells it began (at the key's colon).
    let mut mapping_wanted = false;
    loop {
        let (event, marker) = parser.next_token().ok()?;
        let position = (marker.line(), marker.col() + 1);
        if mapping_wanted {
            return Some(position);
        }
        // The path of the node this event starts (for scalars and collections).
        let is_key = matches!(stack.last(), Some(Frame::Map { expecting_key: true, .. }));
        match event {
            Event::StreamEnd => break,
            Event::Scalar(value, ..) if is_key => {
                let mut current = current_path(&stack);
                current.push(Segment::Key(value.clone()));
                record(&mut best, path, &current, position);
                if let Some(Frame::Map { key, expecting_key }) = stack.last_mut() {
                    *key = Some(value);
                    *expecting_key = false;
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                let current = current_path(&stack);
                if place == Place::Value && current == path {
                    return Some(position);
                }
                record(&mut best, path, &current, position);
                finish_value(&mut stack);
            }
            Event::MappingStart(..) => {
                mapping_wanted = place == Place::Value && current_path(&stack) == path;
                stack.push(Frame::Map { key: None, expecting_key: true });
            }
            Event::SequenceStart(..) => {
                if place == Place::Value && current_path(&stack) == path {
                    return Some(position);
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
    best.map(|(_, position)| position)
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
            Some((5, 3)),
            "the nearest parent"
        );
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
