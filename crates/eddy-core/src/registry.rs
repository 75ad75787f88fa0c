//! A registry of named definitions of one kind (queues, connections, API destinations, log
//! groups, functions, APIs, archives, replays): held in memory for reads, persisted in the
//! store's definitions.
//!
//! Changes are serialised by one async mutex and committed to the store (durably); memory
//! changes only when the change comes back through the store's change feed
//! ([`crate::follow`]), which the writer waits for, so what a caller was told succeeded
//! survives a crash, and another process sharing the store sees it too.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use eddy_store::{Definition, DefinitionChange, Store};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::core_error::CoreError;
use crate::follow::Feed;

/// A definition a [`Registry`] can hold: named within a region.
pub trait Named: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static {
    /// The store's kind for these definitions (`queue`, `connection`, …).
    const KIND: &'static str;
    fn region(&self) -> &str;
    fn name(&self) -> &str;
}

/// Where a registry holds a definition: `(region, name)`.
fn id<T: Named>(d: &T) -> (String, String) {
    (d.region().to_owned(), d.name().to_owned())
}

/// The store key of a definition: `REGION:NAME`.
pub fn key(region: &str, name: &str) -> String {
    format!("{region}:{name}")
}

/// See the module docs.
pub struct Registry<T> {
    store: Arc<dyn Store>,
    feed: Arc<Feed>,
    items: RwLock<BTreeMap<(String, String), T>>,
    control: tokio::sync::Mutex<()>,
}

impl<T: Named> Registry<T> {
    /// Builds the registry from the store's definitions of kind `T::KIND`.
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
    ) -> anyhow::Result<Self> {
        let mut items = BTreeMap::new();
        for (key, d) in Self::decoded(definitions) {
            let d = d.map_err(|e| anyhow::anyhow!("{} `{key}` is unreadable: {e}", T::KIND))?;
            items.insert(id(&d), d);
        }
        Ok(Self {
            store,
            feed,
            items: RwLock::new(items),
            control: tokio::sync::Mutex::new(()),
        })
    }

    /// The definitions of this kind among `definitions`, each with its store key, decoded.
    fn decoded(definitions: &[Definition]) -> impl Iterator<Item = (&str, serde_json::Result<T>)> {
        definitions
            .iter()
            .filter(|(kind, _, _)| kind == T::KIND)
            .map(|(_, key, value)| (key.as_str(), serde_json::from_slice(value)))
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<(String, String), T>> {
        self.items.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<(String, String), T>> {
        self.items.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, region: &str, name: &str) -> Option<T> {
        self.read()
            .get(&(region.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every definition, of every region.
    pub fn all(&self) -> Vec<T> {
        self.read().values().cloned().collect()
    }

    /// Every definition of a region, by name.
    pub fn list(&self, region: &str) -> Vec<T> {
        self.read()
            .values()
            .filter(|d| d.region() == region)
            .cloned()
            .collect()
    }

    /// Creates or replaces a definition: `decide` sees the current one (if any) and returns the
    /// new one with an answer, or an error (the caller's own type) that changes nothing.
    pub async fn upsert<A, E: From<CoreError>>(
        &self,
        region: &str,
        name: &str,
        decide: impl FnOnce(Option<&T>) -> Result<(T, A), E>,
    ) -> Result<A, E> {
        let _guard = self.control.lock().await;
        let current = self.get(region, name);
        let (def, answer) = decide(current.as_ref())?;
        if current.as_ref() != Some(&def) {
            let value = serde_json::to_vec(&def).map_err(CoreError::from)?;
            let change = DefinitionChange::put(T::KIND, key(def.region(), def.name()), value);
            let version = self
                .store
                .apply(vec![change])
                .await
                .map_err(CoreError::from)?;
            self.feed.caught_up(version).await;
        }
        Ok(answer)
    }

    /// Stores a definition, replacing any of the same name.
    pub async fn put(&self, def: T) -> Result<(), CoreError> {
        let (region, name) = (def.region().to_owned(), def.name().to_owned());
        self.upsert(&region, &name, |_| Ok((def, ()))).await
    }

    /// Deletes a definition (nothing when there is none).
    pub async fn delete(&self, region: &str, name: &str) -> Result<(), CoreError> {
        let _guard = self.control.lock().await;
        let version = self
            .store
            .apply(vec![DefinitionChange::delete(T::KIND, key(region, name))])
            .await?;
        self.feed.caught_up(version).await;
        Ok(())
    }

    /// Applies the committed changes of this registry's kind (see [`crate::follow`]) and
    /// answers each as `(before, after)`. A stored value that no longer reads is skipped, with
    /// a warning.
    pub fn follow(&self, changes: &[DefinitionChange]) -> Vec<Changed<T>> {
        let mut out = Vec::new();
        for c in changes.iter().filter(|c| c.kind == T::KIND) {
            let Some((region, name)) = c.key.split_once(':') else {
                continue;
            };
            let id = (region.to_owned(), name.to_owned());
            let after = match c.value.as_deref().map(serde_json::from_slice::<T>) {
                None => None,
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => {
                    tracing::warn!(kind = T::KIND, key = %c.key, error = %e, "stored definition is unreadable; ignored");
                    continue;
                }
            };
            let mut items = self.write();
            let before = match &after {
                Some(d) => items.insert(id, d.clone()),
                None => items.remove(&id),
            };
            drop(items);
            out.push(Changed { before, after });
        }
        out
    }

    /// Replaces everything with the definitions of this kind among `definitions` and answers
    /// what changed, as [`Registry::follow`] does.
    pub fn reload(&self, definitions: &[Definition]) -> Vec<Changed<T>> {
        let mut fresh = BTreeMap::new();
        for (key, d) in Self::decoded(definitions) {
            match d {
                Ok(d) => {
                    fresh.insert(id(&d), d);
                }
                Err(e) => {
                    tracing::warn!(kind = T::KIND, key = %key, error = %e, "stored definition is unreadable; ignored");
                }
            }
        }
        let mut items = self.write();
        let old = std::mem::replace(&mut *items, fresh);
        let mut out = Vec::new();
        for (id, before) in &old {
            match items.get(id) {
                Some(after) if after == before => {}
                after => out.push(Changed {
                    before: Some(before.clone()),
                    after: after.cloned(),
                }),
            }
        }
        for (id, after) in items.iter() {
            if !old.contains_key(id) {
                out.push(Changed {
                    before: None,
                    after: Some(after.clone()),
                });
            }
        }
        out
    }
}

/// One definition as a change left it: `before` and `after` (`None`: absent).
#[derive(Debug, Clone)]
pub struct Changed<T> {
    pub before: Option<T>,
    pub after: Option<T>,
}
