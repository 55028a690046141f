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
    /// The namespace of the Lease that elects the one replica that reconciles.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    #[arg(long, default_value = "seqops-controller")]
    lease_name: String,
    /// Re-read every object this often for drift instead of the interval
    /// computed from each account's request budget (half the hourly budget
    /// spread over its objects, at least 5 minutes). Every re-read costs
    /// requests: meant for trying the controller out against the sandbox.
    #[arg(long, value_parser = parse_interval)]
    drift_interval: Option<std::time::Duration>,
    /// A host other than the vendors' that Providers' API keys may be sent
    /// to (a proxy, a regional endpoint); repeatable. Manifests cannot
    /// allow one.
    #[arg(long = "allow-base-url", value_name = "HOST", env = "SEQOPS_ALLOWED_HOSTS", value_delimiter = ',')]
    allow_base_url: Vec<String>,
    /// How much an object's manifest may hold and nest, as the CLI's flags.
    #[command(flatten)]
    limits: super::LimitArgs,
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    super::parse_duration(text).map(|d| d.max(std::time::Duration::from_secs(1)))
}

pub async fn run(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let client =
        kube::Client::try_default().await.context("connecting to the Kubernetes API (in-cluster or KUBECONFIG)")?;
    let identity = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("seqops-{}", uuid::Uuid::new_v4().simple()));
    let options = seqops::controller::Options {
        namespace: args.namespace,
        base_url_override: args.sandbox_origin,
        metrics_addr: args.metrics_addr,
        lease_namespace: args.lease_namespace,
        lease_name: args.lease_name,
        drift_interval: args.drift_interval,
        allowed_hosts: args.allow_base_url,
        identity,
        limits: args.limits.limits(),
    };
    seqops::controller::run_elected(client, options).await;
    // Leadership lost: exit so that the Deployment restarts this replica
    // as a follower.
    Ok(ExitCode::from(1))
}
