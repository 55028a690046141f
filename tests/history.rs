//! Who changed what, and why: each change an apply makes is recorded in
//! state with the manifests' commit and author, the CI run and
//! `--message`, and `seqops state history KEY` lists them.

mod common;

use common::{assert_contains, Run, Workspace};

fn git(work: &Workspace, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com"])
        .args(args)
        .current_dir(work.path())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn in_ci(work: &Workspace, args: &[&str]) -> Run {
    work.command(args)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "team/outreach")
        .env("GITHUB_RUN_ID", "4242")
        .output()
        .expect("runs")
        .into()
}

#[test]
fn every_change_is_recorded_with_its_commit_author_ci_run_and_message() {
    let (server, work) = common::server_and_workspace(&[]);
    work.provider(&server);
    work.write("a.yaml", &common::sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    work.write("b.yaml", &common::sequence("b", "name: B\ntrigger: WHATSAPP_MESSAGE"));
    git(&work, &["init", "-q"]);
    git(&work, &["add", "manifests"]);
    git(&work, &["commit", "-q", "-m", "first sequences"]);

    let created = in_ci(&work, &["apply", "-f", "manifests", "--auto-approve", "-m", "launch the welcome flow"]);
    assert_eq!(created.code, 0, "{}", created.all());
    work.write("a.yaml", &common::sequence("a", "name: A renamed\ntrigger: WHATSAPP_MESSAGE"));
    let planned = work.run(&["plan", "-f", "manifests", "--out", "plan.json", "--format", "json", "-m", "rename A"]);
    let document: serde_json::Value = serde_json::from_str(&planned.stdout).expect("a JSON plan");
    assert_eq!(document["provenance"]["author"], "Ada Lovelace <ada@example.com>");
    assert_eq!(document["provenance"]["message"], "rename A");
    let renamed = in_ci(&work, &["apply", "plan.json", "-f", "manifests"]);
    assert_eq!(renamed.code, 0, "{}", renamed.all());
    work.remove("a.yaml");
    let deleted = work.run(&["apply", "-f", "manifests", "--auto-approve", "-m", "retire A"]);
    assert_eq!(deleted.code, 0, "{}", deleted.all());

    let state = work.state();
    let history: Vec<&serde_json::Value> =
        state["history"].as_array().expect("a history").iter().filter(|r| r["key"] == "Sequence/a").collect();
    assert_eq!(history.len(), 3, "{history:#?}");
    assert_eq!(history[0]["action"], "create");
    assert_eq!(history[0]["by"]["ciRun"], "https://github.com/team/outreach/actions/runs/4242");
    assert_eq!(history[0]["by"]["commit"].as_str().map(str::len), Some(40));
    assert_eq!(history[1]["fields"], serde_json::json!(["name"]));
    assert_eq!(history[1]["planId"], document["plan_id"]);
    assert_eq!(history[2]["action"], "delete");

    let listed = work.run(&["state", "history", "Sequence/a"]);
    assert_eq!(listed.code, 0, "{}", listed.all());
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", listed.stdout);
    assert_contains(lines[0], "create");
    assert_contains(lines[0], "by Ada Lovelace <ada@example.com> at ");
    assert_contains(lines[0], "(https://github.com/team/outreach/actions/runs/4242): launch the welcome flow");
    assert_contains(lines[1], "update");
    assert_contains(lines[1], "(name)");
    assert_contains(lines[1], ": rename A");
    assert_contains(lines[2], "delete");
    assert_contains(lines[2], ": retire A");
}
