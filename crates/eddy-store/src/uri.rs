//! Choosing a backend at start-up: a store URI ([`StoreUri`]) names the backend and where it
//! keeps its data, and [`open`] opens it behind `Arc<dyn Store>`. A new backend is one more
//! [`StoreUri`] variant and one more arm in [`open`]; nothing above the store changes.
//!
//! | URI | backend |
//! | --- | --- |
//! | `sqlite:DIR` (or `sqlite://DIR`) | [`EmbeddedStore`] with its database `eddy.db` in the directory `DIR` |
//! | `postgres://USER@HOST:PORT/DB?...`, `postgresql://...` | [`PostgresStore`] in that database (the schema of its `search_path`); any connection parameter `tokio-postgres` takes (`options=-c search_path=S`, `connect_timeout=5`...), plus `eddy_node=NAME`: this node's name for its leases (unless [`StoreOptions::node`] names it; the host name when neither does; see the `postgres` module, "`release_leases`"), and `sslmode=require` with `sslrootcert=PATH` for TLS (see the `postgres` module, "TLS") |

use std::path::PathBuf;
use std::sync::Arc;

use crate::{
    EmbeddedStore, EmbeddedStoreOptions, NoObserver, PostgresStore, PostgresStoreOptions, Store,
    StoreError, StoreObserver,
};

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
        "the PostgreSQL store is opened on a tokio runtime: call `open` from a blocking thread \
         of one (`spawn_blocking`)"
    )]
    NoRuntime,
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
    /// This node's name among the nodes sharing the store: the PostgreSQL store records it with
    /// the leases it takes (before the URI's `eddy_node=`, then the host name); the embedded
    /// store, the only node of its store, ignores it.
    pub node: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sync: true,
            observer: Arc::new(NoObserver),
            node: None,
        }
    }
}

/// Opens the store `uri` names. Blocks while the backend opens (the embedded store creates or
/// recovers its database; the PostgreSQL store connects and migrates): call it from a blocking
/// context. The PostgreSQL store also needs a tokio runtime to run its connections and tasks
/// on: the one whose blocking thread calls this (`spawn_blocking`), [`OpenError::NoRuntime`]
/// when there is none.
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
        StoreUri::Postgres(given) => {
            let store_error = |source| OpenError::Store {
                uri: uri.to_string(),
                source,
            };
            let runtime =
                tokio::runtime::Handle::try_current().map_err(|_| OpenError::NoRuntime)?;
            let (conninfo, node) = crate::postgres::take_param(given, "eddy_node");
            let mut pg = PostgresStoreOptions {
                sync: options.sync,
                observer: options.observer,
                ..PostgresStoreOptions::default()
            };
            if let Some(node) = options.node.or(node) {
                pg.node = node;
            }
            let store = runtime
                .block_on(PostgresStore::connect(&conninfo, pg))
                .map_err(store_error)?;
            Ok(Arc::new(store))
        }
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
    fn a_postgres_uri_needs_a_runtime_and_its_password_is_never_shown() {
        let uri: StoreUri = "postgres://u:secret@db:5432/eddy".parse().expect("uri");
        assert_eq!(uri.to_string(), "postgres://db:5432/eddy");
        let Err(e) = open(&uri, StoreOptions::default()) else {
            panic!("a PostgreSQL store opened without a runtime");
        };
        assert!(matches!(e, OpenError::NoRuntime), "{e}");
    }

    /// A server that does not answer is an error naming where it points (never the password),
    /// not a panic.
    #[test]
    fn an_unreachable_postgres_is_an_error() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        // Port 1 on the loopback: nothing listens there.
        let uri: StoreUri = "postgres://u:secret@127.0.0.1:1/eddy?connect_timeout=2&eddy_node=n"
            .parse()
            .expect("uri");
        let opened = runtime
            .block_on(runtime.spawn_blocking(move || open(&uri, StoreOptions::default()).map(drop)))
            .expect("join");
        let Err(e) = opened else {
            panic!("a store opened on a closed port");
        };
        assert!(
            matches!(
                e,
                OpenError::Store {
                    source: StoreError::Unavailable(_),
                    ..
                }
            ),
            "a store that cannot be reached is unavailable, not failed: {e:?}"
        );
        assert!(!e.to_string().contains("secret"), "{e}");
        // The text says why, not only that connecting failed.
        assert!(e.to_string().contains("refused"), "{e}");
    }

    #[test]
    fn the_node_parameter_is_eddys_own() {
        let take = |uri| crate::postgres::take_param(uri, "eddy_node");
        assert_eq!(
            take("postgres://h/db?eddy_node=a&connect_timeout=3"),
            (
                "postgres://h/db?connect_timeout=3".to_owned(),
                Some("a".to_owned())
            )
        );
        assert_eq!(
            take("postgres://h/db?eddy_node=b"),
            ("postgres://h/db".to_owned(), Some("b".to_owned()))
        );
        assert_eq!(
            take("postgres://h/db"),
            ("postgres://h/db".to_owned(), None)
        );
        assert_eq!(
            take("postgres://h/db?eddy_nodes=x"),
            ("postgres://h/db?eddy_nodes=x".to_owned(), None)
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
