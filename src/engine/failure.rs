//! A change or a plan that failed: the words a person reads, and the cause
//! a program acts on (the controller's condition reason, metric and
//! requeue), so that neither is read from the other.

use crate::external::{Cause, ProviderError};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    pub cause: Cause,
}

impl Failure {
    pub fn new(message: impl Into<String>, cause: Cause) -> Self {
        Failure { message: message.into(), cause }
    }

    /// A provider's error, worded after `context` (`Sequence/welcome`).
    pub fn provider(context: impl std::fmt::Display, error: &ProviderError) -> Self {
        Failure::new(format!("{context}: {error}"), error.cause())
    }

    /// The same cause, other words (a secret taken out of them).
    pub fn reworded(self, message: String) -> Self {
        Failure { message, ..self }
    }
}

/// What is not the API's: seqops's own state, files or checks.
impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::new(message, Cause::Other)
    }
}
