//! Applying an app manifest (`eddy.toml`): the desired resources (`eddy_manifest::Resources`)
//! are compared with what the last apply left (kept in the store), and each difference is
//! carried out through the core's operations (`Queues::create`, `Catalog::put_rule`,
//! `Functions::update_code`, ...), the same the AWS adapters call, so a manifest can do nothing
//! the API could not and is checked by the same rules; a refusal is worded as the API words it.
//! (`eddy_manifest` checked names and limits before, against the same `eddy_model` rules.)
//!
//! Idempotent: applying the same manifest twice changes nothing the second time. Resources the
//! manifest never declared (made through the API) are left alone; resources a previous apply
//! made and the manifest no longer declares are deleted. The state is saved after every
//! successful step, so a failed apply can be re-run.
//!
//! One exception to deleting: a bucket that still holds objects is never emptied by an apply.
//! It is kept (its change reported as [`Action::Kept`], with a warning saying how to delete
//! it), its notifications are cleared (the queues, topics and functions they name may be
//! deleted by the same apply), and it leaves the manifest's state: from then on it is a bucket
//! like one made through the API, left alone (declaring it again needs `--adopt`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;
use eddy_manifest::{Action, Change, Kind, Resources};
use eddy_model::DEFAULT_BUS;
use eddy_model::definitions::{RuleState, Tags, TargetDef};
use serde_json::{Value, json};

use crate::App;
use crate::aws::{self, Ctx};
use crate::catalog::{BusUpdate, NewBus, RuleSpec};
use crate::destinations::{DestinationUpdate, NewConnection, NewDestination};
use crate::error::ApiError;
use crate::functions::{CodeSource, EventInvokeUpdate, FunctionSettings};
use crate::schedules::{DEFAULT_GROUP, MISSED_TICKS_TAG, ScheduleSpec};

const STATE_KIND: &str = "manifest-state";

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
#[error("{kind} `{name}`: {code}: {message}")]
pub struct ApplyError {
    pub kind: &'static str,
    pub name: String,
    pub code: String,
    pub message: String,
    /// The status of the operation that failed: a client error for a definition the API
    /// refused, 503 for a full store.
    pub status: StatusCode,
    /// The steps done before the failure.
    pub done: Vec<Change>,
}

/// Makes the manifest's file references absolute (relative to `base_dir`) and adds a digest of
/// each function's code, so a code change is a change the plan sees.
pub fn prepare(resources: &mut Resources, base_dir: &Path) {
    for def in resources.apis.values_mut() {
        let Some(auths) = def.get_mut("Authorizers").and_then(Value::as_object_mut) else {
            continue;
        };
        for a in auths.values_mut() {
            if let Some(jwt) = a.get_mut("Jwt").and_then(Value::as_object_mut)
                && let Some(p) = jwt.get("JwksFile").and_then(Value::as_str)
            {
                let path = base_dir.join(p);
                let path = path.canonicalize().unwrap_or(path);
                jwt.insert("JwksFile".to_owned(), json!(path.display().to_string()));
            }
        }
    }
    for def in resources.functions.values_mut() {
        let Some(code) = def.get_mut("Code").and_then(Value::as_object_mut) else {
            continue;
        };
        for key in ["ZipFile", "Directory"] {
            if let Some(p) = code.get(key).and_then(Value::as_str) {
                let path = base_dir.join(p);
                let path = path.canonicalize().unwrap_or(path);
                let digest = digest(&path);
                code.insert(key.to_owned(), json!(path.display().to_string()));
                code.insert("Digest".to_owned(), json!(digest));
            }
        }
    }
}

/// Whether a file or directory named `name` is made by tools rather than written by the user
/// (bytecode caches, build caches, editors' swap and backup files, version control): a change
/// to one is not a change to a function's code.
fn is_tool_artefact(name: &str) -> bool {
    matches!(
        name,
        "__pycache__"
            | ".pytest_cache"
            | ".mypy_cache"
            | ".ruff_cache"
            | ".cache"
            | ".git"
            | ".hg"
            | ".svn"
            | ".DS_Store"
            | "4913"
            | ".idea"
            | ".vscode"
    ) || [".pyc", ".pyo", ".swp", ".swo", ".swx", "~", ".tmp"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
}

/// A cheap fingerprint of a file or directory tree: the paths, sizes and modification times of
/// the files the user wrote ([`is_tool_artefact`] entries are skipped).
fn digest(path: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut stack = vec![path.to_path_buf()];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            break;
        }
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        // Files only: a directory's own size and time change whenever an entry is added, a
        // cache directory too.
        if !meta.is_dir() {
            p.hash(&mut h);
            meta.len().hash(&mut h);
            if let Ok(t) = meta.modified() {
                t.hash(&mut h);
            }
        } else if let Ok(entries) = std::fs::read_dir(&p) {
            let mut children: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| !is_tool_artefact(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect();
            children.sort();
            stack.extend(children);
        }
    }
    format!("{:016x}", h.finish())
}

async fn load_state(app: &App, region: &str) -> Result<Resources, ApiError> {
    match app.adapter_state(STATE_KIND, region).await? {
        Some(value) => serde_json::from_slice(&value)
            .map_err(|e| ApiError::internal(format!("manifest state unreadable: {e}"))),
        None => Ok(Resources::default()),
    }
}

async fn save_state(app: &App, region: &str, state: &Resources) -> Result<(), ApiError> {
    let value = serde_json::to_vec(state)
        .map_err(|e| ApiError::internal(format!("cannot encode manifest state: {e}")))?;
    app.save_adapter_state(STATE_KIND, region, value).await?;
    Ok(())
}

/// How to apply a manifest.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Plan only: say what would change and change nothing.
    pub dry_run: bool,
    /// Take over resources the manifest declares that exist but were not made by a manifest
    /// (made through the API); without it such a resource stops the apply before any change.
    pub adopt: bool,
}

/// What an apply did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Every resource's change (unchanged ones included).
    pub changes: Vec<Change>,
    /// What the user should fix although the apply succeeded: each function that cannot start
    /// yet (checked now, not at its first invocation), with the fix.
    pub warnings: Vec<String>,
}

/// Applies `desired` in `region`.
pub async fn apply(
    app: &Arc<App>,
    region: &str,
    desired: &Resources,
    options: ApplyOptions,
) -> Result<Applied, ApplyError> {
    let fail = |kind: &'static str, name: &str, e: ApiError, done: &[Change]| ApplyError {
        kind,
        name: name.to_owned(),
        code: e.code.to_owned(),
        message: e.message,
        status: e.status,
        done: done.to_vec(),
    };
    let _serialised = app.apply_lock.lock().await;
    let mut state = load_state(app, region)
        .await
        .map_err(|e| fail("manifest", "state", e, &[]))?;
    let changes = eddy_manifest::plan(desired, &state);
    if !options.adopt {
        let mut taken = Vec::new();
        for c in &changes {
            if c.action == Action::Create && exists(app, region, c.kind, &c.name).await {
                taken.push(format!("{} `{}`", c.kind.as_str(), c.name));
            }
        }
        if let Some(first) = taken.first() {
            let (s, was, it) = match taken.len() {
                1 => ("s", "was", "it"),
                _ => ("", "were", "them"),
            };
            return Err(ApplyError {
                kind: "manifest",
                name: first.clone(),
                code: "ResourceConflictException".to_owned(),
                message: format!(
                    "{} already exist{s} and {was} not made by a manifest (made through the \
                     API?); eddy leaves such resources alone: rename {it} in the manifest, \
                     delete {it}, or apply with `--adopt` to let the manifest manage {it} from \
                     now on",
                    taken.join(", "),
                ),
                status: StatusCode::CONFLICT,
                done: Vec::new(),
            });
        }
    }
    if options.dry_run {
        return Ok(Applied {
            changes,
            warnings: Vec::new(),
        });
    }
    let ctx = Ctx {
        region: region.to_owned(),
        host: "localhost".to_owned(),
    };
    let mut done = Vec::with_capacity(changes.len());
    let mut warnings = Vec::new();
    for mut change in changes {
        if change.action != Action::Unchanged {
            let step = Step { app, ctx: &ctx };
            let outcome = match step.run(&change).await {
                Ok(outcome) => outcome,
                Err(e) => return Err(fail(change.kind.as_str(), &change.name, e, &done)),
            };
            let map = state.of_mut(change.kind);
            match (&change.action, &change.definition) {
                (Action::Delete, _) => {
                    map.remove(&change.name);
                }
                (_, Some(def)) => {
                    map.insert(change.name.clone(), def.clone());
                }
                _ => {}
            }
            save_state(app, region, &state)
                .await
                .map_err(|e| fail(change.kind.as_str(), &change.name, e, &done))?;
            if let Outcome::Kept(why) = outcome {
                change.action = Action::Kept;
                warnings.push(why);
            }
        }
        done.push(change);
    }
    // Every declared function, changed or not: one that could not start last time is named
    // again until it can.
    for name in desired.functions.keys() {
        let readiness = match app.functions.readiness(region, name) {
            Some(r) => Some(r),
            None => app.functions.check_ready(region, name).await,
        };
        match readiness {
            Some(eddy_runtime::Readiness::NotReady(why)) => {
                warnings.push(format!("function `{name}` cannot start yet: {why}"));
            }
            Some(eddy_runtime::Readiness::Ready(Some(note))) => {
                warnings.push(format!("function `{name}`: {note}"));
            }
            _ => {}
        }
    }
    Ok(Applied {
        changes: done,
        warnings,
    })
}

/// Whether a resource of `kind` named `name` (`BUS/RULE`, `GROUP/SCHEDULE` for keyed kinds)
/// exists in `region`, whoever made it. The default bus always exists and is nobody's.
async fn exists(app: &App, region: &str, kind: Kind, name: &str) -> bool {
    match kind {
        Kind::Queue => app.queues.get(region, name).is_some(),
        Kind::Bus => {
            name != DEFAULT_BUS && app.catalog.read(|d| d.bus(region, name).is_some()).await
        }
        Kind::ApiDestination => app.destinations.destination(region, name).is_some(),
        Kind::Function => app.functions.get(region, name).is_some(),
        Kind::Rule => {
            let (bus, rule) = name.split_once('/').unwrap_or((DEFAULT_BUS, name));
            app.catalog
                .read(|d| d.rule(region, bus, rule).is_some())
                .await
        }
        Kind::Schedule => {
            let (group, schedule) = name.split_once('/').unwrap_or((DEFAULT_GROUP, name));
            app.schedules.get(region, group, schedule).is_some()
        }
        Kind::Api => app.routes.get(region, name).is_some(),
        Kind::Topic => app.topics.get(region, name).is_some(),
        // Bucket names are global: one in any region is taken.
        Kind::Bucket => app.buckets.get(name).is_some(),
        Kind::EventSourceMapping => {
            let (function, queue) = name.split_once('/').unwrap_or((name, ""));
            !app.sources
                .list(region, Some(function), Some(&queue_arn(app, region, queue)))
                .is_empty()
        }
    }
}

/// The ARN of a queue named in an event source mapping's key (a name, or already an ARN).
fn queue_arn(app: &App, region: &str, queue: &str) -> String {
    if queue.starts_with("arn:") {
        queue.to_owned()
    } else {
        format!("arn:aws:sqs:{region}:{}:{queue}", app.functions.account())
    }
}

struct Step<'a> {
    app: &'a Arc<App>,
    ctx: &'a Ctx,
}

/// What a step did.
enum Outcome {
    /// What the change said.
    Done,
    /// A delete not carried out because the resource holds data; the warning says what to do.
    Kept(String),
}

/// The string member `key` of a resource's definition, if it has one.
fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl Step<'_> {
    async fn run(&self, change: &Change) -> Result<Outcome, ApiError> {
        let def = change.definition.clone().unwrap_or(Value::Null);
        let delete = change.action == Action::Delete;
        if !delete && !def.is_object() {
            return Err(ApiError::validation(format!(
                "the definition of {} `{}` must be a JSON object",
                change.kind.as_str(),
                change.name
            )));
        }
        match change.kind {
            Kind::Queue => self.queue(&change.name, &def, delete).await,
            Kind::Bus => self.bus(&change.name, &def, delete).await,
            Kind::ApiDestination => self.api_destination(&change.name, &def, delete).await,
            Kind::Function => self.function(&change.name, &def, delete).await,
            Kind::Rule => self.rule(&change.name, &def, delete).await,
            Kind::Schedule => self.schedule(&change.name, &def, delete).await,
            Kind::Api => self.api(&change.name, &def, delete).await,
            Kind::Topic => self.topic(&change.name, &def, delete).await,
            Kind::Bucket => return self.bucket(&change.name, &def, delete).await,
            Kind::EventSourceMapping => self.event_source_mapping(&change.name, &def, delete).await,
        }
        .map(|()| Outcome::Done)
    }

    /// A bucket: made in the apply's region when missing; its versioning, CORS rules and tags
    /// set when they differ; its notification configuration set (through the core, which checks
    /// the destinations exist and sends them `s3:TestEvent`) only when it differs, so a
    /// re-apply sends nothing. Deleted only when empty (see the module docs).
    async fn bucket(&self, name: &str, def: &Value, delete: bool) -> Result<Outcome, ApiError> {
        use eddy_core::buckets::definition::{MAX_BUCKET_TAGS, check_tags};
        use eddy_core::buckets::{BucketError, Notification, Requester};
        let buckets = &self.app.buckets;
        if delete {
            if buckets.get(name).is_none() {
                return Ok(Outcome::Done);
            }
            return match buckets.delete(name).await {
                Ok(()) => Ok(Outcome::Done),
                Err(BucketError::NotEmpty(_)) => {
                    if buckets
                        .get(name)
                        .is_some_and(|b| b.notification != Notification::default())
                    {
                        buckets
                            .update(name, |b| {
                                b.notification = Notification::default();
                                Ok(())
                            })
                            .await
                            .map_err(bucket_refused)?;
                    }
                    Ok(Outcome::Kept(format!(
                        "bucket `{name}` is no longer in the manifest but holds objects: eddy kept \
                         it (without notifications) and no longer manages it; empty and delete it \
                         (`aws s3 rb s3://{name} --force`), or declare it again and apply with \
                         `--adopt`"
                    )))
                }
                Err(e) => Err(bucket_refused(e)),
            };
        }
        let wanted = BucketSettings::of(def)?;
        check_tags(wanted.tags.as_deref().unwrap_or_default(), MAX_BUCKET_TAGS)
            .map_err(bucket_refused)?;
        let (current, created) = match buckets.get(name) {
            Some(b) => (b, false),
            None => {
                let b = buckets
                    .create(name, &self.ctx.region)
                    .await
                    .map_err(bucket_refused)?;
                (b, true)
            }
        };
        // S3 cannot turn versioning off: a bucket that had it and should not is suspended.
        let versioning = wanted.versioning.or(current.versioning.map(|_| false));
        if current.versioning != versioning
            || current.cors != wanted.cors
            || current.tags != wanted.tags
        {
            let (cors, tags) = (wanted.cors.clone(), wanted.tags.clone());
            buckets
                .update(name, |b| {
                    b.versioning = versioning;
                    b.cors = cors;
                    b.tags = tags;
                    Ok(())
                })
                .await
                .map_err(bucket_refused)?;
        }
        if current.notification != wanted.notification {
            let who = Requester {
                request_id: uuid::Uuid::new_v4().to_string(),
                source_ip: "127.0.0.1".to_owned(),
                principal: self.app.config.account_id.clone(),
            };
            if let Err(e) = self
                .app
                .set_bucket_notification(name, wanted.notification, &who)
                .await
            {
                // A bucket made by this step and refused its notifications goes again, so that
                // the apply can be re-run once the manifest is fixed (it would otherwise be a
                // bucket no manifest made).
                if created && let Err(undo) = buckets.delete(name).await {
                    tracing::warn!(bucket = name, error = %undo, "cannot remove a bucket an apply made and failed to configure");
                }
                return Err(bucket_refused(e));
            }
        }
        Ok(Outcome::Done)
    }

    /// A topic and its subscriptions: subscriptions the manifest no longer declares are
    /// removed, new ones made, and every declared one gets exactly its attributes.
    async fn topic(&self, name: &str, def: &Value, delete: bool) -> Result<(), ApiError> {
        let topics = &self.app.topics;
        let region = &self.ctx.region;
        let sns =
            |e: eddy_core::topics::TopicError| ApiError::bad("InvalidParameter", e.to_string());
        if delete {
            return Ok(topics.delete(region, name).await?);
        }
        let mut attributes: BTreeMap<String, String> =
            serde_json::from_value(def.get("Attributes").cloned().unwrap_or_else(|| json!({})))
                .map_err(|e| ApiError::validation(format!("topic attributes: {e}")))?;
        // A topic's kind is fixed when it is made; the rest may change on every apply.
        let kind: BTreeMap<String, String> =
            attributes.remove_entry("FifoTopic").into_iter().collect();
        topics
            .create(region, name, kind, Tags::new())
            .await
            .map_err(sns)?;
        for settable in ["DisplayName", "ContentBasedDeduplication"] {
            let value = attributes.get(settable).cloned().unwrap_or_default();
            let current = topics
                .get(region, name)
                .and_then(|t| t.attributes.get(settable).cloned())
                .unwrap_or_default();
            if value != current && !(settable == "ContentBasedDeduplication" && value.is_empty()) {
                topics
                    .set_attribute(region, name, settable, &value)
                    .await
                    .map_err(sns)?;
            }
        }
        let wanted: Vec<Value> = def
            .get("Subscriptions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let key = |v: &Value| {
            (
                text(v, "Protocol").unwrap_or_default(),
                text(v, "Endpoint").unwrap_or_default(),
            )
        };
        for s in topics.subscriptions(region, Some(name)) {
            if !wanted
                .iter()
                .any(|w| key(w) == (s.protocol.clone(), s.endpoint.clone()))
            {
                topics.unsubscribe(region, &s.id).await?;
            }
        }
        const MANAGED: [&str; 4] = [
            "RawMessageDelivery",
            "FilterPolicyScope",
            "FilterPolicy",
            "RedrivePolicy",
        ];
        for w in &wanted {
            let (protocol, endpoint) = key(w);
            let attrs: BTreeMap<String, String> =
                serde_json::from_value(w.get("Attributes").cloned().unwrap_or_else(|| json!({})))
                    .map_err(|e| ApiError::validation(format!("subscription attributes: {e}")))?;
            let existing = topics
                .subscriptions(region, Some(name))
                .into_iter()
                .find(|s| s.protocol == protocol && s.endpoint == endpoint);
            let Some(sub) = existing else {
                topics
                    .subscribe(region, name, &protocol, &endpoint, attrs)
                    .await
                    .map_err(sns)?;
                continue;
            };
            // In dependency order: the scope before the policy it applies to.
            for attr in MANAGED {
                let value = attrs.get(attr).cloned().unwrap_or_default();
                let current = sub.attributes.get(attr).cloned().unwrap_or_default();
                if value != current {
                    let value = if value.is_empty() && attr == "RawMessageDelivery" {
                        "false".to_owned()
                    } else {
                        value
                    };
                    topics
                        .set_subscription_attribute(region, &sub.id, attr, &value)
                        .await
                        .map_err(sns)?;
                }
            }
        }
        Ok(())
    }

    /// An event source mapping, keyed `FUNCTION/QUEUE`: made, updated in place, or deleted.
    async fn event_source_mapping(
        &self,
        key: &str,
        def: &Value,
        delete: bool,
    ) -> Result<(), ApiError> {
        use eddy_core::sources::{self, MappingUpdate, NewMapping, ScalingConfig};
        let app = &self.app.core;
        let region = &self.ctx.region;
        let (function, queue) = key.split_once('/').unwrap_or((key, ""));
        let queue_arn =
            text(def, "EventSourceArn").unwrap_or_else(|| queue_arn(self.app, region, queue));
        let existing = app
            .sources
            .list(region, Some(function), Some(&queue_arn))
            .into_iter()
            .next();
        let refused = |e: sources::SourceError| {
            ApiError::bad("InvalidParameterValueException", e.to_string())
        };
        if delete {
            if let Some(m) = existing {
                sources::delete(app, region, &m.uuid)
                    .await
                    .map_err(refused)?;
            }
            return Ok(());
        }
        let num = |k: &str| def.get(k).and_then(Value::as_i64);
        let scaling = def
            .get("ScalingConfig")
            .and_then(|s| s.get("MaximumConcurrency"))
            .and_then(Value::as_u64)
            .map(|c| ScalingConfig {
                // Out of range (the manifest's check bounds it): the core refuses it.
                maximum_concurrency: Some(u32::try_from(c).unwrap_or(u32::MAX)),
            });
        let filters: Vec<String> = def
            .get("FilterCriteria")
            .and_then(|f| f.get("Filters"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| text(f, "Pattern"))
            .collect();
        let types: Vec<String> = def
            .get("FunctionResponseTypes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect();
        let enabled = def.get("Enabled").and_then(Value::as_bool);
        match existing {
            None => {
                sources::create(
                    app,
                    region,
                    NewMapping {
                        function: function.to_owned(),
                        event_source_arn: queue_arn,
                        enabled,
                        batch_size: num("BatchSize"),
                        maximum_batching_window_in_seconds: num("MaximumBatchingWindowInSeconds"),
                        scaling_config: scaling,
                        filter_criteria: filters,
                        function_response_types: types,
                    },
                )
                .await
                .map_err(refused)?;
            }
            Some(m)
                if m.batch_size == num("BatchSize").unwrap_or(10) as u32
                    && i64::from(m.maximum_batching_window_in_seconds)
                        == num("MaximumBatchingWindowInSeconds").unwrap_or(0)
                    && m.scaling_config
                        .as_ref()
                        .and_then(|c| c.maximum_concurrency)
                        == scaling.as_ref().and_then(|c| c.maximum_concurrency)
                    && m.filter_criteria == filters
                    && m.function_response_types
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        == types
                    && (m.state == eddy_core::sources::MappingState::Enabled)
                        == enabled.unwrap_or(true) =>
            {
                // Unchanged: an update would restart the mapping's poller for nothing.
            }
            Some(m) => {
                sources::update(
                    app,
                    region,
                    &m.uuid,
                    MappingUpdate {
                        function: None,
                        enabled,
                        batch_size: Some(num("BatchSize").unwrap_or(10)),
                        maximum_batching_window_in_seconds: Some(
                            num("MaximumBatchingWindowInSeconds").unwrap_or(0),
                        ),
                        scaling_config: Some(scaling.unwrap_or_default()),
                        filter_criteria: Some(filters),
                        function_response_types: Some(types),
                    },
                )
                .await
                .map_err(refused)?;
            }
        }
        Ok(())
    }

    async fn queue(&self, name: &str, def: &Value, delete: bool) -> Result<(), ApiError> {
        let queues = &self.app.queues;
        let region = &self.ctx.region;
        if delete {
            if queues.get(region, name).is_some() {
                queues.delete(region, name).await?;
            }
            return Ok(());
        }
        let mut attributes: BTreeMap<String, String> =
            serde_json::from_value(def.get("Attributes").cloned().unwrap_or_else(|| json!({})))
                .map_err(|e| ApiError::validation(format!("queue attributes: {e}")))?;
        // A queue's kind is fixed when it is made; the rest may change on every apply.
        let kind: BTreeMap<String, String> =
            attributes.remove_entry("FifoQueue").into_iter().collect();
        queues.create(region, name, kind, Tags::new()).await?;
        queues.set_attributes(region, name, attributes).await?;
        Ok(())
    }

    async fn bus(&self, name: &str, def: &Value, delete: bool) -> Result<(), ApiError> {
        let catalog = &self.app.catalog;
        let region = &self.ctx.region;
        if delete {
            return Ok(catalog.delete_bus(region, name).await?);
        }
        let description = text(def, "Description");
        if catalog.read(|d| d.bus(region, name)).await.is_some() {
            let update = BusUpdate {
                description,
                ..BusUpdate::default()
            };
            catalog.update_bus(region, name, update).await?;
        } else {
            let new = NewBus {
                name: name.to_owned(),
                description,
                ..NewBus::default()
            };
            catalog.create_bus(region, new).await?;
        }
        Ok(())
    }

    async fn api_destination(&self, name: &str, def: &Value, delete: bool) -> Result<(), ApiError> {
        let destinations = &self.app.destinations;
        let region = &self.ctx.region;
        let connection = format!("{name}-connection");
        if delete {
            if destinations.destination(region, name).is_some() {
                destinations.delete_destination(region, name).await?;
            }
            if destinations.connection(region, &connection).is_some() {
                destinations.delete_connection(region, &connection).await?;
            }
            return Ok(());
        }
        // The manifest declares no authorization yet: an API-key header naming the destination.
        let auth = json!({"ApiKeyAuthParameters": {"ApiKeyName": "x-eddy-destination", "ApiKeyValue": name}});
        let c = match destinations.connection(region, &connection) {
            Some(c) => c,
            None => {
                let new = NewConnection {
                    name: connection,
                    description: None,
                    authorization_type: "API_KEY".to_owned(),
                    auth_parameters: auth,
                };
                destinations.create_connection(region, new).await?
            }
        };
        let connection_arn = c.arn(&self.app.config.account_id);
        let rate = def
            .get("InvocationRateLimitPerSecond")
            .and_then(Value::as_i64);
        if destinations.destination(region, name).is_some() {
            let update = DestinationUpdate {
                description: text(def, "Description"),
                connection_arn: Some(connection_arn),
                invocation_endpoint: text(def, "InvocationEndpoint"),
                http_method: text(def, "HttpMethod"),
                invocation_rate_limit_per_second: rate,
            };
            destinations
                .update_destination(region, name, update)
                .await?;
        } else {
            let new = NewDestination {
                name: name.to_owned(),
                description: text(def, "Description"),
                connection_arn,
                invocation_endpoint: text(def, "InvocationEndpoint").unwrap_or_default(),
                http_method: text(def, "HttpMethod").unwrap_or_default(),
                invocation_rate_limit_per_second: rate,
            };
            destinations.create_destination(region, new).await?;
        }
        Ok(())
    }

    async fn function(&self, name: &str, def: &Value, delete: bool) -> Result<(), ApiError> {
        let functions = &self.app.functions;
        let region = &self.ctx.region;
        let refused = |e| aws::lambda::function_error(self.app, self.ctx, e);
        if delete {
            if functions.get(region, name).is_some() {
                functions
                    .delete_function(region, name)
                    .await
                    .map_err(refused)?;
            }
            return Ok(());
        }
        // File paths were made absolute by `prepare`; the core takes them only under a code
        // root.
        let code = def.get("Code").cloned().unwrap_or(Value::Null);
        let source = match code.get("ZipFile").and_then(Value::as_str) {
            Some(zip) => CodeSource::ZipFile(PathBuf::from(zip)),
            None => {
                CodeSource::Directory(PathBuf::from(text(&code, "Directory").unwrap_or_default()))
            }
        };
        let number = |k: &str| def.get(k).and_then(Value::as_i64);
        let environment: BTreeMap<String, String> = def
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| ApiError::validation(format!("environment of function {name}: {e}")))?
            .unwrap_or_default();
        let settings = FunctionSettings {
            runtime: text(def, "Runtime"),
            handler: Some(text(def, "Handler").unwrap_or_else(|| "bootstrap".to_owned())),
            timeout: number("Timeout"),
            memory_size: number("MemorySize"),
            environment: Some(environment),
            ..FunctionSettings::default()
        };
        if functions.get(region, name).is_some() {
            functions
                .update_configuration(region, name, settings, None)
                .await
                .map_err(refused)?;
            functions
                .update_code(region, name, source, None, None, false)
                .await
                .map_err(refused)?;
        } else {
            let settings = FunctionSettings {
                role: Some(format!(
                    "arn:aws:iam::{}:role/eddy-manifest",
                    self.app.config.account_id
                )),
                ..settings
            };
            self.app
                .create_function(region, name, settings, source, BTreeMap::new(), Vec::new())
                .await
                .map_err(refused)?;
        }
        match number("ReservedConcurrentExecutions") {
            Some(n) => functions.put_concurrency(region, name, n).await,
            None => functions.delete_concurrency(region, name).await,
        }
        .map_err(refused)?;
        match def.get("EventInvokeConfig") {
            Some(c) => {
                let dest = |k: &str| {
                    c.get("DestinationConfig")
                        .and_then(|d| d.get(k))
                        .and_then(|d| d.get("Destination"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let update = EventInvokeUpdate {
                    maximum_retry_attempts: c.get("MaximumRetryAttempts").and_then(Value::as_i64),
                    maximum_event_age_in_seconds: c
                        .get("MaximumEventAgeInSeconds")
                        .and_then(Value::as_i64),
                    on_success: dest("OnSuccess"),
                    on_failure: dest("OnFailure"),
                };
                functions
                    .put_event_invoke_config(region, name, update, false)
                    .await
                    .map_err(refused)?;
            }
            None => {
                if functions
                    .get(region, name)
                    .is_some_and(|f| f.event_invoke.is_some())
                {
                    functions
                        .delete_event_invoke_config(region, name)
                        .await
                        .map_err(refused)?;
                }
            }
        }
        Ok(())
    }

    async fn rule(&self, key: &str, def: &Value, delete: bool) -> Result<(), ApiError> {
        let (bus, name) = key.split_once('/').unwrap_or((DEFAULT_BUS, key));
        let catalog = &self.app.catalog;
        let region = &self.ctx.region;
        let existing: Vec<String> = catalog
            .read(|d| {
                d.rule(region, bus, name)
                    .map(|r| r.targets.iter().map(|t| t.id.clone()).collect())
            })
            .await
            .unwrap_or_default();
        let targets: Vec<TargetDef> = match def.get("Targets") {
            Some(t) if !delete => serde_json::from_value(t.clone())
                .map_err(|e| ApiError::validation(format!("targets of rule {key}: {e}")))?,
            _ => Vec::new(),
        };
        let stale: Vec<String> = existing
            .into_iter()
            .filter(|id| !targets.iter().any(|t| &t.id == id))
            .collect();
        if !stale.is_empty() {
            catalog
                .remove_targets(region, bus, name, &stale, false)
                .await?;
        }
        if delete {
            return Ok(catalog.delete_rule(region, bus, name, false).await?);
        }
        let spec = RuleSpec {
            bus: bus.to_owned(),
            name: name.to_owned(),
            event_pattern: text(def, "EventPattern"),
            schedule_expression: text(def, "ScheduleExpression"),
            state: text(def, "State").as_deref().and_then(RuleState::parse),
            description: text(def, "Description"),
            role_arn: text(def, "RoleArn"),
            tags: Tags::new(),
        };
        catalog.put_rule(region, spec).await?;
        if !targets.is_empty() {
            catalog.put_targets(region, bus, name, targets).await?;
        }
        Ok(())
    }

    async fn api(&self, name: &str, def: &Value, delete: bool) -> Result<(), ApiError> {
        let region = &self.ctx.region;
        if delete {
            return Ok(self.app.routes.delete(region, name).await?);
        }
        // File paths were made absolute by `prepare`.
        let api = crate::routes::ApiDef::from_manifest(
            region,
            def,
            Path::new("/"),
            self.app.clock.now_ms(),
        )
        .map_err(|e| ApiError::bad("BadRequestException", e))?;
        Ok(self.app.routes.put(api).await?)
    }

    async fn schedule(&self, key: &str, def: &Value, delete: bool) -> Result<(), ApiError> {
        let (group, name) = key.split_once('/').unwrap_or((DEFAULT_GROUP, key));
        let schedules = &self.app.schedules;
        let region = &self.ctx.region;
        if delete {
            if schedules.get(region, group, name).is_some() {
                schedules.delete_schedule(region, group, name).await?;
            }
            return Ok(());
        }
        if schedules.group(region, group).is_none() {
            schedules.create_group(region, group, Tags::new()).await?;
        }
        // eddy's missed-tick policy is a tag of the schedule group (Scheduler tags only groups).
        if let Some(policy) = def.get("MissedTicks").and_then(Value::as_str)
            && policy != "latest"
        {
            let tags = Tags::from([(MISSED_TICKS_TAG.to_owned(), policy.to_owned())]);
            schedules.tag_group(region, group, tags).await?;
        }
        // Scheduler requires a role; eddy does not use it.
        let mut target = def.get("Target").cloned().unwrap_or_else(|| json!({}));
        if let Some(t) = target.as_object_mut() {
            t.entry("RoleArn").or_insert_with(|| {
                json!(format!(
                    "arn:aws:iam::{}:role/eddy-manifest",
                    self.app.config.account_id
                ))
            });
        }
        let decode = |what: &str, e: serde_json::Error| {
            ApiError::validation(format!("{what} of schedule {key}: {e}"))
        };
        let spec = ScheduleSpec {
            expression: text(def, "ScheduleExpression").unwrap_or_default(),
            timezone: text(def, "ScheduleExpressionTimezone"),
            start_ms: None,
            end_ms: None,
            description: text(def, "Description"),
            state: text(def, "State"),
            kms_key_arn: None,
            flexible_time_window: serde_json::from_value(
                def.get("FlexibleTimeWindow")
                    .cloned()
                    .unwrap_or(Value::Null),
            )
            .map_err(|e| decode("FlexibleTimeWindow", e))?,
            action_after_completion: None,
            target: serde_json::from_value(target).map_err(|e| decode("Target", e))?,
        };
        if schedules.get(region, group, name).is_some() {
            schedules.update_schedule(region, group, name, spec).await?;
        } else {
            schedules.create_schedule(region, group, name, spec).await?;
        }
        Ok(())
    }
}

/// A bucket's settings as the core keeps them, read from its canonical definition (see
/// `eddy_manifest::Resources`).
struct BucketSettings {
    versioning: Option<bool>,
    cors: Option<Vec<eddy_core::buckets::CorsRule>>,
    tags: Option<Vec<(String, String)>>,
    notification: eddy_core::buckets::Notification,
}

impl BucketSettings {
    fn of(def: &Value) -> Result<Self, ApiError> {
        use eddy_core::buckets::{CorsRule, Destination, DestinationKind, Notification};
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        let list = |v: &Value, key: &str| -> Vec<Value> {
            v.get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let versioning = def
            .pointer("/VersioningConfiguration/Status")
            .and_then(Value::as_str)
            .map(|s| s == "Enabled");
        let cors = match def.get("CORSConfiguration") {
            None => None,
            Some(c) => {
                let mut rules = Vec::new();
                for r in list(c, "CORSRules") {
                    let max_age_seconds = match r.get("MaxAgeSeconds").and_then(Value::as_i64) {
                        None => None,
                        Some(n) => Some(i32::try_from(n).map_err(|_| {
                            ApiError::bad(
                                "InvalidRequest",
                                format!("MaxAgeSeconds {n} is too large"),
                            )
                        })?),
                    };
                    rules.push(CorsRule {
                        id: None,
                        allowed_origins: strings(r.get("AllowedOrigins")),
                        allowed_methods: strings(r.get("AllowedMethods")),
                        allowed_headers: strings(r.get("AllowedHeaders")),
                        expose_headers: strings(r.get("ExposeHeaders")),
                        max_age_seconds,
                    });
                }
                Some(rules)
            }
        };
        let tags = def.get("Tagging").map(|t| {
            list(t, "TagSet")
                .iter()
                .map(|tag| {
                    (
                        text(tag, "Key").unwrap_or_default(),
                        text(tag, "Value").unwrap_or_default(),
                    )
                })
                .collect()
        });
        let n = def
            .get("NotificationConfiguration")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let mut notification = Notification {
            eventbridge: n.get("EventBridgeConfiguration").is_some(),
            destinations: Vec::new(),
        };
        // In the order `PutBucketNotificationConfiguration` keeps them, so that a configuration
        // made the same way compares equal.
        for (key, arn_key, kind) in [
            ("QueueConfigurations", "QueueArn", DestinationKind::Queue),
            ("TopicConfigurations", "TopicArn", DestinationKind::Topic),
            (
                "LambdaFunctionConfigurations",
                "LambdaFunctionArn",
                DestinationKind::Function,
            ),
        ] {
            for c in list(&n, key) {
                let rule = |name: &str| {
                    c.pointer("/Filter/Key/FilterRules")
                        .and_then(Value::as_array)?
                        .iter()
                        .find(|r| text(r, "Name").as_deref() == Some(name))
                        .and_then(|r| text(r, "Value"))
                };
                notification.destinations.push(Destination {
                    id: text(&c, "Id").unwrap_or_default(),
                    kind,
                    arn: text(&c, arn_key).unwrap_or_default(),
                    events: strings(c.get("Events")),
                    prefix: rule("Prefix"),
                    suffix: rule("Suffix"),
                });
            }
        }
        Ok(Self {
            versioning,
            cors,
            tags,
            notification,
        })
    }
}

/// A bucket operation's refusal, worded and coded as S3 words it.
fn bucket_refused(e: eddy_core::buckets::BucketError) -> ApiError {
    use eddy_core::buckets::BucketError;
    let status = match &e {
        BucketError::NoSuchBucket(_) | BucketError::NoSuchConfiguration(_) => StatusCode::NOT_FOUND,
        BucketError::AlreadyOwnedByYou(_) | BucketError::NotEmpty(_) => StatusCode::CONFLICT,
        BucketError::Core(_) | BucketError::Internal(_) => {
            tracing::error!(error = %e, "a bucket operation of an apply failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    if let BucketError::Core(core) = e {
        return ApiError::from(core);
    }
    ApiError::new(e.code(), status, e.to_string())
}

/// `StatusCode` of an apply failure on the admin endpoint: the failed operation's (a code's
/// name said too little: SQS's `InvalidAttributeName` is a client error too).
pub fn status(e: &ApplyError) -> StatusCode {
    e.status
}
