//! What a change does, in the words every form of a plan (text, Markdown,
//! JSON) shows and counts: the [`Action`] apply takes, and the [`Verb`]s a
//! reviewer reads, which add the moves a kind makes by calls of its own
//! (a Topo pause, resume or stop) and say an adoption that also stops as
//! both.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Change;
use crate::external::Transition;
use crate::manifest::ResourceKey;

/// What apply does with a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    Adopt,
    Forget,
    /// The object's record moves to a new name; nothing is sent.
    Moved,
}

impl Action {
    /// Whether carrying it out sends anything to the API: a forget or a
    /// move to a new name changes only state.
    pub fn sends(self) -> bool {
        !matches!(self, Action::Forget | Action::Moved)
    }
}

/// One thing a plan says a change does, with its own symbol, word, count
/// and colour wherever a plan is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Create,
    Update,
    Adopt,
    Moved,
    Forget,
    Pause,
    Resume,
    Replace,
    Delete,
    Stop,
}

impl Verb {
    /// What cannot be undone, as a summary counts it apart, last.
    pub const CANNOT_BE_UNDONE: [Verb; 3] = [Verb::Replace, Verb::Delete, Verb::Stop];

    /// Every verb, in the order a summary counts them: what can be undone,
    /// then what cannot.
    pub const ALL: [Verb; 10] = [
        Verb::Create,
        Verb::Update,
        Verb::Adopt,
        Verb::Moved,
        Verb::Forget,
        Verb::Pause,
        Verb::Resume,
        Verb::Replace,
        Verb::Delete,
        Verb::Stop,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            Verb::Create => "+",
            Verb::Update => "~",
            Verb::Replace => "-/+",
            Verb::Delete => "-",
            Verb::Adopt => "<=",
            Verb::Forget => "forget",
            Verb::Moved => "->",
            Verb::Pause => "||",
            Verb::Resume => "|>",
            Verb::Stop => "x",
        }
    }

    /// How a summary counts it: `1 to stop`, `1 moved`.
    pub fn counted(self, count: usize) -> String {
        match self {
            Verb::Moved => format!("{count} moved"),
            other => format!("{count} to {}", other.word()),
        }
    }

    /// Its word, the same in text, Markdown and JSON: `stop`, `moved`.
    pub fn word(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Replace => "replace",
            Verb::Delete => "delete",
            Verb::Adopt => "adopt",
            Verb::Forget => "forget",
            Verb::Moved => "moved",
            Verb::Pause => "pause",
            Verb::Resume => "resume",
            Verb::Stop => "stop",
        }
    }

    /// What happens to the object: `will be stopped`.
    pub fn what_happens(self) -> &'static str {
        match self {
            Verb::Create => "will be created",
            Verb::Update => "will be updated in place",
            Verb::Replace => "must be replaced",
            Verb::Delete => "will be deleted",
            Verb::Adopt => "will be adopted",
            Verb::Forget => "will be removed from state (the remote object is kept)",
            Verb::Moved => "has moved to this name",
            Verb::Pause => "will be paused",
            Verb::Resume => "will be resumed",
            Verb::Stop => "will be stopped",
        }
    }

    /// Whether what it does cannot be undone: such verbs are counted apart.
    pub fn cannot_be_undone(self) -> bool {
        Verb::CANNOT_BE_UNDONE.contains(&self)
    }

    /// The verb of a move between states.
    pub fn of(transition: Transition) -> Verb {
        match transition {
            Transition::Pause => Verb::Pause,
            Transition::Resume => Verb::Resume,
            Transition::Stop => Verb::Stop,
        }
    }

    /// The move between states a verb is, if it is one: what a saved
    /// plan's actions are read back by.
    pub fn transition(self) -> Option<Transition> {
        match self {
            Verb::Pause => Some(Transition::Pause),
            Verb::Resume => Some(Transition::Resume),
            Verb::Stop => Some(Transition::Stop),
            _ => None,
        }
    }
}

/// What a change does beyond its action, as a plan shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Steps {
    /// The move between states the change makes by a call of its own (a
    /// Topo pause, resume or stop); a stop is planned like a delete.
    pub transition: Option<Transition>,
    /// The update sends nothing but that move's call: it is shown as the
    /// move alone.
    pub moves_only: bool,
    /// For an object moved to a new name (`seqops.dev/moved-from`, `seqops
    /// state mv`): the key state knew it by.
    pub moved_from: Option<ResourceKey>,
    /// A replace makes the new object before the old one goes.
    pub create_first: bool,
    /// A create the API cannot take back (a Gary enrollment): marked so on
    /// its line, not counted as destructive.
    pub lasting: bool,
}

impl Change {
    /// What the change does, in the order it happens: `adopt, then stop`.
    pub fn verbs(&self) -> Vec<Verb> {
        let mut verbs = Vec::new();
        if self.steps.moved_from.is_some() {
            verbs.push(Verb::Moved);
        }
        let own = match self.action {
            Action::Create => Some(Verb::Create),
            Action::Update if self.steps.moves_only && self.steps.transition.is_some() => None,
            Action::Update => Some(Verb::Update),
            Action::Replace => Some(Verb::Replace),
            Action::Delete => Some(Verb::Delete),
            Action::Adopt => Some(Verb::Adopt),
            Action::Forget => Some(Verb::Forget),
            // Said first, from the old name, when it is known.
            Action::Moved if self.steps.moved_from.is_some() => None,
            Action::Moved => Some(Verb::Moved),
        };
        verbs.extend(own);
        verbs.extend(self.steps.transition.map(Verb::of));
        verbs
    }

    /// Whether the change ends the object for good by a move (a Topo stop):
    /// planned like a delete.
    pub fn ends(&self) -> bool {
        self.steps.transition.is_some_and(Transition::ends)
    }

    /// Whether any of what it does cannot be undone.
    pub fn cannot_be_undone(&self) -> bool {
        self.verbs().into_iter().any(Verb::cannot_be_undone)
    }

    /// `will be adopted, then stopped`, `has moved from Sequence/a`: what
    /// happens to the object.
    pub fn what_happens(&self) -> String {
        let verbs = self.verbs();
        let mut words = String::new();
        for (index, verb) in verbs.iter().enumerate() {
            let happens = match (verb, &self.steps.moved_from) {
                (Verb::Moved, Some(from)) => &format!("has moved from {from}"),
                _ => verb.what_happens(),
            };
            if index == 0 {
                words.push_str(happens);
            } else {
                words.push_str(", then ");
                words.push_str(happens.trim_start_matches("will be ").trim_start_matches("must be "));
            }
        }
        words
    }

    /// The verbs as Terraform's JSON plan lists a change's actions: a
    /// replace as its delete and create, in the order they happen.
    pub fn json_actions(&self) -> Vec<Verb> {
        let mut actions = Vec::new();
        for verb in self.verbs() {
            match verb {
                Verb::Replace if self.steps.create_first => actions.extend([Verb::Create, Verb::Delete]),
                Verb::Replace => actions.extend([Verb::Delete, Verb::Create]),
                other => actions.push(other),
            }
        }
        actions
    }
}

/// How many changes show each action, as the text and Markdown summaries
/// count them: an adoption that also stops counts once under each.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub moved: usize,
    pub forget: usize,
    pub pause: usize,
    pub resume: usize,
    pub replace: usize,
    pub delete: usize,
    pub stop: usize,
    /// The changes that replace, delete or stop something: what cannot be
    /// undone, counted apart.
    pub cannot_be_undone: usize,
}

impl Summary {
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Self {
        let mut summary = Summary::default();
        for change in changes {
            let verbs = change.verbs();
            for verb in &verbs {
                *summary.slot(*verb) += 1;
            }
            summary.cannot_be_undone += usize::from(verbs.into_iter().any(Verb::cannot_be_undone));
        }
        summary
    }

    /// `1 to adopt`, `2 to stop`: how the summary words each of `verbs`
    /// that the plan has.
    pub fn counted(&self, verbs: &[Verb]) -> Vec<String> {
        verbs.iter().filter(|v| self.count(**v) > 0).map(|v| v.counted(self.count(*v))).collect()
    }

    /// How many changes show `verb`.
    pub fn count(&self, verb: Verb) -> usize {
        match verb {
            Verb::Create => self.create,
            Verb::Update => self.update,
            Verb::Adopt => self.adopt,
            Verb::Moved => self.moved,
            Verb::Forget => self.forget,
            Verb::Pause => self.pause,
            Verb::Resume => self.resume,
            Verb::Replace => self.replace,
            Verb::Delete => self.delete,
            Verb::Stop => self.stop,
        }
    }

    fn slot(&mut self, verb: Verb) -> &mut usize {
        match verb {
            Verb::Create => &mut self.create,
            Verb::Update => &mut self.update,
            Verb::Adopt => &mut self.adopt,
            Verb::Moved => &mut self.moved,
            Verb::Forget => &mut self.forget,
            Verb::Pause => &mut self.pause,
            Verb::Resume => &mut self.resume,
            Verb::Replace => &mut self.replace,
            Verb::Delete => &mut self.delete,
            Verb::Stop => &mut self.stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_replace_a_delete_and_a_stop_cannot_be_undone() {
        let undoable: Vec<Verb> = Verb::ALL.into_iter().filter(|v| v.cannot_be_undone()).collect();
        assert_eq!(undoable, [Verb::Replace, Verb::Delete, Verb::Stop]);
    }

    #[test]
    fn every_verb_has_a_symbol_and_a_word_of_its_own() {
        let symbols: std::collections::BTreeSet<_> = Verb::ALL.iter().map(|v| v.symbol()).collect();
        let words: std::collections::BTreeSet<_> = Verb::ALL.iter().map(|v| v.word()).collect();
        assert_eq!((symbols.len(), words.len()), (Verb::ALL.len(), Verb::ALL.len()));
    }

    #[test]
    fn a_summary_counts_each_verb_in_its_own_place() {
        let mut summary = Summary::default();
        for (index, verb) in Verb::ALL.into_iter().enumerate() {
            *summary.slot(verb) += index + 1;
        }
        let counts: Vec<usize> = Verb::ALL.into_iter().map(|v| summary.count(v)).collect();
        assert_eq!(counts, (1..=Verb::ALL.len()).collect::<Vec<_>>());
    }

    #[test]
    fn a_move_is_read_back_from_its_verb_and_no_other_verb_is_a_move() {
        for transition in [Transition::Pause, Transition::Resume, Transition::Stop] {
            assert_eq!(Verb::of(transition).transition(), Some(transition));
        }
        let moves = Verb::ALL.into_iter().filter(|v| v.transition().is_some()).count();
        assert_eq!(moves, 3);
    }
}
