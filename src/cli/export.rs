//! `seqops export --provider NAME`: manifests and state entries for every
//! remote object of an account that seqops does not manage yet.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Args;
use seqops::engine::export::{export_selected, Exported};
use seqops::manifest::{manifest_document, Resource, ResourceKey};

use super::{context, Common};

#[derive(Args)]
pub struct ExportArgs {
    /// The Provider manifest whose account to export.
    #[arg(long)]
    provider: String,
    /// Where to write the manifests.
    #[arg(long, default_value = "exported")]
    out: PathBuf,
    /// Gary: the sequences (id or name) whose enrollments to export;
    /// default every active sequence. Repeatable.
    #[arg(long = "sequence", value_name = "SEQUENCE")]
    sequences: Vec<String>,
    /// Topo: the templates whose runs to export. Repeatable.
    #[arg(long = "template", value_name = "TEMPLATE_ID")]
    templates: Vec<String>,
    /// Only objects in this status (Gary: `active`, `paused`, `completed`,
    /// `cancelled`; Topo: `ACTIVE`, `WAITING_FOR_LEAD`, …). Repeatable.
    #[arg(long = "status", value_name = "STATUS")]
    statuses: Vec<String>,
    #[command(flatten)]
    common: Common,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let manifests = context::load_manifests(&args.common)?;
    let provider = manifests
        .providers()
        .find(|p| p.metadata.name == args.provider)
        .ok_or_else(|| anyhow!("no Provider named `{}` in the manifests", args.provider))?
        .clone();
    let provider_type = provider.spec.typed::<seqops::manifest::ProviderSpec>()?.provider_type.to_string();
    let filters = filters(&args, &provider_type)?;
    refuse_a_folder_with_files(&args.out)?;
    let mut session = context::open_with(&args.common, "seqops export", manifests, &[&args.provider]).await?;
    let written = read_unmanaged(&args.provider, &provider_type, &session, &filters).await?;
    write_manifests(&args.out, &provider, &written)?;
    session.state.providers.insert(provider.metadata.name.clone(), context::record_of(&provider)?);
    for object in written.iter() {
        session.state.resources.insert(object.key.clone(), object.entry.clone());
    }
    session.store.save(&mut session.state)?;
    let usage = session.connections.usage();
    let requests: u64 = usage.iter().map(|u| u.requests).sum();
    println!(
        "Exported {} object{} of {} to {} and recorded them in state ({requests} request{}).",
        written.len(),
        if written.len() == 1 { "" } else { "s" },
        args.provider,
        args.out.display(),
        if requests == 1 { "" } else { "s" },
    );
    if !written.is_empty() {
        let keys: Vec<&ResourceKey> = written.iter().map(|o| &o.key).collect();
        println!("{}", check_command(&args.common, &args.out, &keys));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every remote object of the account, kind by kind, that neither the
/// manifests nor state name yet; each is given a name no other object has.
async fn read_unmanaged(
    provider: &str,
    provider_type: &str,
    session: &context::Session,
    filters: &BTreeMap<String, Vec<String>>,
) -> anyhow::Result<Vec<Exported>> {
    let mut taken: BTreeSet<ResourceKey> = session
        .manifests
        .resources
        .iter()
        .map(|r| r.key.clone())
        .chain(session.state.resources.keys().cloned())
        .collect();
    let mut written = Vec::new();
    for kind in
        seqops::providers::kinds().iter().filter(|k| k.provider_type.is_some_and(|t| t.as_str() == provider_type))
    {
        let kind_names = (kind.api_version, kind.kind, kind.key_kind.as_str());
        let objects =
            export_selected(&session.connections, provider, kind_names, &session.state, &mut taken, 8, filters).await?;
        written.extend(objects);
    }
    Ok(written)
}

/// The Provider's manifest and one manifest per exported object, each in
/// a new file under `out`.
fn write_manifests(out: &std::path::Path, provider: &Resource, written: &[Exported]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let provider_doc =
        manifest_document(&provider.api_version, &provider.kind, &provider.metadata.name, provider.spec.json());
    write_yaml(&out.join(format!("provider-{}.yaml", provider.metadata.name)), &provider_doc)?;
    let names = file_names(written);
    for (object, name) in written.iter().zip(names) {
        let doc = manifest_document(&object.api_version, &object.kind, &object.key.name, &object.spec);
        write_yaml(&out.join(name), &doc)?;
    }
    Ok(())
}

/// The plan that shows the exported objects in sync: only them (a plan of
/// the folder alone would delete what else state manages).
fn check_command(common: &Common, out: &std::path::Path, keys: &[&ResourceKey]) -> String {
    let targets: Vec<String> = keys.iter().map(|k| format!("--target {k}")).collect();
    format!(
        "`seqops plan{} -f {} {}` shows them with no changes; move the manifests in with the others (without the Provider's copy) to manage them from there.",
        common.repeated_flags(),
        out.display(),
        targets.join(" ")
    )
}

/// The export filters asked for, checked against what the provider takes
/// before any request is made.
fn filters(args: &ExportArgs, provider_type: &str) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let asked = [("sequence", &args.sequences), ("template", &args.templates), ("status", &args.statuses)];
    let taken = seqops::manifest::provider::ProviderType::named(provider_type)
        .and_then(seqops::providers::descriptor)
        .map_or(&[][..], |p| p.export_filters);
    let mut filters = BTreeMap::new();
    for (name, values) in asked.into_iter().filter(|(_, values)| !values.is_empty()) {
        if !taken.contains(&name) {
            anyhow::bail!(
                "--{name}: exports of {provider_type} objects take no such filter; nothing was sent to any API"
            );
        }
        filters.insert(name.to_string(), values.clone());
    }
    Ok(filters)
}

/// `--out` must be new or empty: an export never overwrites a file, and
/// this is known before any request.
fn refuse_a_folder_with_files(out: &std::path::Path) -> anyhow::Result<()> {
    let held = match std::fs::read_dir(out) {
        Ok(entries) => entries.filter_map(Result::ok).count(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
        Err(error) => return Err(error).with_context(|| format!("reading {}", out.display())),
    };
    if held > 0 {
        anyhow::bail!(
            "{} already holds {held} entr{}: export writes only into a new or empty folder, so that nothing is overwritten; nothing was sent to any API",
            out.display(),
            if held == 1 { "y" } else { "ies" }
        );
    }
    Ok(())
}

/// Each exported object's file: `NAME.yaml`, or `KIND-NAME.yaml` where
/// objects of two kinds share a name (an orchagent Workspace and Agent).
fn file_names(written: &[Exported]) -> Vec<String> {
    let mut kinds_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for object in written {
        kinds_of.entry(object.key.name.as_str()).or_default().insert(object.kind.as_str());
    }
    written
        .iter()
        .map(|object| match kinds_of.get(object.key.name.as_str()) {
            Some(kinds) if kinds.len() > 1 => format!("{}-{}.yaml", object.kind.to_lowercase(), object.key.name),
            _ => format!("{}.yaml", object.key.name),
        })
        .collect()
}

/// Writes a new file; one already there is an error, never overwritten.
fn write_yaml(path: &std::path::Path, doc: &serde_json::Value) -> anyhow::Result<()> {
    use std::io::Write;
    let text = serde_yaml::to_string(doc)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("writing {} (export never overwrites a file)", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}
