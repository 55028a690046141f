//! The plan as a pull-request comment. Read top down, it says where it
//! applies (the `-f` set, state, environment, each Provider and where its
//! key comes from, the commit), the summary, what cannot be undone and
//! what drifted, above the fold; then a table per Provider, a chart when
//! there are edges to show, one collapsible section per object, and the
//! command that applies this plan. Capped so the comment always fits,
//! never cutting an object's section in two.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::text::{requests_line, summary, what_happens};
use crate::engine::diff::FieldChange;
use crate::engine::plan::Summary;
use crate::engine::planfile::AppliesTo;
use crate::engine::{Change, Plan, Verb};

/// GitHub refuses comments over 65,536 characters; keep well under.
pub const DEFAULT_CAP: usize = 60_000;

/// The table's columns: these always, others when a change shows them.
const ALWAYS: [Verb; 4] = [Verb::Create, Verb::Update, Verb::Replace, Verb::Delete];

/// Where a plan applies: what the comment's header names. Made without a
/// request: a Provider's key is named by where it comes from, never read.
#[derive(Clone, Debug, Default)]
pub struct Header {
    /// The `-f` set, as given.
    pub files: Vec<String>,
    /// The environment, the state and each Provider, as the plan recorded
    /// them.
    pub applies_to: AppliesTo,
    /// The commit the manifests are at, and whether they differ from it.
    pub commit: Option<(String, bool)>,
    /// The command that applies exactly this plan.
    pub apply_command: String,
    /// That command reads the manifests from its standard input (`-f -`).
    pub apply_reads_stdin: bool,
}

/// Renders `plan` in at most `cap` characters: when the sections do not all
/// fit, the summary stays and the objects left out are listed by key.
pub fn render(plan: &Plan, header: &Header, cap: usize) -> String {
    let head = above_the_fold(plan, header);
    let tail = format!("{}\n{}", requests_line(plan), apply_line(plan, header));
    let mut body = String::new();
    let mut left_out: Vec<&Change> = Vec::new();
    for (index, change) in plan.changes.iter().enumerate() {
        let section = section(change);
        let remaining = &plan.changes[index + 1..];
        let room_for_list = omitted_list(&[change]).len() + omitted_list(&remaining.iter().collect::<Vec<_>>()).len();
        if left_out.is_empty() && head.len() + body.len() + section.len() + tail.len() + room_for_list <= cap {
            body.push_str(&section);
        } else {
            left_out.push(change);
        }
    }
    let mut out = head;
    out.push_str(&body);
    if !left_out.is_empty() {
        out.push_str(&omitted_list(&left_out));
    }
    if out.len() + tail.len() > cap {
        out = cut_to_fit(&out, cap.saturating_sub(tail.len() + 120));
    }
    out.push_str(&tail);
    out
}

/// The header, the summary, what cannot be undone, drift, warnings, the
/// cost, the table and the chart: what a reviewer reads first.
fn above_the_fold(plan: &Plan, header: &Header) -> String {
    let mut head = heading(header);
    let _ = writeln!(head, "**{}**\n", summary(plan));
    head.push_str(&cannot_be_undone(plan));
    head.push_str(&drift(plan));
    let warnings: Vec<String> = plan.warnings.iter().map(|w| format!("> **Warning:** {}\n", escape(w))).collect();
    if !warnings.is_empty() {
        let _ = writeln!(head, "{}\n", at_most(warnings, |n| format!("> and {n} more warnings\n")));
    }
    if let Some(cost) = super::cost::line(plan) {
        let _ = writeln!(head, "{}\n", escape(&cost));
    }
    if !plan.is_empty() {
        head.push_str(&table(plan));
    }
    if let Some(chart) = super::graph::plan_mermaid(plan) {
        let _ = writeln!(head, "```mermaid\n{chart}```\n");
    }
    head
}

/// `text` cut at the last whole line before `limit`, an open fence closed,
/// and saying so: what is left is still well-formed Markdown.
fn cut_to_fit(text: &str, limit: usize) -> String {
    let end = text[..floor_boundary(text, limit)].rfind('\n').map_or(0, |i| i + 1);
    let mut short = text[..end].to_string();
    if short.lines().filter(|l| l.starts_with("```")).count() % 2 == 1 {
        short.push_str("```\n");
    }
    short.push_str("\n… (cut to fit the comment size limit)\n\n");
    short
}

/// The title and the table of where the plan applies.
fn heading(header: &Header) -> String {
    let AppliesTo { environment, state, providers } = &header.applies_to;
    let mut out = match environment {
        Some(environment) => format!("### seqops plan: {}\n\n", escape(environment)),
        None => String::from("### seqops plan\n\n"),
    };
    out.push_str("| | |\n|---|---|\n");
    let files: Vec<String> = header.files.iter().map(|f| format!("`{}`", escape(f))).collect();
    let files = if files.is_empty() { "`.`".to_string() } else { files.join(" ") };
    let _ = writeln!(out, "| manifests | -f {files} |");
    let _ = writeln!(out, "| state | `{}` |", escape(state));
    if let Some(environment) = environment {
        let _ = writeln!(out, "| environment | {} |", escape(environment));
    }
    for provider in providers {
        let _ = writeln!(
            out,
            "| Provider `{}` | {}, key from {} |",
            escape(&provider.name),
            escape(&provider.provider_type),
            escape(&provider.credentials)
        );
    }
    let short = |commit: &String| commit.chars().take(12).collect::<String>();
    match &header.commit {
        Some((commit, true)) => {
            let commit = short(commit);
            let _ = writeln!(out, "| commit | `{}` **dirty**: the files planned differ from it |", escape(&commit));
        }
        Some((commit, false)) => {
            let _ = writeln!(out, "| commit | `{}` |", escape(&short(commit)));
        }
        None => out.push_str("| commit | none: the manifests are not in a git repository |\n"),
    }
    out.push('\n');
    out
}

/// Every change that cannot be undone, one line each, above the fold.
fn cannot_be_undone(plan: &Plan) -> String {
    let lines: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.cannot_be_undone())
        .map(|c| {
            let how = c.reasons.iter().find(|r| r.code() == "ends_it").map(|r| format!(": {r}")).unwrap_or_default();
            format!("- `{} {}` {}{}", super::text::symbols(c), c.key, what_happens(c), escape(&how))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("**Cannot be undone:**\n\n{}\n\n", at_most(lines, |n| format!("- … and {n} more, in the sections below")))
}

/// A value above the fold: at most 200 characters of it.
fn shortened(text: String) -> String {
    match text.char_indices().nth(200) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text,
    }
}

/// The most lines the lists above the fold hold, so the header always fits.
const ABOVE_THE_FOLD: usize = 50;

/// The first [`ABOVE_THE_FOLD`] lines, then `more` of how many more there
/// are.
fn at_most(mut lines: Vec<String>, more: impl Fn(usize) -> String) -> String {
    let hidden = lines.len().saturating_sub(ABOVE_THE_FOLD);
    if hidden > 0 {
        lines.truncate(ABOVE_THE_FOLD);
        lines.push(more(hidden));
    }
    lines.join("\n")
}

/// What changed outside seqops since the last apply, above the fold.
fn drift(plan: &Plan) -> String {
    let mut lines = Vec::new();
    for change in plan.changes.iter().filter(|c| !c.drift.is_empty()) {
        for field in &change.drift {
            lines.push(format!(
                "! {} {}: {} -> {}",
                change.key,
                field.path,
                fence_safe(&shortened(value(field.before.as_ref()))),
                fence_safe(&shortened(value(field.after.as_ref())))
            ));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "**Drift** (changed outside seqops since the last apply; this plan sets it back):\n\n```diff\n{}\n```\n\n",
        at_most(lines, |n| format!("! … and {n} more, in the sections below"))
    )
}

/// The command that applies this plan, last.
fn apply_line(plan: &Plan, header: &Header) -> String {
    if plan.is_empty() || header.apply_command.is_empty() {
        return String::new();
    }
    let piped = if header.apply_reads_stdin { ", with the same manifests on its standard input" } else { "" };
    format!("\nTo apply exactly this: `{}`{piped}\n", header.apply_command)
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index.min(text.len())
}

/// Each Provider's count of every verb: the four Terraform counts always,
/// the others when the plan has them; what cannot be undone in bold.
fn table(plan: &Plan) -> String {
    let mut rows: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for change in &plan.changes {
        rows.entry(change.provider.as_str()).or_default().push(change);
    }
    let all = plan.summary();
    let columns: Vec<Verb> = Verb::ALL.into_iter().filter(|v| ALWAYS.contains(v) || all.count(*v) > 0).collect();
    let names: Vec<&str> = columns.iter().map(|v| v.word()).collect();
    let mut out = format!("| provider | {} |\n|---|{}\n", names.join(" | "), "---:|".repeat(columns.len()));
    for (provider, changes) in rows {
        let counts = Summary::of(changes);
        let cells: Vec<String> = columns
            .iter()
            .map(|v| match counts.count(*v) {
                n if n > 0 && v.cannot_be_undone() => format!("**{n}**"),
                n => n.to_string(),
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", escape(provider), cells.join(" | "));
    }
    out.push('\n');
    out
}

fn section(change: &Change) -> String {
    let mut out = String::new();
    let id = change.id.as_ref().map(|id| format!(" · `{id}`")).unwrap_or_default();
    let _ = writeln!(
        out,
        "<details><summary><code>{} {}</code> {}{id}{}</summary>\n",
        super::text::symbols(change),
        change.key,
        escape(&change.display_name),
        if change.steps.lasting { " · cannot be undone: the API cannot delete it" } else { "" }
    );
    for reason in &change.reasons {
        let _ = writeln!(out, "_{}_\n", escape(&reason.to_string()));
    }
    if !change.fields.is_empty() {
        out.push_str("```diff\n");
        for field in &change.fields {
            field_lines(&mut out, field);
        }
        out.push_str("```\n");
    }
    out.push_str("\n</details>\n\n");
    out
}

/// A field change as diff lines: multi-line text line by line.
fn field_lines(out: &mut String, field: &FieldChange) {
    let as_text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).unwrap_or_default().to_string();
    let multiline = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).is_some_and(|s| s.contains('\n'));
    if field.before.is_none() && multiline(&field.after) {
        // A new text: each of its lines under its field, indented, so the
        // next field's line cannot be read as part of it.
        let _ = writeln!(out, "+ {}: |", field.path);
        for line in as_text(&field.after).lines() {
            let _ = writeln!(out, "+     {}", fence_safe(line));
        }
        return;
    }
    if multiline(&field.before) || multiline(&field.after) {
        let _ = writeln!(out, "@@ {} @@", field.path);
        let (old, new) = (as_text(&field.before), as_text(&field.after));
        for change in similar::TextDiff::from_lines(&old, &new).iter_all_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let _ = writeln!(out, "{sign} {}", fence_safe(change.value().trim_end_matches('\n')));
        }
        return;
    }
    match (&field.before, &field.after) {
        (None, after) => {
            let _ = writeln!(out, "+ {}: {}{}", field.path, fence_safe(&value(after.as_ref())), note(field));
        }
        (before, None) => {
            let _ = writeln!(out, "- {}: {}", field.path, fence_safe(&value(before.as_ref())));
        }
        (before, after) => {
            let _ = writeln!(out, "- {}: {}", field.path, fence_safe(&value(before.as_ref())));
            let _ = writeln!(out, "+ {}: {}{}", field.path, fence_safe(&value(after.as_ref())), note(field));
        }
    }
}

/// `  # lookup "Sales Agent"` after a value that is an id.
fn note(field: &FieldChange) -> String {
    field.note.as_ref().map(|n| format!("  # {}", fence_safe(n))).unwrap_or_default()
}

fn omitted_list(changes: &[&Change]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let keys: Vec<String> = changes.iter().map(|c| format!("`{} {}`", super::text::symbols(c), c.key)).collect();
    format!(
        "\n**{} object{} left out to fit the comment size limit:** {}\n",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        keys.join(", ")
    )
}

fn value(value: Option<&Value>) -> String {
    super::text::value_text(value)
}

/// Markdown and HTML special characters in names and messages.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('|', "\\|")
}

/// A line inside a fenced block cannot close it.
fn fence_safe(text: &str) -> String {
    text.replace("```", "`\u{200b}``")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(name: &str, content: &str) -> Change {
        serde_json::from_value::<crate::engine::planfile::PlannedChange>(serde_json::json!({
            "key": format!("Sequence/{name}"), "api_version": "orsay.seqops.dev/v1alpha1", "provider": "main",
            "action": "update", "actions": ["update"], "id": "id-1", "display_name": name,
            "fields": [{"path": "flow[0].content", "before": "Hi\nthere\n", "after": content}],
        }))
        .map(Change::from)
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_object_is_a_collapsible_section_with_its_diff() {
        let plan = Plan { changes: vec![change("a", "Hi\nfriend\n")], ..Default::default() };
        let out = render(&plan, &Header::default(), DEFAULT_CAP);
        assert!(out.contains("| main | 0 | 1 | 0 | 0 |"), "{out}");
        assert!(out.contains("<details><summary><code>~ Sequence/a</code>"), "{out}");
        assert!(out.contains("- there\n+ friend\n"), "{out}");
    }

    fn delete(name: &str) -> Change {
        let mut change = change(name, "Hi\nthere\n");
        change.action = crate::engine::Action::Delete;
        change
    }

    #[test]
    fn what_cannot_be_undone_is_listed_above_the_fold_and_a_long_list_is_cut_short_whole() {
        let changes: Vec<Change> = (0..80).map(|i| delete(&format!("s{i}"))).collect();
        let plan = Plan { changes, ..Default::default() };
        let out = render(&plan, &Header::default(), DEFAULT_CAP);
        let fold = out.find("<details>").unwrap_or(out.len());
        assert!(
            out[..fold].contains("**Cannot be undone:**\n\n- `- Sequence/s0` will be deleted (cannot be undone)"),
            "{out}"
        );
        assert!(out[..fold].contains("- … and 30 more, in the sections below"), "{out}");
        assert!(out.contains("80 to delete, cannot be undone"), "{out}");
    }

    #[test]
    fn a_header_too_long_for_the_cap_is_cut_at_a_line_its_fences_closed_and_the_apply_command_kept() {
        let mut plan = Plan { changes: vec![change("a", "Hi\nfriend\n")], ..Default::default() };
        plan.changes[0].drift = vec![FieldChange::plain("name", Some(Value::from("x".repeat(5_000))), None)];
        plan.warnings = (0..40).map(|i| format!("warning {i}: {}", "w".repeat(1_500))).collect();
        let header = Header { apply_command: "seqops apply plan.json".into(), ..Header::default() };
        let out = render(&plan, &header, 20_000);
        assert!(out.len() <= 20_000, "{}", out.len());
        assert!(out.contains("… (cut to fit the comment size limit)"), "{out}");
        assert_eq!(out.lines().filter(|l| l.starts_with("```")).count() % 2, 0, "every fence is closed:\n{out}");
        assert!(out.trim_end().ends_with("To apply exactly this: `seqops apply plan.json`"), "{out}");
        assert!(out.contains("x…"), "a long drifted value is shortened above the fold");
    }

    #[test]
    fn the_header_names_where_the_plan_applies_and_the_comment_ends_with_its_apply_command() {
        let header = Header {
            files: vec!["-".into()],
            applies_to: AppliesTo {
                environment: Some("production".into()),
                state: "k8s://seqops/state".into(),
                providers: vec![crate::engine::planfile::ProviderSource {
                    name: "orsay".into(),
                    provider_type: "orsay".into(),
                    credentials: "Secret orsay-key, key api-key".into(),
                }],
            },
            commit: Some(("0123456789abcdef0123".into(), false)),
            apply_command: "seqops apply plan.json".into(),
            apply_reads_stdin: false,
        };
        let plan = Plan { changes: vec![change("a", "Hi\nfriend\n")], ..Default::default() };
        let out = render(&plan, &header, DEFAULT_CAP);
        assert!(out.starts_with("### seqops plan: production\n"), "{out}");
        for line in [
            "| manifests | -f `-` |",
            "| state | `k8s://seqops/state` |",
            "| Provider `orsay` | orsay, key from Secret orsay-key, key api-key |",
            "| commit | `0123456789ab` |",
        ] {
            assert!(out.contains(line), "{line}:\n{out}");
        }
        assert!(out.trim_end().ends_with("To apply exactly this: `seqops apply plan.json`"), "{out}");
    }

    #[test]
    fn a_new_texts_lines_are_indented_under_its_field_and_end_with_it() {
        let mut out = String::new();
        let field = FieldChange::plain("flow[0].content", None, Some(Value::String("Hey!\nWhat brings you?\n".into())));
        field_lines(&mut out, &field);
        assert_eq!(out, "+ flow[0].content: |\n+     Hey!\n+     What brings you?\n");
    }

    #[test]
    fn past_the_cap_the_summary_stays_and_the_objects_left_out_are_named() {
        let big = "x".repeat(5_000) + "\n";
        let changes: Vec<Change> = (0..30).map(|i| change(&format!("s{i}"), &big)).collect();
        let plan = Plan { changes, ..Default::default() };
        let out = render(&plan, &Header::default(), DEFAULT_CAP);
        assert!(out.len() <= DEFAULT_CAP, "{}", out.len());
        assert!(out.contains("Plan: 0 to create, 30 to update"));
        assert!(out.contains("objects left out to fit the comment size limit:** `~ Sequence/s"), "{out}");
        assert!(out.contains("Sequence/s29"));
    }
}
