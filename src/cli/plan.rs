//! `seqops plan`: what apply would change, for a terminal, a pull request
//! or a machine, and optionally saved for `seqops apply PLANFILE`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};
use seqops::engine::guard::DeleteLimits;
use seqops::engine::planfile::PlanDocument;
use seqops::engine::{self, PlanOptions, Refresh};
use seqops::external::digest::Digests;
use seqops::manifest::ResourceKey;
use seqops::render::markdown;
use seqops::render::text::{self, Style};

use super::{context, digest_key, plan_header, Common};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub scope: Scope,
    /// Save the plan for `seqops apply FILE`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// How to print the plan.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Only what changed remotely since the last apply: `seqops drift`.
    #[arg(long, conflicts_with_all = ["out", "cluster", "targets", "rotate"])]
    drift_only: bool,
    /// With --drift-only: read at most this many objects, those read
    /// longest ago first.
    #[arg(long, value_name = "N", requires = "drift_only")]
    refresh_budget: Option<usize>,
}

/// Planning against a cluster the controller runs in.
#[derive(Args, Clone, Debug)]
pub struct ClusterArgs {
    /// Plan what the controller will do once these manifests are applied
    /// to the cluster (KUBECONFIG): its objects' statuses are the state,
    /// credentials and secretKeyRef values come from its Secrets. Reads only.
    #[arg(long, conflicts_with_all = ["out", "sandbox"])]
    cluster: bool,
    /// With --cluster: the namespace the manifests go to (default: the
    /// kubeconfig context's).
    #[arg(long, requires = "cluster")]
    namespace: Option<String>,
    /// With --cluster: the sandbox the controller was started with
    /// (`seqops controller --sandbox-origin`).
    #[arg(long, requires = "cluster")]
    sandbox_origin: Option<String>,
    /// With --cluster: plan deletes for the objects in the namespace these
    /// manifests no longer hold, as a GitOps tool that prunes (Flux, Argo
    /// CD) and then the controller will; scoped by --selector, or else by
    /// the GitOps tool's ownership labels on the manifests' objects.
    #[arg(long, requires = "cluster")]
    prune: bool,
    /// With --cluster: the label selector (as kubectl's -l) that picks the
    /// objects a prune deletes, e.g. app.kubernetes.io/part-of=outreach.
    #[arg(long, short = 'l', requires = "cluster", value_parser = parse_selector)]
    selector: Option<kube::core::Selector>,
}

fn parse_selector(text: &str) -> Result<kube::core::Selector, String> {
    seqops::controller::prune::parse_selector(text).map_err(|e| e.to_string())
}

/// What a plan reads and covers; shared by plan and apply.
#[derive(Args, Clone, Debug)]
pub struct Scope {
    /// How much of the remote side to read: `changed` (default once state
    /// exists) lists each collection once and reads only what may differ.
    #[arg(long, value_enum)]
    pub refresh: Option<Refresh>,
    /// The environment or overlay the plan is for (`staging`): recorded
    /// with the plan and named in the Markdown comment's title and header.
    #[arg(long, value_name = "NAME", env = "SEQOPS_ENVIRONMENT")]
    pub environment: Option<String>,
    /// Only this object and what it depends on (repeatable), e.g. Sequence/welcome-dm.
    #[arg(long = "target", value_parser = parse_key)]
    pub targets: Vec<ResourceKey>,
    /// Write this object's secrets again even if their sources did not
    /// change (repeatable): their remote values cannot be read to compare.
    #[arg(long = "rotate", value_parser = parse_key)]
    pub rotate: Vec<ResourceKey>,
    /// The most changes that cannot be undone the plan may hold: deletes,
    /// replaces and stops (a Topo run), counted as the plan's summary
    /// counts them; a plan with more stops, changing nothing.
    #[arg(long, value_name = "N", default_value_t = seqops::engine::guard::DEFAULT_MAX_DELETES)]
    pub max_deletes: usize,
    /// Let the plan delete every object seqops manages in an account
    /// (otherwise it stops: an empty or mistyped -f path does that).
    #[arg(long)]
    pub allow_delete_all: bool,
    /// Why: recorded with the plan and with every change in state's
    /// history, beside the commit and the CI run.
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}

impl Scope {
    /// The flags an apply repeats to apply what this plan covers:
    /// ` --target Sequence/a --max-deletes 20`.
    pub fn repeated_flags(&self) -> String {
        let mut flags = String::new();
        if let Some(refresh) = self.refresh {
            let name = refresh.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            flags.push_str(&format!(" --refresh {name}"));
        }
        for target in &self.targets {
            flags.push_str(&format!(" --target {target}"));
        }
        for rotated in &self.rotate {
            flags.push_str(&format!(" --rotate {rotated}"));
        }
        if let Some(environment) = &self.environment {
            flags.push_str(&format!(" --environment {environment}"));
        }
        if self.max_deletes != seqops::engine::guard::DEFAULT_MAX_DELETES {
            flags.push_str(&format!(" --max-deletes {}", self.max_deletes));
        }
        if self.allow_delete_all {
            flags.push_str(" --allow-delete-all");
        }
        flags
    }

    pub fn delete_limits(&self) -> DeleteLimits {
        DeleteLimits { max_deletes: self.max_deletes, allow_delete_all: self.allow_delete_all }
    }

    /// Plan options for this scope, the rest as `PlanOptions::new` has it.
    fn options(&self, refresh: Refresh) -> PlanOptions {
        PlanOptions { targets: self.targets.clone(), rotate: self.rotate.clone(), ..PlanOptions::new(refresh) }
    }
}

/// 2 when asked with --detailed-exitcode and the plan changes something.
fn exit_code(document: &PlanDocument, detailed: bool) -> ExitCode {
    if detailed && !document.changes.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn parse_key(text: &str) -> Result<ResourceKey, String> {
    ResourceKey::parse(text).ok_or_else(|| format!("`{text}` is not a key: write Kind/name, e.g. Sequence/welcome-dm"))
}

/// Plans, and returns the session for an apply to continue with.
pub async fn make_plan(
    common: &Common,
    scope: &Scope,
    command: &str,
    key_use: digest_key::Use,
) -> anyhow::Result<(context::Session, PlanDocument, Digests)> {
    let manifests = context::load_manifests(common)?;
    let session = context::open(common, command, manifests).await?;
    let key_use = match key_use {
        digest_key::Use::Sign { .. } => digest_key::Use::Sign { state_has_digests: holds_digests(&session.state) },
        other => other,
    };
    let digests = Digests::keyed(digest_key::load(key_use)?);
    let refresh = scope.refresh.unwrap_or(if session.state_existed { Refresh::Changed } else { Refresh::Full });
    let options = PlanOptions { sandbox: common.sandbox, digests: digests.clone(), ..scope.options(refresh) };
    let plan = engine::plan(&session.manifests, &session.state, &session.connections, &options).await?;
    let state = session.state_existed.then_some(&session.state);
    let mut document =
        PlanDocument::new(plan, state, &session.manifests, common.sandbox, refresh, scope.targets.clone());
    document.provenance = super::provenance::gather(&manifests_folder(common), scope.message.as_deref());
    document.files = common.files().iter().map(|f| f.display().to_string()).collect();
    let state = common.state.display().to_string();
    document.applies_to = plan_header::applies_to(state, &session.manifests, scope.environment.as_deref());
    if let Some(key) = digests.key() {
        document.sign(key);
    }
    Ok((session, document, digests))
}

/// The folder whose repository the manifests are in: the first `-f`'s.
pub fn manifests_folder(common: &Common) -> std::path::PathBuf {
    let first = common.files().first().cloned().unwrap_or_else(|| ".".into());
    match first {
        _ if first.as_os_str() == seqops::manifest::STDIN => common.base_dir.clone(),
        _ if first.is_dir() => first,
        _ => first.parent().map(std::path::Path::to_path_buf).unwrap_or_else(|| ".".into()),
    }
}

/// Whether any object in `state` has a secret digest a new key would not
/// match.
fn holds_digests(state: &seqops::engine::state::State) -> bool {
    state
        .resources
        .values()
        .any(|entry| entry.holds(seqops::external::sources::SENSITIVE, seqops::external::digest::holds_digest))
}

/// Prints a plan document in `format`; `header` says where it applies
/// (the Markdown comment opens with it).
pub fn print(document: &PlanDocument, format: Format, header: &markdown::Header) -> anyhow::Result<()> {
    match format {
        Format::Text => print!("{}", text::render(&document.plan(), Style::detect(std::io::stdout().is_terminal()))),
        Format::Json => println!("{}", document.to_json()?),
        Format::Markdown => print!("{}", markdown::render(&document.plan(), header, markdown::DEFAULT_CAP)),
    }
    Ok(())
}

pub fn save(document: &PlanDocument, path: &std::path::Path) -> anyhow::Result<()> {
    let json = document.to_json()?;
    seqops::engine::state::write_atomically(path, json.as_bytes())
        .with_context(|| format!("saving the plan to {}", path.display()))
}

pub async fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    if args.drift_only {
        let PlanArgs { common, refresh_budget, format, detailed_exitcode, .. } = args;
        return super::drift::run(super::drift::DriftArgs { common, refresh_budget, format, detailed_exitcode }).await;
    }
    if args.cluster.cluster {
        return plan_cluster(&args).await;
    }
    // A plan to apply later is signed, so it needs a key; one only shown
    // does not make one (a fork's pull request has none).
    let key_use =
        if args.out.is_some() { digest_key::Use::Sign { state_has_digests: true } } else { digest_key::Use::Compare };
    let (session, document, _) = make_plan(&args.common, &args.scope, "seqops plan", key_use).await?;
    let header = plan_header::header(&args.common, &args.scope, &document, args.out.as_deref());
    print(&document, args.format, &header)?;
    for unignored in super::secret_files::unignored(&document.changes) {
        eprintln!("warning: {unignored}");
    }
    // Shown first, so the reviewer sees what would have been deleted.
    seqops::engine::guard::check_deletes(&document.changes, &session.state, args.scope.delete_limits())
        .map_err(|e| anyhow!(e))?;
    if let Some(out) = &args.out {
        save(&document, out)?;
        if document.signature.is_none() {
            eprintln!(
                "note: no digest key is at hand, so {} is saved unsigned: `seqops apply` refuses it (set {} to sign plans)",
                out.display(),
                digest_key::ENV
            );
        }
        if args.format == Format::Text {
            println!(
                "\nSaved the plan to {}: apply exactly this with `seqops apply{} {}`.",
                out.display(),
                args.common.repeated_flags(),
                out.display()
            );
        }
    }
    Ok(exit_code(&document, args.detailed_exitcode))
}

/// `plan --cluster`: what the controller will do with these manifests.
async fn plan_cluster(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let manifests = context::load_manifests(&args.common)?;
    let client =
        kube::Client::try_default().await.context("connecting to the Kubernetes API (in-cluster or KUBECONFIG)")?;
    let namespace = args.cluster.namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
    let kinds = seqops::providers::kinds();
    let view = seqops::controller::preview::view(
        &client,
        &namespace,
        &manifests,
        &kinds,
        args.cluster.sandbox_origin.as_deref(),
        &args.common.allow_base_url,
        &prune_options(&args.cluster),
    )
    .await
    .with_context(|| format!("reading namespace {namespace} of the cluster"))?;
    let refresh = args.scope.refresh.unwrap_or(Refresh::Changed);
    // As the controller plans: new objects placed by a list, known ones read.
    let options = PlanOptions { outputs_to_files: false, list_only_for_new: true, ..args.scope.options(refresh) };
    let mut plan = engine::plan(&manifests, &view.state, &view.connections, &options).await?;
    for key in &view.being_deleted {
        plan.warnings.push(format!("{key} is being deleted in the cluster: the controller finishes that first"));
    }
    plan.warnings.extend(removal_notes(&view, args.cluster.prune));
    let mut document = PlanDocument::new(plan, None, &manifests, false, refresh, args.scope.targets.clone());
    let state = format!("the statuses in the cluster's namespace {namespace}");
    document.applies_to = plan_header::applies_to(state, &manifests, args.scope.environment.as_deref());
    if args.format == Format::Text {
        println!("Namespace {namespace}: what the controller will do once these manifests are applied.\n");
    }
    print(&document, args.format, &plan_header::cluster(&args.common, &document, &namespace))?;
    if args.cluster.prune {
        seqops::engine::guard::check_deletes(&document.changes, &view.state, args.scope.delete_limits())
            .map_err(|e| anyhow!(e))?;
    }
    Ok(exit_code(&document, args.detailed_exitcode))
}

fn prune_options(args: &ClusterArgs) -> seqops::controller::preview::PruneOptions {
    use seqops::controller::prune::Scope;
    let scope = args.selector.clone().map_or(Scope::Owners, Scope::Selector);
    seqops::controller::preview::PruneOptions { prune: args.prune, scope }
}

/// What the plan says of the objects the manifests no longer hold.
fn removal_notes(view: &seqops::controller::preview::ClusterView, prune: bool) -> Vec<String> {
    let removed = &view.removed;
    let mut notes = Vec::new();
    if let (true, Some(scope)) = (prune, &removed.scope) {
        notes.push(format!("--prune plans deletes for the {scope} that these manifests no longer hold"));
    }
    for object in removed.pruned.iter().filter(|o| !view.state.resources.contains_key(&o.key)) {
        notes.push(format!("{}: pruned from the cluster; it has no remote object", object.key));
    }
    if !removed.left.is_empty() {
        let keys: Vec<String> = removed.left.iter().map(ToString::to_string).collect();
        let why = if prune {
            "their Provider is not in these manifests, so the controller cannot delete their remote objects"
        } else {
            "a GitOps tool that prunes deletes them, and the controller then deletes their remote objects: --prune plans that"
        };
        notes.push(format!("left in the cluster, not in these manifests ({why}): {}", keys.join(", ")));
    }
    notes
}

/// `seqops show PLANFILE`: prints a saved plan.
#[derive(Args)]
pub struct ShowArgs {
    plan: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let document = PlanDocument::read(&args.plan).map_err(|e| anyhow!(e))?;
    print(&document, args.format, &plan_header::saved(&document, &args.plan))?;
    Ok(ExitCode::SUCCESS)
}
