//! What a GitOps pull request removes: objects of seqops's kinds in a
//! namespace that the manifests no longer hold. Flux or Argo CD with pruning
//! deletes them, and the controller then deletes their remote objects, so a
//! review of the pull request must see them. Which of them a tool prunes is
//! decided by `--selector` or by the ownership marks the tool leaves on what
//! it applied (Flux's `kustomize.toolkit.fluxcd.io/*` labels, Argo CD's
//! `app.kubernetes.io/instance` label or `argocd.argoproj.io/tracking-id`).

use std::collections::{BTreeMap, BTreeSet};

use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{Expression, Selector, SelectorExt};
use kube::ResourceExt;

use super::cluster::{self, ClusterError};
use crate::manifest::{KindSpec, Manifests, ResourceKey};

const FLUX_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
const FLUX_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
const ARGO_INSTANCE: &str = "app.kubernetes.io/instance";
const ARGO_TRACKING: &str = "argocd.argoproj.io/tracking-id";

/// Which removed objects a prune would delete.
#[derive(Clone, Debug, Default)]
pub enum Scope {
    /// Those a label selector picks (`--selector`).
    Selector(Selector),
    /// Those owned by the GitOps tool that owns the manifests' objects.
    #[default]
    Owners,
}

/// An object in the cluster that the manifests do not hold.
pub struct Removed {
    pub key: ResourceKey,
    pub kind: KindSpec,
    pub object: DynamicObject,
}

/// What was found, split by scope.
pub struct Findings {
    /// In scope: a prune deletes these.
    pub pruned: Vec<Removed>,
    /// In scope without `--prune`, or with no Provider to delete them by:
    /// left in the cluster.
    pub left: Vec<ResourceKey>,
    /// How the scope was decided, for the plan's note.
    pub scope: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SelectorError {
    #[error("--selector `{text}`: {why}")]
    Invalid { text: String, why: String },
}

/// Parses a label selector as kubectl's `-l` takes it: `a=b`, `a==b`,
/// `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, joined by commas.
pub fn parse_selector(text: &str) -> Result<Selector, SelectorError> {
    let invalid = |why: &str| SelectorError::Invalid { text: text.to_string(), why: why.to_string() };
    let mut expressions = Vec::new();
    for term in split_terms(text).ok_or_else(|| invalid("a parenthesis is not closed"))? {
        let term = term.trim();
        expressions.push(parse_term(term).ok_or_else(|| invalid(&format!("`{term}` is not a requirement")))?);
    }
    if expressions.is_empty() {
        return Err(invalid("it selects nothing: write key=value"));
    }
    Ok(expressions.into_iter().collect())
}

/// Splits at the commas outside parentheses.
fn split_terms(text: &str) -> Option<Vec<&str>> {
    let (mut terms, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1)?,
            ',' if depth == 0 => {
                terms.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    (depth == 0).then(|| {
        terms.push(&text[start..]);
        terms.into_iter().filter(|t| !t.trim().is_empty()).collect()
    })
}

fn parse_term(term: &str) -> Option<Expression> {
    let valid_key = |key: &str| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let key_value = |key: &str, value: &str| {
        let (key, value) = (key.trim(), value.trim());
        (valid_key(key) && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .then(|| (key.to_string(), value.to_string()))
    };
    if let Some((key, values)) = set_term(term, " notin ") {
        return valid_key(key).then(|| Expression::NotIn(key.into(), values));
    }
    if let Some((key, values)) = set_term(term, " in ") {
        return valid_key(key).then(|| Expression::In(key.into(), values));
    }
    if let Some((key, value)) = term.split_once("!=") {
        return key_value(key, value).map(|(k, v)| Expression::NotEqual(k, v));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return key_value(key, value).map(|(k, v)| Expression::Equal(k, v));
    }
    match term.strip_prefix('!') {
        Some(key) => valid_key(key.trim()).then(|| Expression::DoesNotExist(key.trim().into())),
        None => valid_key(term).then(|| Expression::Exists(term.into())),
    }
}

/// `key in (a,b)`: the key and the set.
fn set_term<'a>(term: &'a str, operator: &str) -> Option<(&'a str, BTreeSet<String>)> {
    let (key, rest) = term.split_once(operator)?;
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    let values = inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
    Some((key.trim(), values))
}

/// The GitOps owner an object's labels or annotations name, if any:
/// `flux:NAMESPACE/NAME` or `argocd:APP`.
fn owner_of(object: &DynamicObject) -> Option<String> {
    let labels = object.labels();
    if let (Some(name), Some(namespace)) = (labels.get(FLUX_NAME), labels.get(FLUX_NAMESPACE)) {
        return Some(format!("flux:{namespace}/{name}"));
    }
    // Argo CD's tracking id is `APP:GROUP/KIND:NAMESPACE/NAME`.
    if let Some(app) = object.annotations().get(ARGO_TRACKING).and_then(|t| t.split(':').next()) {
        return Some(format!("argocd:{app}"));
    }
    labels.get(ARGO_INSTANCE).map(|app| format!("argocd:{app}"))
}

/// Lists every seqops kind in `namespace` and finds the objects
/// `manifests` no longer hold. `present` are the cluster's copies of the
/// manifests' objects, whose owners scope a prune without a selector.
pub async fn find(
    client: &kube::Client,
    namespace: &str,
    manifests: &Manifests,
    kinds: &[KindSpec],
    present: &[DynamicObject],
    scope: &Scope,
    prune: bool,
) -> Result<Findings, ClusterError> {
    let owners: BTreeSet<String> = present.iter().filter_map(owner_of).collect();
    let in_scope = |object: &DynamicObject| match scope {
        Scope::Selector(selector) => selector.matches(object.labels()),
        Scope::Owners => owner_of(object).is_some_and(|o| owners.contains(&o)),
    };
    let described = match scope {
        Scope::Selector(selector) => Some(format!("objects matching --selector {selector}")),
        Scope::Owners if owners.is_empty() => None,
        Scope::Owners => Some(format!("objects owned by {}", owners.iter().cloned().collect::<Vec<_>>().join(", "))),
    };
    if prune && described.is_none() {
        return Err(ClusterError::Invalid(format!(
            "--prune needs to know which objects your GitOps tool prunes: none of these manifests' objects in namespace {namespace} carries {FLUX_NAME}, {ARGO_INSTANCE} or {ARGO_TRACKING}; name them with --selector"
        )));
    }
    let mut findings = Findings { pruned: Vec::new(), left: Vec::new(), scope: described };
    // Objects another owner applied were never in these manifests.
    let relevant = |object: &DynamicObject| unscoped(scope, &owners) || in_scope(object);
    for removed in removed_objects(client, namespace, manifests, kinds).await? {
        match (relevant(&removed.object), prune) {
            (false, _) => {}
            (true, true) => findings.pruned.push(removed),
            (true, false) => findings.left.push(removed.key),
        }
    }
    Ok(findings)
}

/// Whether nothing tells which objects these manifests own, so every
/// removed object is relevant.
fn unscoped(scope: &Scope, owners: &BTreeSet<String>) -> bool {
    matches!(scope, Scope::Owners) && owners.is_empty()
}

/// The objects of every seqops kind but Provider in `namespace` that are
/// not in `manifests` and are not already being deleted.
async fn removed_objects(
    client: &kube::Client,
    namespace: &str,
    manifests: &Manifests,
    kinds: &[KindSpec],
) -> Result<Vec<Removed>, ClusterError> {
    let held: BTreeSet<&ResourceKey> = manifests.managed().map(|r| &r.key).collect();
    let mut removed = Vec::new();
    for kind in kinds.iter().filter(|k| k.provider_type.is_some()) {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &cluster::api_resource(kind));
        let objects = match api.list(&ListParams::default()).await {
            Ok(list) => list.items,
            // A kind whose CRD is not installed has no objects.
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(e) => return Err(e.into()),
        };
        for object in objects {
            let key = ResourceKey::new(kind.key_kind, object.name_any());
            if !held.contains(&key) && object.metadata.deletion_timestamp.is_none() {
                removed.push(Removed { key, kind: *kind, object });
            }
        }
    }
    Ok(removed)
}

/// The Provider a removed object names (`providerRef.name`), or the only
/// Provider of its type among `providers` (name → type).
pub fn provider_of(removed: &Removed, providers: &BTreeMap<String, String>) -> Option<String> {
    let common = crate::manifest::common::Common::of(&super::cluster::spec_of(&removed.object));
    if let Some(name) = common.provider_name() {
        return Some(name.to_string());
    }
    let wanted = removed.kind.provider_type?;
    let mut of_type = providers.iter().filter(|(_, t)| t.as_str() == wanted.as_str());
    match (of_type.next(), of_type.next()) {
        (Some((name, _)), None) => Some(name.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_selector_is_read_as_kubectl_reads_it() {
        let selector = parse_selector("team=growth,tier in (a, b),!legacy").expect("valid");
        assert!(selector.matches(&labels(&[("team", "growth"), ("tier", "b")])));
        assert!(!selector.matches(&labels(&[("team", "growth"), ("tier", "c")])));
        assert!(!selector.matches(&labels(&[("team", "growth"), ("tier", "a"), ("legacy", "yes")])));
        assert!(parse_selector("env!=prod").expect("valid").matches(&labels(&[])));
    }

    #[test]
    fn a_selector_that_is_not_one_is_refused() {
        for text in ["", "tier in (a", "a=b=c", "=x", "a b"] {
            assert!(parse_selector(text).is_err(), "{text}");
        }
    }
}
