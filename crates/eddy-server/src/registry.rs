//! A registry of named definitions of one kind (queues, connections, API destinations, log
//! groups): held in memory for reads, persisted in the store's definitions for restarts.
//!
//! Changes are serialised by one async mutex and written to the store (durably) before memory
//! changes, so what a caller was told succeeded survives a crash.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use eddy_store::{Definition, DefinitionChange, Store};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::core_error::CoreError;

/// A definition a [`Registry`] can hold: named within a region.
pub trait Named: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static {
    /// The store's kind for these definitions (`queue`, `connection`, …).
    const KIND: &'static str;
    fn region(&self) -> &str;
    fn name(&self) -> &str;
}

/// The store key of a definition: `REGION:NAME`.
pub fn key(region: &str, name: &str) -> String {
    format!("{region}:{name}")
}

/// See the module docs.
pub struct Registry<T> {
    store: Arc<dyn Store>,
    items: RwLock<BTreeMap<(String, String), T>>,
    control: tokio::sync::Mutex<()>,
}

impl<T: Named> Registry<T> {
    /// Builds the registry from the store's definitions of kind `T::KIND`.
    pub fn load(store: Arc<dyn Store>, definitions: &[Definition]) -> anyhow::Result<Self> {
        let mut items = BTreeMap::new();
        for (kind, key, value) in definitions {
            if kind == T::KIND {
                let d: T = serde_json::from_slice(value)
                    .map_err(|e| anyhow::anyhow!("{kind} `{key}` is unreadable: {e}"))?;
                items.insert((d.region().to_owned(), d.name().to_owned()), d);
            }
        }
        Ok(Self {
            store,
            items: RwLock::new(items),
            control: tokio::sync::Mutex::new(()),
        })
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
            self.store
                .apply(vec![change])
                .await
                .map_err(CoreError::from)?;
            self.write()
                .insert((def.region().to_owned(), def.name().to_owned()), def);
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
        self.store
            .apply(vec![DefinitionChange::delete(T::KIND, key(region, name))])
            .await?;
        self.write().remove(&(region.to_owned(), name.to_owned()));
        Ok(())
    }

    /// Forgets everything (after the store was reset).
    pub fn clear(&self) {
        self.write().clear();
    }
}
