//! Subcommands, one file each, over the library.

mod apply;
mod check;
mod context;
mod controller;
mod digest_key;
mod drift;
mod explain;
mod export;
mod graph;
mod import;
mod init;
mod plan;
mod plan_header;
mod progress;
mod provenance;
mod sandbox;
mod schema;
mod schema_tree;
mod secret_files;
mod state;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Outreach sequences, AI agents, schedules and secrets as code.
#[derive(Parser)]
#[command(name = "seqops", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Say more on stderr: files passed over as not manifests, sandbox
    /// stand-ins, what each step does (`SEQOPS_LOG=debug` for each request).
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Start a project: Providers, commented samples, .gitignore, CI workflow.
    ///
    /// For each `--provider`, a folder with its Provider and a commented
    /// sample of each kind it manages; beside them a `.gitignore` (state,
    /// secret files, saved plans), a `.seqopsignore` and a GitHub Actions
    /// workflow that plans pull requests and applies main. It plans cleanly
    /// with `seqops plan -f DIR --sandbox`. No file is written over another.
    Init(init::InitArgs),
    /// Parse and check manifests; sends nothing to any API.
    Validate(validate::ValidateArgs),
    /// Show what apply would change.
    Plan(plan::PlanArgs),
    /// Plan, confirm, and change the remote objects to match the manifests.
    Apply(apply::ApplyArgs),
    /// What changed remotely since the last apply, within a request budget.
    Drift(drift::DriftArgs),
    /// Print a saved plan.
    Show(plan::ShowArgs),
    /// Read each endpoint a Provider's account is read at, once: does it
    /// answer as seqops expects? Nothing is written.
    Check(check::CheckArgs),
    /// The manifests' dependency graph, as Mermaid or Graphviz dot.
    Graph(graph::GraphArgs),
    /// Adopt an existing remote object into state as KIND/NAME.
    Import(import::ImportArgs),
    /// Write manifests and state entries for every unmanaged object of an account.
    Export(export::ExportArgs),
    /// JSON Schema of every kind, for editors.
    Schema(schema::SchemaArgs),
    /// What a kind or one of its fields is, as `kubectl explain` says it.
    ///
    /// Its type, whether it is required, the values it takes, its
    /// description, its default and an example (from `seqops init`'s
    /// sample), read from the schema `seqops schema` prints.
    Explain(explain::ExplainArgs),
    /// Run the Kubernetes controller.
    Controller(controller::ControllerArgs),
    /// CustomResourceDefinitions of every kind, as crds/ holds them.
    Crds(schema::CrdsArgs),
    /// Shell completions: bash, zsh, fish, elvish or powershell.
    Completions(schema::CompletionsArgs),
    /// Inspect or edit state.
    #[command(subcommand)]
    State(state::StateCommand),
    /// Local emulators of every provider API.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// The version, and the provider APIs and kinds it speaks.
    Version,
}

/// How much one run may read (see `seqops::manifest::limits`): each
/// bound refused at file:line, naming the flag that raises it.
#[derive(Args, Clone, Copy, Debug)]
pub struct LimitArgs {
    /// The most bytes one manifest file (or standard input) may hold.
    #[arg(long, value_name = "BYTES", default_value_t = seqops::manifest::limits::Limits::default().file_bytes)]
    max_file_bytes: u64,
    /// The most bytes all the manifest files of a run may hold.
    #[arg(long, value_name = "BYTES", default_value_t = seqops::manifest::limits::Limits::default().run_bytes)]
    max_run_bytes: u64,
    /// The most YAML documents one file may hold.
    #[arg(long, value_name = "N", default_value_t = seqops::manifest::limits::Limits::default().documents)]
    max_documents: usize,
    /// How deeply lists and mappings may nest in one document.
    #[arg(long, value_name = "N", default_value_t = seqops::manifest::limits::Limits::default().depth)]
    max_depth: usize,
}

impl LimitArgs {
    pub fn limits(&self) -> seqops::manifest::limits::Limits {
        seqops::manifest::limits::Limits {
            file_bytes: self.max_file_bytes,
            run_bytes: self.max_run_bytes,
            documents: self.max_documents,
            depth: self.max_depth,
        }
    }
}

/// Where manifests and state are.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Manifest files or directories (searched recursively for *.yaml and
    /// *.yml, leaving out what `.seqopsignore` files name), or `-` for a
    /// stream of documents on standard input [default: .; a saved plan's
    /// own]
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// With `-f -`: the folder the manifests' relative paths (`fromFile`,
    /// `writeSecretTo.file`) start from, and stay inside.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub base_dir: PathBuf,
    /// The state file, or `k8s://NAMESPACE/NAME` for state kept in a
    /// Kubernetes Secret and locked by a Lease (KUBECONFIG).
    #[arg(long, default_value = DEFAULT_STATE)]
    state: PathBuf,
    /// Run against local emulators of the APIs, kept beside the state
    /// (.seqops/sandbox.json): no account needed.
    #[arg(long)]
    sandbox: bool,
    /// With --sandbox: faults the sandbox makes on purpose, as
    /// `seqops sandbox serve --faults` takes them (e.g. `seed=7,*:write=drop@20%`).
    #[arg(long, value_name = "SPEC", requires = "sandbox", value_parser = sandbox::parse_faults)]
    sandbox_faults: Option<String>,
    /// With --sandbox: `off` lifts the vendors' request limits, both the
    /// emulators' and seqops's pacing to them, for demos and scripts. The
    /// default keeps them: the sandbox is a rehearsal of production.
    #[arg(long, value_enum, default_value = "on", requires = "sandbox")]
    sandbox_limits: Limits,
    /// How long to wait for another seqops holding the state lock.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    lock_timeout: std::time::Duration,
    /// A host other than the vendor's that a Provider's API key may be sent
    /// to (a proxy, a regional endpoint); repeatable. A manifest cannot
    /// allow one: a pull request editing `baseUrl` must not get the key.
    #[arg(long = "allow-base-url", value_name = "HOST", env = "SEQOPS_ALLOWED_HOSTS", value_delimiter = ',')]
    allow_base_url: Vec<String>,
    /// A folder outside the project that manifests' `fromFile` and
    /// `writeSecretTo.file` may reach (repeatable). A manifest cannot allow
    /// one.
    #[arg(long = "allow-path", value_name = "DIR")]
    allow_path: Vec<PathBuf>,
    /// Only environment variables matching one of these patterns (`*` for
    /// any run of characters; repeatable) may be read by manifests, as
    /// sources or as a Provider's key.
    #[arg(long = "allow-env", value_name = "PATTERN", env = "SEQOPS_ALLOWED_ENV", value_delimiter = ',')]
    allow_env: Vec<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Whether the sandbox keeps the vendors' request limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Limits {
    On,
    Off,
}

impl Common {
    /// The `-f` set: as given, or the current folder.
    pub fn files(&self) -> Vec<PathBuf> {
        if self.files.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            self.files.clone()
        }
    }

    /// Whether `-f` was given at all.
    pub fn files_given(&self) -> bool {
        !self.files.is_empty()
    }

    /// The same run with the `-f` set `files`.
    pub fn with_files(&self, files: Vec<PathBuf>) -> Common {
        Common { files, ..self.clone() }
    }

    /// The flags a command printed as advice repeats so that it runs as
    /// this one did: ` --sandbox`, ` --state PATH`.
    pub fn repeated_flags(&self) -> String {
        let mut flags = String::new();
        if self.sandbox {
            flags.push_str(" --sandbox");
        }
        if self.state != std::path::Path::new(DEFAULT_STATE) {
            flags.push_str(&format!(" --state {}", self.state.display()));
        }
        flags
    }
}

/// Where state is kept unless `--state` says otherwise.
pub const DEFAULT_STATE: &str = ".seqops/state.json";

/// The longest wait a flag takes: a week. Longer ones are mistakes, and
/// would overflow the clock arithmetic they feed.
pub const MAX_FLAG_DURATION: u64 = 7 * 24 * 3600;

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let seconds = seqops::manifest::duration::Duration::parse(text)?.as_secs();
    if seconds > MAX_FLAG_DURATION {
        return Err(format!("`{text}` is longer than a week (168h), the most this flag takes"));
    }
    Ok(std::time::Duration::from_secs(seconds))
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args).await,
        Command::Apply(args) => apply::run(args).await,
        Command::Drift(args) => drift::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Show(args) => plan::show(args),
        Command::Graph(args) => graph::run(args),
        Command::Import(args) => import::run(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Schema(args) => schema::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Controller(args) => controller::run(args).await,
        Command::Crds(args) => schema::crds(args),
        Command::Completions(args) => schema::completions(args),
        Command::State(command) => state::run(command).await,
        Command::Sandbox(command) => sandbox::run(command).await,
        Command::Version => Ok(version()),
    }
}

/// `seqops version`: what this build speaks, a line per provider.
fn version() -> ExitCode {
    println!("seqops {}", version_text());
    ExitCode::SUCCESS
}

/// The version, and a line per provider: its API and kinds (what
/// `--version` prints after the name too).
pub fn version_text() -> String {
    let mut text = env!("CARGO_PKG_VERSION").to_string();
    for provider in seqops::providers::all() {
        let kinds: Vec<String> = provider.kinds.iter().map(|k| format!("{} {}", k.api_version, k.kind)).collect();
        text.push_str(&format!(
            "\n  {}: {} ({})",
            provider.provider_type.as_str(),
            provider.base_url,
            kinds.join(", ")
        ));
    }
    text
}

/// Flushes standard output; a reader that went away (`| head -1`) ends
/// the process quietly, with status 0, as `print!` does (see main.rs).
pub fn flush_stdout() -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().flush() {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// The error as the user reads it: manifest diagnostics as they are, other
/// errors with their causes.
pub fn error_text(error: &anyhow::Error) -> String {
    if let Some(seqops::manifest::ManifestError::Invalid(_)) = error.downcast_ref() {
        return error.to_string();
    }
    let mut text = format!("error: {error}");
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
    }
    text
}
