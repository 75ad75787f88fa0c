//! Creating, changing and deleting event buses: the one place that decides whether a bus may be
//! made or changed, for every caller (the EventBridge API, the manifest). Refusals are
//! [`BusError`]s in the core's words; the EventBridge adapter words them as AWS does.

use eddy_model::DEFAULT_BUS;
use eddy_model::definitions::{BusDef, Tags};
use eddy_model::names::{BUS_NAME, CUSTOM_BUS_NAME};
use serde_json::Value;

use super::{Catalog, Change};
use crate::core_error::CoreError;

/// A bus to create (CreateEventBus).
#[derive(Debug, Clone, Default)]
pub struct NewBus {
    pub name: String,
    /// A partner event source (`aws.partner/...`): only a partner bus, named after it, may
    /// contain `/`.
    pub event_source_name: Option<String>,
    pub description: Option<String>,
    pub kms_key_identifier: Option<String>,
    pub dead_letter_config: Option<Value>,
    pub tags: Tags,
}

/// A change to a bus (UpdateEventBus): what is `None` stays as it is.
#[derive(Debug, Clone, Default)]
pub struct BusUpdate {
    pub description: Option<String>,
    pub kms_key_identifier: Option<String>,
    pub dead_letter_config: Option<Value>,
}

/// Why a bus operation refused.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The name breaks the bus name rule.
    #[error("bus name `{0}` is not valid")]
    InvalidName(String),
    /// `/` in the name of a bus that is not a partner bus.
    #[error("a bus name must not contain '/'")]
    Slash,
    /// The partner event source is not one eddy knows.
    #[error("event source {0} does not exist")]
    UnknownEventSource(String),
    #[error("event bus {0} already exists")]
    Exists(String),
    #[error("event bus {0} does not exist")]
    NotFound(String),
    /// The `default` bus always exists.
    #[error("the default bus cannot be deleted")]
    DeleteDefault,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl Catalog {
    /// Creates a bus in `region`.
    pub async fn create_bus(&self, region: &str, new: NewBus) -> Result<BusDef, BusError> {
        let partner = new.event_source_name.is_some();
        let rule = if partner { BUS_NAME } else { CUSTOM_BUS_NAME };
        if rule.check(&new.name).is_err() {
            return Err(if !partner && BUS_NAME.check(&new.name).is_ok() {
                BusError::Slash
            } else {
                BusError::InvalidName(new.name)
            });
        }
        if let Some(src) = &new.event_source_name
            && !src.starts_with("aws.partner/")
        {
            return Err(BusError::UnknownEventSource(src.clone()));
        }
        let now = self.clock.now_ms();
        self.mutate(|d| {
            if d.bus(region, &new.name).is_some() {
                return Err(BusError::Exists(new.name.clone()));
            }
            let bus = BusDef {
                region: region.to_owned(),
                name: new.name,
                description: new.description,
                event_source_name: new.event_source_name,
                kms_key_identifier: new.kms_key_identifier,
                dead_letter_config: new.dead_letter_config,
                policy: None,
                tags: new.tags,
                created_ms: now,
                modified_ms: now,
            };
            Ok((bus.clone(), vec![Change::PutBus(bus)]))
        })
        .await
    }

    /// Changes a bus of `region`.
    pub async fn update_bus(
        &self,
        region: &str,
        name: &str,
        update: BusUpdate,
    ) -> Result<BusDef, BusError> {
        let now = self.clock.now_ms();
        self.mutate(|d| {
            let mut bus = d
                .bus(region, name)
                .ok_or_else(|| BusError::NotFound(name.to_owned()))?;
            if update.description.is_some() {
                bus.description = update.description;
            }
            if update.kms_key_identifier.is_some() {
                bus.kms_key_identifier = update.kms_key_identifier;
            }
            if update.dead_letter_config.is_some() {
                bus.dead_letter_config = update.dead_letter_config;
            }
            bus.modified_ms = now;
            Ok((bus.clone(), vec![Change::PutBus(bus)]))
        })
        .await
    }

    /// Deletes a bus of `region` and its rules; a bus that does not exist is no error (as
    /// DeleteEventBus).
    pub async fn delete_bus(&self, region: &str, name: &str) -> Result<(), BusError> {
        if name == DEFAULT_BUS {
            return Err(BusError::DeleteDefault);
        }
        self.mutate(|d| {
            if d.bus(region, name).is_none() {
                return Ok(((), vec![]));
            }
            let mut changes: Vec<Change> = d
                .rules_of(region, name)
                .map(|r| Change::DeleteRule {
                    region: region.to_owned(),
                    bus: name.to_owned(),
                    name: r.name.clone(),
                })
                .collect();
            changes.push(Change::DeleteBus {
                region: region.to_owned(),
                name: name.to_owned(),
            });
            Ok(((), changes))
        })
        .await
    }
}
