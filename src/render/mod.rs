//! Plans rendered for people (text, Markdown for pull requests) and for
//! machines (the JSON plan document).

pub mod cost;
pub mod graph;
pub mod markdown;
pub mod text;
