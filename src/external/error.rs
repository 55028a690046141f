//! What can go wrong talking to a provider, worded for the person who has
//! to fix it.

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "{account}: the API key from {source_name} was refused (401 {detail}); check that it is a valid, unrevoked key"
    )]
    Unauthorized { account: String, source_name: String, detail: String },
    #[error("{account}: the API rejected the request ({method} {path}: 400 {detail})")]
    BadRequest { account: String, method: String, path: String, detail: String },
    #[error("{account}: not found ({method} {path}: 404 {detail})")]
    NotFound { account: String, method: String, path: String, detail: String },
    #[error("{account}: {method} {path} failed with {status}: {detail}")]
    Status { account: String, method: String, path: String, status: u16, detail: String },
    /// A request whose answer never came: it may or may not have taken
    /// effect. A create that ends this way must be looked up, not retried.
    #[error("{account}: {method} {path} got no answer ({reason}); it may or may not have taken effect")]
    Unanswered { account: String, method: String, path: String, reason: String },
    /// A create that was made and answered with values the API shows only
    /// once, but whose id could not be learnt: looked up like an unanswered
    /// create, and its values are kept rather than lost.
    #[error("{account}: {method} {path} made the object, but its id could not be learnt ({reason})")]
    Unidentified {
        account: String,
        method: String,
        path: String,
        reason: String,
        outputs: std::collections::BTreeMap<String, super::secret::Secret>,
    },
    #[error("{account}: could not reach the API ({method} {path}): {reason}")]
    Network { account: String, method: String, path: String, reason: String },
    #[error("{account}: the API answered {method} {path} with a body seqops cannot read: {reason}")]
    Decode { account: String, method: String, path: String, reason: String },
    #[error("{account}: still rate limited after {attempts} attempts")]
    RateLimited { account: String, attempts: u32 },
    /// A 429 asking for a longer wait than the caller waits in place (the
    /// controller's): the call is given up, and tried again no sooner than
    /// the API asks.
    #[error("{account}: rate limited by the API (429); it asks to wait {}", humantime::format_duration(*.retry_after))]
    Throttled { account: String, retry_after: std::time::Duration },
    /// A lookup by display name that found no object, or several.
    #[error("{field}: {message}")]
    Lookup { field: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// A delete's result, where an object already gone counts as deleted:
/// deletes are idempotent.
pub fn ok_if_gone<T>(result: Result<T, ProviderError>) -> Result<(), ProviderError> {
    match result {
        Ok(_) | Err(ProviderError::NotFound { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

/// A read's result, where an object gone is `None`.
pub fn none_if_gone<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ProviderError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// What a person does about a failure, whatever its words: what the
/// controller's condition reasons, metrics and requeues are derived from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cause {
    /// The API refused the key (401, 403): the credential is to fix.
    Refused,
    /// The API asks to wait (429): try again no sooner than this.
    Throttled(Option<std::time::Duration>),
    /// The API failed (5xx), could not be reached, or answered what cannot
    /// be read: try again later.
    Vendor,
    /// The API refused what was sent or named (400, 404, 409, 422, a lookup
    /// that found nothing or several): the manifest or the remote side is
    /// to fix.
    Rejected,
    /// The remote change was made, but what records it (state, the
    /// object's status) could not be written.
    Unrecorded,
    /// Not the API's: seqops's own files or checks.
    #[default]
    Other,
}

impl ProviderError {
    /// What a person does about it.
    pub fn cause(&self) -> Cause {
        match self {
            ProviderError::Unauthorized { .. } | ProviderError::Status { status: 403, .. } => Cause::Refused,
            ProviderError::Throttled { retry_after, .. } => Cause::Throttled(Some(*retry_after)),
            ProviderError::RateLimited { .. } | ProviderError::Status { status: 429, .. } => Cause::Throttled(None),
            ProviderError::Status { status, .. } if *status >= 500 => Cause::Vendor,
            ProviderError::Unanswered { .. }
            | ProviderError::Unidentified { .. }
            | ProviderError::Network { .. }
            | ProviderError::Decode { .. } => Cause::Vendor,
            ProviderError::BadRequest { .. }
            | ProviderError::NotFound { .. }
            | ProviderError::Status { .. }
            | ProviderError::Lookup { .. }
            | ProviderError::Invalid(_) => Cause::Rejected,
        }
    }

    /// Whether a call may have taken effect without seqops knowing what it
    /// made: no answer, or a success answer that could not be read.
    pub fn is_unanswered(&self) -> bool {
        matches!(
            self,
            ProviderError::Unanswered { .. } | ProviderError::Decode { .. } | ProviderError::Unidentified { .. }
        )
    }

    /// The values shown once that came with a create whose id is unknown.
    pub fn outputs(&self) -> Option<&std::collections::BTreeMap<String, super::secret::Secret>> {
        match self {
            ProviderError::Unidentified { outputs, .. } => Some(outputs),
            _ => None,
        }
    }
}
