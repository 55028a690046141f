//! The plan as a pull-request comment: a summary table per provider, then
//! one collapsible section per object, capped so the comment always fits.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::text::{requests_line, summary};
use crate::engine::diff::FieldChange;
use crate::engine::{Action, Change, Plan};

/// GitHub refuses comments over 65,536 characters; keep well under.
pub const DEFAULT_CAP: usize = 60_000;

const ACTIONS: [(Action, &str); 6] = [
    (Action::Create, "create"),
    (Action::Update, "update"),
    (Action::Replace, "replace"),
    (Action::Delete, "delete"),
    (Action::Adopt, "adopt"),
    (Action::Forget, "forget"),
];

/// Renders `plan` in at most `cap` characters: when the sections do not all
/// fit, the summary stays and the objects left out are listed by key.
pub fn render(plan: &Plan, cap: usize) -> String {
    let mut head = String::from("### seqops plan\n\n");
    for warning in &plan.warnings {
        let _ = writeln!(head, "> **Warning:** {}\n", escape(warning));
    }
    let _ = writeln!(head, "**{}**\n", summary(plan));
    if let Some(cost) = super::cost::line(plan) {
        let _ = writeln!(head, "{}\n", escape(&cost));
    }
    if !plan.is_empty() {
        head.push_str(&table(plan));
    }
    if let Some(chart) = super::graph::plan_mermaid(plan) {
        let _ = writeln!(head, "```mermaid\n{chart}```\n");
    }
    let tail = format!("\n{}\n", requests_line(plan));
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
    out.push_str(&tail);
    if out.len() > cap {
        // Even the list does not fit: keep the summary and say so.
        let mut short = out[..floor_boundary(&out, cap.saturating_sub(120))].to_string();
        short.push_str("\n\n… (cut to fit the comment size limit)\n");
        return short;
    }
    out
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index.min(text.len())
}

fn table(plan: &Plan) -> String {
    let mut counts: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for change in &plan.changes {
        let row = counts.entry(change.provider.as_str()).or_default();
        if let Some(slot) = ACTIONS.iter().position(|(a, _)| *a == change.action) {
            row[slot] += 1;
        }
    }
    let mut out = String::from(
        "| provider | create | update | replace | delete | adopt | forget |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (provider, row) in counts {
        let cells: Vec<String> = row.iter().map(ToString::to_string).collect();
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
        "<details><summary><code>{} {}</code> {}{id}</summary>\n",
        change.action.symbol(),
        change.key,
        escape(&change.display_name)
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
    if !change.drift.is_empty() {
        out.push_str("\nDrift (changed outside seqops since the last apply):\n\n```diff\n");
        for field in &change.drift {
            let _ =
                writeln!(out, "! {}: {} -> {}", field.path, value(field.before.as_ref()), value(field.after.as_ref()));
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
    let keys: Vec<String> = changes.iter().map(|c| format!("`{} {}`", c.action.symbol(), c.key)).collect();
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
            "action": "update", "id": "id-1", "display_name": name,
            "fields": [{"path": "flow[0].content", "before": "Hi\nthere\n", "after": content}],
        }))
        .map(Change::from)
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_object_is_a_collapsible_section_with_its_diff() {
        let plan = Plan { changes: vec![change("a", "Hi\nfriend\n")], ..Default::default() };
        let out = render(&plan, DEFAULT_CAP);
        assert!(out.contains("| main | 0 | 1 | 0 | 0 | 0 | 0 |"), "{out}");
        assert!(out.contains("<details><summary><code>~ Sequence/a</code>"), "{out}");
        assert!(out.contains("- there\n+ friend\n"), "{out}");
    }

    #[test]
    fn past_the_cap_the_summary_stays_and_the_objects_left_out_are_named() {
        let big = "x".repeat(5_000) + "\n";
        let changes: Vec<Change> = (0..30).map(|i| change(&format!("s{i}"), &big)).collect();
        let plan = Plan { changes, ..Default::default() };
        let out = render(&plan, DEFAULT_CAP);
        assert!(out.len() <= DEFAULT_CAP, "{}", out.len());
        assert!(out.contains("Plan: 0 to create, 30 to update"));
        assert!(out.contains("objects left out to fit the comment size limit:** `~ Sequence/s"), "{out}");
        assert!(out.contains("Sequence/s29"));
    }
}
