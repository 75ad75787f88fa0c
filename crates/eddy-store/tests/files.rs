//! The store's files are private whatever the umask: a directory the store creates is 0700, its
//! database files (`eddy.db`, `-wal`, `-shm`) are 0600 and its blob directory (`objects`) 0700,
//! an existing store's looser files are tightened when it opens, and a directory it did not
//! create keeps its mode.
//!
//! One test in this binary, because the umask belongs to the whole process.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use eddy_store::{DefinitionChange, DefinitionStore, EmbeddedStore};
use rustix::fs::Mode;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Opens a store in `dir`, writes, and checks the modes of the directory and of the three files
/// while the store is open (the `-wal` and `-shm` files exist only then).
async fn open_and_check(dir: &Path, dir_mode: u32) {
    let store = EmbeddedStore::open(dir).expect("open");
    store
        .apply(vec![DefinitionChange::put(
            "k",
            "secret",
            b"api key".to_vec(),
        )])
        .await
        .expect("apply");
    assert_eq!(
        format!("{:o}", mode(dir)),
        format!("{dir_mode:o}"),
        "mode of {}",
        dir.display()
    );
    for name in ["eddy.db", "eddy.db-wal", "eddy.db-shm"] {
        assert_eq!(
            format!("{:o}", mode(&dir.join(name))),
            "600",
            "mode of {name}"
        );
    }
    // Object data (the blob directory) is private too.
    assert_eq!(format!("{:o}", mode(&dir.join("objects"))), "700");
    // Nothing else is left beside them (the space check removes its scratch file).
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    assert_eq!(names, ["eddy.db", "eddy.db-shm", "eddy.db-wal", "objects"]);
}

#[tokio::test]
async fn store_files_are_private_whatever_the_umask() {
    let root = tempfile::tempdir().expect("tempdir");
    let before = rustix::process::umask(Mode::empty());

    // umask 0: without the store's care everything would be 0777/0666.
    open_and_check(&root.path().join("a"), 0o700).await;
    // Missing parents are created too; only the store's own directory must be private.
    open_and_check(&root.path().join("p/q/b"), 0o700).await;

    // umask 022, the usual one: 0755/0644 otherwise.
    rustix::process::umask(Mode::from_raw_mode(0o022));
    open_and_check(&root.path().join("c"), 0o700).await;

    // An existing directory keeps its mode (its owner may need 0711 for functions that run as
    // another user); an existing store's files readable by others are tightened.
    let existing = root.path().join("existing");
    std::fs::create_dir(&existing).expect("mkdir");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o751)).expect("chmod");
    {
        // A store left 0644 by an older eddy, still open elsewhere so its -wal and -shm exist.
        let old = rusqlite::Connection::open(existing.join("eddy.db")).expect("sqlite");
        old.pragma_update(None, "journal_mode", "WAL").expect("wal");
        old.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .expect("write");
        for name in ["eddy.db", "eddy.db-wal", "eddy.db-shm"] {
            std::fs::set_permissions(existing.join(name), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        open_and_check(&existing, 0o751).await;
    }

    rustix::process::umask(before);
}
