//! Function code on disk: zip archives unpacked safely (no entry escapes the code directory, no
//! links, bounded size and entry count, as Lambda's 250 MB unzipped limit) into a fresh
//! directory that replaces the old one only once complete.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// Lambda's limit on unzipped code.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// The most entries an archive may hold.
pub const MAX_ENTRIES: usize = 50_000;

/// Why code could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The archive is not a zip eddy will unpack (corrupt, escaping paths, links).
    #[error("{0}")]
    InvalidZip(String),
    /// Unzipped, it would exceed [`MAX_UNZIPPED_BYTES`] or [`MAX_ENTRIES`].
    #[error("{0}")]
    TooLarge(String),
    #[error("cannot write function code: {0}")]
    Io(#[from] std::io::Error),
}

/// `CodeSha256`: base64 of the SHA-256 of the bytes.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Unpacks `zip` into `root/<revision>` (which must not exist) through a temporary directory,
/// so the directory appears complete or not at all. Returns the directory and the unzipped
/// size. Blocking: call it from a blocking thread.
pub fn unpack(zip: &[u8], root: &Path, revision: &str) -> Result<(PathBuf, u64), CodeError> {
    std::fs::create_dir_all(root)?;
    let tmp = root.join(format!(".{revision}.partial"));
    let dest = root.join(revision);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir(&tmp)?;
    let result = extract(zip, &tmp);
    match result {
        Ok(size) => {
            set_mode(&tmp, 0o755)?;
            std::fs::rename(&tmp, &dest)?;
            Ok((dest, size))
        }
        Err(e) => {
            let _cleanup = std::fs::remove_dir_all(&tmp).is_err();
            Err(e)
        }
    }
}

fn invalid(msg: impl std::fmt::Display) -> CodeError {
    CodeError::InvalidZip(format!(
        "Could not unzip uploaded file. Please check your file, then try to upload again. ({msg})"
    ))
}

fn extract(zip: &[u8], dest: &Path) -> Result<u64, CodeError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(invalid)?;
    if archive.len() > MAX_ENTRIES {
        return Err(CodeError::TooLarge(format!(
            "Unzipped code has {} entries; the limit is {MAX_ENTRIES}",
            archive.len()
        )));
    }
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(invalid)?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(invalid(format!(
                "entry `{}` escapes the code directory",
                entry.name().unwrap_or_default()
            )));
        };
        let mode = entry.unix_mode();
        if mode.is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(invalid(format!(
                "entry `{}` is a symbolic link",
                entry.name().unwrap_or_default()
            )));
        }
        let path = dest.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&path)?;
            set_mode(&path, 0o755)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
            set_mode(parent, 0o755)?;
        }
        let mut out = std::fs::File::create(&path)?;
        loop {
            let n = entry.read(&mut buf).map_err(invalid)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > MAX_UNZIPPED_BYTES {
                return Err(CodeError::TooLarge(format!(
                    "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
                )));
            }
            out.write_all(&buf[..n])?;
        }
        // Readable by anyone (instances may run as an unprivileged user); executable bits as
        // archived.
        let exec = mode.map_or(0, |m| m & 0o111);
        set_mode(&path, 0o644 | exec)?;
    }
    Ok(total)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Removes every revision directory under `root` except those in `keep`. Best effort.
pub fn prune(root: &Path, keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !keep.iter().any(|k| *k == name) {
            let _best_effort = std::fs::remove_dir_all(e.path()).is_err();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data, mode) in entries {
            w.start_file(*name, SimpleFileOptions::default().unix_permissions(*mode))
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn unpacks_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let z = zip_of(&[
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("lib/a.txt", b"hi", 0o600),
        ]);
        let (d, size) = unpack(&z, dir.path(), "r1").unwrap();
        assert_eq!(size, 12);
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(d.join("bootstrap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o755);
        let m = std::fs::metadata(d.join("lib/a.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o644);
        assert_eq!(std::fs::read(d.join("lib/a.txt")).unwrap(), b"hi");
    }

    #[test]
    fn rejects_escapes_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let z = zip_of(&[("../evil", b"x", 0o644)]);
        let e = unpack(&z, dir.path(), "r1").unwrap_err();
        assert!(matches!(e, CodeError::InvalidZip(_)), "{e}");
        assert!(!dir.path().join("r1").exists());
        assert!(!dir.path().parent().unwrap().join("evil").exists());
        let e = unpack(b"not a zip", dir.path(), "r2").unwrap_err();
        assert!(matches!(e, CodeError::InvalidZip(_)));
        // An absolute name stays inside the code directory.
        let z = zip_of(&[("/abs", b"x", 0o644)]);
        if let Ok((d, _)) = unpack(&z, dir.path(), "r3") {
            assert!(d.join("abs").exists());
        }
        assert!(!Path::new("/abs").exists());
    }

    #[test]
    fn prune_keeps_named() {
        let dir = tempfile::tempdir().unwrap();
        for r in ["a", "b", "c"] {
            std::fs::create_dir(dir.path().join(r)).unwrap();
        }
        prune(dir.path(), &["b".to_owned()]);
        assert!(!dir.path().join("a").exists());
        assert!(dir.path().join("b").exists());
    }
}
