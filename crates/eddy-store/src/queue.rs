//! Durable SQS-shaped queues: messages with visibility timeouts, receive counts, FIFO message
//! groups, deduplication windows and redrive to a dead-letter queue.
//!
//! The types here are what the [`crate::QueueStore`] methods take and return. A queue is named by an opaque key chosen by the caller (eddy uses
//! `REGION:NAME`). Every method that changes a queue is durable when it returns, like everything
//! else in the store: a sent message survives a crash; a received message that is not deleted
//! becomes visible again when its visibility timeout runs out, after a crash too.

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub message_id: String,
    pub body: String,
    /// Message attributes and their digests, as JSON text; the store keeps it verbatim.
    pub attributes: String,
    pub delay_ms: i64,
    /// FIFO only.
    pub group_id: Option<String>,
    /// FIFO only: messages with a deduplication id already seen within the window are accepted
    /// but not enqueued again.
    pub dedup_id: Option<String>,
}

/// What happened to one sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message id: a duplicate gets the id of the message it duplicates.
    pub message_id: String,
    /// Position in the queue (FIFO `SequenceNumber`).
    pub seq: i64,
    pub duplicate: bool,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub seq: i64,
    pub message_id: String,
    pub body: String,
    pub attributes: String,
    pub sent_ms: i64,
    pub receive_count: u32,
    pub first_receive_ms: i64,
    /// The handle of this receive; only the latest receive's handle deletes the message.
    pub receipt: String,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// How to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveOptions {
    pub now_ms: i64,
    pub max: usize,
    pub visibility_ms: i64,
    /// FIFO: deliver message groups in order, one receiver per group at a time.
    pub fifo: bool,
    /// Messages already received this many times move to the dead-letter queue (key) instead of
    /// being received again.
    pub redrive: Option<(String, u32)>,
    /// Messages older than this are dropped (`MessageRetentionPeriod`).
    pub retention_ms: i64,
}

/// Message counts for `ApproximateNumberOfMessages*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// How long FIFO deduplication ids are remembered.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
