//! `kind: List` documents (what `kubectl get -o yaml` prints): each item is
//! loaded as a document of its own, keeping its lines and columns so that
//! errors still point into the stream.

use super::Document;

/// The items of a `v1` `List` document, or of a document that is a YAML
/// list of manifests, each a document; `None` for any other document.
pub fn items(document: &Document) -> Option<Vec<Document>> {
    // Most documents are neither: a look at the text spares reading them.
    let first = document.text.lines().find(|l| !ignorable(l))?;
    let sequence = first.starts_with('-') || first.starts_with('[');
    if !sequence && !document.text.contains("List") {
        return None;
    }
    let (items, start) = match serde_yaml::from_str::<Listed>(&document.text).ok()? {
        Listed::Sequence(items) => (items, 0),
        Listed::List { kind, api_version, items } if kind == "List" && api_version == "v1" => {
            let lines = document.text.lines().position(|l| l.trim_end() == "items:");
            (items, lines.map_or(usize::MAX, |at| at + 1))
        }
        Listed::List { .. } => return None,
    };
    Some(block_items(document, start).filter(|found| found.len() == items.len()).unwrap_or_else(|| {
        // Written in flow style: each item as YAML of its own, its
        // positions those of the List.
        items
            .iter()
            .map(|item| Document {
                text: serde_yaml::to_string(item).unwrap_or_default(),
                indent: 0,
                ..clone(document)
            })
            .collect()
    }))
}

/// A document that may hold manifests: a sequence of them, or a `v1`
/// `List` with `items`.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Listed {
    Sequence(Vec<serde_yaml::Value>),
    List {
        kind: String,
        #[serde(rename = "apiVersion")]
        api_version: String,
        items: Vec<serde_yaml::Value>,
    },
}

fn clone(document: &Document) -> Document {
    Document {
        file: document.file.clone(),
        dir: document.dir.clone(),
        text: String::new(),
        first_line: document.first_line,
        indent: document.indent,
    }
}

/// The items of a block-style sequence starting at line `start`, cut out
/// of the text.
fn block_items(document: &Document, start: usize) -> Option<Vec<Document>> {
    let lines: Vec<&str> = document.text.lines().collect();
    let dash = lines.get(start..)?.iter().find(|l| !ignorable(l))?.find("- ")?;
    let mut found: Vec<usize> = Vec::new();
    let mut end = lines.len();
    for (index, line) in lines.iter().enumerate().skip(start) {
        if ignorable(line) {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == dash && line[dash..].starts_with("- ") {
            found.push(index);
        } else if indent <= dash {
            end = index;
            break;
        }
    }
    let cut = dash + 2;
    let mut documents = Vec::new();
    for (number, first) in found.iter().enumerate() {
        let last = found.get(number + 1).copied().unwrap_or(end);
        let mut text = String::new();
        for (offset, line) in lines[*first..last].iter().enumerate() {
            let kept = if offset == 0 { &line[cut..] } else { line.get(cut..).unwrap_or_else(|| line.trim_start()) };
            text.push_str(kept);
            text.push('\n');
        }
        documents.push(Document {
            text,
            first_line: document.first_line + first,
            indent: document.indent + cut,
            ..clone(document)
        });
    }
    Some(documents)
}

fn ignorable(line: &str) -> bool {
    line.trim().is_empty() || line.trim_start().starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(text: &str) -> Document {
        Document { file: "<stdin>".into(), dir: ".".into(), text: text.into(), first_line: 3, indent: 0 }
    }

    #[test]
    fn each_item_of_a_list_is_a_document_that_keeps_its_lines() {
        let list = document("apiVersion: v1\nitems:\n- apiVersion: a/v1\n  kind: A\n  spec:\n    x: 1\n- apiVersion: b/v1\n  kind: B\nkind: List\nmetadata: {}\n");
        let items = items(&list).expect("a List");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].text, "apiVersion: a/v1\nkind: A\nspec:\n  x: 1\n");
        assert_eq!((items[0].first_line, items[0].indent), (5, 2));
        assert_eq!(items[1].text, "apiVersion: b/v1\nkind: B\n");
        assert_eq!(items[1].first_line, 9);
    }

    #[test]
    fn a_document_that_is_a_list_of_manifests_yields_each_keeping_its_lines() {
        let list = document("# two\n- apiVersion: a/v1\n  kind: A\n- apiVersion: b/v1\n  kind: B\n");
        let items = items(&list).expect("a list");
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].text, "apiVersion: b/v1\nkind: B\n");
        assert_eq!((items[1].first_line, items[1].indent), (6, 2));
    }

    #[test]
    fn a_list_in_flow_style_still_yields_its_items_and_other_kinds_are_no_list() {
        let list = document("apiVersion: v1\nkind: List\nitems: [{apiVersion: a/v1, kind: A}]\n");
        assert_eq!(items(&list).map(|i| i.len()), Some(1));
        assert!(items(&document("apiVersion: a/v1\nkind: A\n")).is_none());
    }
}
