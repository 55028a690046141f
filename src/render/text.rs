//! The plan as text, for a terminal or a CI log.

use std::fmt::Write;

use serde_json::Value;

use crate::engine::diff::FieldChange;
use crate::engine::{Action, Change, Plan, Verb};

/// Colours or not: only on a terminal, and never with `NO_COLOR`.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn detect(stream_is_terminal: bool) -> Self {
        Self { color: stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn for_verb(&self, verb: Verb, text: &str) -> String {
        self.paint(colour(verb), text)
    }
}

/// The terminal colour of a verb: red for what cannot be undone.
fn colour(verb: Verb) -> &'static str {
    match verb {
        Verb::Create | Verb::Adopt => "32",
        Verb::Update => "33",
        Verb::Replace | Verb::Delete | Verb::Stop => "31",
        Verb::Pause | Verb::Resume => "34",
        Verb::Forget | Verb::Moved => "36",
    }
}

/// `will be adopted, then stopped (cannot be undone)`.
pub fn what_happens(change: &Change) -> String {
    let mut words = change.what_happens();
    if change.cannot_be_undone() {
        words.push_str(" (cannot be undone)");
    } else if change.steps.lasting {
        words.push_str(" (cannot be undone: the API cannot delete it)");
    }
    words
}

/// The symbols of what a change does: `<= x`.
pub fn symbols(change: &Change) -> String {
    change.verbs().iter().map(|v| v.symbol()).collect::<Vec<_>>().join(" ")
}

pub fn render(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    for warning in &plan.warnings {
        let _ = writeln!(out, "{} {warning}", style.paint("33", "Warning:"));
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    if !plan.is_empty() {
        let _ = writeln!(out, "seqops will perform the following actions:\n");
        for change in &plan.changes {
            render_change(&mut out, change, style);
        }
    }
    let _ = writeln!(out, "{}", summary(plan));
    if let Some(cost) = super::cost::line(plan) {
        let _ = writeln!(out, "{cost}");
    }
    let _ = writeln!(out, "{}", requests_line(plan));
    out
}

/// `Plan: N to create, …` or `No changes.`, as Terraform says it; what
/// cannot be undone is counted apart, last: `1 to stop, cannot be undone.`
pub fn summary(plan: &Plan) -> String {
    if plan.is_empty() {
        return "No changes. The remote objects match the manifests.".into();
    }
    let counts = plan.summary();
    let others = counts.counted(&[Verb::Adopt, Verb::Moved, Verb::Forget, Verb::Pause, Verb::Resume]);
    let undone = counts.counted(&Verb::CANNOT_BE_UNDONE);
    let (create, update) = (counts.count(Verb::Create), counts.count(Verb::Update));
    let mut line = if undone.is_empty() {
        format!("Plan: {create} to create, {update} to update, 0 to replace, 0 to delete.")
    } else {
        format!("Plan: {create} to create, {update} to update.")
    };
    if !others.is_empty() {
        let _ = write!(line, " {}.", others.join(", "));
    }
    if !undone.is_empty() {
        let _ = write!(line, " {}, cannot be undone.", undone.join(", "));
    }
    line
}

/// How many requests each account spent, and what is left of its budget.
pub fn requests_line(plan: &Plan) -> String {
    let parts: Vec<String> = plan
        .usage
        .iter()
        .map(|u| match (u.remaining, u.limit) {
            (Some(remaining), Some(limit)) => {
                // An hourly budget is what every vendor but Gary counts in;
                // any other window is named.
                let window = u.window.as_deref().filter(|w| *w != "per hour").map(|w| format!(" ({w})"));
                format!(
                    "{} made {} request{}, {remaining} of {limit} left{}",
                    u.account,
                    u.requests,
                    plural(u.requests),
                    window.unwrap_or_default()
                )
            }
            _ => format!("{} made {} request{}", u.account, u.requests, plural(u.requests)),
        })
        .collect();
    if parts.is_empty() {
        "Requests: none.".into()
    } else {
        format!("Requests: {}.", parts.join("; "))
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn render_change(out: &mut String, change: &Change, style: Style) {
    let id = change.id.as_ref().map(|id| format!(", id {id}")).unwrap_or_default();
    let _ = writeln!(out, "  # {} ({}{id}) {}", change.key, change.provider, what_happens(change));
    for reason in &change.reasons {
        let _ = writeln!(out, "  #   {reason}");
    }
    let painted: Vec<String> = change.verbs().into_iter().map(|v| style.for_verb(v, v.symbol())).collect();
    let symbol = painted.join(" ");
    let _ = writeln!(out, "  {symbol} {} {:?}", change.key, change.display_name);
    for field in &change.fields {
        render_field(out, field, change.action, style);
    }
    if !change.drift.is_empty() {
        let _ = writeln!(out, "      {}", style.paint("35", "drift: changed outside seqops since the last apply:"));
        for field in &change.drift {
            let _ = writeln!(
                out,
                "      {} {}: {} -> {}",
                style.paint("35", "!"),
                field.path,
                value_text(field.before.as_ref()),
                value_text(field.after.as_ref())
            );
        }
    }
    out.push('\n');
}

fn render_field(out: &mut String, field: &FieldChange, action: Action, style: Style) {
    let multiline = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).is_some_and(|s| s.contains('\n'));
    if action == Action::Create {
        if multiline(&field.after) {
            let _ = writeln!(out, "      {} {}: |", style.paint("32", "+"), field.path);
            for line in field.after.as_ref().and_then(Value::as_str).unwrap_or_default().lines() {
                let _ = writeln!(out, "            {line}");
            }
        } else {
            let _ = writeln!(
                out,
                "      {} {}: {}{}",
                style.paint("32", "+"),
                field.path,
                value_text(field.after.as_ref()),
                note_text(field)
            );
        }
        return;
    }
    if multiline(&field.before) || multiline(&field.after) {
        let before = field.before.as_ref().and_then(Value::as_str).unwrap_or_default();
        let after = field.after.as_ref().and_then(Value::as_str).unwrap_or_default();
        let _ = writeln!(out, "      {} {}:", style.paint("33", "~"), field.path);
        let diff = similar::TextDiff::from_lines(before, after);
        for change in diff.iter_all_changes() {
            let (sign, code) = match change.tag() {
                similar::ChangeTag::Delete => ("-", "31"),
                similar::ChangeTag::Insert => ("+", "32"),
                similar::ChangeTag::Equal => (" ", "0"),
            };
            let line = format!("{sign} {}", change.value().trim_end_matches('\n'));
            let _ = writeln!(out, "          {}", if sign == " " { line } else { style.paint(code, &line) });
        }
        return;
    }
    if field.sensitive && field.before.is_some() && field.after.is_some() {
        let _ = writeln!(out, "      {} {}: (sensitive value changed)", style.paint("33", "~"), field.path);
        return;
    }
    let (sign, code) = match (&field.before, &field.after) {
        (None, _) => ("+", "32"),
        (_, None) => ("-", "31"),
        _ => ("~", "33"),
    };
    let _ = writeln!(
        out,
        "      {} {}: {} -> {}{}",
        style.paint(code, sign),
        field.path,
        value_text(field.before.as_ref()),
        value_text(field.after.as_ref()),
        note_text(field)
    );
}

/// ` (lookup "Sales Agent")` after a value that is an id.
fn note_text(field: &FieldChange) -> String {
    field.note.as_ref().map(|note| format!(" ({note})")).unwrap_or_default()
}

/// A value for people: JSON, except for the markers that stand for values
/// never shown (secrets) or too long to show (documents).
pub fn value_text(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".into(),
        Some(Value::String(text)) if text.starts_with("(sensitive") => text.clone(),
        Some(value) => match crate::providers::sources::marker(value) {
            Some((_, None)) => "(not readable)".into(),
            _ if crate::external::digest::not_comparable(value) => "(sensitive: not comparable)".into(),
            Some((kind, Some(_))) if kind == crate::providers::sources::SENSITIVE => "(sensitive)".into(),
            Some((_, Some(digest))) => format!("(content {})", digest.chars().take(19).collect::<String>()),
            None => value.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_colour_is_written_when_not_asked_for() {
        let style = Style { color: false };
        assert_eq!(style.paint("32", "+"), "+");
    }

    #[test]
    fn multi_line_content_is_shown_as_a_line_diff() {
        let mut out = String::new();
        let field = FieldChange {
            path: "flow[0].content".into(),
            sensitive: false,
            changed: None,
            note: None,
            before: Some(Value::String("Hi!\nWelcome.\n".into())),
            after: Some(Value::String("Hi!\nWelcome back.\n".into())),
        };
        render_field(&mut out, &field, Action::Update, Style { color: false });
        assert!(out.contains("- Welcome.") && out.contains("+ Welcome back.") && out.contains("  Hi!"), "{out}");
    }
}
