//! `seqops import KIND/NAME REMOTE_ID`: adopting an existing remote object.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Args;
use seqops::engine::state::{now_rfc3339, Entry};
use seqops::engine::{self, Action, Change, PlanOptions, Refresh};
use seqops::external::digest::Digests;
use seqops::manifest::{annotations, Manifests, ResourceKey};
use seqops::providers::{Fields, Stored};

use super::{context, digest_key, Common};

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
    let manifests = adopting(context::load_manifests(&args.common)?, &key, &args.id)?;
    let mut session = context::open(&args.common, "seqops import", manifests).await?;
    if let Some(entry) = session.state.resources.get(&key) {
        bail!(
            "{key} is already in state (id {}); `seqops state rm {key}` first to bind another object",
            entry.id.as_deref().unwrap_or("pending")
        );
    }
    let change = planned_adoption(&args, &key, &session).await?;
    let resource = session.manifests.get(&key).ok_or_else(|| anyhow!("no manifest defines {key}"))?;
    let entry = Entry {
        api_version: change.api_version.clone(),
        provider: change.provider.clone(),
        id: Some(args.id.clone()),
        display_name: change.display_name.clone(),
        pending_since: None,
        deposed_id: None,
        // No digest and nothing last applied: the next plan resolves the
        // manifest and shows what differs.
        manifest_digest: String::new(),
        applied_spec: Stored::default(),
        last_applied: Stored::of(&Fields::new()),
        observed: Some(Stored::of(&change.observed)),
        observed_at: now_rfc3339(),
        orphan_on_delete: resource.annotation(annotations::DELETION_POLICY) == Some("orphan"),
        prevent_destroy: resource.annotation_is_true(annotations::PREVENT_DESTROY),
        depends_on: change.depends_on.clone(),
        renew_token: None,
        preexisting: Vec::new(),
    };
    for provider in session.manifests.providers() {
        session.state.providers.insert(provider.metadata.name.clone(), context::record_of(provider)?);
    }
    session.state.resources.insert(key.clone(), entry);
    session.store.save(&mut session.state)?;
    let differs = change.fields.iter().map(|f| f.path.as_str()).collect::<Vec<_>>();
    match differs.as_slice() {
        [] => println!("Imported {key} as {}; it matches the manifest.", args.id),
        _ => println!(
            "Imported {key} as {}; it differs from the manifest in {}: `seqops plan` shows how.",
            args.id,
            differs.join(", ")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The manifests with `key` naming `id` by `seqops.dev/external-id`, so
/// that the import is planned as that adoption.
fn adopting(manifests: Manifests, key: &ResourceKey, id: &str) -> anyhow::Result<Manifests> {
    if manifests.get(key).is_none() {
        bail!("no manifest defines {key}: write it first, then import");
    }
    let mut resources = manifests.resources;
    for resource in resources.iter_mut().filter(|r| &r.key == key) {
        resource.metadata.annotations.insert(annotations::EXTERNAL_ID.to_string(), id.to_string());
    }
    Ok(Manifests::new(resources))
}

/// The import planned as an adoption, reading the object: the checks
/// adoption makes (an id another manifest manages, an immutable field that
/// differs, a kind the API cannot change) fail it before state is touched,
/// and the change carries the display name the kind uses and what the
/// object depends on.
async fn planned_adoption(args: &ImportArgs, key: &ResourceKey, session: &context::Session) -> anyhow::Result<Change> {
    let options = PlanOptions {
        sandbox: args.common.sandbox,
        digests: Digests::keyed(digest_key::load(digest_key::Use::Compare)?),
        targets: vec![key.clone()],
        ..PlanOptions::new(Refresh::Full)
    };
    let plan = engine::plan(&session.manifests, &session.state, &session.connections, &options).await?;
    plan.changes
        .into_iter()
        .find(|c| &c.key == key && c.action == Action::Adopt)
        .ok_or_else(|| anyhow!("{key} cannot be imported as {}: the plan does not adopt it", args.id))
}
