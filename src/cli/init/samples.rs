//! The files `seqops init` writes for each provider: its Provider, a sample
//! of each kind it manages, and what a sample reads (an OpenAPI document).
//! They are kept here as plain YAML, in a folder per provider; the
//! comments on their fields come from the schema as they are written (see
//! `annotate`). The samples plan and apply cleanly against the sandbox,
//! whose emulators hold the objects they look up (`Sales Agent`,
//! `Post-call nurture`, `seq_run_0001`); tests/init.rs holds them to it.

use seqops::manifest::KindSpec;

/// A file of a provider's folder.
pub struct File {
    pub provider_type: &'static str,
    /// Its name inside the provider's folder.
    pub name: &'static str,
    pub text: &'static str,
}

/// The Provider manifest of each provider's folder.
pub const PROVIDER_FILE: &str = "provider.yaml";

macro_rules! file {
    ($provider:literal, $name:literal) => {
        File { provider_type: $provider, name: $name, text: include_str!(concat!($provider, "/", $name)) }
    };
}

static FILES: &[File] = &[
    file!("orsay", "provider.yaml"),
    file!("orsay", "sequence.yaml"),
    file!("orqis", "provider.yaml"),
    file!("orqis", "agent.yaml"),
    file!("orqis", "llm-key.yaml"),
    file!("orqis", "api-key.yaml"),
    file!("orqis", "store-api.openapi.yaml"),
    file!("gary", "provider.yaml"),
    file!("gary", "enrollment.yaml"),
    file!("orchagent", "provider.yaml"),
    file!("orchagent", "workspace.yaml"),
    file!("orchagent", "workspace-secret.yaml"),
    file!("orchagent", "agent.yaml"),
    file!("orchagent", "schedule.yaml"),
    file!("orchagent", "service.yaml"),
    file!("topo", "provider.yaml"),
    file!("topo", "sequence-run.yaml"),
];

/// The files of a provider type's folder.
pub fn of_provider(provider_type: &str) -> impl Iterator<Item = &'static File> + '_ {
    FILES.iter().filter(move |f| f.provider_type == provider_type)
}

impl File {
    /// The document, read as YAML; `None` for a file that is not YAML.
    pub fn yaml(&self) -> Option<serde_yaml::Value> {
        serde_yaml::from_str(self.text).ok()
    }

    /// The kind this file is a manifest of, if it is one.
    pub fn kind(&self) -> Option<KindSpec> {
        let header: Header = serde_yaml::from_str(self.text).ok()?;
        seqops::providers::kinds().into_iter().find(|k| k.matches(&header.api_version, &header.kind))
    }
}

/// The sample of a kind: the Provider of the first provider type for the
/// Provider kind.
pub fn of_kind(kind: &KindSpec) -> Option<&'static File> {
    FILES.iter().find(|f| f.kind().is_some_and(|k| k.matches(kind.api_version, kind.kind)))
}

/// The variable a provider type's Provider reads its key from.
pub fn credential_variable(provider_type: &str) -> Option<String> {
    let provider = of_provider(provider_type).find(|f| f.name == PROVIDER_FILE)?;
    let document: ProviderDocument = serde_yaml::from_str(provider.text).ok()?;
    document.spec.credentials.env
}

/// What names a manifest's kind.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    api_version: String,
    kind: String,
}

/// A Provider manifest, read for its spec.
#[derive(serde::Deserialize)]
struct ProviderDocument {
    spec: seqops::manifest::ProviderSpec,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_a_provider_manifest_of_its_type_a_key_variable_and_one_sample_of_each_kind() {
        for provider in seqops::providers::all() {
            let provider_type = provider.provider_type.as_str();
            let files: Vec<&File> = of_provider(provider_type).collect();
            let own = files.iter().find(|f| f.name == PROVIDER_FILE).expect("a provider.yaml");
            assert_eq!(own.kind().map(|k| k.kind), Some("Provider"), "{provider_type}");
            let declared_type = own.yaml().and_then(|y| y["spec"]["type"].as_str().map(String::from));
            assert_eq!(declared_type.as_deref(), Some(provider_type));
            assert!(credential_variable(provider_type).is_some(), "{provider_type} names its key's variable");
            for kind in provider.kinds {
                let samples = files.iter().filter(|f| f.kind().is_some_and(|k| k.key_kind == kind.key_kind)).count();
                assert_eq!(samples, 1, "{provider_type} has one sample of {}", kind.key_kind);
            }
        }
    }

    #[test]
    fn every_manifest_here_parses_as_its_kind_and_passes_its_checks() {
        for file in FILES {
            let Some(kind) = file.kind() else { continue };
            let value: serde_json::Value = serde_yaml::from_str(file.text).expect("YAML");
            let parsed = (kind.parse)(&value).unwrap_or_else(|e| panic!("{}/{}: {e}", file.provider_type, file.name));
            assert_eq!((kind.check)(&parsed.spec), Vec::new(), "{}/{}", file.provider_type, file.name);
        }
    }
}
