//! Saved plans: a plan with what it was made against (state lineage and
//! serial, a digest of the manifests, what it observed of each object), so
//! that applying it later changes exactly what was reviewed, or nothing.
//!
//! The same document is `seqops plan --format json`. Its public form is
//! [`JsonPlan`] (module `json`), versioned by `format_version`, whose schema
//! is `docs/plan.schema.json`; [`PlanDocument`] is the working form.

mod convert;
mod json;

use std::path::Path;

pub use json::{
    schema, AppliesTo, JsonPlan, PlannedChange, PlannedReason, PlannedReference, PlannedSync, ProviderSource,
    FORMAT_VERSION,
};

use super::connections::AccountUsage;
use super::history::Provenance;
pub use super::plan::Summary;
use super::plan::{Change, Plan, Refresh, StateSync};
use super::state::State;
use crate::external::digest::DigestKey;
use crate::external::Fields;
use crate::manifest::{Manifests, ResourceKey};

/// A plan with what it was made against, as seqops holds it between
/// planning and applying. Its changes are the planner's working
/// [`Change`]s; it is written and read only through [`JsonPlan`], the
/// public format, so the two can differ without the file changing.
#[derive(Clone, Debug)]
pub struct PlanDocument {
    pub seqops_version: String,
    /// Identifies this plan; state remembers the last plan applied.
    pub plan_id: String,
    pub created_at: String,
    /// The state the plan was made against; `None` when there was none.
    pub state_lineage: Option<String>,
    pub state_serial: Option<u64>,
    pub sandbox: bool,
    pub manifests_digest: String,
    pub refresh: Refresh,
    /// When not empty, the plan covers only these objects and what they
    /// depend on.
    pub targets: Vec<ResourceKey>,
    pub summary: Summary,
    pub changes: Vec<Change>,
    /// Objects whose manifest changed to what they already are: recorded in
    /// state on apply, no request made.
    pub syncs: Vec<StateSync>,
    pub warnings: Vec<String>,
    pub requests: Vec<AccountUsage>,
    /// Who made the plan and why: commit, author, CI run, `--message`.
    pub provenance: Provenance,
    /// Where the plan applies: environment, state, Providers.
    pub applies_to: AppliesTo,
    /// The `-f` set the plan was made from, as given (relative to where it
    /// was made): `seqops apply PLANFILE` reads the same. Empty for plans
    /// made before it was recorded, which apply with `-f` as given.
    pub files: Vec<String>,
    /// `hmac-sha256:KEYID:HEX` of the rest of the document under the
    /// digest key: apply refuses a plan edited since it was made.
    pub signature: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write the plan as JSON: {0}")]
    Write(String),
    #[error("plan {path} has format {found}, and this seqops reads only format {FORMAT_VERSION}: run `seqops plan --out` again to make a plan it can apply")]
    Format { path: String, found: String },
    #[error("this plan was already applied; run `seqops plan` again")]
    AlreadyApplied,
    #[error("this plan was made with no state, and state now exists: it was applied already, or another apply ran; run `seqops plan` again")]
    StateAppeared,
    #[error(
        "this plan was made against a state that is not here: check --state, or fetch the state the plan was made with"
    )]
    StateMissing,
    #[error("this plan was made against another state (lineage {planned}, but state has {actual})")]
    OtherLineage { planned: String, actual: String },
    #[error("state has changed since this plan was made (serial {planned}, now {actual}): another apply ran; run `seqops plan` again")]
    StateMoved { planned: u64, actual: u64 },
    #[error("the manifests have changed since this plan was made; run `seqops plan` again")]
    ManifestsChanged,
    #[error("this plan carries no signature: it was made without a digest key, and may have been edited; run `seqops plan --out` where the key is")]
    Unsigned,
    #[error("this plan was signed with digest key {planned}, and this apply has {actual}: set SEQOPS_DIGEST_KEY to the same secret where the plan is made and where it is applied")]
    OtherKey { planned: String, actual: String },
    #[error(
        "this plan was edited after it was made (its signature does not match its content); run `seqops plan` again"
    )]
    Tampered,
    #[error("this plan was made {planned} the sandbox; run apply {hint}")]
    SandboxMismatch { planned: &'static str, hint: &'static str },
}

impl PlanDocument {
    pub fn new(
        plan: Plan,
        state: Option<&State>,
        manifests: &Manifests,
        sandbox: bool,
        refresh: Refresh,
        targets: Vec<ResourceKey>,
    ) -> Self {
        Self {
            seqops_version: env!("CARGO_PKG_VERSION").into(),
            plan_id: uuid::Uuid::new_v4().to_string(),
            created_at: super::state::now_rfc3339(),
            state_lineage: state.map(|s| s.lineage.clone()),
            state_serial: state.map(|s| s.serial),
            sandbox,
            manifests_digest: manifests_digest(manifests),
            refresh,
            targets,
            summary: Summary::of(&plan.changes),
            changes: plan.changes,
            syncs: plan.syncs,
            warnings: plan.warnings,
            requests: plan.usage,
            provenance: Provenance::default(),
            applies_to: AppliesTo::default(),
            files: Vec::new(),
            signature: None,
        }
    }

    /// Signs the document with `key`: the signature covers the document
    /// without it.
    pub fn sign(&mut self, key: &DigestKey) {
        self.signature = None;
        self.signature = Some(key.sign_json(&JsonPlan::from(&*self)));
    }

    /// Refuses a document `key` did not sign as it is now.
    pub fn verify(&mut self, key: Option<&DigestKey>) -> Result<(), PlanFileError> {
        let Some(signature) = self.signature.take() else { return Err(PlanFileError::Unsigned) };
        let verified = self.verify_signature(key, &signature);
        self.signature = Some(signature);
        verified
    }

    fn verify_signature(&self, key: Option<&DigestKey>, signature: &str) -> Result<(), PlanFileError> {
        let planned = crate::external::digest::key_id_of(signature).unwrap_or("(none)").to_string();
        let Some(key) = key else { return Err(PlanFileError::OtherKey { planned, actual: "none".into() }) };
        if planned != key.id() {
            return Err(PlanFileError::OtherKey { planned, actual: key.id().to_string() });
        }
        if !key.verifies_json(&JsonPlan::from(self), signature) {
            return Err(PlanFileError::Tampered);
        }
        Ok(())
    }

    /// The plan, taken out of the document (not copied).
    pub fn into_plan(self) -> Plan {
        Plan { changes: self.changes, warnings: self.warnings, usage: self.requests, syncs: self.syncs }
    }

    pub fn plan(&self) -> Plan {
        Plan {
            changes: self.changes.clone(),
            warnings: self.warnings.clone(),
            usage: self.requests.clone(),
            syncs: self.syncs.clone(),
        }
    }

    pub fn read(path: &Path) -> Result<Self, PlanFileError> {
        let shown = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|e| PlanFileError::Read { path: shown.clone(), reason: e.to_string() })?;
        Self::parse(&bytes, shown)
    }

    /// The document as `plan --out` saves it and `--format json` prints it:
    /// the one way the format is written.
    pub fn to_json(&self) -> Result<String, PlanFileError> {
        serde_json::to_string_pretty(&JsonPlan::from(self)).map_err(|e| PlanFileError::Write(e.to_string()))
    }

    /// A document from the bytes [`PlanDocument::to_json`] wrote; `shown`
    /// names where they came from in errors.
    pub fn parse(bytes: &[u8], shown: String) -> Result<Self, PlanFileError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| PlanFileError::Read { path: shown.clone(), reason: e.to_string() })?;
        #[derive(serde::Deserialize)]
        struct Version {
            format_version: Option<String>,
        }
        let version = Some(&value)
            .filter(|v| v.is_object())
            .and_then(|v| <Version as serde::Deserialize>::deserialize(v).ok())
            .and_then(|v| v.format_version);
        let found = version.unwrap_or_else(|| "none".to_string());
        if found != FORMAT_VERSION {
            return Err(PlanFileError::Format { path: shown, found });
        }
        let json: JsonPlan =
            serde_json::from_value(value).map_err(|e| PlanFileError::Read { path: shown, reason: e.to_string() })?;
        Ok(json.into())
    }

    /// Refuses a plan whose state or manifests moved on since it was made.
    pub fn check(&self, state: Option<&State>, manifests: &Manifests, sandbox: bool) -> Result<(), PlanFileError> {
        if self.sandbox != sandbox {
            return Err(if self.sandbox {
                PlanFileError::SandboxMismatch { planned: "against", hint: "with --sandbox" }
            } else {
                PlanFileError::SandboxMismatch { planned: "without", hint: "without --sandbox" }
            });
        }
        match (state, &self.state_lineage, self.state_serial) {
            (Some(state), _, _) if state.last_plan_applied.as_deref() == Some(self.plan_id.as_str()) => {
                return Err(PlanFileError::AlreadyApplied)
            }
            (Some(_), None, _) => return Err(PlanFileError::StateAppeared),
            (None, Some(_), _) => return Err(PlanFileError::StateMissing),
            (Some(state), Some(lineage), _) if &state.lineage != lineage => {
                return Err(PlanFileError::OtherLineage { planned: lineage.clone(), actual: state.lineage.clone() })
            }
            (Some(state), Some(_), Some(serial)) if state.serial != serial => {
                return Err(PlanFileError::StateMoved { planned: serial, actual: state.serial })
            }
            _ => {}
        }
        if manifests_digest(manifests) != self.manifests_digest {
            return Err(PlanFileError::ManifestsChanged);
        }
        Ok(())
    }
}

/// A digest of every manifest: its key, its annotations and its spec.
pub fn manifests_digest(manifests: &Manifests) -> String {
    // The digest of `[[key, apiVersion, annotations, spec], …]` sorted by
    // key, fed as it is written rather than built.
    let mut resources: Vec<(String, &crate::manifest::Resource)> =
        manifests.resources.iter().map(|r| (r.key.to_string(), r)).collect();
    resources.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = super::Canonical::default();
    hasher.bytes(b"[");
    for (index, (key, resource)) in resources.into_iter().enumerate() {
        hasher.bytes(if index > 0 { b",[" } else { b"[" });
        hasher.scalar(&key);
        hasher.bytes(b",");
        hasher.scalar(&resource.api_version);
        hasher.bytes(b",");
        // Annotations are a sorted map already: written as they are.
        hasher.scalar(&resource.metadata.annotations);
        hasher.bytes(b",");
        hasher.value(resource.spec.json());
        hasher.bytes(b"]");
    }
    hasher.bytes(b"]");
    hasher.finish()
}

/// The fields of `before` whose value is different, or gone, in `now`: what
/// changed remotely since a plan observed the object.
pub fn changed_since(before: &Fields, now: &Fields) -> Vec<String> {
    before.iter().filter(|(field, value)| now.get(*field) != Some(*value)).map(|(field, _)| field.clone()).collect()
}
