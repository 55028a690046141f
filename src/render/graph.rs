//! Dependency graphs: of what a plan changes (a Mermaid chart in the
//! pull-request comment, which GitHub draws), and of every manifest
//! (`seqops graph`, as Mermaid or Graphviz dot). An edge runs from what is
//! made first to what needs it.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::engine::{Change, Plan, Verb};
use crate::manifest::{Manifests, ResourceKey};

/// A plan with more changes than this gets no chart: it would not be read.
pub const MERMAID_CAP: usize = 60;

/// One node: its key and, for a change, what it does.
struct Node {
    key: ResourceKey,
    verbs: Vec<Verb>,
}

impl Node {
    fn of(change: &Change) -> Node {
        Node { key: change.key.clone(), verbs: change.verbs() }
    }

    /// The verb its colour is: what cannot be undone first.
    fn coloured_by(&self) -> Option<Verb> {
        self.verbs.iter().copied().find(|v| v.cannot_be_undone()).or_else(|| self.verbs.first().copied())
    }
}

/// The chart of a plan's changes and what they depend on, when it has an
/// edge to show and no more than [`MERMAID_CAP`] changes.
pub fn plan_mermaid(plan: &Plan) -> Option<String> {
    if plan.changes.len() < 2 || plan.changes.len() > MERMAID_CAP {
        return None;
    }
    let mut nodes: Vec<Node> = plan.changes.iter().map(Node::of).collect();
    let mut edges = Vec::new();
    for change in &plan.changes {
        for dependency in &change.depends_on {
            if !nodes.iter().any(|n| &n.key == dependency) {
                nodes.push(Node { key: dependency.clone(), verbs: Vec::new() });
            }
            edges.push((dependency.clone(), change.key.clone()));
        }
    }
    (!edges.is_empty()).then(|| mermaid(&nodes, &edges))
}

/// Every manifest and what it depends on.
pub fn manifests_graph(manifests: &Manifests, format: Format) -> String {
    let nodes: Vec<Node> = manifests.managed().map(|r| Node { key: r.key.clone(), verbs: Vec::new() }).collect();
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
const CLASSES: [(Verb, &str); 10] = [
    (Verb::Create, "fill:#d3f9d8,stroke:#2b8a3e"),
    (Verb::Update, "fill:#fff3bf,stroke:#e67700"),
    (Verb::Adopt, "fill:#d0ebff,stroke:#1864ab"),
    (Verb::Moved, "fill:#e3fafc,stroke:#0b7285"),
    (Verb::Forget, "fill:#e9ecef,stroke:#495057"),
    (Verb::Pause, "fill:#e5dbff,stroke:#5f3dc4"),
    (Verb::Resume, "fill:#e5dbff,stroke:#5f3dc4"),
    (Verb::Replace, "fill:#ffd8a8,stroke:#d9480f"),
    (Verb::Delete, "fill:#ffc9c9,stroke:#c92a2a"),
    (Verb::Stop, "fill:#ffc9c9,stroke:#c92a2a"),
];

fn mermaid(nodes: &[Node], edges: &[(ResourceKey, ResourceKey)]) -> String {
    let ids: BTreeMap<&ResourceKey, String> =
        nodes.iter().enumerate().map(|(i, n)| (&n.key, format!("n{i}"))).collect();
    let mut out = String::from("flowchart LR\n");
    for node in nodes {
        let symbols: Vec<&str> = node.verbs.iter().map(|v| v.symbol()).collect();
        let label = match symbols.is_empty() {
            false => format!("{} {}", symbols.join(" "), node.key),
            true => node.key.to_string(),
        };
        let _ = writeln!(out, "  {}[\"{}\"]", ids[&node.key], label.replace('"', "#quot;"));
    }
    for (from, to) in edges {
        if let (Some(from), Some(to)) = (ids.get(from), ids.get(to)) {
            let _ = writeln!(out, "  {from} --> {to}");
        }
    }
    for (verb, style) in CLASSES {
        let class = verb.word();
        let members: Vec<&str> =
            nodes.iter().filter(|n| n.coloured_by() == Some(verb)).map(|n| ids[&n.key].as_str()).collect();
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
