//! Where a plan applies, for the Markdown comment's header: the `-f` set,
//! state, the environment, each Provider with where its key comes from
//! (named, never read, and no request made), the commit, and the command
//! that applies the plan.

use std::path::Path;

use seqops::engine::planfile::PlanDocument;
use seqops::manifest::{Manifests, ProviderSpec};
use seqops::render::markdown::{Header, ProviderLine};

use super::Common;

/// The header of a plan made from `common`'s flags; `out` is where it was
/// saved, if it was.
pub fn header(
    common: &Common,
    manifests: Option<&Manifests>,
    document: &PlanDocument,
    environment: Option<&str>,
    out: Option<&Path>,
) -> Header {
    let files: Vec<String> = common.files().iter().map(|f| f.display().to_string()).collect();
    let apply_command = match out {
        Some(out) => format!("seqops apply{} {}", common.repeated_flags(), out.display()),
        None => {
            let given: Vec<String> = files.iter().map(|f| format!(" -f {f}")).collect();
            format!("seqops apply{}{}", common.repeated_flags(), given.concat())
        }
    };
    Header {
        files,
        state: common.state.display().to_string(),
        environment: environment.map(String::from),
        providers: manifests.map(providers).unwrap_or_default(),
        commit: document.provenance.commit.clone().map(|commit| (commit, document.provenance.dirty)),
        apply_command,
    }
}

/// A saved plan's header: what the document itself records.
pub fn saved(document: &PlanDocument) -> Header {
    Header {
        files: document.files.clone(),
        state: "(as when the plan was made)".into(),
        commit: document.provenance.commit.clone().map(|commit| (commit, document.provenance.dirty)),
        ..Header::default()
    }
}

/// Each Provider manifest: its name, type, and where its key comes from.
fn providers(manifests: &Manifests) -> Vec<ProviderLine> {
    manifests
        .providers()
        .map(|resource| {
            let spec = resource.spec.typed::<ProviderSpec>().ok();
            let (provider_type, credentials) = match &spec {
                Some(spec) => (spec.provider_type.to_string(), credentials(spec)),
                None => (String::new(), "(unreadable)".into()),
            };
            ProviderLine { name: resource.key.name.clone(), provider_type, credentials }
        })
        .collect()
}

/// `$ORSAY_API_KEY`, or `Secret orsay-key, key api-key`: named, never read.
fn credentials(spec: &ProviderSpec) -> String {
    match (&spec.credentials.env, &spec.credentials.secret_ref) {
        (Some(variable), _) => format!("${variable}"),
        (None, Some(secret)) => format!("Secret {}, key {}", secret.name, secret.key),
        (None, None) => "(not named)".into(),
    }
}
