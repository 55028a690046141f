//! `seqops drift`: what changed remotely since the last apply, and nothing
//! else. With `--refresh-budget N` it reads at most N objects a run, the
//! ones read longest ago first, so successive runs (a nightly job) cover
//! every object within a budget; each reading's time is kept in state and
//! reported, so a reader knows how current each object is.

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::Args;
use seqops::engine::apply::StateWriter;
use seqops::engine::diff::FieldChange;
use seqops::engine::state::{now_rfc3339, State};
use seqops::engine::{self, Plan, PlanOptions, Reason, Refresh};
use seqops::external::digest::Digests;
use seqops::manifest::ResourceKey;
use seqops::render::text::value_text;
use serde::Serialize;

use super::plan::Format;
use super::{context, digest_key, Common};

#[derive(Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub common: Common,
    /// Read at most this many objects (one request each), those read longest
    /// ago first; by default every managed object.
    #[arg(long, value_name = "N")]
    pub refresh_budget: Option<usize>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 0 when nothing drifted, 2 when something did, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// What a drift check found.
#[derive(Debug, Serialize)]
struct Report {
    /// Objects read this run.
    read: Vec<ResourceKey>,
    /// Objects whose managed fields differ from what was last applied.
    drifted: Vec<Drifted>,
    /// When each managed object was last read, oldest first.
    readings: Vec<Reading>,
}

#[derive(Debug, Serialize)]
struct Drifted {
    key: ResourceKey,
    id: Option<String>,
    fields: Vec<FieldChange>,
    /// Why, when the object itself is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    gone: Option<String>,
}

#[derive(Debug, Serialize)]
struct Reading {
    key: ResourceKey,
    observed_at: String,
}

pub async fn run(args: DriftArgs) -> anyhow::Result<ExitCode> {
    let manifests = context::load_manifests(&args.common)?;
    let session = context::open(&args.common, "seqops drift", manifests).await?;
    let slice = oldest_readings(&session.state, &session.manifests, args.refresh_budget);
    let options = PlanOptions {
        sandbox: args.common.sandbox,
        digests: Digests::keyed(digest_key::load(digest_key::Use::Compare)?),
        read_only: Some(slice.clone()),
        ..PlanOptions::new(Refresh::None)
    };
    let plan = engine::plan(&session.manifests, &session.state, &session.connections, &options).await?;
    let drifted = drifted(&plan, &slice);
    let writer = StateWriter::new(session.store, session.state);
    writer.record(|state| note_readings(state, &plan, &slice)).await?;
    let state = writer.snapshot().await;
    let mut readings: Vec<Reading> = state
        .resources
        .iter()
        .filter(|(key, entry)| entry.id.is_some() && session.manifests.get(key).is_some())
        .map(|(key, entry)| Reading { key: key.clone(), observed_at: entry.observed_at.clone() })
        .collect();
    readings.sort_by_key(|r| (instant(&r.observed_at), r.key.clone()));
    let report = Report { read: slice.into_iter().collect(), drifted, readings };
    print!("{}", render(&report, args.format)?);
    Ok(if args.detailed_exitcode && !report.drifted.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// The managed objects to read this run: all, or the `budget` read longest
/// ago.
fn oldest_readings(
    state: &State,
    manifests: &seqops::manifest::Manifests,
    budget: Option<usize>,
) -> BTreeSet<ResourceKey> {
    let mut managed: Vec<(&String, &ResourceKey)> = state
        .resources
        .iter()
        .filter(|(key, entry)| entry.id.is_some() && manifests.get(key).is_some())
        .map(|(key, entry)| (&entry.observed_at, key))
        .collect();
    managed.sort_by_key(|(at, key)| (instant(at), (*key).clone()));
    managed.into_iter().take(budget.unwrap_or(usize::MAX)).map(|(_, key)| key.clone()).collect()
}

/// An RFC 3339 time as a number: their texts do not sort by time when
/// their fractions differ in length.
fn instant(text: &str) -> i128 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_or(i128::MIN, |t| t.unix_timestamp_nanos())
}

/// The objects read whose remote side moved from what was last applied.
fn drifted(plan: &Plan, read: &BTreeSet<ResourceKey>) -> Vec<Drifted> {
    plan.changes
        .iter()
        .filter(|c| read.contains(&c.key))
        .filter_map(|change| {
            let gone =
                change.reasons.iter().find(|r| matches!(r, Reason::DeletedOutside { .. })).map(ToString::to_string);
            (!change.drift.is_empty() || gone.is_some()).then(|| Drifted {
                key: change.key.clone(),
                id: change.id.clone(),
                fields: change.drift.clone(),
                gone,
            })
        })
        .collect()
}

/// Records when each object of the slice was read, and what was seen: the
/// next run reads the others first.
fn note_readings(state: &mut State, plan: &Plan, read: &BTreeSet<ResourceKey>) {
    let now = now_rfc3339();
    for key in read {
        let Some(entry) = state.resources.get_mut(key) else { continue };
        entry.observed_at = now.clone();
        if let Some(change) = plan.changes.iter().find(|c| &c.key == key && !c.observed.is_empty()) {
            entry.set_observed(&change.observed);
        } else if let Some(sync) = plan.syncs.iter().find(|s| &s.key == key) {
            entry.set_observed(&sync.observed);
        }
    }
}

fn render(report: &Report, format: Format) -> anyhow::Result<String> {
    let oldest = report.readings.first().map(|r| format!("{} ({})", r.observed_at, r.key)).unwrap_or_default();
    let summary = format!(
        "{} of {} objects read this run; {} drifted. Oldest reading: {oldest}.",
        report.read.len(),
        report.readings.len(),
        report.drifted.len()
    );
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Text => {
            let mut out = String::new();
            for drifted in &report.drifted {
                let id = drifted.id.as_deref().unwrap_or("(no id)");
                out.push_str(&format!("{} ({id}) changed outside seqops:\n", drifted.key));
                if let Some(gone) = &drifted.gone {
                    out.push_str(&format!("  {gone}\n"));
                }
                for field in &drifted.fields {
                    out.push_str(&format!(
                        "  ! {}: {} -> {}\n",
                        field.path,
                        value_text(field.before.as_ref()),
                        value_text(field.after.as_ref())
                    ));
                }
            }
            if report.drifted.is_empty() {
                out.push_str("No drift.\n");
            }
            out + &summary + "\n"
        }
        Format::Markdown => {
            let mut out = String::from("### seqops drift\n\n");
            if report.drifted.is_empty() {
                out.push_str("No drift.\n\n");
            } else {
                out.push_str("| object | field | last applied | now |\n|---|---|---|---|\n");
                for drifted in &report.drifted {
                    if let Some(gone) = &drifted.gone {
                        out.push_str(&format!("| `{}` | | | {} |\n", drifted.key, gone.replace('|', "\\|")));
                    }
                    for field in &drifted.fields {
                        let cell = |v: Option<&serde_json::Value>| value_text(v).replace('|', "\\|");
                        out.push_str(&format!(
                            "| `{}` | `{}` | {} | {} |\n",
                            drifted.key,
                            field.path,
                            cell(field.before.as_ref()),
                            cell(field.after.as_ref())
                        ));
                    }
                }
                out.push('\n');
            }
            out + &summary + "\n"
        }
    })
}
