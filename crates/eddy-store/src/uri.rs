//! Choosing a backend at start-up: a store URI ([`StoreUri`]) names the backend and where it
//! keeps its data, and [`open`] opens it behind `Arc<dyn Store>`. A new backend is one more
//! [`StoreUri`] variant and one more arm in [`open`]; nothing above the store changes.
//!
//! | URI | backend |
//! | --- | --- |
//! | `sqlite:DIR` (or `sqlite://DIR`) | [`EmbeddedStore`] with its database `eddy.db` in the directory `DIR` |
//! | `postgres://...`, `postgresql://...` | not built yet (issue 16): [`open`] says so |

use std::path::PathBuf;
use std::sync::Arc;

use crate::{EmbeddedStore, EmbeddedStoreOptions, NoObserver, Store, StoreError, StoreObserver};

/// Which store to open, parsed from a URI (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUri {
    /// The embedded SQLite store in this directory.
    Sqlite(PathBuf),
    /// A shared PostgreSQL database (the connection URI, as given).
    Postgres(String),
}

impl StoreUri {
    /// The embedded store in `dir`: what eddy uses when no URI is given.
    pub fn embedded(dir: impl Into<PathBuf>) -> Self {
        Self::Sqlite(dir.into())
    }
}

impl std::fmt::Display for StoreUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(dir) => write!(f, "sqlite:{}", dir.display()),
            // The URI may carry a password: show only where it points.
            Self::Postgres(uri) => {
                let rest = uri.split_once("://").map_or(uri.as_str(), |(_, r)| r);
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                write!(f, "postgres://{host}")
            }
        }
    }
}

/// A store URI that names no backend eddy knows, or a backend it cannot open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "`{0}` is not a store URI: use `sqlite:DIR` (the embedded store, the default) or \
         `postgres://USER@HOST/DATABASE`"
    )]
    Unknown(String),
    #[error("`sqlite:` needs the directory of the store, e.g. `sqlite:/var/lib/eddy`")]
    NoPath,
    #[error(
        "not yet: the PostgreSQL store is issue 16; use the embedded store (`sqlite:DIR`, the \
         default) until it lands"
    )]
    PostgresNotYet,
    #[error("cannot open the store at `{uri}`: {source}")]
    Store {
        uri: String,
        #[source]
        source: StoreError,
    },
}

impl std::str::FromStr for StoreUri {
    type Err = OpenError;

    fn from_str(s: &str) -> Result<Self, OpenError> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(OpenError::NoPath);
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_owned()));
        }
        Err(OpenError::Unknown(s.to_owned()))
    }
}

/// What every backend is opened with.
#[derive(Clone)]
pub struct StoreOptions {
    /// Make every acknowledged change durable (fsync). Turning this off breaks the durability
    /// contract; it exists only to measure what the fsync costs.
    pub sync: bool,
    /// Told about commits (latency, batch sizes), for metrics.
    pub observer: Arc<dyn StoreObserver>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sync: true,
            observer: Arc::new(NoObserver),
        }
    }
}

/// Opens the store `uri` names. Blocks while the backend opens (the embedded store creates or
/// recovers its database): call it from a blocking context.
pub fn open(uri: &StoreUri, options: StoreOptions) -> Result<Arc<dyn Store>, OpenError> {
    match uri {
        StoreUri::Sqlite(dir) => {
            let store = EmbeddedStore::open_with(
                dir,
                EmbeddedStoreOptions {
                    sync: options.sync,
                    observer: options.observer,
                    vfs: None,
                    ..EmbeddedStoreOptions::default()
                },
            )
            .map_err(|source| OpenError::Store {
                uri: uri.to_string(),
                source,
            })?;
            Ok(Arc::new(store))
        }
        StoreUri::Postgres(_) => Err(OpenError::PostgresNotYet),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse() {
        assert_eq!(
            "sqlite:/var/lib/eddy".parse::<StoreUri>().expect("uri"),
            StoreUri::Sqlite("/var/lib/eddy".into())
        );
        assert_eq!(
            "sqlite://./.eddy".parse::<StoreUri>().expect("uri"),
            StoreUri::Sqlite("./.eddy".into())
        );
        assert!(matches!(
            "sqlite:".parse::<StoreUri>(),
            Err(OpenError::NoPath)
        ));
        assert!(matches!(
            "postgresql://u:secret@db/eddy".parse::<StoreUri>(),
            Ok(StoreUri::Postgres(_))
        ));
        assert!(matches!(
            "mysql://db".parse::<StoreUri>(),
            Err(OpenError::Unknown(_))
        ));
    }

    #[test]
    fn a_postgres_uri_is_not_yet_and_its_password_is_never_shown() {
        let uri: StoreUri = "postgres://u:secret@db:5432/eddy".parse().expect("uri");
        assert_eq!(uri.to_string(), "postgres://db:5432/eddy");
        let Err(e) = open(&uri, StoreOptions::default()) else {
            panic!("a PostgreSQL store opened");
        };
        assert!(matches!(e, OpenError::PostgresNotYet));
        assert!(
            e.to_string()
                .starts_with("not yet: the PostgreSQL store is issue 16")
        );
    }

    #[test]
    fn a_sqlite_uri_opens_the_embedded_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let uri = StoreUri::Sqlite(dir.path().join("s"));
        let store = open(&uri, StoreOptions::default()).expect("open");
        assert_eq!(store.health(), crate::StoreHealth::Ok);
        assert!(dir.path().join("s").join("eddy.db").is_file());
    }
}
