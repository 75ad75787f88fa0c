//! Log writes and subscription filters. Every log event eddy keeps (PutLogEvents, a log-group
//! target, a function's own output) is written by [`Core::write_logs`]: its groups' metric
//! filters count it, and each subscription filter it matches gets CloudWatch Logs' payload
//! (`{"messageType":"DATA_MESSAGE","owner",…,"logEvents":[…]}`, gzipped and base64-encoded)
//! delivered in the same store transaction as the events themselves (`logs_write`): to a
//! function as an asynchronous invocation of `{"awslogs":{"data":…}}` (retried, destinations,
//! as any), to a queue (eddy's stand-in for a Kinesis stream) as a message whose body is the
//! base64 text. Nothing written is ever without its deliveries, and a crash repeats at most.

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use eddy_store::{AppendBatch, Lease, NewLogEvent, QueueMessages};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Core;
use crate::core_error::CoreError;
use crate::delivery::target::TargetKind;
use crate::logs::{FilterPattern, LogGroupDef};
use crate::queues::{OutMessage, Queues};

/// Subscription filters per log group (CloudWatch Logs' quota).
pub const MAX_PER_GROUP: usize = 2;

/// One subscription filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionFilter {
    pub filter_pattern: String,
    pub destination_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    pub created_ms: i64,
}

/// Whether eddy can deliver to `arn` (a function or a queue); the refusal says why.
pub fn check_destination(core: &Core, arn: &str) -> Result<(), String> {
    match TargetKind::of(arn) {
        TargetKind::Function {
            region,
            name,
            qualifier,
        } => match core.functions.get(&region, &name) {
            Some(f) if qualifier.as_deref().is_none_or(|q| f.has_qualifier(q)) => Ok(()),
            _ => Err(format!("The destination {arn} does not exist.")),
        },
        TargetKind::Queue { region, name } => match core.queues.get(&region, &name) {
            Some(_) => Ok(()),
            None => Err(format!("The destination {arn} does not exist.")),
        },
        _ => Err(format!(
            "eddy delivers subscription filters to functions and queues; {arn} is neither"
        )),
    }
}

/// CloudWatch Logs' subscription payload, gzipped and base64-encoded.
fn payload(
    account: &str,
    group: &str,
    stream: &str,
    filter: &str,
    events: &[(usize, &NewLogEvent)],
) -> String {
    let body = json!({
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter],
        "logEvents": events.iter().map(|(i, e)| json!({
            "id": format!("{}{:020}", e.timestamp_ms, i),
            "timestamp": e.timestamp_ms,
            "message": e.message,
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zipped = gz
        .write_all(body.as_bytes())
        .and_then(|()| gz.finish())
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(zipped)
}

impl Core {
    /// Writes log events (their `group` is `REGION:NAME`), acknowledging `ack` in the same
    /// transaction: metric filters count them, subscription filters get them (see the module
    /// docs).
    pub async fn write_logs(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        ack: Vec<Lease>,
    ) -> Result<(), CoreError> {
        let mut batch = AppendBatch {
            ack,
            now_ms: Some(now_ms),
            ..AppendBatch::default()
        };
        let mut by_group: BTreeMap<&str, Vec<(usize, &NewLogEvent)>> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            by_group.entry(e.group.as_str()).or_default().push((i, e));
        }
        let mut woke = Vec::new();
        for (key, evs) in &by_group {
            let Some((region, name)) = key.split_once(':') else {
                continue;
            };
            let Some(g) = self.log_groups.get(region, name) else {
                continue;
            };
            crate::metric_filters::count(
                &self.metrics,
                &g,
                evs.iter().map(|(_, e)| e.message.as_str()),
            );
            self.subscriptions(&g, evs, now_ms, &mut batch, &mut woke);
        }
        let delivers = !batch.work.is_empty();
        self.store
            .logs_write(events, now_ms, batch)
            .await
            .map_err(CoreError::from)?;
        for q in woke {
            self.queues.woke(&q);
        }
        if delivers {
            self.bus.work_ready().notify_one();
        }
        Ok(())
    }

    /// Adds the deliveries of `g`'s subscription filters for `events` to `batch`.
    fn subscriptions(
        &self,
        g: &LogGroupDef,
        events: &[(usize, &NewLogEvent)],
        now_ms: i64,
        batch: &mut AppendBatch,
        woke: &mut Vec<String>,
    ) {
        for (fname, f) in &g.subscription_filters {
            let Ok(pattern) = FilterPattern::parse(&f.filter_pattern) else {
                continue;
            };
            let mut by_stream: BTreeMap<&str, Vec<(usize, &NewLogEvent)>> = BTreeMap::new();
            for (i, e) in events {
                if pattern.matches(&e.message) {
                    by_stream
                        .entry(e.stream.as_str())
                        .or_default()
                        .push((*i, *e));
                }
            }
            for (stream, matched) in by_stream {
                let data = payload(self.functions.account(), &g.name, stream, fname, &matched);
                match TargetKind::of(&f.destination_arn) {
                    TargetKind::Function {
                        region,
                        name,
                        qualifier,
                    } => match self.functions.get(&region, &name) {
                        Some(def) => {
                            let body = json!({"awslogs": {"data": data}}).to_string();
                            crate::delivery::function::add_invocation(
                                self,
                                batch,
                                &def,
                                qualifier.as_deref(),
                                body,
                                now_ms,
                            );
                        }
                        None => tracing::warn!(group = %g.name, filter = %fname,
                            "a subscription filter's function does not exist; not delivered"),
                    },
                    TargetKind::Queue { region, name } => match self.queues.get(&region, &name) {
                        Some(q) => {
                            let message = OutMessage {
                                body: data,
                                group_id: q.fifo().then(|| g.name.clone()),
                                dedup_id: q.fifo().then(|| uuid::Uuid::new_v4().to_string()),
                                ..OutMessage::default()
                            };
                            let (messages, _) = Queues::prepare(&q, vec![message]);
                            batch.messages.push(QueueMessages {
                                queue: q.key(),
                                messages,
                            });
                            woke.push(q.key());
                        }
                        None => tracing::warn!(group = %g.name, filter = %fname,
                            "a subscription filter's queue does not exist; not delivered"),
                    },
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn payloads_are_cloudwatch_logs_gzip_base64() {
        let e = NewLogEvent {
            group: "r:/app".into(),
            stream: "s".into(),
            timestamp_ms: 1_700_000_000_000,
            message: "ERROR x".into(),
        };
        let data = payload("123456789012", "/app", "s", "f", &[(0, &e)]);
        let zipped = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_string(&mut text)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["messageType"], "DATA_MESSAGE");
        assert_eq!(v["logGroup"], "/app");
        assert_eq!(v["subscriptionFilters"], json!(["f"]));
        assert_eq!(v["logEvents"][0]["message"], "ERROR x");
        assert_eq!(v["logEvents"][0]["timestamp"], 1_700_000_000_000_i64);
    }
}
