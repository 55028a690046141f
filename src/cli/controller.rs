//! `seqops controller`: runs the Kubernetes controller.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct ControllerArgs {
    /// Watch only this namespace (default: all the service account may see).
    #[arg(long)]
    namespace: Option<String>,
    /// Talk to the sandbox emulators at this origin instead of the vendors
    /// (`http://127.0.0.1:8787`), for trying the controller out.
    #[arg(long)]
    sandbox_origin: Option<String>,
    /// Where `/metrics`, `/healthz` and `/readyz` answer.
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_addr: String,
}

pub async fn run(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let client =
        kube::Client::try_default().await.context("connecting to the Kubernetes API (in-cluster or KUBECONFIG)")?;
    seqops::controller::run(client, args.namespace, args.sandbox_origin, args.metrics_addr).await;
    Ok(ExitCode::SUCCESS)
}
