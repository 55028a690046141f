//! Pictures of the dependency graph: a Mermaid chart of what a plan
//! changes in its Markdown, and `seqops graph` of every manifest.

mod common;

use common::{assert_contains, Workspace};

fn orchagent_example(work: &Workspace) {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/orchagent");
    for file in ["outreach.yaml", "provider.yaml", "secrets/anthropic-api-key.txt"] {
        let target = work.manifests().join(file);
        std::fs::create_dir_all(target.parent().expect("a folder")).expect("made");
        std::fs::copy(from.join(file), target).expect("copied");
    }
}

#[test]
fn the_markdown_plan_charts_what_changes_with_each_action_as_a_symbol_and_a_colour() {
    let work = Workspace::new();
    orchagent_example(&work);
    let planned = work.run(&["plan", "-f", "manifests", "--sandbox", "--format", "markdown"]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    let chart = planned.stdout.split("```mermaid\n").nth(1).and_then(|c| c.split("```").next()).expect("a chart");
    assert!(chart.starts_with("flowchart LR\n"), "{chart}");
    assert_contains(chart, "[\"+ Workspace/outreach\"]");
    assert_contains(chart, "[\"+ Schedule/weekday-followups\"]");
    assert_contains(chart, "classDef create fill:");
    let id_of = |label: &str| {
        chart
            .lines()
            .find(|l| l.contains(&format!("[\"+ {label}\"]")))
            .and_then(|l| l.trim().split('[').next())
            .map(String::from)
    };
    let (workspace, secret) =
        (id_of("Workspace/outreach").expect("a node"), id_of("WorkspaceSecret/anthropic-key").expect("a node"));
    assert_contains(chart, format!("{workspace} --> {secret}"));

    let applied = work.run(&["apply", "-f", "manifests", "--sandbox", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let text = std::fs::read_to_string(work.manifests().join("outreach.yaml")).expect("the manifest");
    std::fs::write(
        work.manifests().join("outreach.yaml"),
        text.replace("maxRestartFailures: 5", "maxRestartFailures: 6"),
    )
    .expect("edited");
    let one_change = work.run(&["plan", "-f", "manifests", "--sandbox", "--format", "markdown"]);
    assert_contains(&one_change.stdout, "~ Service/followup-service");
    assert!(!one_change.stdout.contains("```mermaid"), "one change needs no chart:\n{}", one_change.stdout);
}

#[test]
fn seqops_graph_prints_every_manifest_and_its_dependencies_as_mermaid_or_dot() {
    let work = Workspace::new();
    orchagent_example(&work);
    let mermaid = work.run(&["graph", "-f", "manifests"]);
    assert_eq!(mermaid.code, 0, "{}", mermaid.all());
    assert!(mermaid.stdout.starts_with("flowchart LR\n"), "{}", mermaid.stdout);
    // Seven edges of names, and the Service's secretNames to its secret.
    assert_eq!(mermaid.stdout.matches(" --> ").count(), 8, "{}", mermaid.stdout);
    let dot = work.run(&["graph", "-f", "manifests", "--format", "dot"]);
    assert_eq!(dot.code, 0, "{}", dot.all());
    assert_contains(&dot.stdout, "\"Workspace/outreach\" -> \"Service/followup-service\";");
    assert_contains(&dot.stdout, "\"orchagent.Agent/followup-writer\" -> \"Schedule/crm-webhook\";");
}
