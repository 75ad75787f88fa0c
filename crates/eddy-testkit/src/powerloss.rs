//! `PowerLossDisk`: a SQLite VFS that can lose power, for tests that prove the store syncs what
//! it acknowledges.
//!
//! A crash test that kills the process cannot catch a missing `fsync`: the kernel's page cache
//! survives a killed process, so every `write` the store made is still there when it restarts.
//! Losing power is different: what was written but never synced may be gone. This module models
//! that loss under SQLite, where the store does its I/O.
//!
//! # How it works
//!
//! [`PowerLossDisk::register`] registers a VFS under a fresh name ([`PowerLossDisk::vfs_name`];
//! open the store with `EmbeddedStoreOptions { vfs: Some(name), .. }`). It wraps SQLite's own
//! `unix` VFS and forwards every call to it, so the files on disk are real SQLite files; in
//! passing it keeps, per file, an **undo log** of the writes and truncates made since that
//! file's last successful `xSync` (the bytes and the length each one replaced). A sync empties
//! the log: what it covered is durable.
//!
//! [`PowerLossDisk::cut_power`] (now) or [`PowerLossDisk::cut_power_after`] (just before the
//! n-th next write, truncate or sync, which may fall inside a commit, between its writes and
//! its sync) stops the machine: from then on every write, truncate, sync, delete and open fails
//! with an I/O error, so nothing more reaches the disk (reads, locks and shared memory keep
//! working, so SQLite can shut down). Once every file is closed (the store
//! was dropped), [`PowerLossDisk::reboot`] rolls each file back to its state at its last sync by
//! applying its undo log in reverse, and deletes what a reboot does not keep. Then the directory
//! holds exactly what a machine that lost power would find, and the store can be opened again
//! (through any VFS) to see what survived.
//!
//! # The fault model
//!
//! * **Every unsynced write is lost**, in every file (the database and its `-wal`): the
//!   strictest outcome of a power loss. A real disk may keep any subset of them, in any order,
//!   and may tear a write within a sector; this model does not try those subsets (they test
//!   SQLite's recovery more than eddy's use of it), only "none of them".
//! * **Synced data is never damaged**: no write reaches a byte the last sync covered without
//!   being undone, and a rolled-back file is byte for byte what it was at the sync (SQLite's
//!   "powersafe overwrite" assumption, which its unix VFS makes too).
//! * **Files.** A file that existed when the VFS first opened it keeps its name. A file the VFS
//!   created (SQLite creates the `-wal` and `-journal` files itself) and never synced is deleted
//!   at the reboot; once synced it stays (for those files SQLite's unix VFS also syncs the
//!   directory at their first sync). The store creates `eddy.db` itself, before SQLite opens
//!   it, so to this model its name is durable; nothing syncs the directory after that creation,
//!   which on a file system that does not persist a new name with the file's first sync could
//!   lose a brand-new store whole. A delete made before the power loss is durable.
//! * **The `-shm` file** is SQLite's shared memory (the WAL index), written through `mmap`,
//!   never through `xWrite`, and rebuilt from the WAL when the first connection opens the
//!   database. Its contents after a real power loss are garbage or stale, and on many systems
//!   it lives in memory anyway: the reboot deletes it, as a restarted machine would not have it.
//! * **Not modelled:** memory-mapped writes (the VFS offers no `xFetch`, so SQLite never maps
//!   the files), file-control operations that grow files behind `xWrite`'s back (chunk-size
//!   hints are refused), other processes, and anything written outside SQLite.
//!
//! Each disk registers its own VFS, so tests running in parallel cut their own power only. The
//! VFS object and its state are leaked (a few hundred bytes per disk): SQLite may still hold a
//! pointer to a VFS after it is unregistered, until its last connection closes.

// SAFETY (module-wide): a SQLite VFS is a table of C function pointers that SQLite calls with raw
// pointers to memory it allocates for us; it cannot be written without `unsafe`. The unsafe code
// is confined to this test-support module, which no production code uses.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::fs::OpenOptions;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;

/// What a reboot found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reboot {
    /// Writes and truncates undone (made after their file's last sync).
    pub undone: usize,
    /// Bytes those writes had changed or added.
    pub bytes: u64,
    /// Files created and never synced, deleted.
    pub deleted: Vec<PathBuf>,
}

/// Why a reboot did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RebootError {
    #[error("{0} file(s) are still open through the VFS: drop the store before rebooting")]
    StillOpen(usize),
    #[error("cannot roll back `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A disk that can lose power: see the module docs.
pub struct PowerLossDisk {
    disk: &'static Disk,
    vfs: Vfs,
    name: String,
}

impl PowerLossDisk {
    /// Registers a new VFS (named `eddy-powerloss-N`) over SQLite's `unix` VFS, with the power
    /// on.
    pub fn register() -> std::io::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("eddy-powerloss-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let c_name = CString::new(name.clone()).map_err(std::io::Error::other)?;
        // SAFETY: `sqlite3_vfs_find` takes a NUL-terminated name (or null) and returns a pointer
        // to a registered VFS or null; SQLite's built-in VFSes live as long as the process.
        let real = unsafe { ffi::sqlite3_vfs_find(c"unix".as_ptr()) };
        let real = NonNull::new(real).ok_or_else(|| std::io::Error::other("no `unix` VFS"))?;
        // SAFETY: `real` points to a live VFS (above); only its plain fields are read.
        let (real_size, max_path) = unsafe { (real.as_ref().szOsFile, real.as_ref().mxPathname) };
        let disk: &'static Disk = Box::leak(Box::new(Disk {
            real: Vfs(real),
            state: Mutex::new(State {
                powered: true,
                countdown: None,
                open: 0,
                files: HashMap::new(),
            }),
        }));
        let size = c_int::try_from(REAL_OFFSET)
            .ok()
            .and_then(|own| own.checked_add(real_size))
            .ok_or_else(|| std::io::Error::other("file object too large"))?;
        let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
            iVersion: 2,
            szOsFile: size,
            mxPathname: max_path,
            pNext: ptr::null_mut(),
            zName: c_name.into_raw(),
            pAppData: ptr::from_ref(disk).cast_mut().cast(),
            xOpen: Some(vfs_open),
            xDelete: Some(vfs_delete),
            xAccess: Some(vfs_access),
            xFullPathname: Some(vfs_full_pathname),
            xDlOpen: Some(vfs_dl_open),
            xDlError: Some(vfs_dl_error),
            xDlSym: Some(vfs_dl_sym),
            xDlClose: Some(vfs_dl_close),
            xRandomness: Some(vfs_randomness),
            xSleep: Some(vfs_sleep),
            xCurrentTime: Some(vfs_current_time),
            xGetLastError: Some(vfs_get_last_error),
            xCurrentTimeInt64: Some(vfs_current_time_int64),
            xSetSystemCall: None,
            xGetSystemCall: None,
            xNextSystemCall: None,
        }));
        let vfs = Vfs(NonNull::from(vfs));
        // SAFETY: the VFS object is leaked, so it outlives its registration (and any connection
        // that still uses it after `Drop` unregisters it); registration is thread-safe.
        let rc = unsafe { ffi::sqlite3_vfs_register(vfs.0.as_ptr(), 0) };
        if rc != ffi::SQLITE_OK {
            return Err(std::io::Error::other(format!(
                "sqlite3_vfs_register failed ({rc})"
            )));
        }
        Ok(Self { disk, vfs, name })
    }

    /// The name to open databases with (`EmbeddedStoreOptions::vfs`).
    pub fn vfs_name(&self) -> &str {
        &self.name
    }

    /// Whether the power is on.
    pub fn powered(&self) -> bool {
        self.disk.lock().powered
    }

    /// Cuts the power: every later write, truncate, sync, delete and open fails. A write or sync
    /// running now finishes first (and a sync that finishes was durable).
    pub fn cut_power(&self) {
        self.disk.lock().powered = false;
    }

    /// Cuts the power just before the write, truncate or sync that comes after `ops` more of
    /// them (`0`: the very next one fails).
    pub fn cut_power_after(&self, ops: u64) {
        self.disk.lock().countdown = Some(ops);
    }

    /// Files open through the VFS now.
    pub fn open_files(&self) -> usize {
        self.disk.lock().open
    }

    /// Writes and truncates not yet covered by a sync, over all files.
    pub fn unsynced(&self) -> usize {
        self.disk.lock().files.values().map(|f| f.undo.len()).sum()
    }

    /// Waits (at most `wait`) until no file is open through the VFS, then rolls every file back
    /// to its last sync, deletes files created and never synced and the databases' `-shm`
    /// files, and turns the power on again. Rebooting a disk that never lost power rolls back
    /// just the same: it is the model of a power loss at this instant.
    pub fn reboot(&self, wait: Duration) -> Result<Reboot, RebootError> {
        let deadline = Instant::now() + wait;
        let mut state = loop {
            let state = self.disk.lock();
            if state.open == 0 {
                break state;
            }
            if Instant::now() >= deadline {
                return Err(RebootError::StillOpen(state.open));
            }
            drop(state);
            std::thread::sleep(Duration::from_millis(10));
        };
        // Nothing reaches the disk while the files are rolled back.
        state.powered = false;
        state.countdown = None;
        let mut report = Reboot::default();
        let files = std::mem::take(&mut state.files);
        for (path, log) in files {
            report.undone += log.undo.len();
            report.bytes += log.undo.iter().map(|u| u.changed).sum::<u64>();
            if log.created && !log.synced {
                remove(&path)?;
                report.deleted.push(path.clone());
            } else if !log.undo.is_empty() {
                roll_back(&path, &log.undo).map_err(|source| RebootError::Io {
                    path: path.clone(),
                    source,
                })?;
            }
            if log.main_db {
                let mut shm = path.into_os_string();
                shm.push("-shm");
                remove(Path::new(&shm))?;
            }
        }
        state.powered = true;
        Ok(report)
    }
}

impl Drop for PowerLossDisk {
    fn drop(&mut self) {
        // SAFETY: the VFS was registered in `register`; unregistering only unlinks it from
        // SQLite's list (the object itself stays, leaked, for connections still using it).
        let _not_registered = unsafe { ffi::sqlite3_vfs_unregister(self.vfs.0.as_ptr()) };
        // The undo logs are not needed any more; the leaked state keeps only its map.
        self.disk.lock().files.clear();
    }
}

fn remove(path: &Path) -> Result<(), RebootError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(RebootError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Undoes `undo` on the file at `path`, newest first.
fn roll_back(path: &Path, undo: &[Undo]) -> std::io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    for u in undo.iter().rev() {
        file.write_all_at(&u.old, u.offset)?;
        file.set_len(u.old_len)?;
    }
    Ok(())
}

/// A pointer to a VFS object, which is never freed.
#[derive(Clone, Copy)]
struct Vfs(NonNull<ffi::sqlite3_vfs>);

// SAFETY: VFS objects are immutable once registered and SQLite calls them from any thread (the
// bundled SQLite is built thread-safe); the pointer is never used to mutate the object.
unsafe impl Send for Vfs {}
// SAFETY: as above.
unsafe impl Sync for Vfs {}

/// One disk's state, shared by its VFS and every file opened through it.
struct Disk {
    /// SQLite's `unix` VFS, which does the real work.
    real: Vfs,
    state: Mutex<State>,
}

impl Disk {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not wedge SQLite's I/O: the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn real(&self) -> *mut ffi::sqlite3_vfs {
        self.real.0.as_ptr()
    }
}

struct State {
    powered: bool,
    /// Writes, truncates and syncs still allowed before the power goes (see
    /// [`PowerLossDisk::cut_power_after`]).
    countdown: Option<u64>,
    /// Files open through the VFS.
    open: usize,
    /// Every named file opened since the last reboot, by path.
    files: HashMap<PathBuf, FileLog>,
}

impl State {
    /// Whether a write, truncate or sync may reach the disk (counting it down towards a cut).
    fn io(&mut self) -> bool {
        match self.countdown {
            Some(0) => {
                self.countdown = None;
                self.powered = false;
            }
            Some(n) => self.countdown = Some(n - 1),
            None => {}
        }
        self.powered
    }
}

/// What a reboot must undo in one file.
struct FileLog {
    /// The VFS created the file (it did not exist when first opened).
    created: bool,
    /// The file was synced at least once.
    synced: bool,
    /// A main database file (whose `-shm` the reboot deletes).
    main_db: bool,
    /// Writes and truncates since the last sync, oldest first.
    undo: Vec<Undo>,
}

/// How to undo one write or truncate: put back `old` at `offset`, then set the length back.
struct Undo {
    offset: u64,
    /// The bytes the change overwrote or cut off (not those it appended).
    old: Vec<u8>,
    /// The file's length before the change.
    old_len: u64,
    /// Bytes the change wrote, or cut off.
    changed: u64,
}

/// The file object SQLite allocates for each open file (`szOsFile` bytes): ours first, the
/// `unix` VFS's own file object after it, at [`REAL_OFFSET`].
#[repr(C)]
struct ShimFile {
    /// Must come first: SQLite sees a `sqlite3_file` whose methods are [`METHODS`].
    base: ffi::sqlite3_file,
    disk: &'static Disk,
    /// `None` for temporary files (no name, or deleted on close): nothing to keep for them.
    path: Option<PathBuf>,
    real: *mut ffi::sqlite3_file,
}

/// Where the real file object starts: after ours, aligned for any field SQLite's has.
const REAL_OFFSET: usize = std::mem::size_of::<ShimFile>().next_multiple_of(16);

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    // Version 2: shared memory (WAL) but no memory-mapped I/O, so every write is an `xWrite`.
    iVersion: 2,
    xClose: Some(file_close),
    xRead: Some(file_read),
    xWrite: Some(file_write),
    xTruncate: Some(file_truncate),
    xSync: Some(file_sync),
    xFileSize: Some(file_size),
    xLock: Some(file_lock),
    xUnlock: Some(file_unlock),
    xCheckReservedLock: Some(file_check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(file_sector_size),
    xDeviceCharacteristics: Some(file_device_characteristics),
    xShmMap: Some(file_shm_map),
    xShmLock: Some(file_shm_lock),
    xShmBarrier: Some(file_shm_barrier),
    xShmUnmap: Some(file_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

/// The disk of a VFS this module registered.
///
/// # Safety
/// `vfs` must be a VFS registered by [`PowerLossDisk::register`].
unsafe fn disk_of(vfs: *mut ffi::sqlite3_vfs) -> &'static Disk {
    // SAFETY: `pAppData` of our VFS is a leaked `&'static Disk` (see `register`).
    unsafe { &*(*vfs).pAppData.cast::<Disk>() }
}

/// Our file object.
///
/// # Safety
/// `file` must be a file opened by [`vfs_open`] and not yet closed.
unsafe fn shim<'a>(file: *mut ffi::sqlite3_file) -> &'a ShimFile {
    // SAFETY: `base` is the first field of the `repr(C)` `ShimFile` SQLite allocated for us, so
    // the pointers coincide; `vfs_open` initialised it.
    unsafe { &*file.cast::<ShimFile>() }
}

/// The `unix` VFS's methods of an open real file.
///
/// # Safety
/// `real` must be a file the real VFS opened successfully and that is not yet closed.
unsafe fn methods(real: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    // SAFETY: a successfully opened file has non-null methods that live as long as SQLite.
    unsafe { &*(*real).pMethods }
}

fn path_of(name: *const c_char) -> Option<PathBuf> {
    if name.is_null() {
        return None;
    }
    // SAFETY: SQLite passes file names as NUL-terminated strings valid for the call.
    let bytes = unsafe { CStr::from_ptr(name) }.to_bytes();
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

unsafe extern "C" fn vfs_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite calls xOpen of our registered VFS with `file` pointing to `szOsFile`
    // writable, suitably aligned bytes (SQLite's allocator aligns to 8; `REAL_OFFSET` keeps the
    // real object's offset a multiple of 16).
    unsafe {
        let disk = disk_of(vfs);
        (*file).pMethods = ptr::null();
        let real = file
            .cast::<u8>()
            .add(REAL_OFFSET)
            .cast::<ffi::sqlite3_file>();
        (*real).pMethods = ptr::null();
        let mut state = disk.lock();
        if !state.powered {
            return ffi::SQLITE_CANTOPEN;
        }
        let path = path_of(name).filter(|_| flags & ffi::SQLITE_OPEN_DELETEONCLOSE == 0);
        let existed = path
            .as_deref()
            .is_some_and(|p| std::fs::symlink_metadata(p).is_ok());
        let real_vfs = disk.real();
        let Some(open) = (*real_vfs).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = open(real_vfs, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            if !(*real).pMethods.is_null()
                && let Some(close) = methods(real).xClose
            {
                close(real);
            }
            return rc;
        }
        if let Some(p) = &path {
            state.files.entry(p.clone()).or_insert_with(|| FileLog {
                created: !existed,
                synced: false,
                main_db: flags & ffi::SQLITE_OPEN_MAIN_DB != 0,
                undo: Vec::new(),
            });
        }
        state.open += 1;
        ptr::write(
            file.cast::<ShimFile>(),
            ShimFile {
                base: ffi::sqlite3_file { pMethods: &METHODS },
                disk,
                path,
                real,
            },
        );
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn vfs_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    // SAFETY: `vfs` is ours; the real VFS gets its own pointer and SQLite's arguments.
    unsafe {
        let disk = disk_of(vfs);
        let mut state = disk.lock();
        if !state.powered {
            return ffi::SQLITE_IOERR_DELETE;
        }
        let real = disk.real();
        let Some(delete) = (*real).xDelete else {
            return ffi::SQLITE_IOERR_DELETE;
        };
        let rc = delete(real, name, sync_dir);
        if rc == ffi::SQLITE_OK
            && let Some(p) = path_of(name)
        {
            state.files.remove(&p);
        }
        rc
    }
}

// The VFS methods that touch no file content: forwarded to the real VFS with its own pointer.

unsafe extern "C" fn vfs_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xAccess {
            Some(f) => f(real, name, flags, out),
            None => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn vfs_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xFullPathname {
            Some(f) => f(real, name, n, out),
            None => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn vfs_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xDlOpen {
            Some(f) => f(real, name),
            None => ptr::null_mut(),
        }
    }
}

unsafe extern "C" fn vfs_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        if let Some(f) = (*real).xDlError {
            f(real, n, out);
        }
    }
}

type DlSym = Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)>;

unsafe extern "C" fn vfs_dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> DlSym {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xDlSym {
            Some(f) => f(real, handle, symbol),
            None => None,
        }
    }
}

unsafe extern "C" fn vfs_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        if let Some(f) = (*real).xDlClose {
            f(real, handle);
        }
    }
}

unsafe extern "C" fn vfs_randomness(
    vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xRandomness {
            Some(f) => f(real, n, out),
            None => 0,
        }
    }
}

unsafe extern "C" fn vfs_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xSleep {
            Some(f) => f(real, micros),
            None => 0,
        }
    }
}

unsafe extern "C" fn vfs_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xCurrentTime {
            Some(f) => f(real, out),
            None => ffi::SQLITE_ERROR,
        }
    }
}

unsafe extern "C" fn vfs_get_last_error(
    vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS.
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xGetLastError {
            Some(f) => f(real, n, out),
            None => 0,
        }
    }
}

unsafe extern "C" fn vfs_current_time_int64(
    vfs: *mut ffi::sqlite3_vfs,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real VFS (version 2 or later, as
    // the `unix` VFS is).
    unsafe {
        let real = disk_of(vfs).real();
        match (*real).xCurrentTimeInt64 {
            Some(f) if (*real).iVersion >= 2 => f(real, out),
            _ => ffi::SQLITE_ERROR,
        }
    }
}

// The file methods. Each is called by SQLite with a file `vfs_open` opened and not yet closed.

unsafe extern "C" fn file_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; after this the memory is SQLite's again, so our
    // object is moved out (and dropped) and the real file closed.
    unsafe {
        let own = ptr::read(file.cast::<ShimFile>());
        (*file).pMethods = ptr::null();
        let rc = match methods(own.real).xClose {
            Some(close) => close(own.real),
            None => ffi::SQLITE_OK,
        };
        let mut state = own.disk.lock();
        state.open = state.open.saturating_sub(1);
        rc
    }
}

unsafe extern "C" fn file_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real file.
    unsafe {
        let real = shim(file).real;
        match methods(real).xRead {
            Some(f) => f(real, buf, amount, offset),
            None => ffi::SQLITE_IOERR_READ,
        }
    }
}

/// The real file's length.
///
/// # Safety
/// `real` must be an open real file.
unsafe fn real_len(real: *mut ffi::sqlite3_file) -> Result<u64, c_int> {
    let mut size: ffi::sqlite3_int64 = 0;
    // SAFETY: `real` is open; `size` is a valid out pointer.
    let rc = unsafe {
        match methods(real).xFileSize {
            Some(f) => f(real, &mut size),
            None => ffi::SQLITE_IOERR_FSTAT,
        }
    };
    if rc != ffi::SQLITE_OK {
        return Err(rc);
    }
    u64::try_from(size).map_err(|_| ffi::SQLITE_IOERR_FSTAT)
}

/// The real file's bytes in `[offset, offset + len)`, all of which exist.
///
/// # Safety
/// `real` must be an open real file.
unsafe fn real_bytes(
    real: *mut ffi::sqlite3_file,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, c_int> {
    let n = c_int::try_from(len).map_err(|_| ffi::SQLITE_IOERR_READ)?;
    let at = ffi::sqlite3_int64::try_from(offset).map_err(|_| ffi::SQLITE_IOERR_READ)?;
    let mut buf = vec![0u8; n as usize];
    // SAFETY: `buf` holds `n` writable bytes.
    let rc = unsafe {
        match methods(real).xRead {
            Some(f) => f(real, buf.as_mut_ptr().cast(), n, at),
            None => ffi::SQLITE_IOERR_READ,
        }
    };
    if rc != ffi::SQLITE_OK {
        return Err(rc);
    }
    Ok(buf)
}

/// Records how to undo a change of `[offset, offset + len)` in `f`: a write of `len` bytes, or
/// (`len: None`) a truncate to `offset`.
///
/// # Safety
/// `f.real` must be an open real file.
unsafe fn record(
    state: &mut State,
    f: &ShimFile,
    offset: u64,
    len: Option<u64>,
) -> Result<(), c_int> {
    let Some(path) = &f.path else { return Ok(()) };
    // SAFETY: the caller's promise.
    let old_len = unsafe { real_len(f.real) }?;
    let kept = match len {
        Some(len) => old_len.saturating_sub(offset).min(len),
        None => old_len.saturating_sub(offset),
    };
    let old = if kept == 0 {
        Vec::new()
    } else {
        // SAFETY: the caller's promise.
        unsafe { real_bytes(f.real, offset, kept) }?
    };
    let log = state.files.entry(path.clone()).or_insert_with(|| FileLog {
        created: false,
        synced: false,
        main_db: false,
        undo: Vec::new(),
    });
    log.undo.push(Undo {
        offset: offset.min(old_len),
        old,
        old_len,
        changed: len.unwrap_or_else(|| old_len.abs_diff(offset)),
    });
    Ok(())
}

unsafe extern "C" fn file_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: `file` is open (SQLite's promise); the real write gets SQLite's arguments.
    unsafe {
        let f = shim(file);
        let mut state = f.disk.lock();
        if !state.io() {
            return ffi::SQLITE_IOERR_WRITE;
        }
        let (Ok(at), Ok(len)) = (u64::try_from(offset), u64::try_from(amount)) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        if let Err(rc) = record(&mut state, f, at, Some(len)) {
            return rc;
        }
        match methods(f.real).xWrite {
            Some(w) => w(f.real, buf, amount, offset),
            None => ffi::SQLITE_IOERR_WRITE,
        }
    }
}

unsafe extern "C" fn file_truncate(
    file: *mut ffi::sqlite3_file,
    size: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: `file` is open (SQLite's promise); the real truncate gets SQLite's arguments.
    unsafe {
        let f = shim(file);
        let mut state = f.disk.lock();
        if !state.io() {
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        let Ok(at) = u64::try_from(size) else {
            return ffi::SQLITE_IOERR_TRUNCATE;
        };
        if let Err(rc) = record(&mut state, f, at, None) {
            return rc;
        }
        match methods(f.real).xTruncate {
            Some(t) => t(f.real, size),
            None => ffi::SQLITE_IOERR_TRUNCATE,
        }
    }
}

unsafe extern "C" fn file_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: `file` is open (SQLite's promise); the real sync gets SQLite's arguments.
    unsafe {
        let f = shim(file);
        let mut state = f.disk.lock();
        if !state.io() {
            return ffi::SQLITE_IOERR_FSYNC;
        }
        let rc = match methods(f.real).xSync {
            Some(s) => s(f.real, flags),
            None => ffi::SQLITE_IOERR_FSYNC,
        };
        if rc == ffi::SQLITE_OK
            && let Some(log) = f.path.as_ref().and_then(|p| state.files.get_mut(p))
        {
            // The sync made the file's content (and, for files SQLite created, its name) durable.
            log.undo.clear();
            log.synced = true;
        }
        rc
    }
}

unsafe extern "C" fn file_size(
    file: *mut ffi::sqlite3_file,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real file.
    unsafe {
        let real = shim(file).real;
        match methods(real).xFileSize {
            Some(f) => f(real, out),
            None => ffi::SQLITE_IOERR_FSTAT,
        }
    }
}

unsafe extern "C" fn file_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real file.
    unsafe {
        let real = shim(file).real;
        match methods(real).xLock {
            Some(f) => f(real, level),
            None => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn file_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real file.
    unsafe {
        let real = shim(file).real;
        match methods(real).xUnlock {
            Some(f) => f(real, level),
            None => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn file_check_reserved_lock(
    file: *mut ffi::sqlite3_file,
    out: *mut c_int,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real file.
    unsafe {
        let real = shim(file).real;
        match methods(real).xCheckReservedLock {
            Some(f) => f(real, out),
            None => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    // A chunk size makes the unix VFS grow files inside file-control calls, behind `xWrite`:
    // refused, so every size change is a recorded write or truncate.
    if op == ffi::SQLITE_FCNTL_CHUNK_SIZE {
        return ffi::SQLITE_NOTFOUND;
    }
    // SAFETY: forwards SQLite's arguments unchanged to the real file.
    unsafe {
        let real = shim(file).real;
        match methods(real).xFileControl {
            Some(f) => f(real, op, arg),
            None => ffi::SQLITE_NOTFOUND,
        }
    }
}

unsafe extern "C" fn file_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real file.
    unsafe {
        let real = shim(file).real;
        match methods(real).xSectorSize {
            Some(f) => f(real),
            None => 4096,
        }
    }
}

unsafe extern "C" fn file_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real file.
    unsafe {
        let real = shim(file).real;
        match methods(real).xDeviceCharacteristics {
            Some(f) => f(real),
            None => 0,
        }
    }
}

unsafe extern "C" fn file_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwards SQLite's arguments unchanged to the real file (whose methods are version
    // 2 or later whenever they have shared memory).
    unsafe {
        let real = shim(file).real;
        let m = methods(real);
        match m.xShmMap {
            Some(f) if m.iVersion >= 2 => f(real, page, page_size, extend, out),
            _ => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn file_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    // SAFETY: as `file_shm_map`.
    unsafe {
        let real = shim(file).real;
        let m = methods(real);
        match m.xShmLock {
            Some(f) if m.iVersion >= 2 => f(real, offset, n, flags),
            _ => ffi::SQLITE_IOERR,
        }
    }
}

unsafe extern "C" fn file_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: as `file_shm_map`.
    unsafe {
        let real = shim(file).real;
        let m = methods(real);
        if let Some(f) = m.xShmBarrier
            && m.iVersion >= 2
        {
            f(real);
        }
    }
}

unsafe extern "C" fn file_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: as `file_shm_map`.
    unsafe {
        let real = shim(file).real;
        let m = methods(real);
        match m.xShmUnmap {
            Some(f) if m.iVersion >= 2 => f(real, delete),
            _ => ffi::SQLITE_OK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    const WAIT: Duration = Duration::from_secs(5);

    fn open(disk: &PowerLossDisk, path: &Path, sync: &str) -> Connection {
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), disk.vfs_name())
            .unwrap();
        // `synchronous` first: switching a new database to WAL commits (and syncs, unless off).
        conn.pragma_update(None, "synchronous", sync).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn
    }

    fn rows(path: &Path) -> Vec<String> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_synced_commit_survives_and_an_unsynced_one_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let disk = PowerLossDisk::register().unwrap();
        let conn = open(&disk, &path, "FULL");
        conn.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('synced');")
            .unwrap();
        assert_eq!(disk.unsynced(), 0, "a FULL commit leaves nothing unsynced");
        conn.pragma_update(None, "synchronous", "OFF").unwrap();
        conn.execute("INSERT INTO t VALUES ('unsynced')", [])
            .unwrap();
        assert!(disk.unsynced() > 0, "the OFF commit wrote without a sync");
        // Before the power loss, the unsynced commit is there: a killed process would keep it.
        assert_eq!(rows(&path), ["synced", "unsynced"]);

        disk.cut_power();
        let err = conn
            .execute("INSERT INTO t VALUES ('after')", [])
            .unwrap_err();
        assert!(err.to_string().contains("disk I/O error"), "{err}");
        drop(conn);
        let report = disk.reboot(WAIT).unwrap();
        assert!(report.undone > 0 && report.bytes > 0, "{report:?}");
        assert!(report.deleted.is_empty(), "{report:?}");
        assert!(
            !dir.path().join("t.db-shm").exists(),
            "the reboot clears shared memory"
        );
        assert_eq!(rows(&path), ["synced"]);
    }

    #[test]
    fn a_file_created_and_never_synced_is_gone_after_the_reboot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let disk = PowerLossDisk::register().unwrap();
        let conn = open(&disk, &path, "OFF");
        conn.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x');")
            .unwrap();
        disk.cut_power();
        drop(conn);
        let report = disk.reboot(WAIT).unwrap();
        assert!(report.deleted.contains(&path), "{report:?}");
        assert!(!path.exists());
        assert!(!dir.path().join("new.db-wal").exists());
        assert!(!dir.path().join("new.db-shm").exists());
    }

    #[test]
    fn an_unsynced_truncate_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let disk = PowerLossDisk::register().unwrap();
        let conn = open(&disk, &path, "FULL");
        conn.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a'), ('b');")
            .unwrap();
        let before = std::fs::metadata(&wal).unwrap().len();
        assert!(before > 0);
        // Copies the WAL into the database (synced), then truncates the WAL without a sync.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        disk.cut_power();
        drop(conn);
        disk.reboot(WAIT).unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), before);
        assert_eq!(rows(&path), ["a", "b"]);
    }

    #[test]
    fn the_reboot_waits_for_every_file_to_close() {
        let dir = tempfile::tempdir().unwrap();
        let disk = PowerLossDisk::register().unwrap();
        let conn = open(&disk, &dir.path().join("t.db"), "FULL");
        conn.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
        assert!(disk.open_files() >= 2, "the database and its WAL");
        disk.cut_power();
        assert!(matches!(
            disk.reboot(Duration::from_millis(50)),
            Err(RebootError::StillOpen(_))
        ));
        drop(conn);
        assert_eq!(disk.open_files(), 0);
        disk.reboot(WAIT).unwrap();
        assert!(disk.powered());
    }

    #[test]
    fn the_power_goes_at_the_counted_operation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let disk = PowerLossDisk::register().unwrap();
        let conn = open(&disk, &path, "FULL");
        conn.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
        // A commit writes its frame (one page here), then syncs: the power goes at the sync.
        disk.cut_power_after(1);
        assert!(conn.execute("INSERT INTO t VALUES ('x')", []).is_err());
        assert!(!disk.powered());
        assert!(
            disk.unsynced() > 0,
            "the commit's frame got through, unsynced"
        );
        drop(conn);
        disk.reboot(WAIT).unwrap();
        assert!(rows(&path).is_empty());
    }

    #[test]
    fn a_checkpoint_cut_short_leaves_the_database_as_it_was_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let disk = PowerLossDisk::register().unwrap();
        let conn = open(&disk, &path, "FULL");
        conn.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
        for i in 0..20 {
            let v = format!("{i:02}{}", "x".repeat(3000));
            conn.execute("INSERT INTO t VALUES (?1)", [v]).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        // The checkpoint syncs the WAL, copies pages into the database, then syncs it: the power
        // goes after the first page writes.
        disk.cut_power_after(3);
        let checkpoint = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        assert!(checkpoint.is_err(), "the checkpoint failed at the cut");
        drop(conn);
        let report = disk.reboot(WAIT).unwrap();
        assert!(report.undone > 0, "{report:?}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the database as last synced"
        );
        assert_eq!(rows(&path).len(), 20, "the WAL still has every commit");
    }

    #[test]
    fn two_disks_lose_power_independently() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            PowerLossDisk::register().unwrap(),
            PowerLossDisk::register().unwrap(),
        );
        assert_ne!(a.vfs_name(), b.vfs_name());
        let ca = open(&a, &dir.path().join("a.db"), "FULL");
        let cb = open(&b, &dir.path().join("b.db"), "FULL");
        a.cut_power();
        assert!(ca.execute_batch("CREATE TABLE t (v TEXT)").is_err());
        cb.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
    }
}
