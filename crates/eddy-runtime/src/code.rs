//! Function code on disk: zip archives unpacked safely (no entry escapes the code directory, no
//! links or special files, bounded size and entry count, as Lambda's 250 MB unzipped limit)
//! into a fresh directory that replaces the old one only once complete, and who may read it.
//!
//! Unpacked code is private: it is written readable by eddy's own user only (directories 0700,
//! files 0600, or 0700 when archived with an executable bit). Before an instance of a function
//! that runs as another user starts, [`grant`] gives that user's group read access (directories
//! 0750, files 0640 or 0750, group = the function's group), so the function reads its code and
//! cannot change it, and no other function or user can read it. A refused archive names the
//! entry and the reason ([`Refusal`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// Lambda's limit on unzipped code.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// The most entries an archive may hold.
pub const MAX_ENTRIES: usize = 50_000;

/// AWS's text for a zip it cannot unzip; eddy adds the reason after it.
const COULD_NOT_UNZIP: &str =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

/// Why code could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The archive is not a zip eddy will unpack: AWS's sentence, then which entry and why.
    #[error("{COULD_NOT_UNZIP} ({0})")]
    InvalidZip(Refusal),
    /// Unzipped, it would exceed [`MAX_UNZIPPED_BYTES`] (AWS's message).
    #[error("Unzipped size must be smaller than {0} bytes")]
    TooLarge(u64),
    /// `ZipFile` is not base64 text.
    #[error("Could not decode ZipFile: it must be base64-encoded zip bytes")]
    Base64,
    #[error("cannot write function code: {0}")]
    Io(#[from] std::io::Error),
}

/// What eddy refused in an archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the file is not a zip archive: {0}")]
    NotAZip(String),
    #[error("the archive has {count} entries; the most eddy unpacks is {max}")]
    TooManyEntries { count: usize, max: usize },
    #[error(
        "entry {0} has an unsafe path: it leaves the code directory through `..` or holds a NUL \
         byte"
    )]
    UnsafePath(String),
    #[error("entry {0} is a symbolic link; function code cannot hold links")]
    Link(String),
    #[error("entry {0} is a device, pipe or socket; function code holds files and directories")]
    Special(String),
    #[error("entry {0} is encrypted")]
    Encrypted(String),
    #[error(
        "entry {entry} is compressed with {method}, which eddy cannot read; use deflate or no \
         compression"
    )]
    Compression { entry: String, method: String },
    #[error("entry {entry} is corrupt: {reason}")]
    Corrupt { entry: String, reason: String },
    #[error("entry {entry} cannot be unpacked: {reason}")]
    Conflict { entry: String, reason: String },
}

/// `CodeSha256`: base64 of the SHA-256 of the bytes.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// A zip upload decoded from base64 into a private file (`0600`) beside the code it becomes,
/// with its `CodeSha256` and size: an upload of tens of megabytes is never held decoded in
/// memory. The file is removed when this is dropped.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    /// `CodeSha256` of the decoded bytes.
    pub sha256: String,
    /// The decoded size in bytes.
    pub size: u64,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _gone = std::fs::remove_file(&self.path).is_err();
    }
}

/// Decodes base64 `text` (surrounding whitespace allowed) into a new private file in `dir`,
/// a chunk at a time. Blocking: call it from a blocking thread.
pub fn spool_base64(text: &[u8], dir: &Path) -> Result<Spooled, CodeError> {
    use std::os::unix::fs::OpenOptionsExt;
    let text = text.trim_ascii();
    let path = dir.join(format!(".upload-{}.zip", uuid::Uuid::new_v4().simple()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    // Removes the file on every error below.
    let mut spooled = Spooled {
        path,
        sha256: String::new(),
        size: 0,
    };
    let mut out = std::io::BufWriter::new(file);
    let mut hash = Sha256::new();
    // Whole groups of four characters: padding can only be in the last one.
    const CHUNK: usize = 64 * 1024;
    let mut decoded = vec![0u8; CHUNK / 4 * 3];
    for chunk in text.chunks(CHUNK) {
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(chunk, &mut decoded)
            .map_err(|_| CodeError::Base64)?;
        hash.update(&decoded[..n]);
        out.write_all(&decoded[..n])?;
        spooled.size += n as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_data()?;
    spooled.sha256 = base64::engine::general_purpose::STANDARD.encode(hash.finalize());
    Ok(spooled)
}

/// Unpacks `zip` into `root/<revision>` (which must not exist) through a temporary directory,
/// so the directory appears complete or not at all. Returns the directory and the unzipped
/// size. `root` must exist. Blocking: call it from a blocking thread.
pub fn unpack(zip: &[u8], root: &Path, revision: &str) -> Result<(PathBuf, u64), CodeError> {
    unpack_within(
        std::io::Cursor::new(zip),
        root,
        revision,
        MAX_ENTRIES,
        MAX_UNZIPPED_BYTES,
    )
}

/// [`unpack`] of a spooled upload, read from its file.
pub fn unpack_spooled(
    zip: &Spooled,
    root: &Path,
    revision: &str,
) -> Result<(PathBuf, u64), CodeError> {
    let file = std::io::BufReader::new(std::fs::File::open(&zip.path)?);
    unpack_within(file, root, revision, MAX_ENTRIES, MAX_UNZIPPED_BYTES)
}

fn unpack_within(
    zip: impl Read + std::io::Seek,
    root: &Path,
    revision: &str,
    max_entries: usize,
    max_bytes: u64,
) -> Result<(PathBuf, u64), CodeError> {
    let tmp = root.join(format!(".{revision}.partial"));
    let dest = root.join(revision);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    private_dir().create(&tmp)?;
    let result = extract(zip, &tmp, max_entries, max_bytes);
    match result {
        Ok(size) => {
            std::fs::rename(&tmp, &dest)?;
            Ok((dest, size))
        }
        Err(e) => {
            let _cleanup = std::fs::remove_dir_all(&tmp).is_err();
            Err(e)
        }
    }
}

fn private_dir() -> std::fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true).mode(0o700);
    b
}

/// An entry's name as messages show it: in backticks, control characters escaped, at most 200
/// characters.
fn shown(name: &str) -> String {
    let mut s: String = name
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    if name.chars().nth(200).is_some() {
        s.push('…');
    }
    format!("`{s}`")
}

fn extract(
    zip: impl Read + std::io::Seek,
    dest: &Path,
    max_entries: usize,
    max_bytes: u64,
) -> Result<u64, CodeError> {
    let refuse = |r: Refusal| CodeError::InvalidZip(r);
    let mut archive =
        zip::ZipArchive::new(zip).map_err(|e| refuse(Refusal::NotAZip(e.to_string())))?;
    if archive.len() > max_entries {
        return Err(refuse(Refusal::TooManyEntries {
            count: archive.len(),
            max: max_entries,
        }));
    }
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let name = match archive.name_for_index(i) {
            Some(Ok(n)) => shown(&n),
            _ => format!("number {}", i + 1),
        };
        let mut entry = archive.by_index(i).map_err(|e| {
            refuse(match e {
                zip::result::ZipError::UnsupportedArchive(m)
                    if m == zip::result::ZipError::PASSWORD_REQUIRED =>
                {
                    Refusal::Encrypted(name.clone())
                }
                zip::result::ZipError::CompressionMethodNotSupported(m) => Refusal::Compression {
                    entry: name.clone(),
                    method: format!("method {m}"),
                },
                other => Refusal::Corrupt {
                    entry: name.clone(),
                    reason: other.to_string(),
                },
            })
        })?;
        let method = entry.compression();
        if !matches!(
            method,
            zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
        ) {
            return Err(refuse(Refusal::Compression {
                entry: name,
                method: format!("{method:?}"),
            }));
        }
        let Some(rel) = entry.enclosed_name() else {
            return Err(refuse(Refusal::UnsafePath(name)));
        };
        let mode = entry.unix_mode();
        match mode.map(|m| m & 0o170000) {
            Some(0o120000) => return Err(refuse(Refusal::Link(name))),
            None | Some(0) | Some(0o100000) | Some(0o040000) => {}
            Some(_) => return Err(refuse(Refusal::Special(name))),
        }
        let conflict = |e: std::io::Error| -> CodeError {
            use std::io::ErrorKind as K;
            match e.kind() {
                K::AlreadyExists | K::NotADirectory | K::IsADirectory => {
                    refuse(Refusal::Conflict {
                        entry: name.clone(),
                        reason: format!("another entry is in its way ({e})"),
                    })
                }
                _ => CodeError::Io(e),
            }
        };
        let path = dest.join(&rel);
        if entry.is_dir() {
            private_dir().create(&path).map_err(conflict)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            private_dir().create(parent).map_err(conflict)?;
        }
        let exec = mode.is_some_and(|m| m & 0o111 != 0);
        let mut out = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .map_err(conflict)?
        };
        loop {
            let n = entry.read(&mut buf).map_err(|e| {
                refuse(Refusal::Corrupt {
                    entry: name.clone(),
                    reason: e.to_string(),
                })
            })?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > max_bytes {
                return Err(CodeError::TooLarge(max_bytes));
            }
            out.write_all(&buf[..n])?;
        }
        set_mode(&path, if exec { 0o700 } else { 0o600 })?;
    }
    Ok(total)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Makes the code tree `dir` (a directory [`unpack`] made) readable by the group `gid` and
/// nobody else, or, with `None`, by eddy's own user only: see the module docs. Entries keep
/// eddy as their owner; files keep whether they are executable. Links and special files (which
/// [`unpack`] never makes) are left alone. Blocking: call it from a blocking thread.
pub fn grant(dir: &Path, gid: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let (dir_mode, file_mode, exec_mode) = match gid {
        Some(_) => (0o750, 0o640, 0o750),
        None => (0o700, 0o600, 0o700),
    };
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let meta = std::fs::symlink_metadata(&d)?;
        if !meta.is_dir() {
            continue;
        }
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file() {
                if gid.is_some() {
                    std::os::unix::fs::lchown(&path, None, gid)?;
                }
                let exec = meta.permissions().mode() & 0o111 != 0;
                set_mode(&path, if exec { exec_mode } else { file_mode })?;
            }
        }
        if gid.is_some() {
            std::os::unix::fs::lchown(&d, None, gid)?;
        }
        set_mode(&d, dir_mode)?;
    }
    Ok(())
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
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
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

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_spooled_upload_is_decoded_a_chunk_at_a_time_hashed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        // Larger than one decoding chunk, with data that is not a multiple of three bytes.
        let data: Vec<u8> = (0..200_001u32).map(|i| (i * 7 % 251) as u8).collect();
        let z = zip_of(&[("bootstrap", &data, 0o755)]);
        let text = format!(
            " {}\n",
            base64::engine::general_purpose::STANDARD.encode(&z)
        );
        let spooled = spool_base64(text.as_bytes(), dir.path()).unwrap();
        assert_eq!(spooled.size, z.len() as u64);
        assert_eq!(spooled.sha256, sha256_base64(&z));
        assert_eq!(mode(&spooled.path), 0o600);
        let (d, _) = unpack_spooled(&spooled, dir.path(), "r1").unwrap();
        assert_eq!(std::fs::read(d.join("bootstrap")).unwrap(), data);
        let path = spooled.path.clone();
        drop(spooled);
        assert!(!path.exists());
        // Not base64: refused, and nothing is left behind.
        let e = spool_base64(b"UEsDBA==not base64!", dir.path()).unwrap_err();
        assert!(matches!(e, CodeError::Base64), "{e}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
            .collect();
        assert!(left.is_empty());
    }

    #[test]
    fn unpacks_private_to_eddy_keeping_executable_bits() {
        let dir = tempfile::tempdir().unwrap();
        let z = zip_of(&[
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("lib/a.txt", b"hi", 0o644),
            ("lib/run", b"x", 0o744),
        ]);
        let (d, size) = unpack(&z, dir.path(), "r1").unwrap();
        assert_eq!(size, 13);
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("bootstrap")), 0o700);
        assert_eq!(mode(&d.join("lib")), 0o700);
        assert_eq!(mode(&d.join("lib/a.txt")), 0o600);
        assert_eq!(mode(&d.join("lib/run")), 0o700);
        assert_eq!(std::fs::read(d.join("lib/a.txt")).unwrap(), b"hi");
        assert!(!dir.path().join(".r1.partial").exists());
    }

    #[test]
    fn grant_gives_one_group_read_access_and_takes_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let z = zip_of(&[
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("lib/a.txt", b"hi", 0o644),
        ]);
        let (d, _) = unpack(&z, dir.path(), "r1").unwrap();
        // Our own group: changing a file's group to it needs no privilege.
        let gid = rustix::process::getegid().as_raw();
        grant(&d, Some(gid)).unwrap();
        assert_eq!(mode(&d), 0o750);
        assert_eq!(mode(&d.join("lib")), 0o750);
        assert_eq!(mode(&d.join("bootstrap")), 0o750);
        assert_eq!(mode(&d.join("lib/a.txt")), 0o640);
        for p in [d.clone(), d.join("lib"), d.join("lib/a.txt")] {
            assert_eq!(std::fs::metadata(&p).unwrap().gid(), gid);
        }
        grant(&d, None).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("bootstrap")), 0o700);
        assert_eq!(mode(&d.join("lib/a.txt")), 0o600);
    }

    #[test]
    fn grant_to_another_group_when_root() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: giving files to another group needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let z = zip_of(&[("lib/a.txt", b"hi", 0o644)]);
        let (d, _) = unpack(&z, dir.path(), "r1").unwrap();
        grant(&d, Some(2_000_000_123)).unwrap();
        let m = std::fs::metadata(d.join("lib/a.txt")).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 2_000_000_123));
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
    }

    fn refusal(zip: &[u8]) -> (Refusal, String) {
        refusal_within(zip, MAX_ENTRIES)
    }

    fn refusal_within(zip: &[u8], max_entries: usize) -> (Refusal, String) {
        let dir = tempfile::tempdir().unwrap();
        match unpack_within(
            std::io::Cursor::new(zip),
            dir.path(),
            "r1",
            max_entries,
            MAX_UNZIPPED_BYTES,
        ) {
            Err(e @ CodeError::InvalidZip(_)) => {
                let text = e.to_string();
                let CodeError::InvalidZip(r) = e else {
                    unreachable!()
                };
                assert!(!dir.path().join("r1").exists());
                assert!(!dir.path().join(".r1.partial").exists());
                (r, text)
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn refusals_name_the_entry_and_the_reason() {
        let (r, text) = refusal(&zip_of(&[("ok", b"x", 0o644), ("../evil", b"x", 0o644)]));
        assert_eq!(r, Refusal::UnsafePath("`../evil`".into()));
        assert_eq!(
            text,
            "Could not unzip uploaded file. Please check your file, then try to upload again. \
             (entry `../evil` has an unsafe path: it leaves the code directory through `..` or \
             holds a NUL byte)"
        );
        let (r, text) = refusal(&zip_of(&[("a/../../b", b"x", 0o644)]));
        assert_eq!(r, Refusal::UnsafePath("`a/../../b`".into()), "{text}");

        let (r, _) = refusal(b"not a zip");
        assert!(matches!(r, Refusal::NotAZip(_)), "{r}");

        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.add_symlink("link", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let (r, text) = refusal(&w.finish().unwrap().into_inner());
        assert_eq!(r, Refusal::Link("`link`".into()));
        assert!(
            text.ends_with("(entry `link` is a symbolic link; function code cannot hold links)")
        );

        // A FIFO (mode 010644) in the external attributes of the central directory.
        let mut z = zip_of(&[("fifo", b"", 0o644)]);
        let i = z.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        z[i + 38..i + 42].copy_from_slice(&(0o010644u32 << 16).to_le_bytes());
        let (r, _) = refusal(&z);
        assert_eq!(r, Refusal::Special("`fifo`".into()));

        // A file, then a path that needs it to be a directory.
        let (r, text) = refusal(&zip_of(&[("a", b"x", 0o644), ("a/b", b"y", 0o644)]));
        assert!(
            matches!(&r, Refusal::Conflict { entry, .. } if entry == "`a/b`"),
            "{text}"
        );

        // Control characters in a name are shown escaped.
        let (r, _) = refusal(&zip_of(&[("../\u{1b}[31mred", b"x", 0o644)]));
        assert_eq!(r, Refusal::UnsafePath("`../\\u{1b}[31mred`".into()));
    }

    #[test]
    fn corrupt_and_unsupported_entries_are_named() {
        // Flip bytes in the compressed data: the CRC (or the deflate stream) fails on `data`.
        let body = vec![b'a'; 4096];
        let mut z = zip_of(&[("data", &body, 0o644)]);
        let at = 30 + "data".len() + 5;
        for b in &mut z[at..at + 8] {
            *b ^= 0x55;
        }
        let (r, text) = refusal(&z);
        assert!(
            matches!(&r, Refusal::Corrupt { entry, .. } if entry == "`data`"),
            "{text}"
        );

        // Compression method 12 (bzip2), which eddy is built without.
        let mut z = zip_of(&[("packed", b"hello", 0o644)]);
        for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
            let i = z.windows(4).position(|w| w == sig).unwrap();
            let off = if sig[2] == 3 { 8 } else { 10 };
            z[i + off] = 12;
            z[i + off + 1] = 0;
        }
        let (r, text) = refusal(&z);
        assert!(
            matches!(&r, Refusal::Compression { entry, .. } if entry == "`packed`"),
            "{text}"
        );
        assert!(text.contains("use deflate or no compression"), "{text}");
    }

    #[test]
    fn too_many_entries_and_too_large() {
        let entries = [("a", &b""[..], 0o644), ("b", b"", 0o644), ("c", b"", 0o644)];
        let (r, text) = refusal_within(&zip_of(&entries), 2);
        assert_eq!(r, Refusal::TooManyEntries { count: 3, max: 2 });
        assert!(text.ends_with("(the archive has 3 entries; the most eddy unpacks is 2)"));

        let z = zip_of(&[("big", &[7u8; 5000], 0o644)]);
        let dir = tempfile::tempdir().unwrap();
        let e = unpack_within(
            std::io::Cursor::new(&z),
            dir.path(),
            "r1",
            MAX_ENTRIES,
            4096,
        )
        .unwrap_err();
        assert!(matches!(e, CodeError::TooLarge(4096)), "{e}");
        assert!(!dir.path().join("r1").exists());
        assert_eq!(
            CodeError::TooLarge(MAX_UNZIPPED_BYTES).to_string(),
            "Unzipped size must be smaller than 262144000 bytes"
        );
    }

    #[test]
    fn absolute_names_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let z = zip_of(&[("/abs", b"x", 0o644)]);
        let (d, _) = unpack(&z, dir.path(), "r3").unwrap();
        assert!(d.join("abs").exists());
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
