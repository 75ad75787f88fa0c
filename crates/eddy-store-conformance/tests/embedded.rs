//! The conformance suite against the embedded store ([`EmbeddedStore`]): every check of
//! `eddy_store_conformance`, one test each.
//!
//! Each store lives in its own temporary directory. A restart drops the store (its writer
//! thread finishes what it was handed and closes the database, as a killed process's would be
//! closed by the kernel) and opens the same directory again. Stores that a check will cut the
//! power of are opened through [`PowerLossDisk`] with every commit synced; the others skip the
//! fsync (the kernel keeps written pages across a process crash), which keeps the suite fast.

use std::time::Duration;

use eddy_store::{EmbeddedStore, EmbeddedStoreOptions, Store};
use eddy_store_conformance::{Backend, Options};
use eddy_testkit::powerloss::PowerLossDisk;

struct Embedded {
    dir: tempfile::TempDir,
    options: Options,
    /// The disk whose power can be cut, for stores opened with `options.power_loss`.
    disk: Option<PowerLossDisk>,
    store: Option<EmbeddedStore>,
}

impl Embedded {
    fn open_store(&self) -> EmbeddedStore {
        EmbeddedStore::open_with(
            self.dir.path(),
            EmbeddedStoreOptions {
                sync: self.disk.is_some(),
                clock: self.options.clock.clone(),
                vfs: self.disk.as_ref().map(|d| d.vfs_name().to_owned()),
                ..EmbeddedStoreOptions::default()
            },
        )
        .expect("open the embedded store")
    }
}

impl Backend for Embedded {
    async fn open(options: Options) -> Self {
        let disk = options
            .power_loss
            .then(|| PowerLossDisk::register().expect("register the power-loss disk"));
        let mut backend = Self {
            dir: tempfile::tempdir().expect("tempdir"),
            options,
            disk,
            store: None,
        };
        backend.store = Some(backend.open_store());
        backend
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref().expect("the store is open")
    }

    async fn restart(&mut self) {
        drop(self.store.take());
        self.store = Some(self.open_store());
    }

    async fn power_loss(&mut self) -> bool {
        let Some(disk) = &self.disk else {
            return false;
        };
        disk.cut_power();
        drop(self.store.take());
        let reboot = disk
            .reboot(Duration::from_secs(30))
            .expect("reboot the power-loss disk");
        eprintln!("the power loss undid {} unsynced writes", reboot.undone);
        self.store = Some(self.open_store());
        true
    }
}

eddy_store_conformance::suite!(Embedded);
