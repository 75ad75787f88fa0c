//! Event sources: Lambda's event source mappings for SQS queues (a queue polled for one
//! function), persisted in the store's definitions, and the pollers that run them.
//!
//! * [`definition`]: what a mapping is, Lambda's rules for it, and [`SourceError`];
//! * this module: [`Sources`] (the registry, following the change feed) and the operations the
//!   Lambda API calls ([`create`], [`update`], [`delete`], [`Sources::get`], [`Sources::list`]);
//! * [`event`]: the SQS event Lambda delivers, the filters' view of a record, and which
//!   messages a finished invocation deletes;
//! * [`poller`]: [`run`], which keeps one poller per enabled mapping, started from the stored
//!   definitions and restarted or stopped as the change feed reports changes.
//!
//! A mapping's lifecycle, as Lambda reports it: a create answers `Creating`, an update
//! `Enabling`, `Disabling` or `Updating`, a delete `Deleting`; every later read reports what the
//! store holds (`Enabled` or `Disabled`), since eddy applies a change once it is committed.

use std::sync::Arc;

use eddy_pattern::Limits;
use eddy_store::{Definition, Store};

use crate::Core;
use crate::clock::Clock;
use crate::follow::{Feed, Follow};
use crate::functions::FunctionDef;
use crate::registry::Registry;

pub mod definition;
pub mod event;
pub mod poller;

pub use definition::{
    EventSourceMappingDef, FunctionResponseType, MappingState, MappingUpdate, NewMapping,
    ScalingConfig, SourceError,
};
pub use poller::run;

use definition::{
    DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, MAX_FIFO_BATCH_SIZE, USER_INITIATED, check_settings,
    function_name, function_qualifier, queue_of, response_types,
};

/// See the module docs.
pub struct Sources {
    defs: Registry<EventSourceMappingDef>,
    clock: Clock,
    /// The limits filter patterns are compiled with (the buses' own).
    limits: Limits,
}

impl Sources {
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        clock: Clock,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            defs: Registry::load(store, feed, definitions)?,
            clock,
            limits,
        })
    }

    /// The limits filter patterns are compiled with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn get(&self, region: &str, uuid: &str) -> Option<EventSourceMappingDef> {
        self.defs.get(region, uuid)
    }

    /// Every mapping, of every region.
    pub fn all(&self) -> Vec<EventSourceMappingDef> {
        self.defs.all()
    }

    /// The mappings of a region, by UUID; only those of `function` (a name or ARN) and of
    /// `event_source_arn`, when given.
    pub fn list(
        &self,
        region: &str,
        function: Option<&str>,
        event_source_arn: Option<&str>,
    ) -> Vec<EventSourceMappingDef> {
        let function = function.map(|f| function_name(region, f));
        self.defs
            .list(region)
            .into_iter()
            .filter(|d| function.is_none_or(|f| f == Some(d.function_name.as_str())))
            .filter(|d| event_source_arn.is_none_or(|a| a == d.event_source_arn))
            .collect()
    }

    /// The mapping of `queue_arn` to `function`, other than `except`, if there is one.
    fn same(
        &self,
        region: &str,
        function: &str,
        queue_arn: &str,
        except: &str,
    ) -> Option<EventSourceMappingDef> {
        self.defs.list(region).into_iter().find(|d| {
            d.function_name == function && d.event_source_arn == queue_arn && d.uuid != except
        })
    }
}

impl Follow for Sources {
    fn follow(&self, changes: &[eddy_store::DefinitionChange]) {
        self.defs.follow(changes);
    }

    fn reload(&self, definitions: &[Definition]) {
        self.defs.reload(definitions);
    }
}

/// The function a request names, which must exist in `region` (with the version or alias it
/// names, if any).
fn existing_function(core: &Core, region: &str, given: &str) -> Result<FunctionDef, SourceError> {
    function_name(region, given)
        .and_then(|name| core.functions.get(region, name))
        .filter(|f| function_qualifier(region, given).is_none_or(|q| f.has_qualifier(q)))
        .ok_or_else(|| SourceError::FunctionNotFound(given.to_owned()))
}

/// Whether the queue an ARN names is FIFO; it must be an SQS queue's ARN in `region`, and the
/// queue must exist unless `missing_ok` (an update of a mapping whose queue was deleted: judged
/// by its name then). A queue that exists must keep a batch invisible for as long as `function`
/// may run, as Lambda requires.
fn queue_fifo(
    core: &Core,
    region: &str,
    arn: &str,
    function: Option<&FunctionDef>,
    missing_ok: bool,
) -> Result<bool, SourceError> {
    let (queue_region, name) = queue_of(arn).ok_or_else(|| SourceError::NotQueueArn(arn.into()))?;
    if queue_region != region {
        return Err(SourceError::OtherRegion(arn.to_owned()));
    }
    match core.queues.get(queue_region, name) {
        Some(q) if function.is_some_and(|f| q.visibility_secs() < i64::from(f.timeout)) => {
            Err(SourceError::VisibilityTimeout {
                queue_secs: q.visibility_secs(),
                function_secs: function.map_or(0, |f| f.timeout),
            })
        }
        Some(q) => Ok(q.fifo()),
        None if missing_ok => Ok(name.ends_with(".fifo")),
        None => Err(SourceError::QueueNotFound(arn.to_owned())),
    }
}

/// A number as given, as a definition holds it (`err` when it does not fit).
fn to_u32(given: i64, err: impl FnOnce() -> SourceError) -> Result<u32, SourceError> {
    u32::try_from(given).map_err(|_| err())
}

/// `CreateEventSourceMapping`: checks the request (the function and the queue exist, Lambda's
/// rules for the settings, no other mapping of the queue to the function) and stores the
/// mapping. Answers it in state `Creating`; its poller starts once [`run`] sees it.
pub async fn create(
    core: &Core,
    region: &str,
    req: NewMapping,
) -> Result<EventSourceMappingDef, SourceError> {
    let sources = &core.sources;
    let function = existing_function(core, region, &req.function)?;
    let fifo = queue_fifo(core, region, &req.event_source_arn, Some(&function), false)?;
    let max = if fifo {
        MAX_FIFO_BATCH_SIZE
    } else {
        MAX_BATCH_SIZE
    };
    let batch_size = match req.batch_size {
        Some(v) => to_u32(v, || SourceError::BatchSize { value: v, max })?,
        None => DEFAULT_BATCH_SIZE,
    };
    let window = match req.maximum_batching_window_in_seconds {
        Some(v) => to_u32(v, || SourceError::Window(v))?,
        None => 0,
    };
    let def = EventSourceMappingDef {
        region: region.to_owned(),
        uuid: uuid::Uuid::new_v4().to_string(),
        function_name: function.name,
        qualifier: function_qualifier(region, &req.function).map(str::to_owned),
        event_source_arn: req.event_source_arn,
        batch_size,
        maximum_batching_window_in_seconds: window,
        scaling_config: req.scaling_config,
        filter_criteria: req.filter_criteria,
        function_response_types: response_types(&req.function_response_types)?,
        state: if req.enabled.unwrap_or(true) {
            MappingState::Enabled
        } else {
            MappingState::Disabled
        },
        state_transition_reason: USER_INITIATED.to_owned(),
        last_modified_ms: sources.clock.now_ms(),
    };
    check_settings(&def, fifo, &sources.limits)?;
    let uuid = def.uuid.clone();
    sources
        .defs
        .upsert(region, &uuid, |_| {
            let same = sources.same(region, &def.function_name, &def.event_source_arn, "");
            if let Some(other) = same {
                return Err(SourceError::Exists { uuid: other.uuid });
            }
            Ok((def.clone(), def.reported(MappingState::Creating)))
        })
        .await
}

/// `UpdateEventSourceMapping`: applies the settings given to mapping `uuid`, checked as a
/// create checks them. Answers the mapping in state `Enabling` or `Disabling` when `enabled`
/// changes it, else `Updating`.
pub async fn update(
    core: &Core,
    region: &str,
    uuid: &str,
    upd: MappingUpdate,
) -> Result<EventSourceMappingDef, SourceError> {
    let sources = &core.sources;
    let not_found = || SourceError::NotFound(uuid.to_owned());
    let current = sources.get(region, uuid).ok_or_else(not_found)?;
    let mut def = current.clone();
    // The function must exist when the update names one; a mapping whose function was deleted
    // may still be changed (disabled, say).
    let function = match &upd.function {
        Some(f) => Some(existing_function(core, region, f)?),
        None => core.functions.get(region, &def.function_name),
    };
    if let Some(f) = &function {
        def.function_name.clone_from(&f.name);
    }
    if let Some(given) = &upd.function {
        def.qualifier = function_qualifier(region, given).map(str::to_owned);
    }
    let fifo = queue_fifo(core, region, &def.event_source_arn, function.as_ref(), true)?;
    let max = if fifo {
        MAX_FIFO_BATCH_SIZE
    } else {
        MAX_BATCH_SIZE
    };
    if let Some(v) = upd.batch_size {
        def.batch_size = to_u32(v, || SourceError::BatchSize { value: v, max })?;
    }
    if let Some(v) = upd.maximum_batching_window_in_seconds {
        def.maximum_batching_window_in_seconds = to_u32(v, || SourceError::Window(v))?;
    }
    if let Some(s) = upd.scaling_config {
        def.scaling_config = s.maximum_concurrency.is_some().then_some(s);
    }
    if let Some(f) = upd.filter_criteria {
        def.filter_criteria = f;
    }
    if let Some(t) = &upd.function_response_types {
        def.function_response_types = response_types(t)?;
    }
    let answer = match (upd.enabled, current.enabled()) {
        (Some(true), false) => {
            def.state = MappingState::Enabled;
            MappingState::Enabling
        }
        (Some(false), true) => {
            def.state = MappingState::Disabled;
            MappingState::Disabling
        }
        _ => MappingState::Updating,
    };
    def.state_transition_reason = USER_INITIATED.to_owned();
    def.last_modified_ms = sources.clock.now_ms();
    check_settings(&def, fifo, &sources.limits)?;
    sources
        .defs
        .upsert(region, uuid, |now| {
            if now.is_none() {
                return Err(not_found());
            }
            let same = sources.same(region, &def.function_name, &def.event_source_arn, uuid);
            if let Some(other) = same {
                return Err(SourceError::Exists { uuid: other.uuid });
            }
            Ok((def.clone(), def.reported(answer)))
        })
        .await
}

/// `DeleteEventSourceMapping`: removes mapping `uuid` (its poller stops; batches in flight
/// finish). Answers it in state `Deleting`.
pub async fn delete(
    core: &Core,
    region: &str,
    uuid: &str,
) -> Result<EventSourceMappingDef, SourceError> {
    let def = core
        .sources
        .get(region, uuid)
        .ok_or_else(|| SourceError::NotFound(uuid.to_owned()))?;
    core.sources.defs.delete(region, uuid).await?;
    Ok(def.reported(MappingState::Deleting))
}

#[cfg(test)]
mod tests;
