//! Where a plan applies: recorded in the plan document when it is made
//! (the environment, the state, each Provider and where its key comes
//! from, named and never read, with no request made), and the Markdown
//! comment's header made from it, with the `-f` set, the commit and the
//! command that applies the plan.

use std::path::Path;

use seqops::engine::planfile::{AppliesTo, PlanDocument, ProviderSource};
use seqops::manifest::{Manifests, ProviderSpec, STDIN};
use seqops::render::markdown::Header;

use super::plan::Scope;
use super::{Common, DEFAULT_STATE};

/// What a plan made from `manifests` against `state` applies to.
pub fn applies_to(state: String, manifests: &Manifests, environment: Option<&str>) -> AppliesTo {
    AppliesTo { environment: environment.map(String::from), state, providers: providers(manifests) }
}

/// The header of a plan just made from `common`'s and `scope`'s flags;
/// `out` is where it was saved, if it was. Without a saved plan, the apply
/// command repeats every flag that shapes the plan.
pub fn header(common: &Common, scope: &Scope, document: &PlanDocument, out: Option<&Path>) -> Header {
    let files: Vec<String> = common.files().iter().map(|f| f.display().to_string()).collect();
    let (apply_command, apply_reads_stdin) = match out {
        Some(out) => (format!("seqops apply{} {}", common.repeated_flags(), out.display()), false),
        None => (
            format!("seqops apply{}{}{}", common.repeated_flags(), file_flags(&files), scope.repeated_flags()),
            files.iter().any(|f| f == STDIN),
        ),
    };
    Header { files, apply_command, apply_reads_stdin, ..recorded(document) }
}

/// The header of `plan --cluster`: what the controller will do once the
/// manifests are applied to `namespace`, which `kubectl apply` does.
pub fn cluster(common: &Common, document: &PlanDocument, namespace: &str) -> Header {
    let files: Vec<String> = common.files().iter().map(|f| f.display().to_string()).collect();
    Header {
        apply_command: format!("kubectl apply -n {namespace}{}", file_flags(&files)),
        apply_reads_stdin: files.iter().any(|f| f == STDIN),
        files,
        ..recorded(document)
    }
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

/// ` -f a -f b`.
fn file_flags(files: &[String]) -> String {
    files.iter().map(|f| format!(" -f {f}")).collect()
}

/// What the document itself says of where it applies.
fn recorded(document: &PlanDocument) -> Header {
    Header {
        applies_to: document.applies_to.clone(),
        commit: document.provenance.commit.clone().map(|commit| (commit, document.provenance.dirty)),
        ..Header::default()
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
