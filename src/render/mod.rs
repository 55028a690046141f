//! Plans rendered for people (text, Markdown for pull requests) and for
//! machines (the JSON plan document).

pub mod markdown;
pub mod text;
