//! `seqops sandbox serve`: the emulators on a loopback port; `seqops
//! sandbox clock`: the time a served sandbox's vendors live in.

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
    /// Say or move a served sandbox's time (its test clock): `seqops
    /// sandbox clock advance 3d` runs every enrollment, pause and schedule
    /// three days on, at once.
    Clock(ClockArgs),
}

#[derive(Args)]
pub struct ClockArgs {
    #[command(subcommand)]
    action: Option<ClockAction>,
    /// The served sandbox (`seqops sandbox serve --addr`).
    #[arg(long, global = true, default_value = "127.0.0.1:8787")]
    addr: String,
}

#[derive(Subcommand)]
enum ClockAction {
    /// Move the sandbox's time forward for every emulator at once.
    Advance {
        /// How far: `90m`, `12h`, `3d`, `1w 2d`.
        #[arg(value_parser = parse_advance)]
        duration: String,
    },
    /// Say the sandbox's time (the default).
    Show,
}

fn parse_advance(text: &str) -> Result<String, String> {
    seqops::sandbox::clock::parse_advance(text).map(|_| text.to_string())
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
    /// (see docs/sandbox.md, "A sandbox that fails on purpose").
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
    match command {
        SandboxCommand::Serve(args) => serve(args).await,
        SandboxCommand::Clock(args) => clock(args).await,
    }
}

/// Asks the served sandbox for its time, after moving it forward if asked.
async fn clock(args: ClockArgs) -> anyhow::Result<ExitCode> {
    let origin = if args.addr.contains("://") { args.addr.clone() } else { format!("http://{}", args.addr) };
    let url = format!("{}/_sandbox/clock", origin.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let request = match &args.action {
        Some(ClockAction::Advance { duration }) => client.post(&url).json(&serde_json::json!({"advance": duration})),
        Some(ClockAction::Show) | None => client.get(&url),
    };
    let response = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("no sandbox answers at {origin} ({e}); start one with `seqops sandbox serve`"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        #[derive(serde::Deserialize)]
        struct Refusal {
            error: String,
        }
        let refusal = <Refusal as serde::Deserialize>::deserialize(&body).map(|r| r.error);
        anyhow::bail!("the sandbox at {origin} refused: {}", refusal.as_deref().unwrap_or(status.as_str()));
    }
    let reading: seqops::sandbox::clock::ClockReading = serde_json::from_value(body)?;
    let ahead = humantime::format_duration(std::time::Duration::from_secs(reading.ahead_seconds));
    println!("sandbox time: {} ({ahead} ahead of this machine)", reading.now);
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = EmulatorConfig {
        requests_per_hour: args.requests_per_hour,
        window: args.rate_window,
        latency: args.latency,
        clock: Default::default(),
    };
    let faults = args.faults.as_deref().map(Faults::parse).transpose()?;
    let sandbox = Sandbox::with_faults(seqops::providers::emulators(config), args.data, faults)?;
    let (addr, task) = sandbox.serve(&args.addr).await?;
    println!("seqops sandbox listening on http://{addr}");
    for provider in seqops::providers::all() {
        let base_url = seqops::providers::sandbox_base_url(provider.provider_type, &format!("http://{addr}"));
        println!("  {}: {base_url}", provider.provider_type.as_str());
    }
    super::flush_stdout()?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = task => {}
    }
    Ok(ExitCode::SUCCESS)
}
