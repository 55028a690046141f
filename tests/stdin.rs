//! Manifests from standard input (`kustomize build … | seqops plan -f -`):
//! a stream of documents, or a `kind: List`, named `<stdin>` in errors, its
//! relative paths read from `--base-dir`.

mod common;

use common::{assert_contains, Server};

fn provider(server: &Server) -> String {
    format!(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  baseUrl: {}\n  credentials:\n    env: ORSAY_API_KEY\n",
        server.orsay_url()
    )
}

#[test]
fn a_stream_of_documents_on_standard_input_is_planned_and_applied() {
    let (server, work) = common::server_and_workspace(&[]);
    let stream = format!(
        "{}---\n{}---\n{}",
        provider(&server),
        common::sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"),
        common::sequence("b", "name: B\ntrigger: CONTACT_CREATED")
    );
    let planned = work.piped(&["plan", "-f", "-", "--detailed-exitcode"], &stream);
    assert_eq!(planned.code, 2, "{}", planned.all());
    assert_contains(&planned.stdout, "Plan: 2 to create");
    let applied = work.piped(&["apply", "-f", "-", "--auto-approve"], &stream);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(server.sequences_named("A").len(), 1);
    assert_eq!(work.piped(&["plan", "-f", "-", "--detailed-exitcode"], &stream).code, 0);
}

#[test]
fn an_error_on_standard_input_names_stdin_line_and_column_and_sends_nothing() {
    let (server, work) = common::server_and_workspace(&[]);
    let stream = format!("{}---\n{}", provider(&server), common::sequence("a", "name: A\ntrigger: NO_SUCH_TRIGGER"));
    let before = server.orsay_requests();
    let refused = work.piped(&["plan", "-f", "-"], &stream);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "<stdin>:17:12: spec.trigger");
    assert_eq!(server.orsay_requests(), before);
    let empty = work.piped(&["plan", "-f", "-"], "");
    assert_eq!(empty.code, 1, "{}", empty.all());
    assert_contains(&empty.stderr, "no manifest");
}

#[test]
fn a_kubectl_list_is_loaded_item_by_item_and_its_errors_point_into_it() {
    let (server, work) = common::server_and_workspace(&[]);
    let indent = |text: String| -> String {
        let mut lines = text.lines();
        let first = format!("- {}\n", lines.next().unwrap_or_default());
        first + &lines.map(|l| format!("  {l}\n")).collect::<String>()
    };
    let list = |trigger: &str| {
        format!(
            "apiVersion: v1\nitems:\n{}{}kind: List\nmetadata:\n  resourceVersion: \"\"\n",
            indent(provider(&server)),
            indent(common::sequence("a", &format!("name: A\ntrigger: {trigger}")))
        )
    };
    let planned = work.piped(&["plan", "-f", "-", "--detailed-exitcode"], &list("WHATSAPP_MESSAGE"));
    assert_eq!(planned.code, 2, "{}", planned.all());
    assert_contains(&planned.stdout, "+ Sequence/a");
    let refused = work.piped(&["plan", "-f", "-"], &list("NO_SUCH_TRIGGER"));
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "<stdin>:18:14: spec.trigger");
}

#[test]
fn relative_paths_on_standard_input_start_from_the_base_dir_and_stay_inside_it() {
    let (server, work) = common::server_and_workspace(&[]);
    std::fs::create_dir_all(work.path().join("base/secrets")).expect("a folder");
    std::fs::write(work.path().join("base/secrets/google.txt"), "AIza-from-base\n").expect("written");
    let stream = format!(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orqis\nspec:\n  type: orqis\n  baseUrl: {}/orqis\n  credentials:\n    env: ORQIS_TOKEN\n---\napiVersion: orqis.seqops.dev/v1alpha1\nkind: LlmKey\nmetadata:\n  name: google\nspec:\n  provider: google\n  value: {{fromFile: secrets/google.txt}}\n",
        server.origin
    );
    let from_cwd = work.piped(&["plan", "-f", "-"], &stream);
    assert_eq!(from_cwd.code, 1, "the file is not under the current folder:\n{}", from_cwd.all());
    let from_base = work.piped(&["plan", "-f", "-", "--base-dir", "base"], &stream);
    assert_eq!(from_base.code, 0, "{}", from_base.all());
    assert_contains(&from_base.stdout, "+ LlmKey/google");
    let escaping = stream.replace("secrets/google.txt", "../../outside.txt");
    let refused = work.piped(&["plan", "-f", "-", "--base-dir", "base"], &escaping);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "outside the project");
}
