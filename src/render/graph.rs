//! Dependency graphs: of what a plan changes (a Mermaid chart in the
//! pull-request comment, which GitHub draws), and of every manifest
//! (`seqops graph`, as Mermaid or Graphviz dot). An edge runs from what is
//! made first to what needs it.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::engine::{Action, Plan};
use crate::manifest::{Manifests, ResourceKey};

/// A plan with more changes than this gets no chart: it would not be read.
pub const MERMAID_CAP: usize = 60;

/// One node: its key and, for a change, the action.
struct Node {
    key: ResourceKey,
    action: Option<Action>,
}

/// The chart of a plan's changes and what they depend on, when the plan
/// has more than one change and no more than [`MERMAID_CAP`].
pub fn plan_mermaid(plan: &Plan) -> Option<String> {
    if plan.changes.len() < 2 || plan.changes.len() > MERMAID_CAP {
        return None;
    }
    let mut nodes: Vec<Node> =
        plan.changes.iter().map(|c| Node { key: c.key.clone(), action: Some(c.action) }).collect();
    let mut edges = Vec::new();
    for change in &plan.changes {
        for dependency in &change.depends_on {
            if !nodes.iter().any(|n| &n.key == dependency) {
                nodes.push(Node { key: dependency.clone(), action: None });
            }
            edges.push((dependency.clone(), change.key.clone()));
        }
    }
    Some(mermaid(&nodes, &edges))
}

/// Every manifest and what it depends on.
pub fn manifests_graph(manifests: &Manifests, format: Format) -> String {
    let nodes: Vec<Node> = manifests.managed().map(|r| Node { key: r.key.clone(), action: None }).collect();
    let edges: Vec<(ResourceKey, ResourceKey)> =
        manifests.managed().flat_map(|r| r.depends_on.iter().map(move |d| (d.clone(), r.key.clone()))).collect();
    match format {
        Format::Mermaid => mermaid(&nodes, &edges),
        Format::Dot => dot(&nodes, &edges),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Mermaid,
    Dot,
}

/// Colours by action; each node's label carries the action's symbol too,
/// for whoever cannot tell the colours apart.
const CLASSES: [(Action, &str, &str); 6] = [
    (Action::Create, "create", "fill:#d3f9d8,stroke:#2b8a3e"),
    (Action::Update, "update", "fill:#fff3bf,stroke:#e67700"),
    (Action::Replace, "replace", "fill:#ffd8a8,stroke:#d9480f"),
    (Action::Delete, "delete", "fill:#ffc9c9,stroke:#c92a2a"),
    (Action::Adopt, "adopt", "fill:#d0ebff,stroke:#1864ab"),
    (Action::Forget, "forget", "fill:#e9ecef,stroke:#495057"),
];

fn mermaid(nodes: &[Node], edges: &[(ResourceKey, ResourceKey)]) -> String {
    let ids: BTreeMap<&ResourceKey, String> =
        nodes.iter().enumerate().map(|(i, n)| (&n.key, format!("n{i}"))).collect();
    let mut out = String::from("flowchart LR\n");
    for node in nodes {
        let label = match node.action {
            Some(action) => format!("{} {}", action.symbol(), node.key),
            None => node.key.to_string(),
        };
        let _ = writeln!(out, "  {}[\"{}\"]", ids[&node.key], label.replace('"', "#quot;"));
    }
    for (from, to) in edges {
        if let (Some(from), Some(to)) = (ids.get(from), ids.get(to)) {
            let _ = writeln!(out, "  {from} --> {to}");
        }
    }
    for (action, class, style) in CLASSES {
        let members: Vec<&str> =
            nodes.iter().filter(|n| n.action == Some(action)).map(|n| ids[&n.key].as_str()).collect();
        if !members.is_empty() {
            let _ = writeln!(out, "  classDef {class} {style}");
            let _ = writeln!(out, "  class {} {class}", members.join(","));
        }
    }
    out
}

fn dot(nodes: &[Node], edges: &[(ResourceKey, ResourceKey)]) -> String {
    let quoted = |key: &ResourceKey| format!("\"{}\"", key.to_string().replace('"', "\\\""));
    let mut out = String::from("digraph seqops {\n  rankdir=LR;\n  node [shape=box];\n");
    for node in nodes {
        let _ = writeln!(out, "  {};", quoted(&node.key));
    }
    for (from, to) in edges {
        let _ = writeln!(out, "  {} -> {};", quoted(from), quoted(to));
    }
    out.push_str("}\n");
    out
}
