//! `seqops check --provider NAME`: reads each endpoint the Provider's
//! clients read, once, and says which answered as the client expects. The
//! number of requests is said before any is made; nothing is written.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use seqops::providers::probe::{self, Finding, Verdict};

use super::{context, Common};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    common: Common,
    /// The Provider (its metadata.name) whose account to check.
    #[arg(long)]
    provider: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let manifests = context::load_manifests(&args.common)?;
    let alone = context::connect_alone(&args.common, &manifests, &args.provider).await?;
    let account = &alone.account;
    let probes = seqops::providers::descriptor(account.settings.provider_type).map_or(&[][..], |p| p.probes);
    if args.format == Format::Text {
        println!(
            "Checking {} at {}: at most {} requests, one read per endpoint seqops reads; nothing is written.",
            account.label(),
            account.settings.base_url,
            probe::budget(probes)
        );
        super::flush_stdout()?;
    }
    let findings = probe::run(&account.http, probes).await;
    let failed = findings.iter().any(|f| matches!(f.verdict, Verdict::Unexpected(_)));
    match args.format {
        Format::Text => print!("{}", render(&findings, account.usage.made())),
        Format::Json => println!("{}", serde_json::to_string_pretty(&findings)?),
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn render(findings: &[Finding], made: u64) -> String {
    let width = findings.iter().map(|f| f.endpoint.len()).max().unwrap_or(0);
    let mut text = String::new();
    for finding in findings {
        let (mark, detail) = match &finding.verdict {
            Verdict::Expected(0) => ("ok      ", "answered as expected".to_string()),
            Verdict::Expected(count) => ("ok      ", format!("answered as expected ({count} listed)")),
            Verdict::Unexpected(why) => ("DIFFERS ", why.clone()),
            Verdict::Skipped(why) => ("skipped ", why.clone()),
        };
        let sent = finding.path.as_deref().map(|p| format!(" [GET {p}]")).unwrap_or_default();
        text.push_str(&format!("  {mark}{:width$}  {detail}{sent}\n", finding.endpoint));
    }
    let differ = findings.iter().filter(|f| matches!(f.verdict, Verdict::Unexpected(_))).count();
    let summary = match differ {
        0 => "every endpoint answered as the client expects".to_string(),
        n => format!("{n} did not answer as the client expects: fix the Provider's baseUrl, or report the difference"),
    };
    text.push_str(&format!("{made} requests made; {summary}.\n"));
    text
}
