//! What plan, apply and import share: manifests, the locked state, the
//! sandbox when asked for, and a connection to every account involved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use seqops::engine::state::{ProviderRecord, State, StateStore};
use seqops::engine::Connections;
use seqops::manifest::provider::{ProviderSpec, ProviderType};
use seqops::manifest::{Manifests, Resource};
use seqops::operator::Policy;
use seqops::providers::account::Secret;
use seqops::providers::{self, Account, AccountSettings};
use seqops::sandbox::faults::Faults;
use seqops::sandbox::{EmulatorConfig, Sandbox};

use super::Common;

pub struct Session {
    pub manifests: Manifests,
    pub store: StateStore,
    pub state: State,
    /// Whether state existed before this run (a new one is not yet saved).
    pub state_existed: bool,
    pub connections: Connections,
    /// The in-process sandbox server, stopped when the session ends.
    _sandbox: Option<SandboxTask>,
}

struct SandboxTask(tokio::task::JoinHandle<()>);

impl Drop for SandboxTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where the run's files live: beside the state file, or in `.seqops` when
/// state is kept in a cluster.
pub fn work_dir(state: &Path) -> PathBuf {
    if kube_address(state).is_some() {
        return PathBuf::from(".seqops");
    }
    state.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn kube_address(state: &Path) -> Option<(String, String)> {
    state.to_str().and_then(seqops::kube_state::parse)
}

/// Opens the state at `state` (a file, or `k8s://NAMESPACE/NAME`); with
/// `command`, takes its lock, waiting up to `wait`.
pub async fn open_store(state: &Path, command: Option<&str>, wait: std::time::Duration) -> anyhow::Result<StateStore> {
    if let Some((namespace, name)) = kube_address(state) {
        let client =
            kube::Client::try_default().await.context("connecting to the Kubernetes API that holds the state")?;
        let remote = seqops::kube_state::KubeState::open(client, &namespace, &name, command, wait).await?;
        return Ok(StateStore::remote(Box::new(remote)));
    }
    Ok(match command {
        Some(command) => StateStore::lock(state, command, wait)?,
        None => StateStore::read_only(state),
    })
}

pub fn load_manifests(common: &Common) -> anyhow::Result<Manifests> {
    load_from(&common.files(), &common.base_dir, &common.limits.limits())
}

/// What the operator allows a run's manifests to reach, from its flags.
pub fn policy(common: &Common) -> Policy {
    policy_for(&common.files(), &common.base_dir, &common.allow_path)
        .allowing_env(common.allow_env.clone())
        .allowing_hosts(common.allow_base_url.clone())
}

/// Files the manifests name stay inside the current folder, the folders
/// given with `-f` (`--base-dir` for standard input) and those the
/// operator allows, and never reach the digest key.
pub fn policy_for(files: &[PathBuf], base_dir: &Path, allowed: &[PathBuf]) -> Policy {
    let folders = files.iter().map(|f| match f {
        _ if f.as_os_str() == seqops::manifest::STDIN => base_dir.to_path_buf(),
        _ if f.is_dir() => f.clone(),
        _ => f.parent().unwrap_or(f).to_path_buf(),
    });
    let roots = std::iter::once(PathBuf::from(".")).chain(folders).chain(allowed.iter().cloned());
    Policy::default().confined_to(roots).protecting(super::digest_key::key_file())
}

/// Loads manifests, noting on stderr the YAML documents that are not
/// manifests and were passed over.
pub fn load_from(
    files: &[PathBuf],
    base_dir: &Path,
    limits: &seqops::manifest::limits::Limits,
) -> anyhow::Result<Manifests> {
    let manifests = seqops::manifest::load_within(files, base_dir, &providers::kinds(), limits)?;
    // Said with -v only: a YAML file that is not a manifest (an OpenAPI
    // document, a CI workflow) is none of seqops's business.
    for location in &manifests.skipped {
        tracing::info!("{location}: not a manifest seqops reads (no apiVersion, kind, metadata or spec); passed over");
    }
    let kustomize: Vec<String> = manifests
        .kustomize_folders
        .iter()
        .map(|folder| {
            format!(
                "{}: a kustomize folder, passed over; render it: kustomize build {} | seqops plan -f -",
                folder.display(),
                folder.display()
            )
        })
        .collect();
    for note in kustomize.iter().filter(|_| !manifests.resources.is_empty()) {
        tracing::info!("{note}");
    }
    if manifests.resources.is_empty() {
        // A mistyped path would otherwise plan to delete all that state
        // holds.
        let shown = |f: &PathBuf| {
            if f.as_os_str() == seqops::manifest::STDIN {
                "<stdin>".into()
            } else {
                f.display().to_string()
            }
        };
        let paths: Vec<String> = files.iter().map(shown).collect();
        let folders = if kustomize.is_empty() { String::new() } else { format!("\n{}", kustomize.join("\n")) };
        bail!("no manifest in {}: check the -f path (nothing was planned or sent){folders}", paths.join(", "));
    }
    Ok(manifests)
}

pub async fn open(common: &Common, command: &str, manifests: Manifests) -> anyhow::Result<Session> {
    open_with(common, command, manifests, &[]).await
}

/// Like [`open`], also connecting the Providers named in `also`.
pub async fn open_with(common: &Common, command: &str, manifests: Manifests, also: &[&str]) -> anyhow::Result<Session> {
    let store = open_store(&common.state, Some(command), common.lock_timeout).await?;
    let loaded = store.load()?;
    let state_existed = loaded.is_some();
    let state = loaded.unwrap_or_else(|| State::new(common.sandbox));
    if state.sandbox != common.sandbox {
        let (was, flag) =
            if state.sandbox { ("the sandbox", "pass --sandbox") } else { ("real accounts", "drop --sandbox") };
        bail!("state {} holds objects of {was}; {flag}, or use another --state", common.state.display());
    }
    let dir = work_dir(&common.state);
    let (origin, sandbox) = start_sandbox(common, &dir).await?;
    let policy = policy(common);
    let place = Place { origin: origin.as_deref(), budget_file: &dir.join("budget.json"), common, policy: &policy };
    let accounts = connect(&manifests, also, &state, &place)?;
    if origin.is_some() {
        let limits = if common.sandbox_limits == super::Limits::Off { ", the vendors' limits lifted" } else { "" };
        eprintln!(
            "sandbox: {} in for the real APIs{limits}",
            seqops::words::count(accounts.len() as u64, "provider stands", "providers stand")
        );
    }
    Ok(Session {
        manifests,
        store,
        state,
        state_existed,
        connections: Connections::new(providers::Accounts::new(accounts)).with_policy(policy),
        _sandbox: sandbox,
    })
}

/// With `--sandbox`: the in-process sandbox's origin, serving until the
/// task is dropped.
async fn start_sandbox(common: &Common, dir: &Path) -> anyhow::Result<(Option<String>, Option<SandboxTask>)> {
    if !common.sandbox {
        return Ok((None, None));
    }
    let faults = common.sandbox_faults.as_deref().map(Faults::parse).transpose()?;
    let mut config = EmulatorConfig::default();
    if common.sandbox_limits == super::Limits::Off {
        config.requests_per_hour = 0;
    }
    let emulators = providers::emulators(config);
    let sandbox = Sandbox::with_faults(emulators, Some(dir.join("sandbox.json")), faults)?;
    let (addr, task) = sandbox.serve("127.0.0.1:0").await?;
    Ok((Some(format!("http://{addr}")), Some(SandboxTask(task))))
}

/// One account on its own, without state or its lock (`seqops check`).
pub struct Alone {
    pub account: Arc<Account>,
    _sandbox: Option<SandboxTask>,
}

/// Connects the Provider `name` of `manifests` alone.
pub async fn connect_alone(common: &Common, manifests: &Manifests, name: &str) -> anyhow::Result<Alone> {
    let names: Vec<&str> = manifests.providers().map(|p| p.metadata.name.as_str()).collect();
    let Some(provider) = manifests.providers().find(|p| p.metadata.name == name) else {
        bail!("no Provider named `{name}` in the manifests (there are: {})", names.join(", "));
    };
    let record = record_of(provider)?;
    let dir = work_dir(&common.state);
    let (origin, sandbox) = start_sandbox(common, &dir).await?;
    let policy = policy(common);
    let place = Place { origin: origin.as_deref(), budget_file: &dir.join("budget.json"), common, policy: &policy };
    let settings = settings_for(name, &record, &place)
        .map_err(|problem| anyhow::anyhow!("{problem}\nnothing was sent to any API"))?;
    let account = Account::connect(settings, providers::dialect(record.provider_type), super::progress::notifier());
    Ok(Alone { account, _sandbox: sandbox })
}

/// Where a run's accounts are reached: the sandbox's origin, if any, the
/// budget file, and what the operator allows.
struct Place<'a> {
    origin: Option<&'a str>,
    budget_file: &'a Path,
    common: &'a Common,
    policy: &'a Policy,
}

/// Connects every account that has manifests or state entries, checking
/// every credential before any request is made.
fn connect(
    manifests: &Manifests,
    also: &[&str],
    state: &State,
    place: &Place<'_>,
) -> anyhow::Result<Vec<Arc<Account>>> {
    let mut records: BTreeMap<String, ProviderRecord> = BTreeMap::new();
    for provider in manifests.providers() {
        records.insert(provider.metadata.name.clone(), record_of(provider)?);
    }
    // A problem with a key is reported where the Provider manifest says
    // where the key is.
    let place_of = |name: &str| {
        let provider = manifests.providers().find(|p| p.metadata.name == name)?;
        Some(provider.document.locate("spec.credentials.env"))
    };
    let used: std::collections::BTreeSet<&str> = manifests
        .managed()
        .filter_map(|r| r.provider.as_deref())
        .chain(state.resources.values().map(|e| e.provider.as_str()))
        .chain(also.iter().copied())
        .collect();
    let mut problems = Vec::new();
    let mut accounts = Vec::new();
    for name in used {
        let Some(record) = records.get(name).or_else(|| state.providers.get(name)) else {
            problems.push(format!(
                "state has objects of Provider `{name}`, which is in neither the manifests nor state; add its Provider manifest back"
            ));
            continue;
        };
        match settings_for(name, record, place) {
            Ok(settings) => accounts.push(Account::connect(
                settings,
                providers::dialect(record.provider_type),
                super::progress::notifier(),
            )),
            Err(problem) => match place_of(name) {
                Some(place) => problems.push(format!("{place}: {problem}")),
                None => problems.push(problem),
            },
        }
    }
    if !problems.is_empty() {
        bail!("{}\nnothing was sent to any API", problems.join("\n"));
    }
    Ok(accounts)
}

pub fn record_of(provider: &Resource) -> anyhow::Result<ProviderRecord> {
    let spec = provider.spec.typed::<ProviderSpec>().context("reading a Provider spec")?;
    Ok(ProviderRecord::of(spec))
}

fn settings_for(name: &str, record: &ProviderRecord, place: &Place<'_>) -> Result<AccountSettings, String> {
    let sandbox = place.origin;
    let variable = record.credentials_env.clone();
    if let Some(variable) = &variable {
        place.policy.env_allowed(variable).map_err(|e| format!("Provider `{name}`: credentials.env: {e}"))?;
    }
    // A key from a file or a `$(cat …)` often ends in a newline: it is
    // trimmed, and a key that still cannot be a header is refused, never
    // sent without its header.
    let value = variable.as_deref().and_then(|v| std::env::var(v).ok()).map(|v| v.trim().to_string());
    let value = value.filter(|v| !v.is_empty());
    if let (Some(key), Some(variable)) = (&value, &variable) {
        if key.chars().any(char::is_control) {
            return Err(format!(
                "Provider `{name}`: ${variable} holds control characters (a line break inside the key?): it cannot be sent as a header"
            ));
        }
    }
    let (credential, source) = match (value, sandbox, variable) {
        (Some(value), _, Some(variable)) => (value, format!("${variable}")),
        (_, Some(_), variable) => {
            let key = sandbox_key(record.provider_type);
            let named =
                variable.map(|v| format!("${v} is not set")).unwrap_or_else(|| "no credentials.env is given".into());
            tracing::info!("Provider `{name}`: {named}; using the sandbox key {key}");
            (key, "the sandbox key".to_string())
        }
        (_, None, Some(variable)) => {
            return Err(format!(
                "Provider `{name}`: credentials.env names ${variable}, which is not set: export the {} API key in it",
                record.provider_type.as_str()
            ))
        }
        (_, None, None) => {
            return Err(format!(
                "Provider `{name}`: the CLI reads the API key from an environment variable: set spec.credentials.env"
            ))
        }
    };
    let allowed = &place.policy.hosts;
    let (base_url, rate) =
        providers::endpoint(record.provider_type, record.base_url.as_deref(), record.pacing(), sandbox, allowed)
            .map_err(|e| format!("Provider `{name}`: {e}"))?;
    let lifted = sandbox.is_some() && place.common.sandbox_limits == super::Limits::Off;
    let rate = if lifted { None } else { rate };
    Ok(AccountSettings {
        name: name.to_string(),
        provider_type: record.provider_type,
        base_url,
        credential: Secret::new(credential),
        credential_source: source,
        rate,
        headers: record.headers.clone(),
        budget_file: Some(place.budget_file.to_path_buf()),
    })
}

fn sandbox_key(provider_type: ProviderType) -> String {
    providers::descriptor(provider_type).map_or_else(|| "sandbox_seqops".into(), |p| p.sandbox_key.to_string())
}
