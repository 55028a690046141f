//! What is refused before the first request: a manifest that would send a
//! Provider's API key elsewhere, and sources that cannot be read.

use std::collections::BTreeMap;

use super::group::{located, reader_for};
use super::PlanOptions;
use crate::engine::Connections;
use crate::external::ProviderError;
use crate::manifest::Manifests;

/// Every read refused, each at its file and line: credentials first, then
/// sources that cannot be read.
pub(super) fn refused_reads(manifests: &Manifests, options: &PlanOptions, connections: &Connections) -> Vec<String> {
    let mut refused = credential_reads(manifests);
    refused.extend(unreadable_sources(manifests, options, connections));
    refused
}

/// Sources that read a variable some Provider takes its API key from: a
/// manifest could send one vendor's key to another (as a header of an
/// Orqis agent, say), so such a read is refused before any request.
fn credential_reads(manifests: &Manifests) -> Vec<String> {
    let credentials: BTreeMap<&str, &str> = manifests
        .providers()
        .filter_map(|p| {
            Some((
                p.spec.typed::<crate::manifest::ProviderSpec>().ok()?.credentials.env.as_deref()?,
                p.metadata.name.as_str(),
            ))
        })
        .collect();
    let mut refused = Vec::new();
    for resource in manifests.managed() {
        for (path, variable) in resource.spec.sources().env_reads() {
            if let Some(provider) = credentials.get(variable.as_str()) {
                let field = format!("spec.{path}");
                refused.push(format!(
                    "{}: {field}: reads ${variable}, the API key of Provider `{provider}`; a manifest may not send a Provider's key anywhere else",
                    resource.document.locate(&field)
                ));
            }
        }
    }
    refused
}

/// Every source a manifest names that cannot be read (a missing variable
/// or file, a path outside the project), each at its file and line.
fn unreadable_sources(manifests: &Manifests, options: &PlanOptions, connections: &Connections) -> Vec<String> {
    manifests
        .managed()
        .filter_map(|resource| {
            reader_for(resource, options, connections).read_all(resource.spec.sources()).err().map(
                |(field, message)| {
                    let error = ProviderError::Lookup { field, message };
                    located(resource, &error)
                },
            )
        })
        .collect()
}
