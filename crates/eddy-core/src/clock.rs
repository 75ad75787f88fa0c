//! eddy's clock: the time every due time in the server is measured against (schedule ticks,
//! delivery retries, queue visibility timeouts and delays).
//!
//! It is the system clock plus an offset. In `--dev` mode `POST /_eddy/clock` moves the offset
//! forward (never backwards), so a test suite can make a daily schedule fire in milliseconds. A
//! loop that waits for a time uses [`Clock::sleep_until`], which wakes early when the clock is
//! moved, or selects on [`Clock::moved`] itself.
//!
//! [`Clock::manual`] makes a clock that does not advance on its own (tests of the scheduler and
//! the delivery engine move it explicitly and never sleep).
//!
//! The offset is not persisted: a restarted eddy runs on the system clock again.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// Why the clock was not moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the clock never moves backwards: it is {now} and {requested} is earlier")]
    Backwards { now: String, requested: String },
    #[error("the clock does not move past 9999-12-31T23:59:59Z")]
    TooFar,
}

/// The latest time the clock may read: the end of year 9999, the last an RFC 3339 time names.
pub const LATEST_MS: i64 = 253_402_300_799_000;

struct Inner {
    /// `Some(t)`: a manual clock frozen at `t` (plus the offset).
    base: Option<i64>,
    offset: AtomicI64,
    /// Bumped with the offset, so waiters wake when the clock moves.
    moved: watch::Sender<i64>,
}

/// See the module docs. Cheap to clone; clones share the offset.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("now_ms", &self.now_ms())
            .field("offset_ms", &self.offset_ms())
            .finish()
    }
}

impl Clock {
    /// The system clock (with a zero offset).
    pub fn system() -> Self {
        Self::with_base(None)
    }

    /// A clock that stands still at `start_ms` until moved.
    pub fn manual(start_ms: i64) -> Self {
        Self::with_base(Some(start_ms))
    }

    fn with_base(base: Option<i64>) -> Self {
        let (moved, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                base,
                offset: AtomicI64::new(0),
                moved,
            }),
        }
    }

    /// Milliseconds since the Unix epoch, now, on this clock.
    pub fn now_ms(&self) -> i64 {
        let base = self.inner.base.unwrap_or_else(system_ms);
        base.saturating_add(self.offset_ms())
    }

    /// How far this clock is ahead of its base (the system clock, or a manual clock's start).
    pub fn offset_ms(&self) -> i64 {
        self.inner.offset.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `ms` (negative values are refused). Returns the new time.
    pub fn advance(&self, ms: i64) -> Result<i64, ClockError> {
        if ms < 0 {
            let now = self.now_ms();
            return Err(ClockError::Backwards {
                now: fmt_ms(now),
                requested: fmt_ms(now.saturating_add(ms)),
            });
        }
        if self.now_ms().saturating_add(ms) > LATEST_MS {
            return Err(ClockError::TooFar);
        }
        self.inner.offset.fetch_add(ms, Ordering::SeqCst);
        self.inner.moved.send_modify(|v| *v = v.wrapping_add(1));
        Ok(self.now_ms())
    }

    /// Moves the clock to `at_ms`, which must not be earlier than now. Returns the new time.
    pub fn set(&self, at_ms: i64) -> Result<i64, ClockError> {
        let now = self.now_ms();
        if at_ms < now {
            return Err(ClockError::Backwards {
                now: fmt_ms(now),
                requested: fmt_ms(at_ms),
            });
        }
        self.advance(at_ms - now)
    }

    /// A receiver that changes whenever the clock is moved.
    pub fn moved(&self) -> watch::Receiver<i64> {
        self.inner.moved.subscribe()
    }

    /// Sleeps until this clock reads at least `at_ms`; wakes early (and re-checks) when the clock
    /// is moved. A manual clock that is never moved makes this wait forever.
    pub async fn sleep_until(&self, at_ms: i64) {
        let mut moved = self.moved();
        loop {
            moved.borrow_and_update();
            let now = self.now_ms();
            if now >= at_ms {
                return;
            }
            let wait = async {
                if self.inner.base.is_some() {
                    std::future::pending::<()>().await;
                } else {
                    tokio::time::sleep(Duration::from_millis((at_ms - now) as u64)).await;
                }
            };
            tokio::select! {
                () = wait => {}
                r = moved.changed() => {
                    if r.is_err() {
                        // The clock is gone (cannot happen while `self` lives): stop waiting.
                        return;
                    }
                }
            }
        }
    }
}

/// RFC 3339 in UTC with milliseconds, as `GET /_eddy/clock` answers.
pub fn fmt_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| ms.to_string())
}

/// Milliseconds since the Unix epoch on the system clock: the base of [`Clock::system`], and read
/// nowhere else, so that every time eddy uses follows the one clock.
fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Parses an RFC 3339 time with an offset (`2027-01-01T00:00:00Z`) into epoch milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let c = Clock::manual(1_000);
        assert_eq!(c.now_ms(), 1_000);
        assert_eq!(c.advance(500), Ok(1_500));
        assert_eq!(c.set(2_000), Ok(2_000));
        assert!(c.set(1_999).is_err());
        assert!(c.advance(-1).is_err());
        assert_eq!(c.clone().now_ms(), 2_000);
        // Never past the end of year 9999, however it is asked: the offset cannot wrap.
        assert_eq!(c.advance(i64::MAX), Err(ClockError::TooFar));
        assert_eq!(c.set(LATEST_MS), Ok(LATEST_MS));
        assert_eq!(c.advance(1), Err(ClockError::TooFar));
        assert_eq!(c.now_ms(), LATEST_MS);
    }

    #[tokio::test]
    async fn sleep_until_wakes_when_the_clock_is_moved() {
        let c = Clock::manual(0);
        let c2 = c.clone();
        let sleeper = tokio::spawn(async move { c2.sleep_until(60_000).await });
        tokio::task::yield_now().await;
        c.advance(30_000).expect("advance");
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        c.advance(30_000).expect("advance");
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woke")
            .expect("joined");
    }

    #[test]
    fn formats_and_parses() {
        assert_eq!(fmt_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_rfc3339("2027-01-01T00:00:00Z"),
            Some(1_798_761_600_000)
        );
        assert_eq!(parse_rfc3339("nope"), None);
    }
}
