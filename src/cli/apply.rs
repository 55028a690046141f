//! `seqops apply`: plan, confirm, change, recording state as it goes.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use seqops::engine::apply::StateWriter;
use seqops::engine::{self, Action, Refresh};
use seqops::render::text;

use super::{context, plan, Common};

#[derive(Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    common: Common,
    /// Apply without asking.
    #[arg(long)]
    auto_approve: bool,
    /// Changes made at once.
    #[arg(long, default_value_t = 4)]
    parallelism: usize,
    #[arg(long, value_enum)]
    refresh: Option<Refresh>,
}

pub async fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let (session, plan) = plan::plan_and_print(&args.common, args.refresh, "seqops apply").await?;
    if plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve && !confirmed()? {
        println!("Apply cancelled; nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    let mut state = session.state;
    for provider in session.manifests.providers() {
        state.providers.insert(
            provider.metadata.name.clone(),
            context::record_of(provider)?,
        );
    }
    let writer = StateWriter::new(session.store, state);
    writer.record(|_| ()).await?;
    println!();
    let report = engine::apply(
        &plan,
        &session.connections,
        &writer,
        args.parallelism,
        &|line| println!("{line}"),
    )
    .await?;
    println!();
    for (key, message) in &report.failed {
        eprintln!("error: {message}");
        let _ = key;
    }
    for key in &report.skipped {
        eprintln!("skipped: {key}: something it depends on failed");
    }
    let mut summary = format!(
        "{} Resources: {} created, {} updated, {} replaced, {} deleted.",
        if report.failed.is_empty() {
            "Apply complete!"
        } else {
            "Apply failed."
        },
        report.count(Action::Create),
        report.count(Action::Update),
        report.count(Action::Replace),
        report.count(Action::Delete)
    );
    for (action, word) in [(Action::Adopt, "adopted"), (Action::Forget, "forgotten")] {
        let count = report.count(action);
        if count > 0 {
            summary.push_str(&format!(" {count} {word}."));
        }
    }
    println!("{summary}");
    let mut final_plan = plan;
    final_plan.usage = session.connections.usage();
    println!("{}", text::requests_line(&final_plan));
    Ok(if report.failed.is_empty() && report.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Asks on a terminal; refuses to guess when there is none.
fn confirmed() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "apply needs confirmation, and standard input is not a terminal: pass --auto-approve"
        );
    }
    print!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
