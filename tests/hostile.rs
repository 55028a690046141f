//! Hostile manifests, through the built binary: each is refused at its
//! file and line, naming the limit it passed and the flag that raises it,
//! before any request (the sandbox served in its own process counts
//! none). How long each refusal takes is measured by `cargo bench --bench
//! load`, not here.

mod common;

use common::{assert_contains, Server, Workspace};

/// A manifest `name` refused by `plan` with `needle` in its error; no
/// request reached the vendor.
fn refused(server: &Server, work: &Workspace, needle: &str) -> common::Run {
    let run = work.plan();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_contains(&run.stderr, needle);
    let (_, counts) = server.call("GET", &format!("{}/_sandbox/requests", server.origin), None, "");
    let sent: u64 = counts.as_object().map(|c| c.values().filter_map(|v| v.as_u64()).sum()).unwrap_or_default();
    assert_eq!(sent, 0, "nothing was sent: {counts}");
    run
}

fn sequence(name: &str, spec: &str) -> String {
    common::sequence(name, spec)
}

#[test]
fn deep_nesting_in_brackets_or_in_entries_is_refused_at_its_line() {
    let (server, work) = common::server_and_workspace(&[]);
    let deep = format!("name: A\ntrigger: WHATSAPP_MESSAGE\nflow: {}{}", "[".repeat(200_000), "]".repeat(200_000));
    work.write("deep.yaml", &sequence("a", &deep));
    let run =
        refused(&server, &work, "manifests/deep.yaml:8:1: over the limit of 64 levels of nesting in one document");
    assert_contains(&run.stderr, "--max-depth");
    work.write("deep.yaml", &format!("{}{}x\n", sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"), "- ".repeat(100)));
    refused(&server, &work, "levels of nesting in one document");
}

#[test]
fn a_long_list_a_long_string_and_many_keys_are_refused_at_their_field() {
    let (server, work) = common::server_and_workspace(&[]);
    let steps: String = (0..1_001).map(|_| "- delay: 0m\n  content: hi\n").collect();
    let indented: String = steps.lines().map(|l| format!("  {l}\n")).collect();
    work.write("long.yaml", &sequence("a", &format!("name: A\ntrigger: WHATSAPP_MESSAGE\nflow:\n{indented}")));
    refused(&server, &work, "manifests/long.yaml:8:3: spec.flow: 1001 items, more than the 1000 allowed");
    work.write("long.yaml", &sequence("a", &format!("name: {}\ntrigger: WHATSAPP_MESSAGE", "x".repeat(70_000))));
    refused(&server, &work, "spec.name: 70000 characters, more than the 65536 allowed");
    let keys: String = (0..1_001).map(|n| format!("    k{n}: v\n")).collect();
    work.write(
        "gary.yaml",
        &format!("apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: gary\nspec:\n  type: gary\n  credentials: {{env: ORSAY_API_KEY}}\n---\napiVersion: gary.seqops.dev/v1alpha1\nkind: Enrollment\nmetadata:\n  name: lead\nspec:\n  sequence: {{id: seq_1}}\n  contactId: con_1\n  metadata:\n{keys}"),
    );
    work.write("long.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    refused(&server, &work, "spec.metadata: 1001 keys, more than the 1000 allowed");
}

#[test]
fn many_documents_and_a_file_over_the_size_limit_are_refused_and_the_flags_raise_the_limits() {
    let (server, work) = common::server_and_workspace(&[]);
    let many: String = (0..10_001).map(|n| format!("---\nnote{n}: not a manifest\n")).collect();
    work.write("many.yaml", &many);
    refused(&server, &work, "over the limit of 10000 documents in one file");
    work.remove("many.yaml");
    let padding = format!("# {}\n", "x".repeat(80)).repeat(40_000);
    work.write("big.yaml", &format!("{padding}{}", sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE")));
    let run = refused(&server, &work, "manifests/big.yaml:1:1: over the limit of 3145728 bytes in one file");
    assert_contains(&run.stderr, "--max-file-bytes");
    let raised = work.run(&["validate", "-f", "manifests", "--max-file-bytes", "4000000"]);
    assert_eq!(raised.code, 0, "{}", raised.all());
    let run_limit =
        work.run(&["validate", "-f", "manifests", "--max-file-bytes", "4000000", "--max-run-bytes", "1000000"]);
    assert_eq!(run_limit.code, 1, "{}", run_limit.all());
    assert_contains(&run_limit.stderr, "bytes in all the files of a run");
}

#[test]
fn an_alias_bomb_is_refused_and_nothing_is_sent() {
    let (server, work) = common::server_and_workspace(&[]);
    let mut bomb = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (name, previous) in
        ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        bomb.push_str(&format!("{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"));
    }
    work.write("bomb.yaml", &format!("apiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: bomb\nspec:\n  name: A\n  trigger: WHATSAPP_MESSAGE\n{}", bomb.lines().map(|l| format!("  {l}\n")).collect::<String>()));
    refused(&server, &work, "manifests/bomb.yaml");
}

#[test]
fn a_document_of_fifty_thousand_unknown_fields_reports_each_and_lists_fifty() {
    let (server, work) = common::server_and_workspace(&[]);
    let keys: String = (0..50_000).map(|n| format!("k{n}: v\n")).collect();
    work.write("many.yaml", &sequence("a", &format!("name: A\ntrigger: WHATSAPP_MESSAGE\n{keys}")));
    let run = refused(&server, &work, "50000 errors in the manifests; nothing was sent to any API");
    assert_contains(&run.stderr, "manifests/many.yaml:8:3: spec.k0: unknown field `k0`");
    assert_contains(&run.stderr, "… and 49950 more");
    assert_eq!(run.stderr.lines().count(), 52, "fifty said, the rest counted, and the total");
}
