//! Log streams: CreateLogStream, DeleteLogStream, DescribeLogStreams (prefix, order, paging,
//! streams without events) and PutLogEvents with CloudWatch Logs' checks (events in time
//! order, within 24 hours of each other; too old, too new and expired events reported in
//! `rejectedLogEventsInfo` and not stored).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{group, group_missing, group_of, invalid};
use crate::App;
use crate::aws::{Ctx, empty, reply};
use crate::error::ApiError;
use crate::logs::StreamError;

/// Events more than this far in the future are too new (2 hours).
const TOO_NEW_MS: i64 = 2 * 3_600_000;
/// Events older than this are too old (14 days).
const TOO_OLD_MS: i64 = 14 * 86_400_000;
/// The longest span of one PutLogEvents call (24 hours).
const MAX_SPAN_MS: i64 = 24 * 3_600_000;
/// The largest PutLogEvents batch: the messages' UTF-8 bytes plus 26 bytes per event.
const MAX_BATCH_BYTES: usize = 1_048_576;

fn stream_missing() -> ApiError {
    ApiError::not_found("The specified log stream does not exist.")
}

fn stream_error(e: StreamError) -> ApiError {
    match e {
        StreamError::GroupGone => group_missing(),
        StreamError::Exists => ApiError::already_exists("The specified log stream already exists"),
        StreamError::NotFound => stream_missing(),
        StreamError::TooMany => ApiError::bad(
            "LimitExceededException",
            "Resource limit exceeded: eddy keeps at most 10000 streams made by \
             CreateLogStream per log group",
        ),
        StreamError::Core(e) => e.into(),
    }
}

fn check_stream_name(name: Option<&str>) -> Result<&str, ApiError> {
    match name {
        Some(s) if !s.is_empty() && s.len() <= 512 && !s.contains([':', '*']) => Ok(s),
        Some(s) => Err(invalid(format!(
            "1 validation error detected: Value '{s}' at 'logStreamName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [^:*]*"
        ))),
        None => Err(invalid(
            "1 validation error detected: Value null at 'logStreamName' failed to satisfy \
             constraint: Member must not be null",
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StreamInput {
    log_group_name: Option<String>,
    log_stream_name: Option<String>,
}

pub(super) async fn create(app: &App, ctx: &Ctx, input: StreamInput) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    let name = check_stream_name(input.log_stream_name.as_deref())?;
    app.log_groups
        .create_stream(&g, name, app.clock.now_ms())
        .await
        .map_err(stream_error)?;
    empty()
}

pub(super) async fn delete(app: &App, ctx: &Ctx, input: StreamInput) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    let name = check_stream_name(input.log_stream_name.as_deref())?;
    app.log_groups
        .delete_stream(&g, name)
        .await
        .map_err(stream_error)?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<i64>,
}

/// One stream as DescribeLogStreams lists it.
struct Row {
    name: String,
    created_ms: i64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    stored_bytes: i64,
}

pub(super) async fn describe(
    app: &App,
    ctx: &Ctx,
    input: DescribeInput,
) -> Result<Vec<u8>, ApiError> {
    let g = group_of(
        app,
        ctx,
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    let by_time = match input.order_by.as_deref() {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(o) => {
            return Err(invalid(format!(
                "1 validation error detected: Value '{o}' at 'orderBy' failed to satisfy \
                 constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )));
        }
    };
    if by_time && input.log_stream_name_prefix.is_some() {
        return Err(invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let limit = input.limit.unwrap_or(50);
    if !(1..=50).contains(&limit) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy \
             constraint: Member must have value less than or equal to 50"
        )));
    }
    let prefix = input.log_stream_name_prefix.unwrap_or_default();
    let mut rows: Vec<Row> = app
        .log_groups
        .streams(&g)
        .await?
        .into_iter()
        .map(|s| Row {
            created_ms: g.streams.get(&s.name).copied().unwrap_or(s.first_ms),
            name: s.name,
            first_ms: Some(s.first_ms),
            last_ms: Some(s.last_ms),
            stored_bytes: s.stored_bytes,
        })
        .collect();
    let written: std::collections::HashSet<String> = rows.iter().map(|r| r.name.clone()).collect();
    for (name, created) in &g.streams {
        if !written.contains(name) {
            rows.push(Row {
                name: name.clone(),
                created_ms: *created,
                first_ms: None,
                last_ms: None,
                stored_bytes: 0,
            });
        }
    }
    rows.retain(|r| r.name.starts_with(&prefix));
    if by_time {
        // Streams without events come first (last, descending).
        rows.sort_by(|a, b| {
            (a.last_ms.unwrap_or(i64::MIN), &a.name).cmp(&(b.last_ms.unwrap_or(i64::MIN), &b.name))
        });
    } else {
        rows.sort_by(|a, b| a.name.cmp(&b.name));
    }
    if input.descending == Some(true) {
        rows.reverse();
    }
    // The token is the index of the next row (the order is stable between calls).
    let start = match &input.next_token {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| invalid("The specified nextToken is invalid."))?,
        None => 0,
    };
    let arn = g.arn(&app.config.account_id);
    let page: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(limit as usize)
        .map(|r| {
            let mut out = json!({
                "logStreamName": r.name,
                "creationTime": r.created_ms,
                "arn": format!("{arn}:log-stream:{}", r.name),
                "storedBytes": r.stored_bytes,
            });
            if let (Some(first), Some(last)) = (r.first_ms, r.last_ms) {
                out["firstEventTimestamp"] = json!(first);
                out["lastEventTimestamp"] = json!(last);
                out["lastIngestionTime"] = json!(last);
                out["uploadSequenceToken"] = json!("1");
            }
            out
        })
        .collect();
    let mut out = json!({ "logStreams": page });
    let next = start.saturating_add(limit as usize);
    if next < rows.len() {
        out["nextToken"] = json!(next.to_string());
    }
    reply(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutInput {
    log_group_name: Option<String>,
    log_stream_name: Option<String>,
    log_events: Option<Vec<InputEvent>>,
}

#[derive(Deserialize)]
struct InputEvent {
    timestamp: Option<i64>,
    message: Option<String>,
}

/// Which events of a batch CloudWatch Logs rejects, as its `RejectedLogEventsInfo` reports
/// them: the end of the too-old ones and of the expired ones (exclusive: the index after the
/// last), the first too-new one (inclusive).
#[derive(Debug, Default, PartialEq, Eq)]
struct Rejected {
    too_old_end: Option<usize>,
    too_new_start: Option<usize>,
    expired_end: Option<usize>,
}

impl Rejected {
    fn of(times: &[i64], now_ms: i64, retention_days: Option<i64>) -> Self {
        let mut r = Rejected::default();
        for (i, t) in times.iter().enumerate() {
            if *t < now_ms - TOO_OLD_MS {
                r.too_old_end = Some(i + 1);
            } else if let Some(days) = retention_days
                && *t < now_ms - days * 86_400_000
            {
                r.expired_end = Some(i + 1);
            }
            if *t > now_ms + TOO_NEW_MS && r.too_new_start.is_none() {
                r.too_new_start = Some(i);
            }
        }
        r
    }

    fn keeps(&self, i: usize) -> bool {
        self.too_old_end.is_none_or(|e| i >= e)
            && self.expired_end.is_none_or(|e| i >= e)
            && self.too_new_start.is_none_or(|s| i < s)
    }

    fn json(&self) -> Option<Value> {
        let mut out = serde_json::Map::new();
        if let Some(i) = self.too_new_start {
            out.insert("tooNewLogEventStartIndex".into(), json!(i));
        }
        if let Some(i) = self.too_old_end {
            out.insert("tooOldLogEventEndIndex".into(), json!(i));
        }
        if let Some(i) = self.expired_end {
            out.insert("expiredLogEventEndIndex".into(), json!(i));
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }
}

pub(super) async fn put_log_events(
    app: &App,
    ctx: &Ctx,
    input: PutInput,
) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    let stream = check_stream_name(input.log_stream_name.as_deref())?.to_owned();
    let events = input.log_events.unwrap_or_default();
    if events.is_empty() || events.len() > 10_000 {
        return Err(invalid(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: \
             Member must have length between 1 and 10000 ({} given)",
            events.len()
        )));
    }
    let mut new = Vec::with_capacity(events.len());
    let mut bytes = 0;
    for e in events {
        let (Some(ts), Some(message)) = (e.timestamp, e.message) else {
            return Err(invalid(
                "1 validation error detected: Value null at 'logEvents.member.timestamp' or \
                 'logEvents.member.message' failed to satisfy constraint: Member must not be \
                 null",
            ));
        };
        bytes += message.len() + 26;
        new.push((ts, message));
    }
    if bytes > MAX_BATCH_BYTES {
        return Err(invalid(format!(
            "Upload too large: {bytes} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if new.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    if let (Some(first), Some(last)) = (new.first(), new.last())
        && last.0.saturating_sub(first.0) > MAX_SPAN_MS
    {
        return Err(invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than \
             24 hours.",
        ));
    }
    if !app.log_groups.has_stream(&g, &stream).await? {
        return Err(stream_missing());
    }
    let now = app.clock.now_ms();
    let times: Vec<i64> = new.iter().map(|(t, _)| *t).collect();
    let rejected = Rejected::of(&times, now, g.retention_in_days);
    let kept: Vec<(i64, String)> = new
        .into_iter()
        .enumerate()
        .filter(|(i, _)| rejected.keeps(*i))
        .map(|(_, e)| e)
        .collect();
    if !kept.is_empty() {
        let events = kept
            .into_iter()
            .map(|(timestamp_ms, message)| eddy_store::NewLogEvent {
                group: g.key(),
                stream: stream.clone(),
                timestamp_ms,
                message,
            })
            .collect();
        app.core().write_logs(events, now, Vec::new()).await?;
    }
    let mut out = json!({ "nextSequenceToken": uuid::Uuid::new_v4().simple().to_string() });
    if let Some(r) = rejected.json() {
        out["rejectedLogEventsInfo"] = r;
    }
    reply(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 100 * 86_400_000;

    #[test]
    fn too_old_too_new_and_expired_events_are_told_apart() {
        let day = 86_400_000;
        let times = [
            NOW - 20 * day,
            NOW - 15 * day,
            NOW - 5 * day,
            NOW,
            NOW + 3 * 3_600_000,
        ];
        let r = Rejected::of(&times, NOW, Some(3));
        assert_eq!(
            r,
            Rejected {
                too_old_end: Some(2),
                too_new_start: Some(4),
                expired_end: Some(3),
            }
        );
        let kept: Vec<usize> = (0..times.len()).filter(|i| r.keeps(*i)).collect();
        assert_eq!(kept, [3]);
        assert_eq!(
            r.json().unwrap(),
            json!({"tooNewLogEventStartIndex": 4, "tooOldLogEventEndIndex": 2,
                   "expiredLogEventEndIndex": 3})
        );
        assert_eq!(Rejected::of(&[NOW], NOW, None).json(), None);
    }
}
