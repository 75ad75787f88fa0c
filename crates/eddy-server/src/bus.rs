//! Putting events on a bus: build the envelope, match it against the bus's rules, and append the
//! event with the work items it owes in one durable batch.
//!
//! Matching happens before the append so that the event and its (event, rule, target) work items
//! are committed together: once a caller holds an event id, its deliveries are durable too.

use std::sync::Arc;

use eddy_model::event::{EventInput, EventOrigin, envelope};
use eddy_store::{AppendBatch, NewEvent, NewWork, Store};

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::metrics::{BusLabels, Metrics};

/// One event, checked and ready to put.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    pub bus: String,
    pub source: String,
    pub detail_type: String,
    /// JSON object text.
    pub detail: String,
    pub resources: Vec<String>,
    /// Event time (ms since the epoch); `None` means now.
    pub time_ms: Option<i64>,
}

/// Why one event was not put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub code: &'static str,
    pub message: String,
}

/// Puts events on buses.
pub struct Bus {
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl Bus {
    pub fn new(catalog: Arc<Catalog>, store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self {
            catalog,
            store,
            metrics,
        }
    }

    /// Puts every event whose bus exists and returns, in order, its id or why it failed. Returns
    /// only after every accepted event (and its work items) is durable.
    pub async fn put(
        &self,
        region: &str,
        events: Vec<Result<PreparedEvent, EntryError>>,
        now_ms: i64,
    ) -> Result<Vec<Result<String, EntryError>>, ApiError> {
        let mut batch = AppendBatch::default();
        let mut results = Vec::with_capacity(events.len());
        let mut matches = Vec::new();
        let mut matched_rules = Vec::new();
        let mut per_bus: Vec<(String, u64)> = Vec::new();
        for ev in events {
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            let Some(snapshot) = self.catalog.snapshot(region, &ev.bus) else {
                results.push(Err(EntryError {
                    code: "ResourceNotFoundException",
                    message: format!("Event bus {} does not exist.", ev.bus),
                }));
                continue;
            };
            let id = uuid::Uuid::new_v4().to_string();
            let time_ms = ev.time_ms.unwrap_or(now_ms);
            let body = envelope(
                &EventInput {
                    source: &ev.source,
                    detail_type: &ev.detail_type,
                    detail: &ev.detail,
                    resources: &ev.resources,
                },
                &EventOrigin {
                    id: &id,
                    account: self.catalog.account(),
                    region,
                    time_ms,
                },
            );
            matches.clear();
            if !snapshot.rules.is_empty()
                && let Err(e) = snapshot.matcher.matches(body.as_bytes(), &mut matches)
            {
                // The envelope is ours and always valid JSON; a failure here is a bug.
                return Err(ApiError::internal(format!("cannot match event: {e}")));
            }
            let index = batch.events.len();
            for &m in &matches {
                let Some(rule) = snapshot.rules.get(m as usize) else {
                    continue;
                };
                matched_rules.push(rule.matched.clone());
                for target in &rule.targets {
                    batch.work.push(NewWork {
                        event: index,
                        rule: rule.arn.clone(),
                        target: target.clone(),
                    });
                }
            }
            match per_bus.iter_mut().find(|(b, _)| *b == ev.bus) {
                Some((_, n)) => *n += 1,
                None => per_bus.push((ev.bus.clone(), 1)),
            }
            batch.events.push(NewEvent {
                id: id.clone(),
                bus: format!("{region}:{}", ev.bus),
                time_ms,
                body,
            });
            results.push(Ok(id));
        }
        let (events, work) = (batch.events.len(), batch.work.len());
        if events > 0 {
            self.store.append(batch).await?;
        }
        for c in matched_rules {
            c.inc();
        }
        self.metrics.work_items.inc_by(work as u64);
        for r in &results {
            match r {
                Ok(_) => {}
                Err(e) => {
                    self.metrics
                        .failed_entries
                        .get_or_create(&crate::metrics::CodeLabels {
                            code: e.code.to_owned(),
                        })
                        .inc();
                }
            }
        }
        for (bus, n) in per_bus {
            self.metrics
                .events_put
                .get_or_create(&BusLabels { bus })
                .inc_by(n);
        }
        Ok(results)
    }
}
