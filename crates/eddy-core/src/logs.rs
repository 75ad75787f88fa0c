//! Log groups: where log-group targets write delivered events, readable with the CloudWatch Logs
//! calls. Group definitions live in the store's definitions; log events in its log table.
//!
//! Retention: a group's events older than its retention (by event time, as CloudWatch counts)
//! are deleted by the retention sweep ([`crate::retention`]), once a minute and whenever eddy's
//! clock is moved. A group with no retention policy keeps its events forever, except a
//! function's own group (`/aws/lambda/NAME`), which keeps them
//! [`crate::config::ServerConfig::function_log_retention_days`].

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_store::{Definition, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Core;
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::registry::{self, Named, Registry};

/// The retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The prefix of the log groups eddy's functions write to.
pub const FUNCTION_GROUP_PREFIX: &str = "/aws/lambda/";

/// Log events one store call deletes at most: each call is one short write, so appends queued
/// behind a large expiry wait for one chunk, not for all of it (see BENCHMARKS.md, "log
/// retention at depth").
const SWEEP_CHUNK: usize = 2000;
/// Most store calls per sweep, over every group (the rest waits for the next sweep).
const SWEEP_CALLS: usize = 100;

const DAY_MS: i64 = 86_400_000;

/// A log group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogGroupDef {
    pub region: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
    /// Streams made with CreateLogStream, with their creation time (streams also come to be
    /// when events are written to them: those are the store's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub streams: BTreeMap<String, i64>,
    /// Metric filters by name (see [`crate::metric_filters`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metric_filters: BTreeMap<String, crate::metric_filters::MetricFilter>,
    /// Subscription filters by name (see [`crate::log_subscriptions`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subscription_filters: BTreeMap<String, crate::log_subscriptions::SubscriptionFilter>,
}

/// The most streams a group keeps made by CreateLogStream (each is a line of the group's
/// definition).
pub const MAX_CREATED_STREAMS: usize = 10_000;

/// Why a stream operation refused.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("the log group does not exist")]
    GroupGone,
    #[error("the log stream already exists")]
    Exists,
    #[error("the log stream does not exist")]
    NotFound,
    #[error("the log group has too many streams")]
    TooMany,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl LogGroupDef {
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:logs:{}:{account}:log-group:{}",
            self.region, self.name
        )
    }

    /// The key log events are stored under.
    pub fn key(&self) -> String {
        registry::key(&self.region, &self.name)
    }

    /// How many days this group keeps its events: its policy, else `function_default` for a
    /// function's own group; `None` is forever.
    pub fn retention_days(&self, function_default: Option<u32>) -> Option<i64> {
        self.retention_in_days.or_else(|| {
            self.name
                .starts_with(FUNCTION_GROUP_PREFIX)
                .then_some(function_default.map(i64::from))
                .flatten()
        })
    }
}

impl Named for LogGroupDef {
    const KIND: &'static str = "log-group";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// See the module docs.
pub struct LogGroups {
    store: Arc<dyn Store>,
    groups: Registry<LogGroupDef>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl LogGroups {
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            groups: Registry::load(store.clone(), feed, definitions)?,
            store,
            metrics,
        })
    }

    /// Counts messages written to group `key` (`REGION:NAME`) into its metric filters.
    pub fn count<'a>(&self, region: &str, name: &str, messages: impl Iterator<Item = &'a str>) {
        if let Some(g) = self.groups.get(region, name) {
            crate::metric_filters::count(&self.metrics, &g, messages);
        }
    }

    /// PutMetricFilter: creates or replaces a group's filter.
    pub async fn put_metric_filter(
        &self,
        g: &LogGroupDef,
        name: &str,
        filter: crate::metric_filters::MetricFilter,
    ) -> Result<(), StreamError> {
        self.change(g, |d| {
            if !d.metric_filters.contains_key(name)
                && d.metric_filters.len() >= crate::metric_filters::MAX_PER_GROUP
            {
                return Err(StreamError::TooMany);
            }
            d.metric_filters.insert(name.to_owned(), filter);
            Ok(())
        })
        .await
    }

    /// PutSubscriptionFilter: creates or replaces a group's subscription filter (at most
    /// [`crate::log_subscriptions::MAX_PER_GROUP`]).
    pub async fn put_subscription_filter(
        &self,
        g: &LogGroupDef,
        name: &str,
        filter: crate::log_subscriptions::SubscriptionFilter,
    ) -> Result<(), StreamError> {
        self.change(g, |d| {
            if !d.subscription_filters.contains_key(name)
                && d.subscription_filters.len() >= crate::log_subscriptions::MAX_PER_GROUP
            {
                return Err(StreamError::TooMany);
            }
            d.subscription_filters.insert(name.to_owned(), filter);
            Ok(())
        })
        .await
    }

    /// DeleteSubscriptionFilter.
    pub async fn delete_subscription_filter(
        &self,
        g: &LogGroupDef,
        name: &str,
    ) -> Result<(), StreamError> {
        self.change(g, |d| {
            if d.subscription_filters.remove(name).is_none() {
                return Err(StreamError::NotFound);
            }
            Ok(())
        })
        .await
    }

    /// DeleteMetricFilter.
    pub async fn delete_metric_filter(
        &self,
        g: &LogGroupDef,
        name: &str,
    ) -> Result<(), StreamError> {
        self.change(g, |d| {
            if d.metric_filters.remove(name).is_none() {
                return Err(StreamError::NotFound);
            }
            Ok(())
        })
        .await
    }

    pub fn get(&self, region: &str, name: &str) -> Option<LogGroupDef> {
        self.groups.get(region, name)
    }

    pub fn list(&self, region: &str) -> Vec<LogGroupDef> {
        self.groups.list(region)
    }

    pub async fn put(&self, g: LogGroupDef) -> Result<(), CoreError> {
        self.groups.put(g).await
    }

    /// The streams of a group.
    pub async fn streams(&self, g: &LogGroupDef) -> Result<Vec<eddy_store::LogStream>, CoreError> {
        Ok(self.store.logs_streams(g.key()).await?)
    }

    /// Reads log events of a group: `query.group` is set to the group's.
    pub async fn read(
        &self,
        g: &LogGroupDef,
        query: eddy_store::LogQuery,
    ) -> Result<Vec<eddy_store::LogEvent>, CoreError> {
        let query = eddy_store::LogQuery {
            group: g.key(),
            ..query
        };
        Ok(self.store.logs_read(query).await?)
    }

    /// Changes group `g` atomically: `change` edits a copy of its definition; its refusal, or
    /// the group being gone, changes nothing.
    async fn change<A>(
        &self,
        g: &LogGroupDef,
        change: impl FnOnce(&mut LogGroupDef) -> Result<A, StreamError>,
    ) -> Result<A, StreamError> {
        self.groups
            .upsert(&g.region, &g.name, |cur| {
                let mut d = cur.cloned().ok_or(StreamError::GroupGone)?;
                let answer = change(&mut d)?;
                Ok((d, answer))
            })
            .await
    }

    /// Whether a stream exists: made by CreateLogStream, or written to.
    pub async fn has_stream(&self, g: &LogGroupDef, stream: &str) -> Result<bool, CoreError> {
        if g.streams.contains_key(stream) {
            return Ok(true);
        }
        Ok(self.streams(g).await?.iter().any(|s| s.name == stream))
    }

    /// CreateLogStream: a stream with no events yet; refused when it exists.
    pub async fn create_stream(
        &self,
        g: &LogGroupDef,
        stream: &str,
        now_ms: i64,
    ) -> Result<(), StreamError> {
        if self.has_stream(g, stream).await? {
            return Err(StreamError::Exists);
        }
        self.change(g, |d| {
            if d.streams.contains_key(stream) {
                return Err(StreamError::Exists);
            }
            if d.streams.len() >= MAX_CREATED_STREAMS {
                return Err(StreamError::TooMany);
            }
            d.streams.insert(stream.to_owned(), now_ms);
            Ok(())
        })
        .await
    }

    /// DeleteLogStream: the stream and its events.
    pub async fn delete_stream(&self, g: &LogGroupDef, stream: &str) -> Result<(), StreamError> {
        if !self.has_stream(g, stream).await? {
            return Err(StreamError::NotFound);
        }
        // In chunks, so writes queued behind a large delete wait for one chunk, not for all.
        loop {
            let n = self
                .store
                .logs_delete_stream(g.key(), stream.to_owned(), SWEEP_CHUNK)
                .await
                .map_err(CoreError::from)?;
            if n < SWEEP_CHUNK {
                break;
            }
        }
        self.change(g, |d| {
            d.streams.remove(stream);
            Ok(())
        })
        .await
    }

    /// Deletes a group and its log events.
    pub async fn delete(&self, g: &LogGroupDef) -> Result<(), CoreError> {
        self.groups.delete(&g.region, &g.name).await?;
        self.store.logs_delete_group(g.key()).await?;
        Ok(())
    }

    /// Every group, of every region.
    pub fn all(&self) -> Vec<LogGroupDef> {
        self.groups.all()
    }
}

/// Deletes log events older than their group's retention, [`SWEEP_CHUNK`] at a time and at most
/// [`SWEEP_CALLS`] chunks; returns how many it deleted. A function whose group was deleted
/// still writes its logs under the group's name (Lambda recreates the group; eddy keeps writing
/// where it would be): those keep a function group's default retention.
pub async fn expire(app: &Core) -> Result<usize, CoreError> {
    let now = app.clock.now_ms();
    let function_default = app.config.function_log_retention_days;
    let mut groups: Vec<(String, i64)> = app
        .log_groups
        .all()
        .iter()
        .filter_map(|g| Some((g.key(), g.retention_days(function_default)?)))
        .collect();
    if let Some(days) = function_default {
        for f in app.functions.all() {
            let name = format!("{FUNCTION_GROUP_PREFIX}{}", f.name);
            if app.log_groups.get(&f.region, &name).is_none() {
                groups.push((registry::key(&f.region, &name), i64::from(days)));
            }
        }
    }
    let (mut deleted, mut calls) = (0, 0);
    for (key, days) in groups {
        let before = now.saturating_sub(days.saturating_mul(DAY_MS));
        loop {
            if calls == SWEEP_CALLS {
                return Ok(deleted);
            }
            calls += 1;
            let n = app
                .store
                .logs_expire(key.clone(), before, SWEEP_CHUNK)
                .await?;
            deleted += n;
            if n < SWEEP_CHUNK {
                break;
            }
        }
    }
    Ok(deleted)
}

/// Runs [`expire`] once, as part of a retention sweep (see [`crate::retention`]).
pub async fn sweep(app: &Core) {
    match expire(app).await {
        Ok(0) => {}
        Ok(n) => {
            app.metrics.expired_log_events.inc_by(n as u64);
            tracing::debug!(deleted = n, "expired log events");
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot expire log events; trying again at the next sweep");
        }
    }
}

/// A CloudWatch Logs filter pattern, in the subset eddy supports: empty (everything), terms
/// that must all appear (`ERROR timeout`, `"exact phrase"`), or a JSON condition
/// `{ $.a.b = "v" }` / `{ $.n = 5 }` / `!=`, joined with `&&`.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterPattern {
    All,
    Terms(Vec<String>),
    Json(Vec<(Vec<String>, bool, Value)>),
}

impl FilterPattern {
    pub fn parse(src: &str) -> Result<Self, String> {
        let s = src.trim();
        if s.is_empty() {
            return Ok(FilterPattern::All);
        }
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            let mut conds = Vec::new();
            for clause in inner.split("&&") {
                let clause = clause.trim();
                let (path, eq, value) = if let Some((p, v)) = clause.split_once("!=") {
                    (p, false, v)
                } else if let Some((p, v)) = clause.split_once('=') {
                    (p, true, v)
                } else {
                    return Err(format!("unsupported filter clause `{clause}`"));
                };
                let path = path
                    .trim()
                    .strip_prefix("$.")
                    .ok_or("a JSON filter path starts with `$.`")?;
                let value: Value = serde_json::from_str(value.trim())
                    .map_err(|_| format!("unsupported filter value `{}`", value.trim()))?;
                conds.push((path.split('.').map(str::to_owned).collect(), eq, value));
            }
            return Ok(FilterPattern::Json(conds));
        }
        let mut terms = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('"') {
                let end = r.find('"').ok_or("unterminated quoted term")?;
                terms.push(r[..end].to_owned());
                rest = &r[end + 1..];
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                terms.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
        terms.retain(|t| !t.is_empty());
        Ok(FilterPattern::Terms(terms))
    }

    pub fn matches(&self, message: &str) -> bool {
        match self {
            FilterPattern::All => true,
            FilterPattern::Terms(t) => t.iter().all(|t| message.contains(t.as_str())),
            FilterPattern::Json(conds) => {
                let Ok(v) = serde_json::from_str::<Value>(message) else {
                    return false;
                };
                conds.iter().all(|(path, eq, want)| {
                    let got = path.iter().try_fold(&v, |v, k| v.get(k));
                    let same = got.is_some_and(|g| match (g, want) {
                        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                        (a, b) => a == b,
                    });
                    same == *eq
                })
            }
        }
    }
}

impl Follow for LogGroups {
    fn follow(&self, changes: &[eddy_store::DefinitionChange]) {
        self.groups.follow(changes);
    }

    fn reload(&self, definitions: &[Definition]) {
        self.groups.reload(definitions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns() {
        assert!(FilterPattern::parse("").unwrap().matches("anything"));
        let t = FilterPattern::parse(r#"ERROR "disk full""#).unwrap();
        assert!(t.matches("ERROR: disk full on /"));
        assert!(!t.matches("ERROR: disk almost full"));
        let j = FilterPattern::parse(r#"{ $.detail.state = "NEW" && $.detail.n != 3 }"#).unwrap();
        assert!(j.matches(r#"{"detail":{"state":"NEW","n":4}}"#));
        assert!(!j.matches(r#"{"detail":{"state":"NEW","n":3.0}}"#));
        assert!(!j.matches("not json"));
        assert!(FilterPattern::parse("{ $.a > 1 }").is_err());
    }
}
