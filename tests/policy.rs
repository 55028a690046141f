//! What the operator allows is a value (`operator::Policy`), not process
//! state: two policies live side by side in one process, and each reader
//! of manifests' sources obeys its own.

use std::path::PathBuf;

use seqops::external::sources::{ClusterValues, SourceReader, Sources};
use seqops::operator::Policy;
use serde_json::json;

/// A folder under target/ holding `token`, with the secret in it.
fn folder_with_a_token(secret: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/target")).expect("a folder");
    std::fs::write(dir.path().join("token"), secret).expect("written");
    dir
}

fn read(policy: &Policy, base_dir: PathBuf, spec: serde_json::Value) -> Result<String, String> {
    let cluster = ClusterValues::default();
    let reader = SourceReader { base_dir, sandbox: false, cluster: &cluster, policy };
    let values = reader.read_all(&Sources::of(&spec)).map_err(|(_, message)| message)?;
    Ok(values.get("token").map(|v| v.expose().to_string()).unwrap_or_default())
}

#[test]
fn two_policies_in_one_process_each_confine_files_to_their_own_folders() {
    let (team_a, team_b) = (folder_with_a_token("a-secret"), folder_with_a_token("b-secret"));
    let only_a = Policy::default().confined_to([team_a.path().to_path_buf()]);
    let only_b = Policy::default().confined_to([team_b.path().to_path_buf()]);
    let spec = json!({"token": {"fromFile": "token"}});
    assert_eq!(read(&only_a, team_a.path().to_path_buf(), spec.clone()), Ok("a-secret".into()));
    assert_eq!(read(&only_b, team_b.path().to_path_buf(), spec.clone()), Ok("b-secret".into()));
    let refused = read(&only_a, team_b.path().to_path_buf(), spec.clone()).expect_err("outside A's folders");
    assert!(refused.contains("outside the project"), "{refused}");
    let refused = read(&only_b, team_a.path().to_path_buf(), spec).expect_err("outside B's folders");
    assert!(refused.contains("--allow-path"), "{refused}");
}

#[test]
fn two_policies_in_one_process_each_allow_their_own_variables() {
    std::env::set_var("SEQOPS_POLICY_TEST_TOKEN", "from-env");
    let strict = Policy::default().allowing_env(vec!["CRM_*".into()]);
    let open = Policy::default().allowing_env(vec!["SEQOPS_*".into()]);
    let spec = json!({"token": {"fromEnv": "SEQOPS_POLICY_TEST_TOKEN"}});
    assert_eq!(read(&open, PathBuf::from("."), spec.clone()), Ok("from-env".into()));
    let refused = read(&strict, PathBuf::from("."), spec).expect_err("not among CRM_*");
    assert!(refused.contains("--allow-env SEQOPS_POLICY_TEST_TOKEN"), "{refused}");
}

#[test]
fn a_protected_file_is_refused_by_the_policy_that_protects_it_only() {
    let folder = folder_with_a_token("key");
    let key = folder.path().join("token");
    let roots = [folder.path().to_path_buf()];
    let guarded = Policy::default().confined_to(roots.clone()).protecting([key]);
    let unguarded = Policy::default().confined_to(roots);
    let spec = json!({"token": {"fromFile": "token"}});
    let refused = read(&guarded, folder.path().to_path_buf(), spec.clone()).expect_err("protected");
    assert!(refused.contains("digest key"), "{refused}");
    assert_eq!(read(&unguarded, folder.path().to_path_buf(), spec), Ok("key".into()));
}
