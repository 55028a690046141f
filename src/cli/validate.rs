//! `seqops validate`: checks manifests without talking to any API.

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct ValidateArgs {
    /// Manifest files or directories.
    #[arg(short = 'f', long = "filename", default_value = ".")]
    files: Vec<std::path::PathBuf>,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let manifests = super::context::load_from(&args.files, std::path::Path::new("."), &[])?;
    let count = manifests.resources.len();
    println!("{count} manifest{} valid.", if count == 1 { " is" } else { "s are" });
    Ok(ExitCode::SUCCESS)
}
