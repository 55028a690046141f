//! `seqops import KIND/NAME REMOTE_ID`: adopting an existing remote object.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Args;
use seqops::engine::state::{now_rfc3339, Entry};
use seqops::manifest::{annotations, ResourceKey};
use seqops::providers::{Fields, Stored};

use super::{context, Common};

#[derive(Args)]
pub struct ImportArgs {
    /// The manifest to bind, as Kind/name (e.g. Sequence/welcome-dm).
    key: String,
    /// The remote object's id.
    id: String,
    #[command(flatten)]
    common: Common,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let key = ResourceKey::parse(&args.key).ok_or_else(|| anyhow!("`{}` is not a key: write Kind/name", args.key))?;
    let manifests = context::load_manifests(&args.common)?;
    let resource =
        manifests.get(&key).ok_or_else(|| anyhow!("no manifest defines {key}: write it first, then import"))?.clone();
    let mut session = context::open(&args.common, "seqops import", manifests).await?;
    if let Some(entry) = session.state.resources.get(&key) {
        bail!(
            "{key} is already in state (id {}); `seqops state rm {key}` first to bind another object",
            entry.id.as_deref().unwrap_or("pending")
        );
    }
    let provider = resource.provider.clone().unwrap_or_default();
    let client = session.connections.client(&provider, &key.kind)?;
    if session.state.managed_ids(&provider, &key.kind).contains(&args.id) {
        bail!("{} is already managed by another manifest", args.id);
    }
    let observed =
        client.observe(&args.id).await?.ok_or_else(|| anyhow!("there is no remote object with id {}", args.id))?;
    let entry = Entry {
        api_version: resource.api_version.clone(),
        provider: provider.clone(),
        id: Some(args.id.clone()),
        display_name: observed.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string(),
        pending_since: None,
        deposed_id: None,
        // No digest and nothing last applied: the next plan resolves the
        // manifest and shows what differs.
        manifest_digest: String::new(),
        applied_spec: Stored::default(),
        last_applied: Stored::of(&Fields::new()),
        observed: Some(Stored::of(&observed)),
        observed_at: now_rfc3339(),
        orphan_on_delete: resource.annotation(annotations::DELETION_POLICY) == Some("orphan"),
        prevent_destroy: resource.annotation_is_true(annotations::PREVENT_DESTROY),
        depends_on: Vec::new(),
        renew_token: None,
        preexisting: Vec::new(),
    };
    for provider in session.manifests.providers() {
        session.state.providers.insert(provider.metadata.name.clone(), context::record_of(provider)?);
    }
    session.state.resources.insert(key.clone(), entry);
    session.store.save(&mut session.state)?;
    println!("Imported {key} as {}. Run `seqops plan` to see what differs from the manifest.", args.id);
    Ok(ExitCode::SUCCESS)
}
