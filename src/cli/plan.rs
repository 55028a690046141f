//! `seqops plan`: what apply would change.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;
use seqops::engine::{self, PlanOptions, Refresh};
use seqops::render::text::{self, Style};

use super::{context, Common};

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: Common,
    /// How much of the remote side to read: `changed` (default once state
    /// exists) lists each collection once and reads only what may differ.
    #[arg(long, value_enum)]
    pub refresh: Option<Refresh>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// Plans and prints; returns the session for an apply to continue with.
pub async fn plan_and_print(
    common: &Common,
    refresh: Option<Refresh>,
    command: &str,
) -> anyhow::Result<(context::Session, engine::Plan)> {
    let manifests = context::load_manifests(common)?;
    let session = context::open(common, command, manifests).await?;
    let refresh = refresh.unwrap_or(if session.state.resources.is_empty() {
        Refresh::Full
    } else {
        Refresh::Changed
    });
    let options = PlanOptions {
        refresh,
        parallelism: 8,
    };
    let plan = engine::plan(
        &session.manifests,
        &session.state,
        &session.connections,
        &options,
    )
    .await?;
    print!(
        "{}",
        text::render(&plan, Style::detect(std::io::stdout().is_terminal()))
    );
    Ok((session, plan))
}

pub async fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let (_session, plan) = plan_and_print(&args.common, args.refresh, "seqops plan").await?;
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
