//! `seqops sandbox serve`: the emulators on a loopback port.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use seqops::sandbox::faults::Faults;
use seqops::sandbox::{EmulatorConfig, Sandbox};

use super::parse_duration;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Serve every emulator until interrupted.
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    addr: String,
    /// Requests each organization may make per hour; 0 for no limit.
    #[arg(long, default_value_t = 200)]
    requests_per_hour: u32,
    /// Keep the data in this file across restarts.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The window of the rate limit (an hour unless testing).
    #[arg(long, default_value = "1h", value_parser = parse_duration, hide = true)]
    rate_window: std::time::Duration,
    /// Delay every answer by this much after its work is done (to test lost answers).
    #[arg(long, default_value = "0s", value_parser = parse_latency, hide = true)]
    latency: std::time::Duration,
    /// Faults to make on purpose, e.g. `seed=7,orchagent:POST=drop@35%,*=503@5%`
    /// (see the README's "A sandbox that fails on purpose").
    #[arg(long, value_name = "SPEC", value_parser = parse_faults)]
    faults: Option<String>,
}

pub fn parse_faults(text: &str) -> Result<String, String> {
    Faults::parse(text).map(|_| text.to_string()).map_err(|e| e.to_string())
}

fn parse_latency(text: &str) -> Result<std::time::Duration, String> {
    match text.strip_suffix("ms") {
        Some(ms) => ms.parse().map(std::time::Duration::from_millis).map_err(|e| e.to_string()),
        None => parse_duration(text),
    }
}

pub async fn run(command: SandboxCommand) -> anyhow::Result<ExitCode> {
    let SandboxCommand::Serve(args) = command;
    let config =
        EmulatorConfig { requests_per_hour: args.requests_per_hour, window: args.rate_window, latency: args.latency };
    let faults = args.faults.as_deref().map(Faults::parse).transpose()?;
    let sandbox = Sandbox::with_faults(seqops::providers::emulators(config), args.data, faults)?;
    let (addr, task) = sandbox.serve(&args.addr).await?;
    println!("seqops sandbox listening on http://{addr}");
    for provider in seqops::providers::PROVIDERS {
        let base_url = seqops::providers::sandbox_base_url(provider.provider_type, &format!("http://{addr}"));
        println!("  {}: {base_url}", provider.provider_type.as_str());
    }
    std::io::stdout().flush()?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = task => {}
    }
    Ok(ExitCode::SUCCESS)
}
