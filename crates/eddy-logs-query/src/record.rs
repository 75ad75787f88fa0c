//! The log record a query reads: one event of a log stream, borrowed from its owner.

/// One log event as Insights sees it. Fields of a message that is a JSON object are
/// discovered when a query names them (`detail.user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// `@timestamp`: milliseconds since the epoch.
    pub timestamp: i64,
    /// `@ingestionTime`: milliseconds since the epoch.
    pub ingestion_time: i64,
    /// `@message`.
    pub message: &'a str,
    /// `@logStream`.
    pub log_stream: &'a str,
    /// `@log`: the log group.
    pub log_group: &'a str,
}
