//! A real Kubernetes API server, for the tests run with `--ignored`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};

/// How long a CRD may take to be served.
const PATIENCE: Duration = Duration::from_secs(45);

/// Applies every CRD in crds/ and waits until the API server serves them.
pub async fn install_crds(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("crds/ exists") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a CRD file");
        let crd: CustomResourceDefinition = serde_yaml::from_str(&text).expect("a CRD");
        let name = crd.metadata.name.clone().expect("a CRD name");
        let params = PatchParams::apply("seqops-e2e").force();
        crds.patch(&name, &params, &Patch::Apply(&crd)).await.expect("the CRD is applied");
        names.push(name);
    }
    for name in names {
        let started = Instant::now();
        loop {
            let crd = crds.get(&name).await.expect("the CRD is there");
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"));
            if established {
                break;
            }
            assert!(started.elapsed() < PATIENCE, "CRD {name} was never established");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
