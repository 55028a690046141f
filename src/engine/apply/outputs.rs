//! Values an API returns once (an API key's secret): written where the
//! spec's `writeSecretTo` says, or, when that cannot be written, kept
//! beside state. They are never thrown away.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ApplyOptions;
use crate::engine::plan::Change;
use crate::engine::state::now_rfc3339;
use crate::external::Secret;
use crate::manifest::ResourceKey;

/// Writes what the API returned once to where the spec's `writeSecretTo`
/// says, readable by its owner only. When that cannot be written, the value
/// goes to a file of its own beside state (`options.rescue_dir`), and the
/// error says where: it is never thrown away.
pub(super) fn write_outputs(
    change: &Change,
    outputs: &BTreeMap<String, Secret>,
    options: &ApplyOptions,
    policy: &crate::operator::Policy,
) -> Result<Option<PathBuf>, String> {
    if outputs.is_empty() {
        return Ok(None);
    }
    let key = &change.key;
    // Kinds whose one-time value is needed require `writeSecretTo` when
    // loaded; for the others (an agent's service key) its absence means the
    // value is not wanted.
    let common = crate::manifest::common::Common::of(change.spec.json());
    let Some(file) = common.output_file() else {
        return Ok(None);
    };
    let text = match outputs.values().collect::<Vec<_>>().as_slice() {
        [one] => format!("{}\n", one.expose()),
        _ => outputs.iter().map(|(k, v)| format!("{k}={}\n", v.expose())).collect(),
    };
    let written = policy
        .confined(Path::new(&change.source_dir), file)
        .map_err(|e| format!("writeSecretTo.file: {e}"))
        .and_then(|path| {
            crate::files::write_atomically(&path, text.as_bytes())
                .map(|()| path.clone())
                .map_err(|e| format!("writing {} failed: {e}", path.display()))
        });
    match written {
        Ok(path) => Ok(Some(path)),
        Err(why) => Err(match rescue(options.rescue_dir.as_deref(), key, &text) {
            Some(kept) => format!(
                "{key}: the object was made, but {why}; the value it was shown once is kept in {} (readable by you only): move it where it belongs",
                kept.display()
            ),
            None => format!("{key}: the object was made, but {why}"),
        }),
    }
}

/// Keeps a value shown once in a new owner-only file in `dir`.
fn rescue(dir: Option<&Path>, key: &ResourceKey, text: &str) -> Option<PathBuf> {
    let dir = dir?.join("rescued");
    let name = format!("{}-{}-{}.value", key.kind, key.name, now_rfc3339().replace(':', ""));
    let path = dir.join(name.replace('/', "_"));
    crate::files::write_atomically(&path, text.as_bytes()).ok().map(|()| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_key_writing_to(dir: &str, file: &str) -> Change {
        serde_json::from_value::<crate::engine::planfile::PlannedChange>(serde_json::json!({
            "key": "ApiKey/widget", "api_version": "orqis.seqops.dev/v1alpha1", "provider": "orqis",
            "action": "create", "actions": ["create"], "display_name": "widget", "fields": [],
            "spec": {"name": "widget", "writeSecretTo": {"file": file}}, "source_dir": dir,
        }))
        .map(Change::from)
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn options(rescue_dir: &Path) -> ApplyOptions {
        ApplyOptions { sandbox: true, rescue_dir: Some(rescue_dir.to_path_buf()), ..ApplyOptions::default() }
    }

    #[test]
    fn a_value_shown_once_that_cannot_go_where_it_should_is_kept_beside_state() {
        let state_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // Outside the project: refused, as any write that fails after the create.
        let change = api_key_writing_to("/proc", "no-such/widget.key");
        let outputs = BTreeMap::from([("key".to_string(), Secret::new("oq_shown_once"))]);

        let error =
            write_outputs(&change, &outputs, &options(state_dir.path()), &Default::default()).err().unwrap_or_default();

        assert!(error.contains("the value it was shown once is kept in"), "{error}");
        let kept: Vec<PathBuf> = std::fs::read_dir(state_dir.path().join("rescued"))
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert_eq!(kept.len(), 1);
        assert!(error.contains(&kept[0].display().to_string()), "{error}");
        assert_eq!(std::fs::read_to_string(&kept[0]).ok().as_deref(), Some("oq_shown_once\n"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept[0]).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600);
        assert!(!error.contains("oq_shown_once"), "the value is never in the message");
    }
}
