//! Logs Insights queries (StartQuery, GetQueryResults, StopQuery, DescribeQueries): a query
//! (`eddy_logs_query`) runs in the background over its groups' log events in the time range,
//! read from the store in time order a page at a time, so memory holds one page and the
//! query's output. Results are kept in memory on the node that ran the query, for an hour
//! after it ends, at most [`MAX_KEPT`] queries (the oldest finished ones go first), as
//! Insights keeps results for a limited time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use eddy_logs_query::{Query, QueryResults, Record};
use eddy_store::LogQuery;

use crate::Core;
use crate::logs::LogGroupDef;

/// Queries kept (running or finished) at most.
pub const MAX_KEPT: usize = 200;
/// Queries that may run at once (Insights allows 30 per account; this machine is smaller).
pub const MAX_RUNNING: usize = 8;
/// How long finished results are kept.
const KEEP_MS: i64 = 3_600_000;
/// Log events read per store call.
const PAGE: usize = 10_000;

/// Where a query is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    Running,
    Complete,
    Cancelled,
    Failed,
}

impl QueryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Complete => "Complete",
            Self::Cancelled => "Cancelled",
            Self::Failed => "Failed",
        }
    }
}

/// One query and what it has found.
#[derive(Debug, Clone)]
pub struct QueryInfo {
    pub id: String,
    pub query_string: String,
    /// The first group's name (DescribeQueries' `logGroupName`).
    pub log_group_name: String,
    pub created_ms: i64,
    pub ended_ms: Option<i64>,
    pub status: QueryStatus,
    /// Set once complete.
    pub results: Option<Arc<QueryResults>>,
}

/// Why a query cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Malformed(#[from] eddy_logs_query::QueryError),
    #[error("too many queries are running")]
    TooMany,
}

/// See the module docs.
#[derive(Default)]
pub struct LogQueries {
    queries: Mutex<VecDeque<QueryInfo>>,
}

fn lock(m: &Mutex<VecDeque<QueryInfo>>) -> std::sync::MutexGuard<'_, VecDeque<QueryInfo>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LogQueries {
    pub fn get(&self, id: &str) -> Option<QueryInfo> {
        lock(&self.queries).iter().find(|q| q.id == id).cloned()
    }

    /// Every kept query, newest first.
    pub fn list(&self) -> Vec<QueryInfo> {
        lock(&self.queries).iter().rev().cloned().collect()
    }

    /// StopQuery: whether a running query was stopped.
    pub fn stop(&self, id: &str, now_ms: i64) -> Option<bool> {
        let mut qs = lock(&self.queries);
        let q = qs.iter_mut().find(|q| q.id == id)?;
        if q.status != QueryStatus::Running {
            return Some(false);
        }
        q.status = QueryStatus::Cancelled;
        q.ended_ms = Some(now_ms);
        Some(true)
    }

    fn running(&self, id: &str) -> bool {
        lock(&self.queries)
            .iter()
            .any(|q| q.id == id && q.status == QueryStatus::Running)
    }

    fn finish(&self, id: &str, status: QueryStatus, results: Option<QueryResults>, now_ms: i64) {
        let mut qs = lock(&self.queries);
        if let Some(q) = qs.iter_mut().find(|q| q.id == id)
            && q.status == QueryStatus::Running
        {
            q.status = status;
            q.results = results.map(Arc::new);
            q.ended_ms = Some(now_ms);
        }
    }

    /// Registers a new query, making room: finished queries older than an hour go, then the
    /// oldest finished ones while more than [`MAX_KEPT`] are kept.
    fn admit(&self, info: QueryInfo) -> Result<(), StartError> {
        let mut qs = lock(&self.queries);
        let now = info.created_ms;
        qs.retain(|q| q.ended_ms.is_none_or(|e| now - e < KEEP_MS));
        if qs
            .iter()
            .filter(|q| q.status == QueryStatus::Running)
            .count()
            >= MAX_RUNNING
        {
            return Err(StartError::TooMany);
        }
        while qs.len() >= MAX_KEPT {
            match qs.iter().position(|q| q.status != QueryStatus::Running) {
                Some(i) => {
                    qs.remove(i);
                }
                None => return Err(StartError::TooMany),
            }
        }
        qs.push_back(info);
        Ok(())
    }
}

impl Core {
    /// StartQuery: parses `query_string` and runs it in the background over `groups` between
    /// `start_ms` and `end_ms` (inclusive); `limit` replaces the query's own when given.
    /// Returns the query id.
    pub fn start_log_query(
        self: &Arc<Self>,
        groups: Vec<LogGroupDef>,
        start_ms: i64,
        end_ms: i64,
        query_string: &str,
        limit: Option<usize>,
    ) -> Result<String, StartError> {
        // StartQuery's `limit` applies when the query has no `limit` of its own.
        let query = Query::parse(query_string)?;
        let query = match limit {
            Some(n) if !has_limit(query_string) => {
                Query::parse(&format!("{query_string} | limit {n}")).unwrap_or(query)
            }
            _ => query,
        };
        let id = uuid::Uuid::new_v4().to_string();
        self.log_queries.admit(QueryInfo {
            id: id.clone(),
            query_string: query_string.to_owned(),
            log_group_name: groups.first().map(|g| g.name.clone()).unwrap_or_default(),
            created_ms: self.clock.now_ms(),
            ended_ms: None,
            status: QueryStatus::Running,
            results: None,
        })?;
        let core = self.clone();
        let qid = id.clone();
        tokio::spawn(async move {
            let outcome = core
                .run_log_query(&qid, &query, &groups, start_ms, end_ms)
                .await;
            let now = core.clock.now_ms();
            match outcome {
                Ok(Some(r)) => core
                    .log_queries
                    .finish(&qid, QueryStatus::Complete, Some(r), now),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(query = %qid, error = %e, "a Logs Insights query failed");
                    core.log_queries
                        .finish(&qid, QueryStatus::Failed, None, now);
                }
            }
        });
        Ok(id)
    }

    /// Runs a query to its end; `None` when it was stopped.
    async fn run_log_query(
        &self,
        id: &str,
        query: &Query,
        groups: &[LogGroupDef],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<QueryResults>, crate::core_error::CoreError> {
        let mut run = query.start();
        for g in groups {
            let mut after = None;
            loop {
                if !self.log_queries.running(id) {
                    return Ok(None);
                }
                let page = self
                    .log_groups
                    .read(
                        g,
                        LogQuery {
                            group: String::new(),
                            streams: Vec::new(),
                            start_ms: Some(start_ms),
                            end_ms: Some(end_ms),
                            after,
                            limit: PAGE,
                            backwards: false,
                        },
                    )
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.position());
                let full = page.len() == PAGE;
                for e in &page {
                    run.push(&Record {
                        timestamp: e.timestamp_ms,
                        ingestion_time: e.ingestion_ms,
                        message: &e.message,
                        log_stream: &e.stream,
                        log_group: &g.name,
                    });
                }
                if !full {
                    break;
                }
            }
        }
        Ok(Some(run.finish()))
    }
}

/// Whether a query string has a `limit` command.
fn has_limit(query: &str) -> bool {
    query
        .split('|')
        .any(|c| c.trim_start().to_ascii_lowercase().starts_with("limit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, created: i64, status: QueryStatus) -> QueryInfo {
        QueryInfo {
            id: id.into(),
            query_string: String::new(),
            log_group_name: String::new(),
            created_ms: created,
            ended_ms: (status != QueryStatus::Running).then_some(created),
            status,
            results: None,
        }
    }

    #[test]
    fn finished_queries_make_room_running_ones_are_bounded() {
        let q = LogQueries::default();
        for i in 0..MAX_KEPT {
            q.admit(info(&i.to_string(), 0, QueryStatus::Complete))
                .unwrap();
        }
        q.admit(info("new", 1, QueryStatus::Running)).unwrap();
        assert!(q.get("0").is_none() && q.get("new").is_some());
        for i in 1..MAX_RUNNING {
            q.admit(info(&format!("r{i}"), 1, QueryStatus::Running))
                .unwrap();
        }
        assert!(matches!(
            q.admit(info("over", 1, QueryStatus::Running)),
            Err(StartError::TooMany)
        ));
        assert_eq!(q.stop("new", 2), Some(true));
        assert_eq!(q.stop("new", 2), Some(false));
        assert_eq!(q.stop("none", 2), None);
        // An hour after they ended, finished queries are gone.
        q.admit(info("later", KEEP_MS + 10, QueryStatus::Running))
            .unwrap();
        assert!(q.get("1").is_none() && q.get("new").is_none());
    }
}
