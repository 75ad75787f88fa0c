//! Durable log events: what log-group targets (and later function logs) write, and what the
//! CloudWatch Logs read calls return. Append-only per (group, stream); read by time range in
//! order.

/// One log event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogEvent {
    pub group: String,
    pub stream: String,
    /// When the event happened (ms since the epoch).
    pub timestamp_ms: i64,
    pub message: String,
}

/// A stored log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Position in the log (increasing across all groups).
    pub seq: i64,
    pub group: String,
    pub stream: String,
    pub timestamp_ms: i64,
    pub ingestion_ms: i64,
    pub message: String,
}

/// A log stream of a group, as the stored events describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub name: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub stored_bytes: i64,
}

/// Where a log event sits in a group's order: by timestamp, then by position in the log. Pages
/// continue from the last event's position (its `seq` alone would skip events written later
/// with earlier timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogPosition {
    pub timestamp_ms: i64,
    pub seq: i64,
}

impl LogEvent {
    pub fn position(&self) -> LogPosition {
        LogPosition {
            timestamp_ms: self.timestamp_ms,
            seq: self.seq,
        }
    }
}

/// Which log events to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    pub group: String,
    /// Only these streams (all when empty).
    pub streams: Vec<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Read after this position (pagination), in the query's direction.
    pub after: Option<LogPosition>,
    pub limit: usize,
    /// Newest first.
    pub backwards: bool,
}

impl LogQuery {
    /// The first event time a page reads: the query's start, narrowed to the cursor when
    /// reading forwards, so a backend's index range starts at the cursor and a page costs its
    /// own rows, not every row before it.
    pub fn lower_bound(&self) -> i64 {
        let start = self.start_ms.unwrap_or(i64::MIN);
        match self.after {
            Some(a) if !self.backwards => start.max(a.timestamp_ms),
            _ => start,
        }
    }

    /// The end (exclusive) of the event times a page reads; see [`LogQuery::lower_bound`].
    pub fn upper_bound(&self) -> i64 {
        let end = self.end_ms.unwrap_or(i64::MAX);
        match self.after {
            Some(a) if self.backwards => end.min(a.timestamp_ms.saturating_add(1)),
            _ => end,
        }
    }
}
