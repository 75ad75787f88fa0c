//! The numeric limits of each resource's definition, stated once: the AWS API adapters and the
//! manifest validator check against these same ranges (each in its own words: AWS's messages on
//! the wire, `file:line:column` in `eddy.toml`), and the core applies the defaults.
//!
//! Names have their rules in [`crate::names`] (`NameRule`s and [`crate::names::valid_queue_name`]).

use std::ops::RangeInclusive;

/// SQS queue attributes (seconds unless named otherwise).
pub mod queue {
    use super::RangeInclusive;

    pub const DELAY_SECONDS: RangeInclusive<i64> = 0..=900;
    /// Bytes.
    pub const MAXIMUM_MESSAGE_SIZE: RangeInclusive<i64> = 1024..=1_048_576;
    pub const MESSAGE_RETENTION_PERIOD: RangeInclusive<i64> = 60..=1_209_600;
    pub const RECEIVE_MESSAGE_WAIT_TIME: RangeInclusive<i64> = 0..=20;
    pub const VISIBILITY_TIMEOUT: RangeInclusive<i64> = 0..=43_200;
    pub const KMS_DATA_KEY_REUSE_PERIOD: RangeInclusive<i64> = 60..=86_400;
    /// A redrive policy's `maxReceiveCount`.
    pub const MAX_RECEIVE_COUNT: RangeInclusive<i64> = 1..=1000;
}

/// Lambda functions.
pub mod function {
    use super::RangeInclusive;

    /// Seconds.
    pub const TIMEOUT: RangeInclusive<i64> = 1..=900;
    /// MiB.
    pub const MEMORY_SIZE: RangeInclusive<i64> = 128..=10_240;
    /// Reserved concurrent executions.
    pub const RESERVED_CONCURRENCY: RangeInclusive<i64> = 0..=1000;
    /// An asynchronous invocation's retries (EventInvokeConfig `MaximumRetryAttempts`).
    pub const ASYNC_RETRY_ATTEMPTS: RangeInclusive<i64> = 0..=2;
    /// An asynchronous invocation's age limit (EventInvokeConfig `MaximumEventAgeInSeconds`).
    pub const ASYNC_EVENT_AGE: RangeInclusive<i64> = 60..=21_600;
}

/// Rules' targets (EventBridge) and schedules' targets (Scheduler).
pub mod target {
    use super::RangeInclusive;

    /// EventBridge's limit of targets per rule.
    pub const PER_RULE: usize = 5;
    /// A retry policy's `MaximumRetryAttempts`.
    pub const RETRY_ATTEMPTS: RangeInclusive<i64> = 0..=185;
    /// A retry policy's `MaximumEventAgeInSeconds`.
    pub const EVENT_AGE: RangeInclusive<i64> = 60..=86_400;
}

/// API destinations.
pub mod api_destination {
    use super::RangeInclusive;

    /// `InvocationRateLimitPerSecond` (AWS's model sets only the minimum; 300 is the default).
    pub const INVOCATION_RATE: RangeInclusive<i64> = 1..=i64::MAX;
    /// The rate of a destination that names none.
    pub const DEFAULT_INVOCATION_RATE: i64 = 300;
    /// The HTTP methods an API destination may call with (EventBridge's `HttpMethod` enum).
    pub const HTTP_METHODS: [&str; 7] =
        ["POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"];
}

/// Scheduler schedules.
pub mod schedule {
    use super::RangeInclusive;

    /// A flexible time window's `MaximumWindowInMinutes`.
    pub const FLEXIBLE_WINDOW_MINUTES: RangeInclusive<i64> = 1..=1440;
}

/// HTTP APIs (API Gateway v2 shaped).
pub mod api {
    use super::RangeInclusive;

    /// CORS `MaxAge` in seconds (`-1` turns caching off).
    pub const CORS_MAX_AGE: RangeInclusive<i64> = -1..=86_400;
}
