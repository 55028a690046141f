//! The CLI's digest key: `SEQOPS_DIGEST_KEY` (CI sets it from a secret
//! in both the plan and the apply job), or else a file only the user can
//! read under the user's config folder, made by the first command that
//! writes. Never in `.seqops/` or on a state branch: the digests it makes
//! live there.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use seqops::external::digest::DigestKey;

pub const ENV: &str = "SEQOPS_DIGEST_KEY";

/// What the command does with the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Compares digests (`plan`): without a key, secrets are not
    /// comparable, and none is made (a fork's pull request has none).
    Compare,
    /// Signs a plan (`plan --out`): a key is made when there is none and
    /// no digest would look changed for it (no state holds one yet); else
    /// the plan is saved unsigned, as on a fork's pull request.
    Sign { state_has_digests: bool },
    /// Writes digests (`apply`): a key is made when there is none.
    Write,
}

impl Use {
    fn makes_one(self) -> bool {
        matches!(self, Use::Write | Use::Sign { state_has_digests: false })
    }
}

/// The key file: `$XDG_CONFIG_HOME/seqops/digest-key`, else
/// `~/.config/seqops/digest-key`.
pub fn key_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("seqops").join("digest-key"))
}

/// The key, from the environment or the key file; made in the key file
/// when the command writes and there is none.
pub fn load(usage: Use) -> anyhow::Result<Option<Arc<DigestKey>>> {
    if let Some(value) = std::env::var_os(ENV).filter(|v| !v.is_empty()) {
        let value = value.into_string().map_err(|_| anyhow::anyhow!("{ENV} is not UTF-8"))?;
        let material = value.trim();
        if material.len() < DigestKey::MIN_BYTES {
            bail!("{ENV} holds {} bytes; a digest key needs at least {}", material.len(), DigestKey::MIN_BYTES);
        }
        return Ok(Some(Arc::new(DigestKey::new(material.as_bytes()))));
    }
    let Some(path) = key_file() else {
        if usage.makes_one() {
            bail!("no digest key: set {ENV}, or HOME so that one can be kept under ~/.config/seqops");
        }
        return Ok(None);
    };
    match read(&path)? {
        Some(key) => Ok(Some(key)),
        None if usage.makes_one() => Ok(Some(create(&path)?)),
        None => Ok(None),
    }
}

fn read(path: &std::path::Path) -> anyhow::Result<Option<Arc<DigestKey>>> {
    use std::os::unix::fs::PermissionsExt;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("reading the digest key {}", path.display())),
    };
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "the digest key {} can be read by others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let material = text.trim();
    if material.len() < DigestKey::MIN_BYTES {
        bail!(
            "the digest key {} is too short; remove it to have a new one made (every secret is then sent again once)",
            path.display()
        );
    }
    Ok(Some(Arc::new(DigestKey::new(material.as_bytes()))))
}

/// Makes the key file, 0600 in a 0700 folder. Published by a hard link,
/// which fails when another process made one first: then that one is read.
fn create(path: &std::path::Path) -> anyhow::Result<Arc<DigestKey>> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let folder = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
        .with_context(|| format!("making {}", folder.display()))?;
    let material: [u8; 32] = rand::random();
    let text: String = material.iter().map(|b| format!("{b:02x}")).collect();
    let temporary = folder.join(format!(".digest-key.{:016x}.tmp", rand::random::<u64>()));
    let made = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
        file.write_all(format!("{text}\n").as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&temporary, path)
    })();
    let _ = std::fs::remove_file(&temporary);
    match made {
        Ok(()) => {
            eprintln!(
                "A new digest key was made at {} (keep it: without it, secrets are sent again once).",
                path.display()
            );
            Ok(Arc::new(DigestKey::new(text.as_bytes())))
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            read(path)?.with_context(|| format!("reading the digest key {}", path.display()))
        }
        Err(error) => Err(error).with_context(|| format!("making the digest key {}", path.display())),
    }
}
