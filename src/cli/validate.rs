//! `seqops validate`: checks manifests without talking to any API.

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct ValidateArgs {
    /// Manifest files or directories.
    #[arg(short = 'f', long = "filename", default_value = ".")]
    files: Vec<std::path::PathBuf>,
    #[command(flatten)]
    limits: super::LimitArgs,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let manifests = super::context::load_from(&args.files, std::path::Path::new("."), &args.limits.limits())?;
    let policy = super::context::policy_for(&args.files, std::path::Path::new("."), &[]);
    let unreadable = unreadable_files(&manifests, &policy);
    if !unreadable.is_empty() {
        return Err(seqops::manifest::ManifestError::Invalid(unreadable).into());
    }
    let count = manifests.resources.len();
    println!("{count} manifest{} valid.", if count == 1 { " is" } else { "s are" });
    Ok(ExitCode::SUCCESS)
}

/// Every `fromFile` that a plan could not read (missing, unreadable, too
/// large, or outside the project), at its file and line: what validate can
/// tell of sources without credentials or a cluster.
fn unreadable_files(
    manifests: &seqops::manifest::Manifests,
    policy: &seqops::operator::Policy,
) -> Vec<seqops::manifest::Diagnostic> {
    let mut found = Vec::new();
    for resource in manifests.managed() {
        for (path, file) in resource.spec.sources().file_reads() {
            if let Err(message) = policy.read_source(&resource.document.dir, &file) {
                let field = format!("spec.{path}.fromFile");
                found.push(seqops::manifest::Diagnostic { location: resource.document.locate(&field), field, message });
            }
        }
    }
    found
}
