//! Which Python interpreter runs a `python3.x` function, and whether it can, asked before the
//! first invocation: the interpreter must start as the function's user and import the official
//! runtime client `awslambdaric`. A failed check answers with the exact fix.
//!
//! The interpreter for runtime `python3.X`: the one given for that version
//! (`--python 3.X=PATH`); else, unless an interpreter for every version was given
//! (`--python PATH`), `python3.X` on `PATH`; else the default interpreter (`python3`). When the
//! interpreter's version is not the runtime's, the function runs and the check says which
//! version it runs on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The interpreter used when none is configured.
pub const DEFAULT_PYTHON: &str = "python3";

/// How long the check may take (an interpreter that hangs at start is an answer too).
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// What the check printed on success: the interpreter's `MAJOR.MINOR`.
const PROBE: &str = "import sys, awslambdaric; sys.stdout.write('%d.%d' % sys.version_info[:2])";

/// The interpreters `python3.x` functions run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pythons {
    /// For every version without its own (`python3` unless configured).
    pub default: PathBuf,
    /// Per version (`"3.12"`), from `--python 3.12=PATH`.
    pub by_version: BTreeMap<String, PathBuf>,
}

impl Default for Pythons {
    fn default() -> Self {
        Self {
            default: PathBuf::from(DEFAULT_PYTHON),
            by_version: BTreeMap::new(),
        }
    }
}

impl Pythons {
    /// Parses one `--python` value: `PATH` (every version) or `3.X=PATH` / `python3.X=PATH`.
    pub fn add(&mut self, value: &str) -> Result<(), String> {
        match value.split_once('=') {
            Some((version, path)) => {
                let version = version.strip_prefix("python").unwrap_or(version);
                let valid = version.split_once('.').is_some_and(|(major, minor)| {
                    major == "3" && !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
                });
                if !valid || path.is_empty() {
                    return Err(format!(
                        "`{value}`: give an interpreter for every version (`PATH`) or for one \
                         (`3.12=PATH`)"
                    ));
                }
                self.by_version
                    .insert(version.to_owned(), PathBuf::from(path));
            }
            None if value.is_empty() => return Err("an empty interpreter path".to_owned()),
            None => self.default = PathBuf::from(value),
        }
        Ok(())
    }

    /// The interpreter for `runtime` (`python3.12`), looking for `python3.12` in `search_path`
    /// (a `PATH` value) when no interpreter was configured for it or for every version.
    pub fn for_runtime(&self, runtime: &str, search_path: &str) -> PathBuf {
        let version = runtime.strip_prefix("python").unwrap_or(runtime);
        if let Some(p) = self.by_version.get(version) {
            return p.clone();
        }
        if self.default == Path::new(DEFAULT_PYTHON)
            && let Some(found) = find_program(&format!("python{version}"), search_path)
        {
            return found;
        }
        self.default.clone()
    }

    /// Makes relative interpreter paths (`.venv/bin/python`) absolute against `base`; bare
    /// names are left for `PATH`.
    pub fn absolute(mut self, base: &Path) -> Self {
        let abs = |p: &Path| {
            if p.components().count() > 1 && p.is_relative() {
                base.join(p)
            } else {
                p.to_owned()
            }
        };
        self.default = abs(&self.default);
        for p in self.by_version.values_mut() {
            *p = abs(p);
        }
        self
    }
}

/// The executable `name` in a directory of `search_path`.
fn find_program(name: &str, search_path: &str) -> Option<PathBuf> {
    search_path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| crate::instance::is_executable(p))
}

/// Whether a function can start, as last checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// It can; with a note when it runs other than asked (another Python version).
    Ready(Option<String>),
    /// It cannot: why, and how to fix it.
    NotReady(String),
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready(_))
    }

    /// The note or the reason, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Ready(note) => note.as_deref(),
            Self::NotReady(why) => Some(why),
        }
    }
}

/// An interpreter that imported `awslambdaric` as a user (`None`: eddy's own), and its version.
type Passed = (PathBuf, Option<(u32, u32)>, String);

/// Remembers which interpreters imported `awslambdaric` as which user, with their versions
/// (only successes are kept, so installing it takes effect without a restart).
#[derive(Clone, Default)]
pub(crate) struct PythonCheck(Arc<Mutex<Vec<Passed>>>);

impl PythonCheck {
    /// Checks that `python` starts as `run_as` (eddy's own user when `None`) and imports
    /// `awslambdaric`, for a function of `runtime`.
    pub async fn check(
        &self,
        python: &Path,
        run_as: Option<(u32, u32)>,
        runtime: &str,
        search_path: &str,
    ) -> Readiness {
        let known = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(p, u, _)| p == python && *u == run_as)
            .map(|(_, _, v)| v.clone());
        let version = match known {
            Some(v) => v,
            None => match probe(python, run_as, search_path).await {
                Ok(v) => {
                    self.0.lock().unwrap_or_else(|e| e.into_inner()).push((
                        python.to_owned(),
                        run_as,
                        v.clone(),
                    ));
                    v
                }
                Err(why) => return Readiness::NotReady(why),
            },
        };
        let wanted = runtime.strip_prefix("python").unwrap_or(runtime);
        if version == wanted {
            return Readiness::Ready(None);
        }
        Readiness::Ready(Some(format!(
            "runtime {runtime} runs on Python {version} (`{}`); to run it on {wanted}, start eddy \
             with `--python {wanted}=PATH` naming a Python {wanted} that has awslambdaric (or, \
             without a `--python` for every version, put `{runtime}` on PATH)",
            python.display()
        )))
    }
}

/// Runs the interpreter as `run_as`; its `MAJOR.MINOR`, or why it cannot run functions.
async fn probe(
    python: &Path,
    run_as: Option<(u32, u32)>,
    search_path: &str,
) -> Result<String, String> {
    let p = python.display();
    let mut cmd = tokio::process::Command::new(python);
    cmd.args(["-c", PROBE])
        .env_clear()
        .env("PATH", search_path)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid);
    }
    let as_user = match run_as {
        Some((uid, _)) => format!(" as user {uid}"),
        None => String::new(),
    };
    let root_ways_out = || {
        format!(
            "eddy runs as root, so each function runs as a user of its own (here {uid_note}), \
             which cannot use `{p}`. Either install the interpreter where every user can read it (for \
             example `python3 -m venv /opt/eddy-python && /opt/eddy-python/bin/pip install \
             awslambdaric`, then `eddy serve --python /opt/eddy-python/bin/python`), or run \
             functions as eddy's own user with `eddy serve --function-user current`",
            uid_note = as_user.trim_start().trim_start_matches("as ")
        )
    };
    let out = match tokio::time::timeout(CHECK_TIMEOUT, cmd.output()).await {
        Err(_elapsed) => {
            return Err(format!(
                "the Python interpreter `{p}` did not answer within {} s{as_user}",
                CHECK_TIMEOUT.as_secs()
            ));
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::PermissionDenied && run_as.is_some() => {
            return Err(format!(
                "cannot start `{p}`{as_user}: permission denied. {}",
                root_ways_out()
            ));
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "cannot find the Python interpreter `{p}`: install Python 3 with the runtime \
                 client (`python3 -m venv .venv && .venv/bin/pip install awslambdaric`) and \
                 start eddy with `--python .venv/bin/python`"
            ));
        }
        Ok(Err(e)) => return Err(format!("cannot start `{p}`{as_user}: {e}")),
        Ok(Ok(out)) => out,
    };
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !stdout.is_empty() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if run_as.is_some() && stderr.contains("Permission denied") {
        return Err(format!(
            "`{p}` cannot read its own files{as_user}. {}",
            root_ways_out()
        ));
    }
    if stderr.contains("awslambdaric") {
        return Err(format!(
            "the Python runtime client awslambdaric is not importable by `{p}`{as_user}: install \
             it with `{p} -m pip install awslambdaric` (or in a virtualenv: `python3 -m venv \
             .venv && .venv/bin/pip install awslambdaric`, then start eddy with `--python \
             .venv/bin/python`)"
        ));
    }
    let last = stderr.lines().last().unwrap_or("").trim();
    Err(format!(
        "`{p}` cannot run Python functions{as_user}: it exited with {} ({last})",
        out.status
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes an executable shell script `name` with `body` into `dir`.
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_python_value_names_every_version_or_one() {
        let mut p = Pythons::default();
        p.add("/opt/py/bin/python").unwrap();
        p.add("3.12=/opt/py312/bin/python").unwrap();
        p.add("python3.13=/opt/py313/bin/python").unwrap();
        assert_eq!(p.default, PathBuf::from("/opt/py/bin/python"));
        assert_eq!(p.by_version["3.12"], PathBuf::from("/opt/py312/bin/python"));
        assert_eq!(p.by_version["3.13"], PathBuf::from("/opt/py313/bin/python"));
        for bad in ["", "2.7=/usr/bin/python2", "3=/x", "3.x=/x", "3.12="] {
            assert!(p.add(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_runtime_runs_on_its_own_version_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let exe = script(dir.path(), "python3.42", "");
        let search = format!("/nonexistent:{}", dir.path().display());
        let mut p = Pythons::default();
        // Found on PATH when no interpreter was configured.
        assert_eq!(p.for_runtime("python3.42", &search), exe);
        assert_eq!(
            p.for_runtime("python3.41", &search),
            PathBuf::from("python3")
        );
        // A version's own interpreter wins; one for every version is used as given.
        p.add("3.42=/opt/a").unwrap();
        assert_eq!(
            p.for_runtime("python3.42", &search),
            PathBuf::from("/opt/a")
        );
        let mut q = Pythons::default();
        q.add("/opt/venv/bin/python").unwrap();
        assert_eq!(
            q.for_runtime("python3.42", &search),
            PathBuf::from("/opt/venv/bin/python")
        );
    }

    #[test]
    fn relative_interpreters_are_made_absolute_and_names_are_left_for_path() {
        let mut p = Pythons::default();
        p.add("3.12=.venv/bin/python").unwrap();
        let p = p.absolute(Path::new("/srv/app"));
        assert_eq!(p.default, PathBuf::from("python3"));
        assert_eq!(
            p.by_version["3.12"],
            PathBuf::from("/srv/app/.venv/bin/python")
        );
    }

    #[tokio::test]
    async fn a_missing_interpreter_or_runtime_client_is_named_with_its_fix() {
        let check = PythonCheck::default();
        let r = check
            .check(
                Path::new("/nonexistent/python"),
                None,
                "python3.12",
                "/usr/bin:/bin",
            )
            .await;
        let why = r.message().unwrap();
        assert!(!r.is_ready() && why.contains("cannot find"), "{why}");
        // An interpreter that runs but has no awslambdaric: a shell script standing in.
        let dir = tempfile::tempdir().unwrap();
        let fake = script(
            dir.path(),
            "python",
            "echo \"ModuleNotFoundError: No module named 'awslambdaric'\" >&2\nexit 1\n",
        );
        let r = check
            .check(&fake, None, "python3.12", "/usr/bin:/bin")
            .await;
        let why = r.message().unwrap();
        assert!(
            !r.is_ready() && why.contains("pip install awslambdaric"),
            "{why}"
        );
    }

    #[tokio::test]
    async fn another_version_runs_with_a_note_saying_which() {
        let dir = tempfile::tempdir().unwrap();
        let fake = script(dir.path(), "python", "printf 3.11\n");
        let check = PythonCheck::default();
        let r = check
            .check(&fake, None, "python3.12", "/usr/bin:/bin")
            .await;
        assert!(r.is_ready());
        let note = r.message().unwrap();
        assert!(
            note.contains("Python 3.11") && note.contains("--python 3.12=PATH"),
            "{note}"
        );
        assert_eq!(
            check
                .check(&fake, None, "python3.11", "/usr/bin:/bin")
                .await,
            Readiness::Ready(None)
        );
    }
}
