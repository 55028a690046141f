//! Where a plan applies: recorded in the plan document when it is made
//! (the environment, the state, each Provider and where its key comes
//! from, named and never read, with no request made), and the Markdown
//! comment's header made from it, with the `-f` set, the commit and the
//! command that applies the plan.

use std::path::Path;

use seqops::engine::planfile::{AppliesTo, PlanDocument, ProviderSource};
use seqops::manifest::{Manifests, ProviderSpec};
use seqops::render::markdown::{Header, ProviderLine};

use super::plan::Scope;
use super::{Common, DEFAULT_STATE};

/// What a plan made from `common`'s flags and `manifests` applies to.
pub fn applies_to(common: &Common, manifests: &Manifests, environment: Option<&str>) -> AppliesTo {
    AppliesTo {
        environment: environment.map(String::from),
        state: common.state.display().to_string(),
        providers: providers(manifests),
    }
}

/// The header of a plan just made from `common`'s and `scope`'s flags;
/// `out` is where it was saved, if it was. Without a saved plan, the apply
/// command repeats every flag that shapes the plan.
pub fn header(common: &Common, scope: &Scope, document: &PlanDocument, out: Option<&Path>) -> Header {
    let files: Vec<String> = common.files().iter().map(|f| f.display().to_string()).collect();
    let apply_command = match out {
        Some(out) => format!("seqops apply{} {}", common.repeated_flags(), out.display()),
        None => {
            let given: Vec<String> = files.iter().map(|f| format!(" -f {f}")).collect();
            format!("seqops apply{}{}{}", common.repeated_flags(), given.concat(), scope.repeated_flags())
        }
    };
    Header { files, apply_command, ..recorded(document) }
}

/// The header of a saved plan shown by `seqops show PLANFILE`: what the
/// document recorded, and the command that applies the file.
pub fn saved(document: &PlanDocument, path: &Path) -> Header {
    let sandbox = if document.sandbox { " --sandbox" } else { "" };
    let state = &document.applies_to.state;
    let state = if state.is_empty() || state == DEFAULT_STATE { String::new() } else { format!(" --state {state}") };
    Header {
        files: document.files.clone(),
        apply_command: format!("seqops apply{sandbox}{state} {}", path.display()),
        ..recorded(document)
    }
}

/// What the document itself says of where it applies.
fn recorded(document: &PlanDocument) -> Header {
    let AppliesTo { environment, state, providers } = &document.applies_to;
    Header {
        files: Vec::new(),
        state: state.clone(),
        environment: environment.clone(),
        providers: providers
            .iter()
            .map(|p| ProviderLine {
                name: p.name.clone(),
                provider_type: p.provider_type.clone(),
                credentials: p.credentials.clone(),
            })
            .collect(),
        commit: document.provenance.commit.clone().map(|commit| (commit, document.provenance.dirty)),
        apply_command: String::new(),
    }
}

/// Each Provider manifest: its name, type, and where its key comes from.
fn providers(manifests: &Manifests) -> Vec<ProviderSource> {
    manifests
        .providers()
        .map(|resource| {
            let spec = resource.spec.typed::<ProviderSpec>().ok();
            let (provider_type, credentials) = match &spec {
                Some(spec) => (spec.provider_type.to_string(), credentials(spec)),
                None => (String::new(), "(unreadable)".into()),
            };
            ProviderSource { name: resource.key.name.clone(), provider_type, credentials }
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
