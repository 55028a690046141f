//! The seqops command line.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    // Made once, for the life of the process: `--version` names the
    // provider APIs this build speaks.
    let long_version: &'static str = Box::leak(cli::version_text().into_boxed_str());
    let matches = cli::Cli::command().long_version(long_version).get_matches();
    let args = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SEQOPS_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}", cli::error_text(&error));
            ExitCode::from(1)
        }
    }
}
