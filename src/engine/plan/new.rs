//! A manifest state knows nothing of: created, or, where the remote side
//! already has its object (an id it names, its natural key, its name under
//! `seqops.dev/adopt`), that object is adopted.

use std::path::Path;

use super::group::{annotate, source_dir, Group, Listing};
use super::{Action, Change, Outcome};
use crate::engine::diff;
use crate::engine::reason::Reason;
use crate::external::{ProviderError, RemoteSummary};
use crate::manifest::{annotations, Resource};

impl Group<'_> {
    /// A manifest state knows nothing of: adopted when it names an id,
    /// found by its natural key where the kind has one, else created (or,
    /// under `seqops.dev/adopt`, the one unmanaged object of its name
    /// adopted).
    pub(super) async fn plan_new(
        &self,
        resource: &Resource,
        listing: Option<&Listing>,
        warnings: &mut Vec<String>,
    ) -> Result<Outcome, ProviderError> {
        if let Some((id, reason)) = self.id_named(resource)? {
            return self.plan_adopt(resource, id, reason, listing).await;
        }
        let facts = self.client.facts();
        if facts.natural_key_of(&self.desired(resource, None).await?).is_some() {
            return self.plan_new_by_natural_key(resource, listing).await;
        }
        if !facts.creatable() {
            return Err(ProviderError::Invalid(format!(
                "{}: the API cannot create a {}; name an existing one with seqops.dev/external-id",
                resource.key, resource.key.kind
            )));
        }
        let name = self.client.display_name(&resource.spec);
        let candidates = listing.map(|l| l.unmanaged_named(&name)).unwrap_or_default();
        if resource.annotation_is_true(annotations::ADOPT) {
            if let Some(found) = adopt_by_name(resource, &name, &candidates)? {
                return self.plan_adopt(resource, &found.id, Reason::AdoptAnnotationMatchesName, listing).await;
            }
        } else if !candidates.is_empty() {
            warnings.push(format!(
                "{}: {} already named {name:?} (ids {}); another will be created. Set seqops.dev/adopt: \"true\" to adopt instead.",
                resource.key,
                crate::words::count(candidates.len() as u64, "unmanaged remote object", "unmanaged remote objects"),
                ids(&candidates)
            ));
        }
        let mut change = self.plan_create(resource).await?;
        change.preexisting = candidates.iter().map(|s| s.id.clone()).collect();
        Ok(Outcome::Change(Box::new(change)))
    }

    /// The remote id the manifest names (`seqops.dev/external-id`, or an
    /// adopt-only kind's `spec.id`), and which names it; an error when
    /// another manifest already manages it.
    fn id_named<'r>(&self, resource: &'r Resource) -> Result<Option<(&'r str, Reason)>, ProviderError> {
        let facts = self.client.facts();
        let named = match resource.annotation(annotations::EXTERNAL_ID) {
            Some(id) => Some((id, "seqops.dev/external-id", Reason::ExternalIdNamesIt)),
            None => facts
                .id_field()
                .and_then(|f| resource.spec.json().get(f))
                .and_then(|v| v.as_str())
                .map(|id| (id, "spec.id", Reason::SpecIdNamesIt)),
        };
        let Some((id, by, reason)) = named else { return Ok(None) };
        if self.state.managed_ids(self.provider, &resource.key.kind).contains(id) {
            return Err(ProviderError::Invalid(format!(
                "{}: {by} names {id}, which another manifest already manages",
                resource.key
            )));
        }
        Ok(Some((id, reason)))
    }

    /// A kind with a natural key: the remote object with the same key is
    /// this manifest's (adopted where the create is idempotent or the
    /// manifest asks to adopt); one in a terminal state is bound as it is
    /// and never made again.
    async fn plan_new_by_natural_key(
        &self,
        resource: &Resource,
        listing: Option<&Listing>,
    ) -> Result<Outcome, ProviderError> {
        let desired = self.desired(resource, None).await?;
        let facts = self.client.facts();
        // Two manifests with one natural key would both be bound to the one
        // object the API makes for it.
        if let Some(key) = facts.natural_key_of(&desired) {
            self.claim(&format!("natural key {}", serde_json::Value::Array(key)), &resource.key)?;
        }
        let found = self.by_natural_key(&desired, listing)?;
        if !facts.creatable() {
            return self.adopt_only(resource, found, listing).await;
        }
        let Some(found) = found else {
            return Ok(Outcome::Change(Box::new(self.plan_create(resource).await?)));
        };
        if let Some(outcome) = self.plan_finished(resource, found, listing).await? {
            return Ok(outcome);
        }
        let key = facts.natural_key().join(" and ");
        if facts.create_overwrites() && !resource.annotation_is_true(annotations::ADOPT) {
            return Err(ProviderError::Invalid(format!(
                "{}: {} already exists and no state entry manages it; creating it would replace what it holds (the API's create is an upsert by {key}). Set seqops.dev/adopt: \"true\" to take it over and write this value over it, or remove the manifest",
                resource.key, found.id
            )));
        }
        if facts.idempotent_create() || resource.annotation_is_true(annotations::ADOPT) {
            let reason = Reason::ExistsAdopted { id: found.id.clone(), natural_key: super::group::natural_key(facts) };
            return self.plan_adopt(resource, &found.id, reason, listing).await;
        }
        Err(ProviderError::Invalid(format!(
            "{}: {} already exists with this {key} and no state entry manages it; adopt it with seqops.dev/adopt: \"true\"",
            resource.key, found.id
        )))
    }

    /// A create of the manifest's object. Where a value shown once will
    /// go is checked now: once the object is made, it has nowhere else.
    pub(super) async fn plan_create(&self, resource: &Resource) -> Result<Change, ProviderError> {
        let common = crate::manifest::common::Common::of(resource.spec.json());
        if self.options.outputs_to_files && common.write_secret_to.is_some() && common.output_file().is_none() {
            return Err(ProviderError::Lookup {
                field: "spec.writeSecretTo".into(),
                message: "the CLI writes values shown once to a file: add `file: PATH` (secretRef is the controller's)"
                    .into(),
            });
        }
        // Checked now: once the object is made, its value has nowhere else
        // to go.
        if let Some(file) = common.output_file().filter(|_| self.options.outputs_to_files) {
            self.connections
                .policy()
                .confined(Path::new(&source_dir(resource)), file)
                .map_err(|message| ProviderError::Lookup { field: "spec.writeSecretTo.file".into(), message })?;
        }
        let mut change = self.base_change(resource, Action::Create, None);
        change.desired = self.desired(resource, None).await?;
        change.fields = diff::creation(&change.desired);
        annotate(&mut change, resource, self.client.as_ref());
        Ok(change)
    }
}

/// Under `seqops.dev/adopt`, the one unmanaged object with the manifest's
/// name; none is a create, several an error naming them.
fn adopt_by_name<'l>(
    resource: &Resource,
    name: &str,
    candidates: &[&'l RemoteSummary],
) -> Result<Option<&'l RemoteSummary>, ProviderError> {
    match candidates {
        [found] => Ok(Some(found)),
        [] => Ok(None),
        several => Err(ProviderError::Invalid(format!(
            "{}: seqops.dev/adopt asks to adopt the one object named {name:?}, but there are {} (ids {}); choose one with seqops.dev/external-id",
            resource.key,
            several.len(),
            ids(several)
        ))),
    }
}

/// `a1, a2`: the ids of remote objects, for messages.
fn ids(summaries: &[&RemoteSummary]) -> String {
    summaries.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
}
