//! `seqops apply [PLANFILE]`: plan (or load a saved plan), confirm, change,
//! recording state as it goes.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use seqops::engine::apply::StateWriter;
use seqops::engine::planfile::PlanDocument;
use seqops::engine::{self, Action, ApplyOptions};
use seqops::external::digest::Digests;
use seqops::render::text::{self, Style};

use super::{context, digest_key, plan, Common};

#[derive(Args)]
pub struct ApplyArgs {
    /// A plan saved by `seqops plan --out`: applies exactly it, or refuses.
    planfile: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    scope: plan::Scope,
    /// Apply without asking.
    #[arg(long)]
    auto_approve: bool,
    /// Changes made at once.
    #[arg(long, default_value_t = 4)]
    parallelism: usize,
    /// Refuse, before any change, to write a value an API shows once to a
    /// file git would commit (on by itself when `CI=true`).
    #[arg(long)]
    require_ignored_secrets: bool,
    /// Stop at a change boundary once this long has passed (e.g. 50m, for
    /// an apply longer than a CI job): what is left is said, and the next
    /// run continues. SIGTERM and Ctrl-C stop the same way.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    max_duration: Option<std::time::Duration>,
}

pub async fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let Prepared { session, document, digests, saved } = match &args.planfile {
        Some(path) => saved_plan(&args, path).await?,
        None => fresh_plan(&args).await?,
    };
    guard_secret_files(&document.changes, args.require_ignored_secrets)?;
    if document.changes.is_empty() {
        if !document.syncs.is_empty() {
            // Manifests edited to what the remote objects already are: only
            // state learns of it.
            let writer = StateWriter::new(session.store, session.state);
            engine::apply::record_syncs(&document.syncs, &writer).await?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A saved plan was reviewed already; applying it is the approval.
    if !saved && !args.auto_approve && !confirmed()? {
        println!("Apply cancelled; nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    let mut state = session.state;
    for provider in session.manifests.providers() {
        state.providers.insert(provider.metadata.name.clone(), context::record_of(provider)?);
    }
    let writer = StateWriter::new(session.store, state);
    writer.record(|_| ()).await?;
    println!();
    let options = ApplyOptions {
        parallelism: args.parallelism,
        verify_observed: saved,
        sandbox: args.common.sandbox,
        outputs_to_files: true,
        digests,
        provenance: applied_by(&document, &args),
        plan_id: saved.then(|| document.plan_id.clone()),
        stop: stop_when_asked(args.max_duration),
        rescue_dir: Some(context::work_dir(&args.common.state)),
    };
    let plan_id = document.plan_id.clone();
    let mut plan = document.into_plan();
    let progress = super::progress::ApplyProgress::start(plan.changes.len());
    let report = engine::apply(&plan, &session.connections, &writer, options, &|event| progress.report(event)).await?;
    drop(progress);
    // Folds the run's journal into the state file: one reviewable document.
    writer
        .record(|s| {
            if saved {
                s.last_plan_applied = Some(plan_id.clone());
            }
        })
        .await?;
    let (bytes, writes) = writer.writes();
    tracing::info!(bytes, writes, "state written");
    println!();
    print_outcome(&report);
    plan.usage = session.connections.usage();
    println!("{}", text::requests_line(&plan));
    Ok(exit_code(&report))
}

/// What an apply starts from: the session, the plan to apply, how its
/// secrets are digested, and whether it is a saved (already reviewed) plan.
struct Prepared {
    session: context::Session,
    document: PlanDocument,
    digests: Digests,
    saved: bool,
}

/// A saved plan, verified against the key that signed it and checked to
/// still fit the state and manifests it was made from.
async fn saved_plan(args: &ApplyArgs, path: &std::path::Path) -> anyhow::Result<Prepared> {
    let mut document = PlanDocument::read(path)?;
    // The key that signed the plan, never a new one.
    let key = digest_key::load(digest_key::Use::Compare)?;
    document.verify(key.as_deref())?;
    let common = planned_files(&args.common, &document)?;
    let manifests = context::load_manifests(&common)?;
    let session = context::open(&args.common, "seqops apply", manifests).await?;
    document.check(session.state_existed.then_some(&session.state), &session.manifests, args.common.sandbox)?;
    seqops::engine::guard::check_deletes(&document.changes, &session.state, args.scope.delete_limits())
        .map_err(|e| anyhow::anyhow!(e))?;
    print!("{}", text::render(&document.plan(), Style::detect(std::io::stdout().is_terminal())));
    Ok(Prepared { session, document, digests: Digests::keyed(key), saved: true })
}

/// A plan made now from the manifests, shown before anything is asked.
async fn fresh_plan(args: &ApplyArgs) -> anyhow::Result<Prepared> {
    let (session, document, digests) =
        plan::make_plan(&args.common, &args.scope, "seqops apply", digest_key::Use::Write).await?;
    plan::print(&document, plan::Format::Text, &Default::default())?;
    seqops::engine::guard::check_deletes(&document.changes, &session.state, args.scope.delete_limits())
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(Prepared { session, document, digests, saved: false })
}

/// Whether every change was made, and whether the run stopped early.
fn completeness(report: &engine::apply::ApplyReport) -> (bool, bool) {
    let complete = report.failed.is_empty() && report.skipped.is_empty() && report.untouched.is_empty();
    (complete, report.stopped.is_some())
}

/// What went wrong or was left, then the one-line summary.
fn print_outcome(report: &engine::apply::ApplyReport) {
    for (_, message) in &report.failed {
        eprintln!("error: {message}");
    }
    for key in &report.skipped {
        eprintln!("skipped: {key}: something it depends on was not applied");
    }
    for (key, path) in &report.outputs_written {
        println!("{key}: the value the API returned once was written to {}", path.display());
    }
    for (key, reason) in &report.untouched {
        eprintln!("untouched: {key}: {reason}; run `seqops plan` again");
    }
    if let Some(why) = &report.stopped {
        let keys: Vec<String> = report.left.iter().take(10).map(ToString::to_string).collect();
        let more = report.left.len().saturating_sub(keys.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        println!(
            "Stopped at a change boundary ({why}): {} changes not started ({}{more}). Every change sent was recorded; run `seqops apply` again to continue.",
            report.left.len(),
            keys.join(", ")
        );
    }
    println!("{}", summary(report));
}

/// `Apply complete! Resources: 1 created, …`.
fn summary(report: &engine::apply::ApplyReport) -> String {
    let mut summary = format!(
        "{} Resources: {} created, {} updated, {} replaced, {} deleted.",
        match completeness(report) {
            (true, false) => "Apply complete!",
            (true, true) => "Apply stopped.",
            (false, _) => "Apply incomplete.",
        },
        report.count(Action::Create),
        report.count(Action::Update),
        report.count(Action::Replace),
        report.count(Action::Delete)
    );
    for (action, word) in [(Action::Adopt, "adopted"), (Action::Moved, "moved"), (Action::Forget, "forgotten")] {
        let count = report.count(action);
        if count > 0 {
            summary.push_str(&format!(" {count} {word}."));
        }
    }
    if !report.untouched.is_empty() {
        summary.push_str(&format!(" {} left untouched.", report.untouched.len()));
    }
    summary
}

fn exit_code(report: &engine::apply::ApplyReport) -> ExitCode {
    match completeness(report) {
        (false, _) => ExitCode::from(1),
        // Stopped with changes left: run again to continue.
        (true, true) => ExitCode::from(2),
        (true, false) => ExitCode::SUCCESS,
    }
}

/// Says which values shown once would land in a file git would commit;
/// refuses, before any change, when asked to or in CI.
fn guard_secret_files(changes: &[seqops::engine::Change], require: bool) -> anyhow::Result<()> {
    let unignored = super::secret_files::unignored(changes);
    if unignored.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = unignored.iter().map(ToString::to_string).collect();
    if super::secret_files::required(require) {
        bail!(
            "{}\nrefused before any change (--require-ignored-secrets, or CI=true): a value shown once must not be committed; nothing was sent to any API",
            lines.join("\n")
        );
    }
    for line in lines {
        eprintln!("warning: {line}");
    }
    Ok(())
}

/// The run with the `-f` set the plan was made from: the plan's own when
/// none is given; one given that differs is an error naming both sets.
fn planned_files(common: &Common, document: &PlanDocument) -> anyhow::Result<Common> {
    let planned: Vec<PathBuf> = document.files.iter().map(PathBuf::from).collect();
    if planned.is_empty() {
        return Ok(common.clone());
    }
    if !common.files_given() {
        return Ok(common.with_files(planned));
    }
    let given = common.files();
    if given != planned {
        let shown =
            |files: &[PathBuf]| files.iter().map(|f| format!("-f {}", f.display())).collect::<Vec<_>>().join(" ");
        bail!(
            "this plan was made from {}, and this apply was given {}: leave -f out to apply the plan with its own, or plan again with {}",
            shown(&planned),
            shown(&given),
            shown(&given)
        );
    }
    Ok(common.clone())
}

/// A stop the apply heeds at its next change boundary: after
/// `max_duration`, or on SIGTERM or Ctrl-C.
fn stop_when_asked(max_duration: Option<std::time::Duration>) -> seqops::engine::apply::Stop {
    use seqops::engine::apply::Stop;
    let stop = match max_duration {
        Some(limit) => Stop::after(limit, format!("--max-duration {} reached", seqops::providers::http::human(limit))),
        None => Stop::default(),
    };
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = terminate.recv() => on_signal.request("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => on_signal.request("interrupted"),
        }
    });
    stop
}

/// Asks on a terminal; refuses to guess when there is none.
fn confirmed() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("apply needs confirmation, and standard input is not a terminal: pass --auto-approve");
    }
    print!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    super::flush_stdout()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Who applies and why: the reviewed plan's commit and message, this run's
/// CI job, and this run's `--message` when it gives one.
fn applied_by(document: &PlanDocument, args: &ApplyArgs) -> seqops::engine::history::Provenance {
    let now = super::provenance::gather(&plan::manifests_folder(&args.common), args.scope.message.as_deref());
    let planned = &document.provenance;
    let dirty = if planned.commit.is_some() { planned.dirty } else { now.dirty };
    seqops::engine::history::Provenance {
        commit: planned.commit.clone().or(now.commit),
        author: planned.author.clone().or(now.author),
        dirty,
        ci_run: now.ci_run.or_else(|| planned.ci_run.clone()),
        message: now.message.or_else(|| planned.message.clone()),
    }
}
