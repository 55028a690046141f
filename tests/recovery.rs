//! Nothing is lost or made twice: interrupted applies, lost answers, the
//! state lock, adoption and import.

mod common;

use std::time::{Duration, Instant};

use common::{assert_contains, sequence, server_and_workspace, Fault, Server, Workspace, KEY};
use serde_json::json;

fn many_sequences(work: &Workspace, count: usize) {
    for index in 0..count {
        work.write(
            &format!("s{index}.yaml"),
            &sequence(&format!("s{index}"), &format!("name: Batch {index}\ntrigger: WHATSAPP_MESSAGE")),
        );
    }
}

#[test]
fn an_apply_killed_mid_batch_loses_nothing_and_the_next_apply_makes_no_duplicates() {
    // Every answer comes 400ms after its work is done, so the kill lands
    // while creates have been made but not yet answered.
    let (server, work) = server_and_workspace(&["--latency", "400ms"]);
    many_sequences(&work, 8);
    let mut child = work
        .command(&["apply", "-f", "manifests", "--auto-approve", "--parallelism", "2"])
        .spawn()
        .expect("apply starts");
    // One list for the plan, then creates: kill once a few creates are in.
    let started = Instant::now();
    while server.orsay_requests() < 4 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().expect("SIGKILL is sent");
    let _ = child.wait();
    let (_, before) = server.orsay("GET", "/sequences", None);
    let made = before.as_array().map_or(0, Vec::len);
    assert!(made > 0 && made < 8, "the kill should land mid-batch, {made} of 8 were made");

    let again = work.run(&["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(again.code, 0, "{}", again.all());
    for index in 0..8 {
        assert_eq!(server.sequences_named(&format!("Batch {index}")).len(), 1, "Batch {index} must exist exactly once");
    }
    let state = work.state();
    let resources = state["resources"].as_object().expect("resources");
    assert_eq!(resources.len(), 8);
    let ids: std::collections::BTreeSet<&str> =
        resources.values().map(|e| e["id"].as_str().expect("every entry has an id")).collect();
    assert_eq!(ids.len(), 8);
    assert!(resources.values().all(|e| e.get("pendingSince").is_none()));
    assert_eq!(work.plan().code, 0);
}

#[test]
fn a_pending_create_whose_object_exists_is_adopted_not_created_twice() {
    let (server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("a", "name: Lost answer\ntrigger: WHATSAPP_MESSAGE"));
    work.apply();
    // Make state look as if the create's answer never arrived.
    let path = work.path().join(".seqops/state.json");
    let mut state = work.state();
    let entry = &mut state["resources"]["Sequence/a"];
    entry.as_object_mut().expect("an entry").remove("id");
    entry["pendingSince"] = json!("2026-01-01T00:00:00Z");
    std::fs::write(&path, serde_json::to_vec(&state).expect("json")).expect("state written");

    let plan = work.plan();
    assert_contains(&plan.stdout, "<= Sequence/a");
    assert_contains(&plan.stdout, "adopted, not created twice");
    work.apply();
    assert_eq!(server.sequences_named("Lost answer").len(), 1);
    assert_eq!(work.plan().code, 0);
}

#[test]
fn a_held_state_lock_makes_a_second_run_fail_naming_the_holder() {
    let (server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    let _held = seqops::engine::state::StateStore::lock(
        &work.path().join(".seqops/state.json"),
        "seqops apply (test)",
        Duration::ZERO,
    )
    .expect("the lock is free");
    let run = work.plan();
    assert_eq!(run.code, 1);
    assert_contains(&run.stderr, "is locked by `seqops apply (test)`");
    assert_contains(&run.stderr, format!("pid {}", std::process::id()));
    assert_eq!(server.orsay_requests(), 0);
}

#[test]
fn adopt_takes_over_the_one_unmanaged_sequence_with_the_same_name() {
    let server = Server::start(&[]);
    let (status, _) =
        server.orsay("POST", "/sequences", Some(json!({"name": "Existing", "trigger": "WHATSAPP_MESSAGE"})));
    assert_eq!(status, 201);
    let work = Workspace::new();
    work.provider(&server);
    let manifest = sequence("existing", "name: Existing\ntrigger: WHATSAPP_MESSAGE\nactive: true");
    work.write("a.yaml", &manifest);
    let warned = work.plan();
    assert!(warned.stdout.contains("1 unmanaged remote object already named \"Existing\""), "{}", warned.stdout);
    work.write(
        "a.yaml",
        &manifest.replace("  name: existing\n", "  name: existing\n  annotations:\n    seqops.dev/adopt: \"true\"\n"),
    );
    let plan = work.plan();
    assert!(plan.stdout.contains("<= Sequence/existing") && plan.stdout.contains("1 to adopt"), "{}", plan.stdout);
    assert_contains(&plan.stdout, "~ active: false -> true");
    work.apply();
    let found = server.sequences_named("Existing");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["active"], true);
    assert_eq!(work.plan().code, 0);
}

#[test]
fn import_binds_a_remote_sequence_and_state_commands_show_and_forget_it() {
    let server = Server::start(&[]);
    let (_, created) = server.orsay(
        "POST",
        "/sequences",
        Some(json!({"name": "Imported", "trigger": "CONTACT_CREATED", "active": true})),
    );
    let id = created["id"].as_str().expect("an id").to_string();
    let work = Workspace::new();
    work.provider(&server);
    work.write("a.yaml", &sequence("imported", "name: Imported\ntrigger: CONTACT_CREATED\nactive: true"));
    let import = work.run(&["import", "Sequence/imported", &id, "-f", "manifests"]);
    assert_eq!(import.code, 0, "{}", import.all());
    assert_eq!(work.plan().code, 0, "an imported sequence that matches its manifest needs no change");
    let list = work.run(&["state", "list"]);
    assert_contains(&list.stdout, format!("Sequence/imported\tmain\t{id}\t\"Imported\""));
    let show = work.run(&["state", "show", "Sequence/imported"]);
    assert_contains(&show.stdout, format!("\"id\": \"{id}\""));
    let twice = work.run(&["import", "Sequence/imported", &id, "-f", "manifests"]);
    assert_eq!(twice.code, 1);
    let rm = work.run(&["state", "rm", "Sequence/imported"]);
    assert_eq!(rm.code, 0, "{}", rm.all());
    assert!(work.run(&["state", "list"]).stdout.is_empty());
    assert_eq!(server.sequences_named("Imported").len(), 1, "state rm leaves the remote object alone");
}

#[test]
fn the_budget_spent_is_remembered_across_runs() {
    let (_server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    let apply = work.apply();
    // A list and a create.
    assert!(apply.stdout.contains("orsay/main made 2 requests, 198 of 200 left"), "{}", apply.stdout);
    let plan = work.plan();
    assert_contains(&plan.stdout, "orsay/main made 1 request, 197 of 200 left");
}

#[test]
fn the_client_waits_out_a_429_with_retry_after() {
    use seqops::providers::account::Secret;
    use seqops::providers::{self, Account, AccountSettings};
    use seqops::sandbox::{EmulatorConfig, Sandbox};
    use std::sync::{Arc, Mutex};

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let config =
            EmulatorConfig { requests_per_hour: 2, window: Duration::from_secs(2), ..EmulatorConfig::default() };
        let sandbox = Sandbox::new(seqops::providers::emulators(config), None).expect("a sandbox");
        let (addr, _task) = sandbox.serve("127.0.0.1:0").await.expect("it listens");
        let settings = AccountSettings {
            name: "main".into(),
            provider_type: seqops::providers::orsay::TYPE,
            base_url: providers::sandbox_base_url(seqops::providers::orsay::TYPE, &format!("http://{addr}")),
            credential: Secret::new(KEY),
            credential_source: "the test".into(),
            // No pacing of our own: the API's 429 is what is tested.
            rate: None,
            headers: Default::default(),
            budget_file: None,
        };
        let heard = Arc::new(Mutex::new(Vec::<String>::new()));
        let notes = heard.clone();
        let account = Account::connect(
            settings,
            providers::http::DETAIL_DIALECT,
            Arc::new(move |m| notes.lock().expect("notes").push(m)),
        );
        // Straight through the HTTP client: a Sequence client would serve
        // the second and third lists from the one it read.
        for _ in 0..3 {
            account
                .http
                .get::<serde_json::Value>("/sequences")
                .await
                .expect("every list succeeds, the third after waiting");
        }
        let heard = heard.lock().expect("notes").clone();
        assert!(
            heard.iter().any(|m| m.contains("rate limited by the API (429)") && m.contains("Retry-After")),
            "{heard:?}"
        );
        assert_eq!(sandbox.request_counts()["orsay"], 4, "three lists and one refused attempt");
    });
}

/// A gateway to the sandbox's Orsay that passes the first create, makes
/// the second but loses its answer (502 after the upstream made it), and
/// refuses the third with a 502 before it reaches the upstream: two
/// unanswered creates, one object.
fn one_of_two_creates_made_both_unanswered(upstream: String) -> common::InProcess {
    let posts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    common::faulty_gateway(upstream, move |method, _| match method {
        "POST" => match posts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Fault::Pass,
            1 => Fault::LoseAnswer(502),
            _ => Fault::Refuse(502),
        },
        _ => Fault::Pass,
    })
}

#[test]
fn two_unanswered_creates_in_one_apply_never_bind_the_same_remote_object() {
    let server = Server::start(&[]);
    let gateway = one_of_two_creates_made_both_unanswered(server.orsay_url());
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        &format!("apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  baseUrl: {}\n  credentials:\n    env: ORSAY_API_KEY\n  rateLimit:\n    requests: 0\n", gateway.origin),
    );
    // The account's first write goes alone; the twins then go at once.
    work.write("first.yaml", &sequence("first", "name: First\ntrigger: WHATSAPP_MESSAGE"));
    for name in ["twin-a", "twin-b"] {
        work.write(&format!("{name}.yaml"), &sequence(name, "name: Twin\ntrigger: WHATSAPP_MESSAGE"));
    }

    let apply = work.run(&["apply", "-f", "manifests", "--auto-approve", "--parallelism", "2"]);

    assert_eq!(apply.code, 1, "{}", apply.all());
    let twins = server.sequences_named("Twin");
    assert_eq!(twins.len(), 1, "one create was made");
    let state = work.state();
    let bound: Vec<&str> = ["Sequence/twin-a", "Sequence/twin-b"]
        .iter()
        .filter_map(|key| state["resources"][*key]["id"].as_str())
        .collect();
    assert_eq!(bound, vec![twins[0]["id"].as_str().unwrap_or_default()], "exactly one binds it: {state}");
}

/// A gateway to the sandbox's Orsay whose reads of one sequence answer 404
/// while its list still has it (a flaky read, a proxy that drops a path).
fn reads_answer_404(upstream: String) -> common::InProcess {
    common::faulty_gateway(upstream, |method, path| match (method, path.starts_with("/sequences/")) {
        ("GET", true) => Fault::Refuse(404),
        _ => Fault::Pass,
    })
}

#[test]
fn a_404_for_a_managed_object_the_list_still_has_plans_no_duplicate() {
    let (server, work) = server_and_workspace(&[]);
    work.write("welcome.yaml", &sequence("welcome", "name: Welcome DM\ntrigger: WHATSAPP_MESSAGE"));
    work.apply();
    let gateway = reads_answer_404(server.orsay_url());
    let provider = std::fs::read_to_string(work.manifests().join("provider.yaml")).expect("the provider");
    work.write("provider.yaml", &provider.replace(&server.orsay_url(), &gateway.origin));

    let plan = work.run(&["plan", "-f", "manifests", "--refresh", "full"]);

    assert_eq!(plan.code, 1, "{}", plan.all());
    assert_contains(&plan.stderr, "answered that it is gone, but the list of the account's objects still has it");
    let apply = work.run(&["apply", "-f", "manifests", "--auto-approve", "--refresh", "full"]);
    assert_eq!(apply.code, 1, "{}", apply.all());
    assert_eq!(server.sequences_named("Welcome DM").len(), 1, "no duplicate");
}
