//! `seqops state list|show|rm`: inspecting and editing state.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::Subcommand;
use seqops::manifest::ResourceKey;

use super::context::open_store;

#[derive(Subcommand)]
pub enum StateCommand {
    /// One line per managed object: key, provider, remote id, display name.
    List {
        #[arg(long, default_value = ".seqops/state.json")]
        state: PathBuf,
    },
    /// Everything state holds about one object, as JSON.
    Show {
        key: String,
        #[arg(long, default_value = ".seqops/state.json")]
        state: PathBuf,
    },
    /// Who changed an object, when and why, oldest first (also after it was
    /// deleted).
    History {
        key: String,
        #[arg(long, default_value = ".seqops/state.json")]
        state: PathBuf,
    },
    /// Stops managing an object; the remote object is not touched.
    Rm {
        key: String,
        #[arg(long, default_value = ".seqops/state.json")]
        state: PathBuf,
    },
    /// Moves an object's record to a new name (a manifest renamed): the
    /// remote object is kept, and no request is made. `seqops.dev/moved-from`
    /// on the renamed manifest does the same within a plan, for review.
    Mv {
        /// Kind/old-name, as state has it.
        old: String,
        /// Kind/new-name: the same kind.
        new: String,
        /// A file, or `k8s://NAMESPACE/NAME`.
        #[arg(long, default_value = ".seqops/state.json")]
        state: PathBuf,
    },
}

fn parse_key(text: &str) -> anyhow::Result<ResourceKey> {
    ResourceKey::parse(text).ok_or_else(|| anyhow!("`{text}` is not a key: write Kind/name, e.g. Sequence/welcome-dm"))
}

/// The state at `path`, read without its lock; an error when there is none.
async fn existing(path: &std::path::Path) -> anyhow::Result<seqops::engine::state::State> {
    open_store(path, None, Duration::ZERO).await?.load()?.ok_or_else(|| anyhow!("no state at {}", path.display()))
}

pub async fn run(command: StateCommand) -> anyhow::Result<ExitCode> {
    match command {
        StateCommand::List { state } => {
            let Some(state) = open_store(&state, None, Duration::ZERO).await?.load()? else {
                println!("No state at {}.", state.display());
                return Ok(ExitCode::SUCCESS);
            };
            for (key, entry) in &state.resources {
                let id = match (&entry.id, &entry.pending_since) {
                    (Some(id), _) => id.clone(),
                    (None, Some(since)) => format!("(create pending since {since})"),
                    (None, None) => "(no id)".into(),
                };
                println!("{key}\t{}\t{id}\t{:?}", entry.provider, entry.display_name);
            }
        }
        StateCommand::Show { key, state: path } => {
            let key = parse_key(&key)?;
            let state = existing(&path).await?;
            let entry = state.resources.get(&key).ok_or_else(|| anyhow!("{key} is not in state {}", path.display()))?;
            println!("{}", serde_json::to_string_pretty(entry)?);
        }
        StateCommand::History { key, state: path } => {
            let key = parse_key(&key)?;
            let state = existing(&path).await?;
            let records: Vec<_> = state.history.iter().filter(|r| r.key == key).collect();
            if records.is_empty() {
                println!("No change to {key} is recorded in {}.", path.display());
            }
            for record in records {
                let id = record.id.as_deref().map(|id| format!(" {id}")).unwrap_or_default();
                let fields =
                    if record.fields.is_empty() { String::new() } else { format!(" ({})", record.fields.join(", ")) };
                let by = record.by.describe();
                let by = if by.is_empty() { String::new() } else { format!(" {by}") };
                let action = format!("{:?}", record.action).to_lowercase();
                println!("{}  {action}{id}{fields}{by}", record.at);
            }
        }
        StateCommand::Rm { key, state: path } => {
            let key = parse_key(&key)?;
            let store = open_store(&path, Some("seqops state rm"), Duration::ZERO).await?;
            let Some(mut state) = store.load()? else { bail!("no state at {}", path.display()) };
            let Some(entry) = state.resources.remove(&key) else { bail!("{key} is not in state {}", path.display()) };
            store.save(&mut state)?;
            let id = entry.id.unwrap_or_else(|| "(no id)".into());
            println!("Removed {key} ({id}) from state; the remote object was not touched.");
        }
        StateCommand::Mv { old, new, state: path } => move_record(&parse_key(&old)?, &parse_key(&new)?, &path).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `seqops state mv OLD NEW`: the record of OLD under NEW, in one locked
/// write; nothing is sent to any API.
async fn move_record(old: &ResourceKey, new: &ResourceKey, path: &std::path::Path) -> anyhow::Result<()> {
    if old.kind != new.kind {
        bail!("{old} and {new} are of different kinds: a record moves only to a new name of its own kind");
    }
    let store = open_store(path, Some("seqops state mv"), Duration::ZERO).await?;
    let Some(mut state) = store.load()? else { bail!("no state at {}", path.display()) };
    if !state.resources.contains_key(old) {
        bail!("{old} is not in state {}", path.display());
    }
    if state.resources.contains_key(new) {
        bail!(
            "{new} is in state {} already: remove it first (`seqops state rm {new}`) if it is the same object",
            path.display()
        );
    }
    state.move_entry(old, new);
    store.save(&mut state)?;
    println!("Moved {old} to {new} in state; the remote object was not touched.");
    Ok(())
}
