//! Plans rendered for people (text) and, later, machines.

pub mod text;
