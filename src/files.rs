//! Files written so that a crash leaves the old content or the new, never
//! half of either.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a file so that a reader sees the old content or the new, never a
/// mix, and only its owner can read it (state, plans, one-time values): a
/// new temporary file made 0600 beside it (never an existing file's mode,
/// or a link), fsync, rename, fsync of the folder. The temporary name is
/// random, so a crash that left one behind cannot collide with the next
/// run (in a container, every run has the same pid).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let temporary = parent.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename is done; a folder that cannot be synced (some file
        // systems refuse) leaves it as durable as the system makes it.
        if let Ok(folder) = File::open(parent) {
            let _ = folder.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// The most a `fromFile` source may hold.
pub const MAX_SOURCE_BYTES: u64 = 1 << 20;

/// A path with its links and `..` resolved, as far as it exists; what does
/// not exist yet (a file to write, its new folders) is appended as written.
/// A `..` inside what does not exist has no file name, so the walk stops
/// there and the canonicalization that follows fails: it never climbs
/// unseen.
pub fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        let Some(name) = existing.file_name().map(|n| n.to_os_string()) else { break };
        rest.push(name);
        if !existing.pop() {
            break;
        }
    }
    let mut full = if existing.as_os_str().is_empty() { std::env::current_dir()? } else { existing.canonicalize()? };
    for name in rest.into_iter().rev() {
        full.push(name);
    }
    Ok(full)
}

/// Reads a regular file of at most [`MAX_SOURCE_BYTES`]: a manifest's
/// `fromFile` source, once its policy let it reach the file.
pub fn read_regular(full: &Path) -> Result<String, String> {
    use std::io::Read;
    let metadata = std::fs::metadata(full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file (a device, a pipe or a folder)", full.display()));
    }
    let mut text = String::new();
    let file = File::open(full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    if text.len() as u64 > MAX_SOURCE_BYTES {
        return Err(format!("{} is larger than 1 MiB, the most a source may hold", full.display()));
    }
    Ok(text)
}
