//! The `seqops.dev/*` annotations a manifest may carry.

/// Adopt the one unmanaged remote object with the same display name instead
/// of creating a new one.
pub const ADOPT: &str = "seqops.dev/adopt";
/// `delete` (default) or `orphan`: what removing the manifest does remotely.
pub const DELETION_POLICY: &str = "seqops.dev/deletion-policy";
/// Turns a planned delete or replace of the object into an error.
pub const PREVENT_DESTROY: &str = "seqops.dev/prevent-destroy";
/// Stops the controller reconciling the object.
pub const PAUSED: &str = "seqops.dev/paused";
/// Adopts the remote object with this id.
pub const EXTERNAL_ID: &str = "seqops.dev/external-id";
/// On a Provider, in a cluster: lets the controller delete more than
/// the controller's burst limit of the account's objects a minute.
pub const ALLOW_MASS_DELETE: &str = "seqops.dev/allow-mass-delete";

/// The object's old name: state's record of it moves to this name, and
/// nothing is sent (Terraform's `moved {}`). The CLI's; the controller
/// does not rename.
pub const MOVED_FROM: &str = "seqops.dev/moved-from";

pub const KNOWN: [&str; 7] =
    [ADOPT, DELETION_POLICY, PREVENT_DESTROY, PAUSED, EXTERNAL_ID, ALLOW_MASS_DELETE, MOVED_FROM];

/// Checks one annotation's value; `None` when it is fine.
pub fn check(name: &str, value: &str) -> Option<String> {
    match name {
        ADOPT | PREVENT_DESTROY | PAUSED | ALLOW_MASS_DELETE => {
            (value != "true" && value != "false").then(|| format!("must be \"true\" or \"false\", not {value:?}"))
        }
        DELETION_POLICY => {
            (value != "delete" && value != "orphan").then(|| format!("must be \"delete\" or \"orphan\", not {value:?}"))
        }
        EXTERNAL_ID => value.trim().is_empty().then(|| "must name a remote id".to_string()),
        MOVED_FROM => (value.trim().is_empty() || value.contains('/'))
            .then(|| format!("must be the object's old metadata.name, not {value:?}")),
        _ => None,
    }
}
