//! `seqops graph`: the dependency graph of the manifests, for a picture
//! (Mermaid, which GitHub renders, or Graphviz dot). Sends nothing.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use seqops::render::graph::{self, Format};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Args)]
pub struct GraphArgs {
    /// Manifest files or directories, or `-` for standard input.
    #[arg(short = 'f', long = "filename", default_value = ".")]
    files: Vec<std::path::PathBuf>,
    #[command(flatten)]
    limits: super::LimitArgs,
    #[arg(long, value_enum, default_value = "mermaid")]
    format: GraphFormat,
}

pub fn run(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let manifests = super::context::load_from(&args.files, std::path::Path::new("."), &args.limits.limits())?;
    let format = match args.format {
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Dot => Format::Dot,
    };
    print!("{}", graph::manifests_graph(&manifests, format));
    Ok(ExitCode::SUCCESS)
}
