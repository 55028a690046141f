//! `seqops schema` (JSON Schema per kind, for editors) and
//! `seqops completions SHELL`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};

#[derive(Args)]
pub struct SchemaArgs {
    /// Write one file per kind here instead of printing them all.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the schema of the JSON plan document instead (docs/plan.schema.json).
    #[arg(long)]
    plan: bool,
}

/// The file name of a kind's schema: `orsay.seqops.dev_Sequence.json`.
pub fn file_name(api_version: &str, kind: &str) -> String {
    let group = api_version.split('/').next().unwrap_or(api_version);
    format!("{group}_{kind}.json")
}

pub use seqops::manifest::kind::manifest_schema;

pub fn run(args: SchemaArgs) -> anyhow::Result<ExitCode> {
    if args.plan {
        let schema = seqops::engine::planfile::schema();
        println!("{}", serde_json::to_string_pretty(&schema)?);
        return Ok(ExitCode::SUCCESS);
    }
    let kinds = seqops::providers::kinds();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for kind in &kinds {
                let path = dir.join(file_name(kind.api_version, kind.kind));
                std::fs::write(&path, serde_json::to_string_pretty(&manifest_schema(kind))? + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("{}", path.display());
            }
        }
        None => {
            let all: serde_json::Map<String, serde_json::Value> =
                kinds.iter().map(|k| (file_name(k.api_version, k.kind), manifest_schema(k))).collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct CrdsArgs {
    /// Write one file per kind here (as crds/ holds them) instead of
    /// printing them as one multi-document YAML.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn crds(args: CrdsArgs) -> anyhow::Result<ExitCode> {
    use seqops::manifest::crd::{crd_file_name, crd_yaml};
    let kinds = seqops::providers::kinds();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut names: Vec<String> = kinds.iter().map(crd_file_name).collect();
            for (kind, name) in kinds.iter().zip(&names) {
                let path = dir.join(name);
                std::fs::write(&path, crd_yaml(kind)).with_context(|| format!("writing {}", path.display()))?;
                println!("{}", path.display());
            }
            // `Kustomization`, not `kustomization.yaml`: `kubectl apply -f`
            // reads every .yaml in the folder, and this is no object.
            names.sort();
            let resources: String = names.iter().map(|n| format!("  - {n}\n")).collect();
            let path = dir.join("Kustomization");
            let text =
                format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{resources}");
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        None => {
            let documents: Vec<String> = kinds.iter().map(crd_yaml).collect();
            print!("---\n{}", documents.join("---\n"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct CompletionsArgs {
    shell: clap_complete::Shell,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    // Made whole first: a reader that stops early ends seqops quietly at
    // the print, not in the generator.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut super::Cli::command(), "seqops", &mut script);
    print!("{}", String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}
