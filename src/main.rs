//! The seqops command line.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    quiet_on_a_closed_pipe();
    // Made once, for the life of the process: `--version` names the
    // provider APIs this build speaks.
    let long_version: &'static str = Box::leak(cli::version_text().into_boxed_str());
    let matches = cli::Cli::command().long_version(long_version).get_matches();
    let args = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    match tracing_subscriber::EnvFilter::try_from_env("SEQOPS_LOG") {
        Ok(filter) => tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init(),
        // `-v`: seqops's own notes, one line each, as `note:` lines read.
        Err(_) => tracing_subscriber::fmt()
            .with_env_filter(if args.verbose { "warn,seqops=info" } else { "warn" })
            .without_time()
            .with_target(false)
            .with_level(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init(),
    }
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

/// A reader that stops early (`seqops crds | head -1`) is no failure of
/// seqops: the output it wanted was written. `print!` panics on a closed
/// pipe; that panic ends the process quietly, with status 0.
fn quiet_on_a_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
