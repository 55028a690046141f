//! `seqops init [DIR] --provider TYPE…`: a project to start from. For each
//! provider type, a folder with its Provider and a commented sample of each
//! kind it manages; beside them a `.gitignore` for what must stay out of
//! git, a `.seqopsignore`, and a GitHub Actions workflow that plans pull
//! requests and applies main. It plans cleanly against the sandbox as
//! written, and writes no file over another.

mod annotate;
pub mod samples;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::builder::PossibleValuesParser;
use clap::Args;

#[derive(Args)]
pub struct InitArgs {
    /// The folder to write into (made when missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// A provider to start with (repeatable): its Provider manifest, and a
    /// commented sample of each kind it manages.
    #[arg(long = "provider", value_name = "TYPE", value_parser = provider_types())]
    providers: Vec<String>,
}

/// The provider types seqops speaks, as `--provider` takes them.
fn provider_types() -> PossibleValuesParser {
    PossibleValuesParser::new(type_names())
}

fn type_names() -> Vec<&'static str> {
    seqops::providers::all().into_iter().map(|p| p.provider_type.as_str()).collect()
}

const GITIGNORE: &str = include_str!("init/gitignore");
const SEQOPSIGNORE: &str = include_str!("init/seqopsignore");
const WORKFLOW: &str = include_str!("init/workflow.yml");

/// Where the workflow goes, as GitHub reads it.
const WORKFLOW_PATH: &str = ".github/workflows/seqops.yml";

/// A file to write: its path inside the project and its text.
struct Output {
    path: PathBuf,
    text: String,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let mut providers: Vec<&str> = Vec::new();
    for name in &args.providers {
        if !providers.contains(&name.as_str()) {
            providers.push(name);
        }
    }
    if providers.is_empty() {
        bail!(
            "name the providers to start with: `--provider TYPE`, once for each, TYPE being one of {}",
            type_names().join(", ")
        );
    }
    let outputs = project(&providers)?;
    refuse_overwrites(&args.dir, &outputs)?;
    for output in &outputs {
        write_new(&args.dir.join(&output.path), &output.text)?;
    }
    print_summary(&args.dir, &outputs, &providers);
    Ok(ExitCode::SUCCESS)
}

/// Every file of the project, in the order they are listed.
fn project(providers: &[&str]) -> anyhow::Result<Vec<Output>> {
    let mut outputs = vec![
        Output { path: ".gitignore".into(), text: GITIGNORE.into() },
        Output { path: ".seqopsignore".into(), text: SEQOPSIGNORE.into() },
        Output { path: WORKFLOW_PATH.into(), text: workflow(providers) },
    ];
    for provider_type in providers {
        outputs.extend(provider_folder(provider_type)?);
    }
    Ok(outputs)
}

/// A provider's folder: its Provider, its kinds' samples in the order the
/// provider lists its kinds (the order they depend on each other), then the
/// files those read.
fn provider_folder(provider_type: &str) -> anyhow::Result<Vec<Output>> {
    let provider = seqops::manifest::provider::ProviderType::named(provider_type)
        .and_then(seqops::providers::descriptor)
        .with_context(|| format!("seqops does not speak the provider type `{provider_type}`"))?;
    let files: Vec<&samples::File> = samples::of_provider(provider_type).collect();
    let own = std::iter::once(seqops::manifest::PROVIDER_KIND).chain(provider.kinds.iter().copied());
    let mut outputs = Vec::new();
    for kind in own {
        let file = files
            .iter()
            .find(|f| f.kind().is_some_and(|k| k.matches(kind.api_version, kind.kind)))
            .with_context(|| format!("seqops has no sample of {} for {provider_type}", kind.key_kind))?;
        let path = Path::new(provider_type).join(file.name);
        outputs.push(Output { path, text: annotate::annotate(file.text, &kind) });
    }
    for file in files.iter().filter(|f| f.kind().is_none()) {
        outputs.push(Output { path: Path::new(provider_type).join(file.name), text: file.text.into() });
    }
    Ok(outputs)
}

/// The workflow, with each Provider's key variable taken from its secret.
fn workflow(providers: &[&str]) -> String {
    let variables: Vec<(&str, String)> =
        providers.iter().filter_map(|p| Some((*p, samples::credential_variable(p)?))).collect();
    let secrets: Vec<String> = variables
        .iter()
        .map(|(provider, variable)| format!("#   {variable}: the key of the `{provider}` Provider"))
        .chain(std::iter::once(
            "#   SEQOPS_DIGEST_KEY: a random string of at least 16 bytes (`openssl rand -hex 32`)".to_string(),
        ))
        .collect();
    let credentials: Vec<String> =
        variables.iter().map(|(_, variable)| format!("  {variable}: ${{{{ secrets.{variable} }}}}")).collect();
    WORKFLOW
        .replace("@SECRETS@", &secrets.join("\n"))
        .replace("@CREDENTIALS@", &credentials.join("\n"))
        .replace("@SEQOPS_VERSION@", env!("CARGO_PKG_VERSION"))
}

/// Refuses, before anything is written, when a file to write is there
/// already or a folder to write into is a file: all of them named.
fn refuse_overwrites(dir: &Path, outputs: &[Output]) -> anyhow::Result<()> {
    let mut in_the_way: Vec<PathBuf> = Vec::new();
    for output in outputs {
        let target = dir.join(&output.path);
        let folders = target.ancestors().skip(1).take_while(|f| f.starts_with(dir) && !f.as_os_str().is_empty());
        let blocked = std::iter::once(target.as_path())
            .filter(|t| t.symlink_metadata().is_ok())
            .chain(folders.filter(|f| f.symlink_metadata().is_ok_and(|m| !m.is_dir())));
        for path in blocked {
            if !in_the_way.iter().any(|p| p == path) {
                in_the_way.push(path.to_path_buf());
            }
        }
    }
    match in_the_way.as_slice() {
        [] => Ok(()),
        [one] => bail!(
            "{} is there already; seqops init writes no file over another: move it away, or init another folder",
            one.display()
        ),
        many => bail!(
            "{} are there already; seqops init writes no file over another: move them away, or init another folder",
            many.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Writes a file that must not exist yet (one made since the check is
/// not written over either).
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).with_context(|| format!("making {}", folder.display()))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

fn print_summary(dir: &Path, outputs: &[Output], providers: &[&str]) {
    println!("Wrote a seqops project in {}:", dir.display());
    for output in outputs {
        println!("  {}", dir.join(&output.path).display());
    }
    let folder = shell_word(&dir.display().to_string());
    let first_kind = providers
        .iter()
        .filter_map(|p| seqops::manifest::provider::ProviderType::named(p).and_then(seqops::providers::descriptor))
        .find_map(|p| p.kinds.first());
    println!("\nNext:");
    println!("  `seqops plan -f {folder} --sandbox` shows what apply would do, against local emulators of the APIs;");
    println!("  `seqops apply -f {folder} --sandbox` does it there.");
    if let Some(kind) = first_kind {
        println!("  `seqops explain {}.spec` tells what each field takes.", kind.key_kind);
    }
    let variables: Vec<String> = providers.iter().filter_map(|p| samples::credential_variable(p)).collect();
    println!(
        "  With {} set, `seqops plan -f {folder}` plans against your accounts; {WORKFLOW_PATH} does it in CI.",
        variables.join(" and ")
    );
}

/// `text` as one word of a shell command: quoted when it holds anything
/// but letters, digits and `_./-`.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_reads_each_chosen_providers_key_from_its_secret() {
        let text = workflow(&["orsay", "gary"]);
        assert!(text.contains("  ORSAY_API_KEY: ${{ secrets.ORSAY_API_KEY }}\n"), "{text}");
        assert!(text.contains("  GARY_API_KEY: ${{ secrets.GARY_API_KEY }}\n"), "{text}");
        assert!(!text.contains("ORQIS_TOKEN"), "{text}");
        for placeholder in ["@SECRETS@", "@CREDENTIALS@", "@SEQOPS_VERSION@"] {
            assert!(!text.contains(placeholder), "{placeholder} is filled:\n{text}");
        }
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        assert_eq!(yaml["env"]["SEQOPS_VERSION"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn a_folder_in_a_shell_command_is_quoted_only_when_it_must_be() {
        assert_eq!(shell_word("demo/seqops"), "demo/seqops");
        assert_eq!(shell_word("my project"), "'my project'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn every_file_in_the_way_is_named_and_a_file_where_a_folder_goes_is_one() {
        let dir = tempfile::tempdir().expect("a folder");
        let outputs = project(&["orsay"]).expect("a project");
        std::fs::write(dir.path().join(".gitignore"), "mine\n").expect("written");
        std::fs::write(dir.path().join("orsay"), "a file\n").expect("written");
        let error = refuse_overwrites(dir.path(), &outputs).expect_err("refused").to_string();
        assert!(error.contains(".gitignore, ") && error.ends_with("init another folder"), "{error}");
        assert!(error.contains(&dir.path().join("orsay").display().to_string()), "{error}");
    }
}
